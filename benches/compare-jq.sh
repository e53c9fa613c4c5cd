#!/usr/bin/env bash
# blastdoor rank against the pipeline responders use today, on the same CloudTrail bytes:
#   jq -c '.Records[] | .userIdentity.arn' | sort | uniq -c
# Builds a ~150 MB input (the Invictus IR dataset's 55 S3 delivery files, repeated as more
# delivery files) under target/compare-jq/, builds blastdoor in release, times both (best of
# RUNS, interleaved; hyperfine when installed) and prints the ratio. Usage: benches/compare-jq.sh [MB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-150}
runs=${2:-3}
src=../shared/corpus/invictus-ir-aws-dataset/CloudTrail
dir=target/compare-jq/cloudtrail
[ -d "$src" ] || { echo "compare-jq: $src is missing" >&2; exit 2; }

if [ ! -f "$dir/.done-$mb" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  per=$(du -sb "$src" | cut -f1)
  reps=$(( (mb * 1000000 + per - 1) / per ))
  for r in $(seq -w 1 "$reps"); do
    for f in "$src"/*.json; do cp "$f" "$dir/r${r}_$(basename "$f")"; done
  done
  touch "$dir/.done-$mb"
fi
bytes=$(cat "$dir"/*.json | wc -c)
records=$(jq '.Records | length' "$dir"/*.json | awk '{s+=$1} END {print s}')
echo "input: $(ls "$dir"/*.json | wc -l) files, $((bytes / 1000000)) MB, $records CloudTrail records" >&2

cargo build --release --locked --bin blastdoor 2>&1 | tail -1 >&2
bd=target/release/blastdoor

jq_cmd="jq -c '.Records[] | .userIdentity.arn' $dir/*.json | sort | uniq -c >/dev/null"
bd_cmd="$bd rank --source $dir --format json --top 50 >/dev/null 2>&1"

wall() { # wall time in seconds of one run of a shell command
  { /usr/bin/time -f %e sh -c "$1" ; } 2>&1 | tail -1
}
min() { if [ -z "$1" ] || awk "BEGIN{exit !($2 < $1)}"; then echo "$2"; else echo "$1"; fi; }

if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs "$runs" --export-json target/compare-jq/hyperfine.json \
    -n jq "$jq_cmd" -n "blastdoor rank" "$bd_cmd" >&2
  t_jq=$(jq '.results[0].min' target/compare-jq/hyperfine.json)
  t_bd=$(jq '.results[1].min' target/compare-jq/hyperfine.json)
else
  sh -c "$bd_cmd"  # warm the page cache
  # Interleaved (jq, then blastdoor, RUNS times), best of each: this VM's speed drifts over
  # a minute, and timing all of one before all of the other let the drift pick the winner.
  t_jq="" t_bd=""
  for i in $(seq 1 "$runs"); do
    a=$(wall "$jq_cmd"); b=$(wall "$bd_cmd")
    echo "run $i: jq $a s, blastdoor $b s" >&2
    t_jq=$(min "$t_jq" "$a"); t_bd=$(min "$t_bd" "$b")
  done
fi
awk -v j="$t_jq" -v b="$t_bd" -v mb="$((bytes / 1000000))" -v n="$records" 'BEGIN {
  printf "jq | sort | uniq -c: %.2f s (%.0f MB/s)\n", j, mb / j
  printf "blastdoor rank:      %.2f s (%.0f MB/s, %.0f records/s)\n", b, mb / b, n / b
  printf "ratio: blastdoor is %.1fx the speed of the jq pipeline (cores: %d)\n", j / b, '"$(nproc)"'
}'
