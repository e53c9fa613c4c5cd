#!/usr/bin/env bash
# blastdoor rank at organisation scale, against jq and DuckDB on the same CloudTrail bytes.
# The Invictus IR dataset (one account, 55 S3 delivery files, ~3.7 MB, ~29 identities) is
# copied once per account with the account id rewritten, so N accounts hold N times the
# identities, as an organisation's trail does. For each N it times, interleaved, RUNS times:
#   blastdoor rank --source DIR --format json --top 50
#   jq -c '.Records[] | .userIdentity.arn' DIR/*.json | sort | uniq -c
#   duckdb: SELECT arn, count(*) ... GROUP BY arn, the ARNs read with read_json_objects and
#           json_extract_string (on this machine 3-6x faster than read_json with typed
#           columns or read_json_auto, so the fastest DuckDB query found is the one compared)
# and prints the best of each, the ratios, blastdoor's time per account, its CPU time (user +
# system: how busy both cores were) and its peak resident memory. Then, for the largest N,
# where rank's time goes against a bare serde_json parse of the same bytes (benches/phases.rs;
# PHASES=0 skips it). DuckDB comes from PyPI, in a virtualenv under target/ (made once).
# Usage: benches/compare-accounts.sh [RUNS] [ACCOUNTS...]   (default: 3 runs; 10 40 160)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
accounts=("$@")
[ ${#accounts[@]} -gt 0 ] || accounts=(10 40 160)
src=../shared/corpus/invictus-ir-aws-dataset/CloudTrail
acct=123837392027 # the dataset's account
out=target/compare-accounts
venv=target/duckdb-venv
[ -d "$src" ] || { echo "compare-accounts: $src is missing" >&2; exit 2; }
command -v jq >/dev/null || { echo "compare-accounts: needs jq (apt-get install jq)" >&2; exit 2; }

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb
fi

# One pool of rewritten copies; each N's folder holds hard links to the first N accounts.
mkdir -p "$out/pool"
max=0
for n in "${accounts[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
for a in $(seq 1 "$max"); do
  id=$(printf '9%011d' "$a")
  [ -f "$out/pool/.done-$id" ] && continue
  for f in "$src"/*.json; do
    sed "s/$acct/$id/g" "$f" >"$out/pool/${id}_$(basename "$f")"
  done
  touch "$out/pool/.done-$id"
done
for n in "${accounts[@]}"; do
  d=$out/$n
  [ -f "$d/.done" ] && continue
  rm -rf "$d" && mkdir -p "$d"
  for a in $(seq 1 "$n"); do ln "$out/pool/$(printf '9%011d' "$a")"_*.json "$d/"; done
  touch "$d/.done"
done

cargo build --release --locked --bin blastdoor 2>&1 | tail -1 >&2
bd=target/release/blastdoor

cat >"$out/duck.py" <<'EOF'
import os, sys, duckdb
con = duckdb.connect()
con.execute("SET threads TO %d" % len(os.sched_getaffinity(0)))
rows = con.execute(f"""
  SELECT arn, count(*) AS n FROM (
    SELECT unnest(json_extract_string(json, '$.Records[*].userIdentity.arn')) AS arn
    FROM read_json_objects('{sys.argv[1]}/*.json', maximum_object_size = 1073741824))
  GROUP BY arn ORDER BY n DESC""").fetchall()
print(len(rows))
EOF

# One run: "wall user+sys peak-KiB" of a shell command.
run() {
  /usr/bin/time -o "$out/time" -f '%e %U %S %M' sh -c "$1" >/dev/null 2>&1
  awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$out/time"
}
best() { sort -n | head -1; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (cores: $(nproc))"
printf '%s\n' "accounts identities MB | rank s (cpu s, MiB) | jq s | duckdb s | rank/acct ms | jq/rank duckdb/rank"
for n in "${accounts[@]}"; do
  d=$out/$n
  ids=$("$bd" rank --source "$d" --format json --top 1000000 2>/dev/null | grep -c '"rank"')
  mb=$(cat "$d"/*.json | wc -c | awk '{printf "%.0f", $1 / 1e6}')
  bd_cmd="$bd rank --source $d --format json --top 50"
  jq_cmd="jq -c '.Records[] | .userIdentity.arn' $d/*.json | sort | uniq -c"
  duck_cmd="$venv/bin/python $out/duck.py $d"
  sh -c "$duck_cmd" >/dev/null # warm the page cache
  : >"$out/rank-$n" ; : >"$out/jq-$n" ; : >"$out/duck-$n"
  for i in $(seq 1 "$runs"); do
    # Interleaved: this VM's speed drifts over a minute and must not pick the winner.
    r=$(run "$bd_cmd"); j=$(run "$jq_cmd"); k=$(run "$duck_cmd")
    echo "$r" >>"$out/rank-$n"; echo "$j" >>"$out/jq-$n"; echo "$k" >>"$out/duck-$n"
    echo "  $n accounts, run $i: rank $r | jq $j | duckdb $k (wall s, cpu s, peak KiB)" >&2
  done
  read -r rw rc rm < <(best <"$out/rank-$n")
  read -r jw _ _ < <(best <"$out/jq-$n")
  read -r kw _ _ < <(best <"$out/duck-$n")
  # Each interleaved run's own ratios, lowest to highest.
  pairs=$(paste -d' ' "$out/rank-$n" "$out/jq-$n" "$out/duck-$n" | awk '
    { j = $4 / $1; k = $7 / $1
      if (NR == 1 || j < jl) jl = j; if (NR == 1 || j > jh) jh = j
      if (NR == 1 || k < kl) kl = k; if (NR == 1 || k > kh) kh = k }
    END { printf "pairs %.1f-%.1fx %.1f-%.1fx", jl, jh, kl, kh }')
  awk -v n="$n" -v ids="$ids" -v mb="$mb" -v rw="$rw" -v rc="$rc" -v rm="$rm" -v jw="$jw" -v kw="$kw" -v pairs="$pairs" 'BEGIN {
    printf "%d %d %d | %.2f (%.2f, %.0f) | %.2f | %.2f | %.1f | %.1fx %.1fx (%s)\n",
      n, ids, mb, rw, rc, rm / 1024, jw, kw, 1000 * rw / n, jw / rw, kw / rw, pairs }'
done
echo "(best of $runs interleaved runs each; load after: $(cut -d' ' -f1-3 /proc/loadavg))"
if [ "${PHASES:-1}" != 0 ]; then
  cargo bench --locked --bench phases -- "$out/$max" "$runs" 2>/dev/null | grep -v '^$'
fi
