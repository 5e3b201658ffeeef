#!/bin/sh
# Operations per second through `memplug mount`: tests/mount/mount_load.cc's
# eight clients x 10^4 operations (state and online writes and reads, zoneinfo
# in 512-byte reads) against the guest of tests/mount/guest-load.txt, three runs.
# Needs root and /dev/fuse. Usage: bench/mount_load.sh [BUILD_DIR [THREADS [OPS]]]
set -eu
build=${1:-build}
threads=${2:-8}
ops=${3:-10000}
dir=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" || true
    rmdir "$dir"
}
trap cleanup EXIT
"$build/memplug" mount "$dir" --from "$(dirname "$0")/../tests/mount/guest-load.txt" 2>/dev/null &
pid=$!
while [ ! -e "$dir/sys/devices/system/memory/block_size_bytes" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "memplug mount failed" >&2; exit 1; }
    sleep 0.1
done
for run in 1 2 3; do
    "$build/tests/mount_load" "$dir" "$threads" "$ops"
done
