#!/bin/sh
# report zones --emit-jobs, end to end: every emitted command line run by /bin/sh
# on its own (as GNU parallel or a Slurm array task would), the results merged
# with --merge, and the merged report compared with the sweep run in one
# process, as JSON and as text.
# Usage: zones_jobs.sh MEMPLUG TRANSCRIPT
set -eu
memplug=$1
transcript=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
set -- --plan dimm:64G,vmem0:128G,dimm:200G --policy contig-zones,auto-movable --ratio 100,301,3000 \
       --online online,online_movable
"$memplug" report zones "$transcript" "$@" --emit-jobs > "$dir/jobs.txt"
jobs=$(wc -l < "$dir/jobs.txt")
[ "$jobs" -eq 12 ] || { echo "expected 12 jobs, got $jobs"; exit 1; }
# Like a Slurm array: task N runs line N.
n=1
while [ "$n" -le "$jobs" ]; do
    line=$(sed -n "${n}p" "$dir/jobs.txt")
    /bin/sh -c "$line" > "$dir/result-$n.json"
    n=$((n + 1))
done
# In any order: the merge sorts the combinations as the sweep does.
"$memplug" report zones --merge $(ls "$dir"/result-*.json | sort -r) --json > "$dir/merged.json"
"$memplug" report zones "$transcript" "$@" --json > "$dir/sweep.json"
cmp "$dir/merged.json" "$dir/sweep.json"
"$memplug" report zones --merge "$dir"/result-*.json > "$dir/merged.txt"
"$memplug" report zones "$transcript" "$@" > "$dir/sweep.txt"
cmp "$dir/merged.txt" "$dir/sweep.txt"
# A result merged twice is refused.
if "$memplug" report zones --merge "$dir/result-1.json" "$dir/result-1.json" 2> "$dir/err.txt"; then
    echo "a duplicate combination was merged"; exit 1
fi
grep -q "in an earlier file too" "$dir/err.txt"
echo "12 jobs merged: the same report as the sweep"
