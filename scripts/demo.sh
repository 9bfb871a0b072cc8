#!/usr/bin/env bash
# `make demo`: creates the demo TLS certificates and demo secrets once, writes the example's data
# map (build/demo/privacy-map-acme.svg), then runs the local stack (Redis, PostgreSQL, the dev
# Kafka broker), sluice-gateway on the example config, and sluice-deliver with HTTPS stubs
# standing in for Meta, GA4 and Pinterest (they print what they receive), in the foreground until Ctrl-C,
# which stops all of it. Once it is up, scripts/demo-sample.sh sends a batch of sample events
# through it and shows what Kafka and the stubs got.
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
# Paths as printed: from the repository root, where the printed commands run.
shown() { case $1 in "$PWD"/*) echo "${1#"$PWD"/}" ;; *) echo "$1" ;; esac; }
echo "demo: TLS certificates in $(shown "$certs") (clients trust ca.crt)"

# The example's data map (docs/privacy.md): what the data layer does to each field, and where it goes.
if scripts/privacy-map.sh "$build" "$build/demo" >/dev/null; then
  echo "demo: data map of org acme in $(shown "$build/demo")/privacy-map-acme.svg (and .md)"
else
  echo "demo: no data map (see the message above)" >&2
fi

# Demo secrets: random, made once, kept in the build tree (never in the repository). The
# example config names these variables; a real deployment sets them from its secret store.
secrets=$build/demo/secrets.env
if [ ! -s "$secrets" ]; then
  umask 077
  {
    for v in ACME_WEB_WRITE_KEY ACME_WEB_WRITE_KEY_PREVIOUS ACME_APP_WRITE_KEY GLOBEX_STORE_WRITE_KEY; do
      echo "$v=wk_demo_$(openssl rand -hex 12)"
    done
    for v in ACME_BACKEND_HMAC_SECRET GLOBEX_CRM_HMAC_SECRET; do echo "$v=$(openssl rand -hex 24)"; done
    echo "ACME_FPE_KEY=$(openssl rand -hex 32)"
    echo "ENCRYPTION_KEY=$(openssl rand -hex 32)"
  } > "$secrets"
fi
set -a
# shellcheck disable=SC1090
. "$secrets"
SLUICE_HTTPS_LISTEN=127.0.0.1:8443
SLUICE_TLS_CERT=$certs/server.crt
SLUICE_TLS_KEY=$certs/server.key
SLUICE_DEMO_CA=$certs/ca.crt
SLUICE_DEMO_SECRETS=$secrets
set +a
echo "demo: secrets in $(shown "$secrets") (commands below that need them load it first)"

# The demo pages (gateway/tag/demo): a shop and a checkout loading sluice.js from the gateway.
# After the exec below, sluice-devstack is their parent; they exit with it (and with Ctrl-C).
if command -v node >/dev/null 2>&1; then
  node gateway/tag/demo/serve.mjs --listen 127.0.0.1:8444 --certs "$certs" --gateway-port 8443 &
else
  echo "demo: node is not installed (scripts/deps.sh): no demo pages" >&2
fi

# Sample events once the stack is up (it waits for the env file sluice-devstack writes when ready).
rm -f "$build/demo/devstack.env"
scripts/demo-sample.sh "$build" "$build/demo/devstack.env" &

exec "$devstack" --env-file "$build/demo/devstack.env" --gateway config/examples/acme.yaml --deliver
