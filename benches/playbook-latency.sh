#!/usr/bin/env bash
# How fast a standing playbook acts: from a malicious event's arrival at the console to the
# executor's acknowledgement, with RATE background events/s (default 10000) on the same source.
#   - the demo agent (`blastdoor agent --demo`) is the executor (its agent.isolate_workload);
#   - `blastdoor respond` reads a webhook source and runs one enforce playbook
#     (threat >= 90 && identity_kind == ci_token → agent.isolate_workload);
#   - a generator posts NDJSON to the webhook: RATE/s ordinary calls of 5,000 IAM identities
#     (no signal), and once a second a burst of one of the demo fleet's CI tokens (a new one
#     each time, up to its 60).
# Latency per firing = the action's executed_at (the agent's acknowledgement, as the desk
# recorded it) minus the time the generator sent the malicious event; both clocks are this host's.
# Usage: benches/playbook-latency.sh [SECONDS] [RATE]   (BLASTDOOR_BIN=path: that binary, no build)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
rate=${2:-10000}
bd=${BLASTDOOR_BIN:-}
if [ -z "$bd" ]; then
  cargo build --release --locked --bin blastdoor 2>&1 | tail -1 >&2
  bd=target/release/blastdoor
fi
bd=$(cd "$(dirname "$bd")" && pwd)/$(basename "$bd")
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ "${KEEP:-0}" = 1 ] && echo "kept $T" >&2 || rm -rf "$T"' EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
AP=$(port); WP=$(port)
ssh-keygen -q -t ed25519 -N '' -C alice -f "$T/alice"
echo "alice $(cat "$T/alice.pub")" >"$T/allowed_signers"
cat >"$T/policy.toml" <<'TOML'
allowed_signers = "allowed_signers"
[[rule]]
kinds = ["*"]
approvals = 1
[[playbook]]
name = "stolen-ci-token"
when = "threat >= 90 && identity_kind == ci_token"
action = "agent.isolate_workload"
mode = "enforce"
max_per_hour = 10000
max_per_identity = 1
TOML
"$bd" agent --demo --listen "127.0.0.1:$AP" >"$T/agent.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$AP/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
"$bd" --state "$T/state" --policy "$T/policy.toml" --agent "http://127.0.0.1:$AP" \
  --source "webhook:127.0.0.1:$WP" respond --duration $((secs + 10)) --format ndjson \
  >"$T/fired.ndjson" 2>"$T/respond.log" &
PIDS+=("$!")
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$WP") 2>/dev/null && break; sleep 0.1; done
sleep 1
python3 - "$WP" "$secs" "$rate" "$T/sent.json" "$AP" <<'PY'
import http.client, json, sys, time, urllib.request
port, secs, rate, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# The stolen tokens are the demo fleet's own CI tokens (the demo agent isolates only those).
inv = json.load(urllib.request.urlopen("http://127.0.0.1:%s/v1/inventory" % sys.argv[5]))
tokens = [i for i in inv["identities"] if i["kind"] == "ci_token"]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
def post(body):
    conn.request("POST", "/", body=body, headers={"Content-Type": "application/x-ndjson"})
    r = conn.getresponse(); r.read()
    if r.status >= 300:
        sys.exit(f"webhook answered {r.status}")
tick = 0.02  # a batch every 20 ms
per = max(1, int(rate * tick))
ops = ["DescribeInstances", "ListBuckets", "GetObject", "ListUsers", "DescribeVolumes"]
sent, n, i, bad = {}, 0, 0, 0
start = time.time(); next_bad = start + 1.0; t = start
while time.time() < start + secs:
    ms = int(time.time() * 1000)
    lines = []
    for _ in range(per):
        u = i % 5000; i += 1
        lines.append('{"time":%d,"actor":{"provider":"aws","principal":"arn:aws:iam::111122223333:user/svc-%d","kind":"iam_user"},"api":{"service":"ec2","operation":"%s"},"src_ip":"10.0.%d.%d","status":"success"}' % (ms, u, ops[u % 5], u % 250, u % 200))
    post("\n".join(lines) + "\n")
    n += per
    if time.time() >= next_bad and bad < len(tokens):
        tok = tokens[bad]; bad += 1
        ident = tok["principal"]
        ev = {"time": int(time.time() * 1000), "actor": {"provider": tok["provider"], "principal": ident, "kind": "ci_token",
              "credentials": tok.get("credentials", [])},
              "api": {"service": "secretsmanager", "operation": "GetSecretValue"}, "src_ip": "203.0.113.9", "status": "success",
              "signals": ["exfiltration", "defense_evasion", "privilege_escalation", "secret_read", "persistence"]}
        sent[tok["provider"] + ":" + ident] = time.time()
        post(json.dumps(ev) + "\n")
        next_bad += 1.0
    t += tick
    pause = t - time.time()
    if pause > 0:
        time.sleep(pause)
elapsed = time.time() - start
json.dump({"sent": sent, "background": n, "elapsed": elapsed}, open(out, "w"))
print(f"sent {n} background events in {elapsed:.1f} s ({n / elapsed:.0f}/s) and {bad} malicious ones", file=sys.stderr)
PY
sleep 3
"$bd" --state "$T/state" --policy "$T/policy.toml" action list --format json >"$T/list.json"
python3 - "$T/sent.json" "$T/list.json" "$T/fired.ndjson" <<'PY'
import json, sys
from datetime import datetime
sent = json.load(open(sys.argv[1]))
acts = json.load(open(sys.argv[2]))
ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
lat, inner, wrong = [], [], []
for a in acts:
    if a.get("state") != "done" or "executed_at" not in a:
        continue
    if a["identity"] not in sent["sent"]:
        wrong.append(a["identity"]); continue
    lat.append((ts(a["executed_at"]) - sent["sent"][a["identity"]]) * 1000)
    inner.append((ts(a["executed_at"]) - ts(a["trigger"]["observed_at"])) * 1000)
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
n = len(sent["sent"])
if not lat:
    sys.exit(f"no firing was executed (of {n} malicious events)")
print(f"background: {sent['background'] / sent['elapsed']:.0f} events/s; malicious: {n}; contained: {len(lat)}; fired on others: {len(wrong)}")
print(f"sent → executor acknowledged: p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms, max {max(lat):.0f} ms")
print(f"seen by the runner → acknowledged: p50 {pct(inner, 50):.0f} ms, p99 {pct(inner, 99):.0f} ms")
PY
