#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build, test and run its demo, skipping the
# apt-get calls entirely when everything is already present. Runs as root (or through sudo).
set -euo pipefail

packages=(
  # build
  gcc clang clang-format make cmake pkg-config git
  libh2o-evloop-dev libh2o-dev-common libssl-dev librdkafka-dev libhiredis-dev libjansson-dev
  libyaml-dev libcurl4-openssl-dev libpq-dev zlib1g-dev libcmocka-dev libclang-rt-14-dev libpcre2-dev
  # enrichment (docs/enrichment.md): the ua-parser regexes, MaxMind databases
  uap-core libmaxminddb-dev
  # the local stack and the tests
  redis-server postgresql kcat openssl curl ca-certificates procps psmisc iproute2 util-linux
  stunnel4                 # tests reach a TLS Redis through it, as docs/identity.md shows
  python3-h2 nginx-light
  prometheus               # promtool checks both /metrics (tests/integration/metrics_scrape.c)
  python3-yaml             # tests/deploy/check.py parses the deployment files
  # the data map's picture (sluicectl privacy map --format svg; make demo; its test)
  graphviz
  # load harness and profiling
  wrk nghttp2-client valgrind
  # browser tests
  chromium nodejs npm
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# node/npm may come from outside Debian (a newer Node is often preinstalled); a working
# `node` and `npm` on PATH is what the browser tests need, so don't pull Debian's over it.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "deps: installing ${missing[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# Debian's policy-rc.d in containers keeps postinst scripts from starting services; the
# project starts its own Redis and PostgreSQL on free loopback ports.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
