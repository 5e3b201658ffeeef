#!/bin/sh
# Peak resident set size of `memplug run` (GNU time's "Maximum resident set
# size") for KVM guests of 1, 4, 16 and 64 TiB booted, against a 4 GiB guest;
# prints (RSS - RSS of the 4 GiB guest) / simulated pages. Usage: bench/rss.sh [build/memplug]
set -eu
memplug=${1:-build/memplug}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
rss() {  # transcript -> max RSS in KiB
    /usr/bin/time -f %M -o "$dir/time" "$memplug" run "$1" >/dev/null
    cat "$dir/time"
}
printf '%s\n' '$ qemu-system-x86_64 -accel kvm -cpu host,phys-bits=48 -m 4G -machine q35' \
    '# grep MemTotal /proc/meminfo' >"$dir/small.txt"
base=$(rss "$dir/small.txt")
echo "4 GiB guest: $base KiB"
printf '%-8s %12s %14s %12s\n' size max_rss_KiB pages bytes/page
for t in 1 4 16 64; do
    printf '%s\n' "\$ qemu-system-x86_64 -accel kvm -cpu host,phys-bits=48 -m ${t}T -machine q35" \
        '# grep MemTotal /proc/meminfo' >"$dir/g.txt"
    r=$(rss "$dir/g.txt")
    pages=$((t * 268435456))
    printf '%-8s %12s %14s %12s\n' "${t} TiB" "$r" "$pages" \
        "$(awk -v r="$r" -v b="$base" -v p="$pages" 'BEGIN { printf "%.5f", (r - b) * 1024 / p }')"
done
