#!/bin/sh
# ctest deploy.alerts: the shipped alerting rules (deploy/prometheus/sluice-alerts.yaml) are valid
# Prometheus rules, and each alert fires, with its labels and annotations, on the series of
# tests/deploy/alerts_test.yaml that should fire it and on no other. That the rules name series
# the processes really export is integration.metrics_scrape's alert_rules_name_what_is_scraped.
# usage: alerts.sh SOURCE_DIR
set -u
src=$1
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool is not installed (Debian's prometheus package; scripts/deps.sh installs it)" >&2
  exit 1
fi
promtool check rules "$src/deploy/prometheus/sluice-alerts.yaml" || exit 1
promtool test rules "$src/tests/deploy/alerts_test.yaml" || exit 1
