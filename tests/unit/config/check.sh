#!/bin/sh
# Integration test of `sluicectl config check|dump` on the example config (ctest label
# "integration"): the example prints ok and exits 0; a copy with an unknown key inserted on a
# known line prints exactly `<file>:<line>:<col>: ...` for it and exits 1.
# usage: check.sh SLUICECTL SOURCE_DIR
set -eu
ctl=$1
src=$2
tmp=$(mktemp -d /tmp/sluice-config-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for v in SLUICE_HTTPS_LISTEN SLUICE_HTTP_LISTEN SLUICE_TLS_CERT SLUICE_TLS_KEY SLUICE_KAFKA_BROKERS \
         SLUICE_REDIS_URL SLUICE_DATABASE_URL SLUICE_METRICS_LISTEN SLUICE_LOG_LEVEL; do
    unset "$v"
done
fail() { echo "FAIL: $*" >&2; exit 1; }

# The example's certificate paths point at build/demo/certs, which only `make demo` writes:
# throwaway ones through the environment instead (config check reads and matches them).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
    -keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null || fail "openssl could not make a test certificate"
export SLUICE_TLS_CERT="$tmp/tls.crt" SLUICE_TLS_KEY="$tmp/tls.key"

# 1. the example is valid
out=$("$ctl" config check "$src/config/examples/acme.yaml" 2>"$tmp/err") || fail "check of the example exited $?: $(cat "$tmp/err")"
[ "$out" = "ok" ] || fail "expected 'ok', got '$out'"
if grep -v '^warning: ' "$tmp/err" >/dev/null; then fail "unexpected stderr: $(cat "$tmp/err")"; fi

# 2. a copy with a typo on a known line
cp -R "$src/config/examples/." "$tmp/"
n=$(grep -n '^  threads: 0' "$tmp/acme.yaml" | cut -d: -f1)
[ -n "$n" ] || fail "no 'threads: 0' line in the example"
sed "${n}a\\
  thredas: 4" "$tmp/acme.yaml" >"$tmp/typo.yaml"
set +e
"$ctl" config check "$tmp/typo.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "expected exit 1, got $rc"
[ ! -s "$tmp/out" ] || fail "nothing expected on stdout, got: $(cat "$tmp/out")"
want="$tmp/typo.yaml:$((n + 1)):3: unknown key 'thredas' in server (did you mean 'threads'?)"
got=$(grep -v '^warning: ' "$tmp/err")
[ "$got" = "$want" ] || fail "expected '$want', got '$got'"

# 3. an error inside the included org file names that file
sed 's/^  - id: store$/  - id: store\
    colour: red/' "$tmp/orgs/globex.yaml" >"$tmp/orgs/globex2.yaml"
n=$(grep -n '^    colour: red' "$tmp/orgs/globex2.yaml" | cut -d: -f1)
sed 's|include: orgs/globex.yaml|include: orgs/globex2.yaml|' "$tmp/acme.yaml" >"$tmp/inc.yaml"
set +e
"$ctl" config check "$tmp/inc.yaml" >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "expected exit 1 for the include error, got $rc"
want="$tmp/orgs/globex2.yaml:$n:5: unknown key 'colour' in orgs[1].sources[0]"
got=$(grep -v '^warning: ' "$tmp/err")
[ "$got" = "$want" ] || fail "expected '$want', got '$got'"

# 4. usage, and dump never prints a resolved secret
"$ctl" config check --help | grep -q 'usage: sluicectl config check' || fail "--help"
set +e
"$ctl" config check >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "missing FILE should exit 2, got $rc"
SLUICE_KAFKA_BROKERS=10.1.1.1:9092 "$ctl" config dump "$src/config/examples/acme.yaml" >"$tmp/dump" 2>/dev/null ||
    fail "dump failed"
grep -q '"brokers": "10.1.1.1:9092"' "$tmp/dump" || fail "dump does not show the env override"
grep -q '"write_key_env": "ACME_WEB_WRITE_KEY"' "$tmp/dump" || fail "dump lacks the web source"
echo "config check: ok"
