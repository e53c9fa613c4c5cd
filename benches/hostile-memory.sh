#!/usr/bin/env bash
# Peak memory of `blastdoor rank` on compressed inputs that expand to SIZE MiB (default 1024):
#   lines     CloudTrail JSON Lines of 5,000 identities (ordinary data, compresses ~10:1): read to the end
#   repeated  one record repeated (compresses ~300:1), read to the end with [limits] max_ratio raised
#   bomb      zeros (1000:1): stopped by max_ratio
#   oneline   one line of SIZE MiB (random text): skipped past max_record
#   document  one pretty-printed JSON document of SIZE MiB: refused at max_record
# The inputs are built in ${TMPDIR:-/tmp}/blastdoor-hostile (removed afterwards unless KEEP=1),
# never in the repository. Peak resident memory is /usr/bin/time's maximum RSS.
# Usage: benches/hostile-memory.sh [SIZE_MIB]   (BLASTDOOR_BIN=path: that binary, no build)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1024}
dir=${TMPDIR:-/tmp}/blastdoor-hostile
mkdir -p "$dir"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$dir"' EXIT

bd=${BLASTDOOR_BIN:-}
if [ -z "$bd" ]; then
  cargo build --release --locked --bin blastdoor 2>&1 | tail -1 >&2
  bd=target/release/blastdoor
fi

python3 - "$dir" "$size" <<'EOF'
import base64, gzip, os, random, sys
out, size = sys.argv[1], int(sys.argv[2]) << 20
random.seed(7)
ops = ["ListUsers", "GetObject", "AssumeRole", "DescribeInstances", "PutObject", "GetSecretValue"]
def record(i):
    u = random.randrange(5000)
    return ('{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA%016X",'
            '"arn":"arn:aws:iam::123456789012:user/svc-%d","accountId":"123456789012","accessKeyId":"AKIA%016X"},'
            '"eventTime":"2026-11-%02dT%02d:%02d:%02dZ","eventSource":"iam.amazonaws.com","eventName":"%s",'
            '"awsRegion":"us-east-1","sourceIPAddress":"198.51.%d.%d","userAgent":"aws-cli/2.%d.%d",'
            '"requestID":"%032x","eventID":"%032x","readOnly":true,"eventType":"AwsApiCall"}\n') % (
        u, u, u, 1 + i % 28, i % 24, i % 60, (i * 7) % 60, random.choice(ops),
        random.randrange(256), random.randrange(256), random.randrange(20), random.randrange(50),
        random.getrandbits(128), random.getrandbits(128))
def write(name, chunks):
    path = os.path.join(out, name)
    if os.path.exists(path):
        return
    with gzip.open(path + ".part", "wb", compresslevel=1) as f:
        n = 0
        for c in chunks:
            f.write(c)
            n += len(c)
            if n >= size:
                break
    os.rename(path + ".part", path)
def lines():
    i = 0
    while True:
        yield "".join(record(i + k) for k in range(1000)).encode()
        i += 1000
def repeated():
    block = record(1).encode() * 1000
    while True:
        yield block
def zeros():
    block = bytes(1 << 20)
    while True:
        yield block
def oneline():
    yield b'{"x":"'
    while True:
        yield base64.b64encode(os.urandom(3 << 18))
def document():
    yield b'{\n  "Records": [\n'
    while True:
        yield b"".join(b"    " + record(i).encode()[:-1] + b",\n" for i in range(1000))
write("lines.jsonl.gz", lines())
write("repeated.jsonl.gz", repeated())
write("bomb.json.gz", zeros())
write("oneline.json.gz", oneline())
write("document.json.gz", document())
EOF

printf '[limits]\nmax_ratio = 100000\nmax_file = "64 GiB"\n' > "$dir/raised.toml"
printf '' > "$dir/default.toml"
printf '%-10s %10s %12s %10s %8s  %s\n' input gz_MiB peak_RSS_MiB seconds events "what stderr said"
for name in lines repeated bomb oneline document; do
  f=$(ls "$dir/$name".*.gz)
  cfg=$dir/default.toml
  [ "$name" = repeated ] && cfg=$dir/raised.toml
  /usr/bin/time -o "$dir/$name.time" -f '%M %e' "$bd" --config "$cfg" rank --source "$f" \
    --format json --top 20 >/dev/null 2>"$dir/$name.err" || true
  stats=$(tail -1 "$dir/$name.time")
  events=$(grep -oE '[0-9]+ events ingested' "$dir/$name.err" | grep -oE '^[0-9]+' || echo "-")
  said=$(grep -m1 -oE '(line [0-9]+: .{0,90})' "$dir/$name.err" || echo "(nothing skipped)")
  printf '%-10s %10s %12s %10s %8s  %s\n' "$name" "$(( $(stat -c%s "$f") >> 20 ))" \
    "$(( ${stats% *} / 1024 ))" "${stats#* }" "$events" "$said"
done
