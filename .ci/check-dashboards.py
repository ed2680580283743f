#!/usr/bin/env python3
"""Checks deploy/grafana and deploy/prometheus against the server's code.

Every dashboard must be valid JSON with a unique uid, use the provisioned Prometheus
datasource and have panels with queries; every `fintech_*` metric named in a dashboard or a
rule file must be one the Rust code registers (a `"fintech_..."` string literal next to a
counter!/gauge!/histogram! call), so a renamed metric cannot leave a silent panel or alert.
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUFFIXES = ("_bucket", "_count", "_sum")
errors = []

exported = set()
for path in ROOT.glob("fintech-*/src/**/*.rs"):
    text = path.read_text()
    for m in re.finditer(r'(?:counter|gauge|histogram)!\(\s*"(fintech_[a-z0-9_]+)"', text):
        exported.add(m.group(1))
    # names kept in constants (const X: &str = "fintech_...") and passed to the macros
    for m in re.finditer(r'const [A-Z0-9_]+: &str = "(fintech_[a-z0-9_]+)"', text):
        exported.add(m.group(1))
if not exported:
    errors.append("found no metric registrations in fintech-*/src")



def base(name):
    for s in SUFFIXES:
        if name.endswith(s) and name[: -len(s)] in exported:
            return name[: -len(s)]
    return name


def check_expr(where, expr):
    for m in re.finditer(r"(?<![:\w])(fintech_[a-z0-9_]+)(?![:\w])", expr):
        if base(m.group(1)) not in exported:
            errors.append(f"{where}: {m.group(1)} is not exported by the server")


uids = set()
dashboards = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
if not dashboards:
    errors.append("no dashboards in deploy/grafana/dashboards")
for path in dashboards:
    rel = path.relative_to(ROOT)
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        errors.append(f"{rel}: {e}")
        continue
    if not d.get("uid") or d["uid"] in uids:
        errors.append(f"{rel}: missing or duplicate uid")
    uids.add(d.get("uid"))
    panels = d.get("panels") or []
    if not panels:
        errors.append(f"{rel}: no panels")
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids):
        errors.append(f"{rel}: duplicate panel ids")
    for p in panels:
        where = f"{rel} panel {p.get('title')!r}"
        if (p.get("datasource") or {}).get("uid") != "prometheus":
            errors.append(f"{where}: datasource is not the provisioned uid 'prometheus'")
        targets = p.get("targets") or []
        if not targets:
            errors.append(f"{where}: no queries")
        for t in targets:
            check_expr(where, t.get("expr", ""))

for path in sorted((ROOT / "deploy/prometheus/rules").glob("*.yml")):
    rel = path.relative_to(ROOT)
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip().startswith("#"):
            continue
        check_expr(f"{rel}:{n}", line)

for e in errors:
    print(f"FAIL: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
print(f"{len(dashboards)} dashboards; metrics used are among the {len(exported)} the server exports")
