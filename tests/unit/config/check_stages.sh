#!/bin/sh
# Integration test of `sluicectl config check` across its stages (ctest label "integration"):
#   1. one file with five mistakes of five different stages (unknown key, wrong type, a TLS
#      certificate that does not exist, a signed webhook without a database, a bad plugin
#      parameter): all five in one run, each exactly as `file:line:col: message`;
#   2. tabs: in an included org file (and an error of the root file still shown), and in the
#      root file itself (an env override's error still shown);
#   3. TLS files: a key of another certificate, files that are not PEM, a path from
#      SLUICE_TLS_CERT, a CA bundle that is none: OpenSSL's reason in each, never "(null)";
#      and sluice-gateway's own message for a missing certificate; a key every user may read is
#      a warning (from the file and from SLUICE_TLS_KEY, and in sluice-gateway's log); and
#      sluice-gateway's refusal to start without its JSON arenas' address range;
#   4. ENCRYPTION_KEY: no word about it when nothing needs it; a warning per need otherwise,
#      an error with --secrets, silence once it is set.
# usage: check_stages.sh SLUICECTL SLUICE_GATEWAY
set -eu
ctl=$1
gateway=$2
tmp=$(mktemp -d /tmp/sluice-config-stages.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for v in SLUICE_HTTPS_LISTEN SLUICE_HTTP_LISTEN SLUICE_TLS_CERT SLUICE_TLS_KEY SLUICE_KAFKA_BROKERS \
         SLUICE_REDIS_URL SLUICE_DATABASE_URL SLUICE_METRICS_LISTEN SLUICE_LOG_LEVEL \
         ENCRYPTION_KEY SLUICE_KEY_ID SLUICE_KEYRING; do
    unset "$v"
done
export ACME_WEB_WRITE_KEY=wk_test
fail() { echo "FAIL: $*" >&2; exit 1; }

# Runs `sluicectl config check ARGS...`; stdout in $tmp/out, errors in $tmp/errors, warnings
# (without their "warning: " prefix) in $tmp/warnings, the exit code in $rc.
run_check() {
    set +e
    "$ctl" config check "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    grep -v '^warning: ' "$tmp/err" >"$tmp/errors" || true
    sed -n 's/^warning: //p' "$tmp/err" >"$tmp/warnings"
    if grep -q '(null)' "$tmp/err"; then fail "'(null)' in: $(cat "$tmp/err")"; fi
}

# Compares file $1 with the lines given on stdin.
same_lines() {
    cat >"$tmp/want"
    diff -u "$tmp/want" "$1" >"$tmp/diff" || fail "$2:
$(cat "$tmp/diff")"
}

mkcert() { # mkcert NAME: NAME.crt (self-signed) and NAME.key, EC P-256
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
        -keyout "$tmp/$1.key" -out "$tmp/$1.crt" 2>/dev/null || fail "openssl could not make $1"
}
mkcert a
mkcert b
chmod 600 "$tmp/a.key" "$tmp/b.key"
echo "not a certificate" >"$tmp/junk.pem"

# ------------------------------------------------------------------ 1. five stages, one run
cat >"$tmp/five.yaml" <<EOF
version: 1
server:
  https:
    listen: "127.0.0.1:8443"
    cert: certs/missing.crt
    key: a.key
  thredas: 4
kafka:
  brokers: "127.0.0.1:9092"
  ack_timeout_ms: soon
orgs:
  - id: acme
    sources:
      - id: web
        write_key_env: ACME_WEB_WRITE_KEY
    data_layer:
      mask:
        - {path: properties.card, plugin: partial, params: {keep_lst: 4}}
    integrations:
      - name: hook
        vendor: webhook
        url: "https://hooks.acme.test/in"
        sign: true
EOF
run_check "$tmp/five.yaml"
[ "$rc" -eq 1 ] || fail "five mistakes: expected exit 1, got $rc"
[ ! -s "$tmp/out" ] || fail "five mistakes: nothing expected on stdout, got: $(cat "$tmp/out")"
f=$tmp/five.yaml
same_lines "$tmp/errors" "five mistakes" <<EOF
$f:7:3: unknown key 'thredas' in server (did you mean 'threads'?)
$f:10:19: kafka.ack_timeout_ms: expected an integer, got a string
$f:5:11: server.https.cert: cannot read '$tmp/certs/missing.crt': No such file or directory
$f:20:9: orgs[0].integrations[0]: 'hook' (webhook with sign: true) reads its 'secret' from the vault, and there is no database: set database.url (or SLUICE_DATABASE_URL)
$f:18:61: orgs[0].data_layer.mask[0].params.keep_lst: unknown parameter of plugin 'partial'; did you mean 'keep_last'?
EOF

# ------------------------------------------------------------------ 2. tabs
mkdir -p "$tmp/orgs"
printf 'id: globex\nsources:\n\t- id: store\n    write_key_env: GLOBEX_KEY\n' >"$tmp/orgs/tabbed.yaml"
cat >"$tmp/tab.yaml" <<EOF
version: 1
server:
  http: {listen: "127.0.0.1:8080"}
  colour: red
kafka: {brokers: "127.0.0.1:9092"}
orgs:
  - id: acme
    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]
  - include: orgs/tabbed.yaml
EOF
run_check "$tmp/tab.yaml"
[ "$rc" -eq 1 ] || fail "tab in an included file: expected exit 1, got $rc"
same_lines "$tmp/errors" "tab in an included file" <<EOF
$tmp/tab.yaml:4:3: unknown key 'colour' in server
$tmp/orgs/tabbed.yaml:3:1: tab character at line 3 col 1: YAML indentation must use spaces
EOF
# A tab in the root file: that file stops there, the environment is still checked.
printf 'version: 1\nserver:\n\thttp: {listen: "127.0.0.1:8080"}\n' >"$tmp/roottab.yaml"
SLUICE_KAFKA_BROKERS="a:1,,b:2" run_check "$tmp/roottab.yaml"
[ "$rc" -eq 1 ] || fail "tab in the root file: expected exit 1, got $rc"
same_lines "$tmp/errors" "tab in the root file" <<EOF
$tmp/roottab.yaml:3:1: tab character at line 3 col 1: YAML indentation must use spaces
SLUICE_KAFKA_BROKERS: 'a:1,,b:2' has an empty entry (expected host:port[,host:port...])
EOF

# ------------------------------------------------------------------ 3. TLS files
tls_yaml() { # tls_yaml CERT KEY [CA]: a valid config but for these files
    cat <<EOF
version: 1
server:
  https: {listen: "127.0.0.1:8443", cert: $1, key: $2}
kafka: {brokers: "127.0.0.1:9092"}
delivery: {ca_file: ${3:-a.crt}}
orgs:
  - id: acme
    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]
EOF
}
tls_yaml a.crt a.key >"$tmp/tls-ok.yaml"
run_check "$tmp/tls-ok.yaml"
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = ok ] || fail "matching pair: expected ok, got $rc: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "matching pair: nothing expected on stderr, got: $(cat "$tmp/err")"

# A key every user may read (copied under umask 022, a cp without -p) still loads, with a warning
# naming the fix, from the file and from SLUICE_TLS_KEY; 0600 and 0640 are quiet (above: a.key).
chmod 644 "$tmp/a.key"
run_check "$tmp/tls-ok.yaml"
[ "$rc" -eq 0 ] || fail "world-readable key: expected exit 0, got $rc: $(cat "$tmp/err")"
same_lines "$tmp/warnings" "world-readable key" <<EOF
$tmp/tls-ok.yaml:3:55: server.https.key: '$tmp/a.key' is readable by every user of this machine (mode 0644): chmod o-r it (0600 or 0640, owned by the gateway's user)
EOF
(cd "$tmp" && SLUICE_TLS_KEY=a.key run_check tls-ok.yaml && echo "$rc" >"$tmp/rc")
same_lines "$tmp/warnings" "world-readable key from SLUICE_TLS_KEY" <<EOF
SLUICE_TLS_KEY: '$tmp/a.key' is readable by every user of this machine (mode 0644): chmod o-r it (0600 or 0640, owned by the gateway's user)
EOF
# The gateway loads it too, and says so in its log (it starts without Kafka; stopped after 2 s).
sed 's/127.0.0.1:8443/127.0.0.1:0/' "$tmp/tls-ok.yaml" >"$tmp/tls-gw.yaml"
(cd "$tmp" && SLUICE_METRICS_LISTEN= SLUICE_KAFKA_BROKERS=127.0.0.1:1 timeout -s TERM 2 "$gateway" --config tls-gw.yaml) \
    >/dev/null 2>"$tmp/gw.err" || true
grep -q "\"event\":\"tls.key_readable\",\"msg\":\"TLS key $tmp/a.key is readable by every user" "$tmp/gw.err" ||
    fail "sluice-gateway with a world-readable key: no tls.key_readable warning in: $(head -c 2000 "$tmp/gw.err")"
chmod 640 "$tmp/a.key"
run_check "$tmp/tls-ok.yaml"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] || fail "key 0640: nothing expected on stderr, got: $(cat "$tmp/err")"
chmod 600 "$tmp/a.key"

tls_yaml a.crt b.key junk.pem >"$tmp/tls-bad.yaml"
run_check "$tmp/tls-bad.yaml"
[ "$rc" -eq 1 ] || fail "mismatch: expected exit 1, got $rc"
same_lines "$tmp/errors" "key of another certificate, CA bundle not PEM" <<EOF
$tmp/tls-bad.yaml:3:55: server.https.key: '$tmp/b.key' does not belong to the certificate '$tmp/a.crt': x509 certificate routines: key values mismatch
$tmp/tls-bad.yaml:5:21: delivery.ca_file: '$tmp/junk.pem' is not a PEM CA bundle: x509 certificate routines: no certificate or crl found
EOF

tls_yaml junk.pem a.crt >"$tmp/tls-junk.yaml"
run_check "$tmp/tls-junk.yaml"
[ "$rc" -eq 1 ] || fail "not PEM: expected exit 1, got $rc"
same_lines "$tmp/errors" "files that are not PEM" <<EOF
$tmp/tls-junk.yaml:3:43: server.https.cert: '$tmp/junk.pem' is not a PEM certificate chain: PEM routines: no start line (Expecting: TRUSTED CERTIFICATE)
$tmp/tls-junk.yaml:3:58: server.https.key: '$tmp/a.crt' is not a PEM private key without a passphrase: DECODER routines: unsupported (No supported data to decode. Input type: PEM)
EOF

# From the environment: the message names the variable (and the path is relative to the cwd).
(cd "$tmp" && SLUICE_TLS_CERT=nope.crt run_check tls-ok.yaml && echo "$rc" >"$tmp/rc")
rc=$(cat "$tmp/rc")
[ "$rc" -eq 1 ] || fail "SLUICE_TLS_CERT: expected exit 1, got $rc"
same_lines "$tmp/errors" "certificate from SLUICE_TLS_CERT" <<EOF
SLUICE_TLS_CERT: cannot read '$tmp/nope.crt': No such file or directory
EOF

# sluice-gateway's own message for a missing certificate: OpenSSL's reason, not "(null)".
set +e
# Port 0 and no metrics listener: `make demo`'s gateway may hold 8443 and 9464 while this runs.
(cd "$tmp" && SLUICE_METRICS_LISTEN= SLUICE_TLS_CERT=nope.crt "$gateway" --config tls-gw.yaml) >/dev/null 2>"$tmp/gw.err"
grc=$?
set -e
[ "$grc" -ne 0 ] || fail "sluice-gateway started without its certificate"
grep -q "^sluice-gateway: TLS certificate $tmp/nope.crt: system library: No such file or directory" "$tmp/gw.err" ||
    fail "sluice-gateway's TLS message: $(cat "$tmp/gw.err")"
if grep -q '(null)' "$tmp/gw.err"; then fail "sluice-gateway printed (null): $(cat "$tmp/gw.err")"; fi

# Without the address range its JSON arenas reserve (4 GB, json/arena.h; here an address space
# limited to 3 GB) the gateway cannot parse a request body (gateway/ingest.c parses every body
# into an arena): it refuses to start, saying why, rather than serve and refuse every event. Not
# checked where the binary cannot run in 3 GB at all (a sanitizer's shadow memory).
if (ulimit -v 3145728 && "$gateway" --version) >/dev/null 2>&1; then
    set +e
    (cd "$tmp" && ulimit -v 3145728 && SLUICE_METRICS_LISTEN= SLUICE_KAFKA_BROKERS=127.0.0.1:1 \
        timeout -s TERM 5 "$gateway" --config tls-gw.yaml) >/dev/null 2>"$tmp/gw.err"
    grc=$?
    set -e
    [ "$grc" -eq 1 ] || fail "sluice-gateway without its arenas' address range: expected exit 1, got $grc: $(head -c 2000 "$tmp/gw.err")"
    grep -q "^sluice-gateway: no address range for JSON arenas" "$tmp/gw.err" ||
        fail "sluice-gateway without its arenas' address range: $(head -c 2000 "$tmp/gw.err")"
fi

# ------------------------------------------------------------------ 4. ENCRYPTION_KEY only when needed
cat >"$tmp/nokey.yaml" <<EOF
version: 1
server: {http: {listen: "127.0.0.1:8080"}}
kafka: {brokers: "127.0.0.1:9092"}
orgs:
  - id: acme
    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]
    data_layer:
      mask: [{path: properties.card, plugin: partial}]
    integrations:
      - {name: hook, vendor: webhook, url: "https://hooks.acme.test/in"}
EOF
run_check "$tmp/nokey.yaml"
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = ok ] || fail "no key needed: expected ok, got $rc: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "no key needed: nothing expected on stderr, got: $(cat "$tmp/err")"
run_check --secrets "$tmp/nokey.yaml"
[ "$rc" -eq 0 ] || fail "no key needed, --secrets: expected ok, got $rc: $(cat "$tmp/err")"

cat >"$tmp/key.yaml" <<EOF
version: 1
server: {http: {listen: "127.0.0.1:8080"}}
kafka: {brokers: "127.0.0.1:9092"}
redis: {url: "redis://127.0.0.1:6379"}
database: {url: "host=/tmp dbname=sluice"}
orgs:
  - id: acme
    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]
    identity: {cross_domain: {domains: [shop.acme.test, acme.test]}}
    data_layer:
      mask:
        - {path: properties.card, plugin: partial}
        - {path: traits.phone, plugin: encrypt}
    integrations:
      - {name: capi, vendor: meta, pixel_id: "123"}
      - {name: off, vendor: ga4, measurement_id: G-1, enabled: false}
EOF
k=$tmp/key.yaml
run_check "$k"
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = ok ] || fail "key needed: a warning is no failure, got $rc: $(cat "$tmp/err")"
same_lines "$tmp/warnings" "ENCRYPTION_KEY warnings" <<EOF
$k:13:11: orgs[0].data_layer.mask[1]: plugin 'encrypt' seals values with the key ring: sluice-gateway needs ENCRYPTION_KEY, which is not set (checked here with a throwaway key)
$k:9:40: orgs[0].identity.cross_domain.domains: cross-domain tokens are sealed with the key ring: sluice-gateway needs ENCRYPTION_KEY, which is not set
$k:15:9: orgs[0].integrations[0]: 'capi' reads its credentials from the vault: sluice-deliver opens the vault with ENCRYPTION_KEY, which is not set
EOF
run_check --secrets "$k"
[ "$rc" -eq 1 ] || fail "key needed, --secrets: expected exit 1, got $rc"
same_lines "$tmp/errors" "ENCRYPTION_KEY errors with --secrets" <<EOF
$k:13:11: orgs[0].data_layer.mask[1]: plugin 'encrypt' seals values with the key ring: sluice-gateway needs ENCRYPTION_KEY, which is not set
$k:9:40: orgs[0].identity.cross_domain.domains: cross-domain tokens are sealed with the key ring: sluice-gateway needs ENCRYPTION_KEY, which is not set
$k:15:9: orgs[0].integrations[0]: 'capi' reads its credentials from the vault: sluice-deliver opens the vault with ENCRYPTION_KEY, which is not set
EOF
ENCRYPTION_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f run_check --secrets "$k"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] || fail "key set: expected a silent ok, got $rc: $(cat "$tmp/err")"
ENCRYPTION_KEY=short run_check "$tmp/nokey.yaml"
[ "$rc" -eq 1 ] || fail "malformed ENCRYPTION_KEY: expected exit 1 even when nothing needs it, got $rc"
grep -q '^ENCRYPTION_KEY' "$tmp/errors" || fail "malformed ENCRYPTION_KEY: $(cat "$tmp/err")"
echo "config check stages: ok"
