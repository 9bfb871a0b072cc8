#!/bin/sh
# ctest deploy.alerts: the shipped alerting rules (deploy/prometheus/sluice-alerts.yaml) are valid
# Prometheus rules, and each alert fires, with its labels and annotations, on the series of
# tests/deploy/alerts_test.yaml that should fire it and on no other. That the rules name series
# the processes really export is integration.metrics_scrape's alert_rules_name_what_is_scraped.
# The Prometheus Operator's copy, deploy/kubernetes/prometheus-operator/prometheusrule.yaml, must be what
# scripts/prometheusrule.sh makes of the rules now (a rule changed in one file only fails here),
# and a PrometheusRule whose spec.groups are those rules.
# usage: alerts.sh SOURCE_DIR
set -u
src=$1
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool is not installed (Debian's prometheus package; scripts/deps.sh installs it)" >&2
  exit 1
fi
promtool check rules "$src/deploy/prometheus/sluice-alerts.yaml" || exit 1
promtool test rules "$src/tests/deploy/alerts_test.yaml" || exit 1

rule=$src/deploy/kubernetes/prometheus-operator/prometheusrule.yaml
if ! sh "$src/scripts/prometheusrule.sh" "$src/deploy/prometheus/sluice-alerts.yaml" | diff -u "$rule" - >&2; then
  echo "deploy/kubernetes/prometheus-operator/prometheusrule.yaml differs from deploy/prometheus/sluice-alerts.yaml:" \
    "run scripts/prometheusrule.sh > deploy/kubernetes/prometheus-operator/prometheusrule.yaml" >&2
  exit 1
fi
/usr/bin/python3 - "$rule" "$src/deploy/prometheus/sluice-alerts.yaml" <<'PY' || exit 1
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1], encoding="utf-8")) if d is not None]
rules = yaml.safe_load(open(sys.argv[2], encoding="utf-8"))
bad = []
if len(docs) != 1:
    bad.append("%d YAML documents, not one PrometheusRule" % len(docs))
else:
    d = docs[0]
    if d.get("apiVersion") != "monitoring.coreos.com/v1" or d.get("kind") != "PrometheusRule":
        bad.append("apiVersion/kind %s/%s, not monitoring.coreos.com/v1/PrometheusRule" % (d.get("apiVersion"), d.get("kind")))
    if not (d.get("metadata") or {}).get("name"):
        bad.append("no metadata.name")
    if d.get("spec") != {"groups": rules["groups"]}:
        bad.append("spec is not {groups: <the groups of sluice-alerts.yaml>}")
for b in bad:
    print("deploy/kubernetes/prometheus-operator/prometheusrule.yaml: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
# The Operator hands spec to Prometheus as a rule file: it must load as one.
tmp=$(mktemp) && trap 'rm -f "$tmp"' EXIT
/usr/bin/python3 -c 'import sys, yaml; yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["spec"], sys.stdout)' "$rule" >"$tmp" &&
  promtool check rules "$tmp" >/dev/null || exit 1
echo "deploy/kubernetes/prometheus-operator/prometheusrule.yaml: the PrometheusRule of the shipped rules"
