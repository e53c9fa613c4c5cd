#!/usr/bin/env python3
"""Seed the fuzz corpora from the real telemetry in ../shared/corpus (read in place, never
copied into the repository): small records of every format, as lines and as documents.

  detect/    raw records and small documents, for detection and whichever decoder it picks
  decoders/  one byte naming the decoder (see fuzz_targets/decoders.rs) + one JSON record
  sources/   one mode byte (see fuzz_targets/sources.rs) + a small file: JSON Lines, a one-line
             delivery file, a pretty-printed document, a CloudTrail CSV export, a Firehose object
             of gzip members; plain, to be gzipped, or gzipped already

Usage: fuzz/seed.py CORPUS_DIR OUT_DIR (OUT_DIR gets detect/ and decoders/)."""
import gzip, hashlib, json, os, sys

corpus, out = sys.argv[1], sys.argv[2]
PER_FILE = 6          # records taken from each source file
MAX_BYTES = 16 << 10  # keep seeds small: libFuzzer's default max_len is 4 KiB anyway

# Decoder selector bytes, as fuzz_targets/decoders.rs's `force` reads them (format % 12).
CLOUDTRAIL, K8S, FALCO, TETRAGON, VAULT, OCSF, GITHUB, GCP, AWS_IAM, K8S_RBAC, CT_FILE, EVENTBRIDGE = range(12)

def write(kind, data):
    if len(data) > MAX_BYTES:
        return
    d = os.path.join(out, kind)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def seed(fmt, record):
    text = json.dumps(record, separators=(",", ":")).encode()
    write("detect", text)
    write("decoders", bytes([fmt]) + text)

def lines(path):
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except ValueError:
                    write("detect", line.encode()[:MAX_BYTES])  # malformed lines are seeds too
                if len(out) >= PER_FILE:
                    break
    except OSError:
        pass
    return out

def doc(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def walk(sub, ext=".json"):
    base = os.path.join(corpus, sub)
    for root, _, files in os.walk(base):
        for n in sorted(files):
            if n.endswith(ext):
                yield os.path.join(root, n)

# CloudTrail: S3 delivery files (a few records each, as records and as a small file), Stratus
# arrays, OTRF Logstash lines.
for p in list(walk("invictus-ir-aws-dataset/CloudTrail"))[:20]:
    d = doc(p)
    if d:
        recs = d.get("Records", [])[:PER_FILE]
        for r in recs:
            seed(CLOUDTRAIL, r)
            seed(EVENTBRIDGE, r)
        seed(CT_FILE, {"Records": recs[:2]}) if recs else None
        write("detect", json.dumps({"Records": recs[:2]}).encode())
for p in walk("stratus-red-team/detonation-logs"):
    d = doc(p)
    if isinstance(d, list):
        for r in d[:PER_FILE]:
            seed(CLOUDTRAIL, r)
for p in walk("otrf-security-datasets"):
    for r in lines(p):
        seed(CLOUDTRAIL, r)
# Kubernetes audit (one event per line), Falco alerts, Tetragon events.
for p in walk("falco/k8s_audit_trace_files"):
    for r in lines(p):
        seed(K8S, r)
for p in walk("falco/output_files"):
    for r in lines(p):
        seed(FALCO, r)
for p in walk("tetragon"):
    for r in lines(p):
        seed(TETRAGON, r)
# Panther rule tests: the record is under "log".
for name, fmt in [("aws_cloudtrail_rule_tests.jsonl", CLOUDTRAIL), ("aws_guardduty_rule_tests.jsonl", CLOUDTRAIL),
                  ("kubernetes_rule_tests.jsonl", K8S), ("github_rule_tests.jsonl", GITHUB),
                  ("gcp_audit_service_accounts_rule_tests.jsonl", GCP)]:
    path = os.path.join(corpus, "panther-analysis", name)
    try:
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= 4 * PER_FILE:
                    break
                try:
                    v = json.loads(line)
                except ValueError:
                    continue
                if isinstance(v.get("log"), dict):
                    seed(fmt, v["log"])
                    write("detect", line.strip().encode())
    except OSError:
        pass
# Formats the corpus has no sample of: small hand-made records in their documented shapes.
seed(VAULT, {"time": "2026-11-26T03:00:00Z", "type": "response", "auth": {"accessor": "hmac-sha256:ab", "display_name": "approle-ci", "entity_id": "e-1", "policies": ["default", "ci"]}, "request": {"id": "1", "operation": "read", "path": "secret/data/prod/db", "remote_address": "10.1.2.3"}, "response": {"data": {"password": "hmac-sha256:xyz"}}})
seed(VAULT, {"time": "2026-11-26T03:00:01Z", "type": "request", "error": "permission denied", "auth": {"accessor": "hmac-sha256:cd", "policies": ["default"]}, "request": {"operation": "update", "path": "auth/approle/login", "remote_address": "203.0.113.4"}})
seed(OCSF, {"class_uid": 6003, "category_uid": 6, "activity_id": 1, "time": 1700000000000, "actor": {"user": {"uid": "arn:aws:iam::1:user/u1", "name": "u1", "credential_uid": "AKIA00000001"}}, "api": {"service": {"name": "s3.amazonaws.com"}, "operation": "GetObject"}, "src_endpoint": {"ip": "10.0.1.2"}, "status_id": 2, "metadata": {"product": {"name": "CloudTrail"}, "version": "1.1.0"}})
seed(AWS_IAM, {"UserDetailList": [{"UserName": "ci", "Arn": "arn:aws:iam::1:user/ci", "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}], "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}]}], "RoleDetailList": [{"RoleName": "r", "Arn": "arn:aws:iam::1:role/r", "AssumeRolePolicyDocument": "%7B%22Statement%22%3A%5B%5D%7D"}], "Policies": []})
seed(K8S_RBAC, {"kind": "List", "items": [{"kind": "ServiceAccount", "metadata": {"name": "runner", "namespace": "ci"}}, {"kind": "ClusterRoleBinding", "metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": "ci"}]}, {"kind": "ClusterRole", "metadata": {"name": "cluster-admin"}, "rules": [{"verbs": ["*"], "resources": ["*"], "apiGroups": ["*"]}]}]})
seed(GITHUB, {"action": "org.add_member", "actor": "octocat", "org": "acme", "created_at": 1700000000000, "user": "mallory"})
# The file reader: mode byte bits 0-2 set the line limit (64 << n bytes), bits 3-4 plain (0, 1),
# gzipped by the target (2) or a gzip stream as it is (3).
def source_seed(text):
    for mode in (0x03, 0x07, 0x13):
        write("sources", bytes([mode]) + text)
    write("sources", bytes([0x1b]) + gzip.compress(text))
files = list(walk("otrf-security-datasets"))[:2] + list(walk("tetragon"))[:2]
for p in files:
    try:
        with open(p, "rb") as f:
            head = b"".join(f.readline() for _ in range(PER_FILE))
        source_seed(head[:MAX_BYTES // 2])
    except OSError:
        pass
for p in list(walk("invictus-ir-aws-dataset/CloudTrail"))[:3]:
    d = doc(p)
    if d:
        small = {"Records": d.get("Records", [])[:3]}
        source_seed(json.dumps(small).encode())
        source_seed(json.dumps(small, indent=2).encode())
source_seed(b'{"a": 1}\n\xff\xfe not utf-8\n' + b"x" * 600 + b"\n{}\n")
# CloudTrail as it is shipped (tests/fixtures/formats, written from documented shapes): the
# console's CSV export, EventBridge batches, CloudWatch Logs subscription records (the Lambda's
# awslogs base64 gzip, the decoded message, Firehose's concatenated gzip members) and Datadog.
formats = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "formats")
def fixture(name):
    try:
        with open(os.path.join(formats, name), "rb") as f:
            return f.read()
    except OSError:
        return b""
csv_export = fixture("event-history.csv")
if csv_export:
    source_seed(csv_export)
    source_seed(csv_export.replace(b'"', b"", 3))  # a quote left open
for name in ("eventbridge-batch.json", "cwl-data-message.json", "datadog-logs-api.json"):
    text = fixture(name)
    if text:
        write("detect", text)
        source_seed(text)
for name in ("awslogs-lambda.ndjson", "datadog-flattened.ndjson"):
    for line in fixture(name).splitlines():
        write("detect", line)
        write("decoders", bytes([CLOUDTRAIL]) + line)
    if fixture(name):
        source_seed(fixture(name))
message = fixture("cwl-data-message.json")
if message:
    control = json.dumps({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
                          "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 0, "message": "CWL CONTROL MESSAGE"}]}).encode()
    firehose = gzip.compress(control, mtime=0) + gzip.compress(message, mtime=0)
    write("sources", bytes([0x07]) + firehose)
    write("sources", bytes([0x1b]) + firehose)
for kind in ("detect", "decoders", "sources"):
    d = os.path.join(out, kind)
    print(f"{kind}: {len(os.listdir(d)) if os.path.isdir(d) else 0} seeds", file=sys.stderr)
