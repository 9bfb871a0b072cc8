#!/usr/bin/env bash
# `make demo`: creates the demo TLS certificates once, then runs the local stack (Redis,
# PostgreSQL, the dev Kafka broker) in the foreground until Ctrl-C, which stops all of it.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/demo.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

devstack=$build/tests/harness/sluice-devstack
[ -x "$devstack" ] || { echo "demo: $devstack is missing: build with tests enabled (make build)" >&2; exit 1; }

certs=$build/demo/certs
for f in ca.crt ca.key server.crt server.key; do
  [ -s "$certs/$f" ] || { scripts/certs.sh "$certs"; break; }
done
echo "demo: TLS certificates in $certs (clients trust ca.crt)"

exec "$devstack" --env-file "$build/demo/devstack.env"
