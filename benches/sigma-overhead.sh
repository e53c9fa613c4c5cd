#!/usr/bin/env bash
# What the Sigma rules cost ingest (issue 18; goal: all 114 corpus rules no more than 25 % slower).
# The corpus shape: the Invictus IR CloudTrail (one account, 55 delivery files) copied once per
# account with the account id rewritten, as benches/compare-accounts.sh does, plus the Falco
# Kubernetes audit traces repeated into one JSON Lines file. For each run, interleaved, it times
#   blastdoor rank --source DIR --format json --top 50                      (no rules)
#   blastdoor rank --source DIR --format json --top 50 --rules SIGMA_RULES  (all 114)
# and prints the best wall time and CPU time (user + system) of each and the slowdown.
# Release build, copied aside so that another build into the same target dir cannot replace it
# mid-run.
# Usage: benches/sigma-overhead.sh [RUNS] [ACCOUNTS] [K8S_COPIES]   (default: 5 40 400)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
accounts=${2:-40}
k8s_copies=${3:-400}
corpus=../shared/corpus
src=$corpus/invictus-ir-aws-dataset/CloudTrail
k8s=$corpus/falco/k8s_audit_trace_files
rules=$corpus/sigma/rules
acct=123837392027 # the dataset's account
target=${CARGO_TARGET_DIR:-target}
out=$target/sigma-overhead
for d in "$src" "$k8s" "$rules"; do
  [ -d "$d" ] || { echo "sigma-overhead: $d is missing" >&2; exit 2; }
done

data=$out/data-$accounts-$k8s_copies
if [ ! -f "$data/.done" ]; then
  rm -rf "$data" && mkdir -p "$data"
  for a in $(seq 1 "$accounts"); do
    id=$(printf '9%011d' "$a")
    for f in "$src"/*.json; do
      sed "s/$acct/$id/g" "$f" >"$data/${id}_$(basename "$f")"
    done
  done
  one=$(mktemp)
  for f in "$k8s"/*.json; do grep -h '^{' "$f" || true; done >"$one"
  for _ in $(seq 1 "$k8s_copies"); do cat "$one"; done >"$data/k8s-audit.jsonl"
  rm -f "$one"
  touch "$data/.done"
fi

cargo build --release --locked --bin blastdoor 2>&1 | tail -1 >&2
bd=$out/blastdoor
cp "$target/release/blastdoor" "$bd"

echo "data: $(du -sh "$data" | cut -f1) ($accounts accounts of Invictus CloudTrail, Falco k8s audit x $k8s_copies), $(nproc) cores, best of $runs"
best() { sort -n | head -1; }
declare -a wall_off wall_on cpu_off cpu_on
for r in $(seq 1 "$runs"); do
  for mode in off on; do
    extra=()
    [ "$mode" = on ] && extra=(--rules "$rules")
    /usr/bin/time -o "$out/time" -f '%e %U %S' "$bd" rank --source "$data" --format json --top 50 "${extra[@]}" >/dev/null 2>&1
    read -r w u s <"$out/time"
    cpu=$(echo "$u + $s" | bc)
    if [ "$mode" = off ]; then wall_off+=("$w"); cpu_off+=("$cpu"); else wall_on+=("$w"); cpu_on+=("$cpu"); fi
  done
done
wo=$(printf '%s\n' "${wall_off[@]}" | best); wn=$(printf '%s\n' "${wall_on[@]}" | best)
co=$(printf '%s\n' "${cpu_off[@]}" | best); cn=$(printf '%s\n' "${cpu_on[@]}" | best)
hits=$("$bd" rank --source "$data" --format json --top 100000 --rules "$rules" 2>/dev/null | grep -c '"factor": "sigma"' || true)
printf 'without rules: %6.2f s wall, %6.2f s CPU\n' "$wo" "$co"
printf 'with 114 rules: %6.2f s wall, %6.2f s CPU\n' "$wn" "$cn"
printf 'slowdown: %+.1f %% wall, %+.1f %% CPU (goal: at most +25 %%); %s Sigma reasons in the ranking\n' \
  "$(echo "($wn / $wo - 1) * 100" | bc -l)" "$(echo "($cn / $co - 1) * 100" | bc -l)" "$hits"
