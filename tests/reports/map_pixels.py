"""The memory map as a browser shows it: `memplug report map` of
map-pixels.txt rendered by headless Chromium, and the pixels read back at the
places whose contents the transcript decides (a DMA32 boot block, the PCI hole,
the DIMMs' Movable, Normal and offline blocks, the device memory beyond them),
each the colour docs/REPORTS.md gives its class; the self-hosted memmap's strip,
a huge-page bar and the DIMM's outline where they must be.

    map_pixels.py MEMPLUG"""

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SVG = "{http://www.w3.org/2000/svg}"

# docs/REPORTS.md's legend.
HOLE, DEVICE_FREE, OFFLINE = "#e0e0e0", "#ffffff", "#7f7f7f"
DMA32, NORMAL, MOVABLE = "#3a6fd8", "#2ca02c", "#ff7f0e"
VMEMMAP, HUGE, FIRST_DEVICE, SECOND_DEVICE = "#9467bd", "#ffd700", "#8c564b", "#e377c2"


def fail(msg):
    print("map_pixels: " + msg, file=sys.stderr)
    sys.exit(1)


def rgb(hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def main():
    memplug = sys.argv[1]
    chromium = shutil.which("chromium")
    if not chromium:
        fail("chromium is missing (apt-get install chromium; scripts/install-deps installs it)")
    try:
        from PIL import Image
    except ImportError:
        fail("Python's PIL is missing (apt-get install python3-pil)")
    r = subprocess.run([memplug, "report", "map", os.path.join(HERE, "map-pixels.txt")], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"memplug report map exited {r.returncode}: {r.stderr}")
    root = ET.fromstring(r.stdout)
    width, height = int(root.get("width")), int(root.get("height"))
    cells = {}
    for g in root.iter(SVG + "g"):
        if (g.get("id") or "").startswith("cell-"):
            rects = g.findall(SVG + "rect")
            cells[int(g.get("id")[5:])] = (int(rects[0].get("x")), int(rects[0].get("y")), g.find(SVG + "title").text)
    grid = next(g for g in root.iter(SVG + "g") if g.get("id") == "grid")
    if grid.get("data-blocks-per-cell") != "1":
        fail(f"a 14 GiB address space should get a cell per block, not {grid.get('data-blocks-per-cell')}")

    with tempfile.TemporaryDirectory(prefix="memplug-map-") as d:
        svg, png = os.path.join(d, "map.svg"), os.path.join(d, "map.png")
        with open(svg, "w") as f:
            f.write(r.stdout)
        shot = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                               "--force-device-scale-factor=1", f"--window-size={width},{height}",
                               f"--screenshot={png}", "file://" + svg],
                              capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=d))
        if not os.path.exists(png):
            fail(f"chromium wrote no screenshot ({shot.returncode}): {shot.stderr[-2000:]}")
        image = Image.open(png).convert("RGB")

    failures = []

    def expect(what, block, dx, dy, colour):
        x, y, title = cells[block]
        got = image.getpixel((x + dx, y + dy))
        if max(abs(a - b) for a, b in zip(got, rgb(colour))) > 8:
            failures.append(f"{what} (memory{block} at {x + dx},{y + dy}: {title}): drawn {got}, expected {colour}")

    centre = 6
    expect("a boot block online in DMA32", 1, centre, centre, DMA32)
    expect("q35's PCI hole below 4 GiB", 20, centre, centre, HOLE)
    expect("the first DIMM's block online Movable", 32, centre, centre, MOVABLE)
    expect("the second DIMM's first block online Movable", 33, centre, centre, MOVABLE)
    expect("the second DIMM's second block online Normal", 34, centre, centre, NORMAL)
    expect("the second DIMM's third block left offline", 35, centre, centre, OFFLINE)
    expect("device memory with nothing plugged", 40, centre, centre, DEVICE_FREE)
    expect("the self-hosted memmap strip of the one-block DIMM", 32, centre, 1, VMEMMAP)
    expect("no such strip on the three-block DIMM", 33, centre, 1, MOVABLE)
    expect("the first DIMM's outline", 32, 0, centre, FIRST_DEVICE)
    expect("the second DIMM's outline", 34, 0, centre, SECOND_DEVICE)
    huge = [b for b, (_, _, t) in cells.items() if "huge-page pages" in t]
    if not huge:
        failures.append("no cell says it holds huge pages")
    else:
        expect("a huge-page bar", huge[0], 1, 10, HUGE)
    if failures:
        fail("\n  ".join(["the picture differs:"] + failures))
    print(f"map_pixels: {len(cells)} cells, every checked pixel as expected")


if __name__ == "__main__":
    main()
