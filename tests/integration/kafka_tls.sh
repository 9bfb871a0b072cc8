#!/bin/sh
# Managed-Kafka settings against the dev broker through TLS (docs/deploy.md, "Managed Kafka"):
# stunnel terminates TLS in front of `sluicectl dev-kafka`, requiring a client certificate from
# the test CA; sluice-gateway produces and `sluicectl dlq list` (the client code sluice-deliver
# uses too, vendors/dlq.c) reads with security.protocol SSL, ssl.ca.location, the client
# certificate and an encrypted client key opened with kafka.ssl_key_password_env.
#
# The dev broker advertises its own plaintext address, so clients must find TLS at that very
# address: they run in a network namespace of their own (unshare -n, root) where stunnel listens
# on 127.0.0.1:<broker port> and reaches the real broker through a Unix socket and a small
# forwarder. Also: a client without a certificate is refused, `sluicectl config check --secrets`
# reports a wrong key password and (on a librdkafka built without it, like Debian's 2.0.2)
# that OIDC is missing.
#
# usage: kafka_tls.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1 build=$2
ctl=$build/tools/sluicectl gw=$build/gateway/sluice-gateway
py=/usr/bin/python3
if [ "$(id -u)" != 0 ]; then echo "kafka_tls.sh: needs root (unshare -n)"; exit 1; fi
tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

# Certificates: the test CA, its server certificate (stunnel), a client certificate for sluice
# with its key encrypted under a password.
sh "$src/scripts/certs.sh" "$tmp/certs" >/dev/null 2>&1 || bash "$src/scripts/certs.sh" "$tmp/certs" >/dev/null
c=$tmp/certs
KEYPW='kafka-key-pw-5d1'
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$c/client.plain.key" 2>/dev/null
openssl req -new -key "$c/client.plain.key" -subj "/O=sluice test/CN=sluice-gateway" -out "$c/client.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$c/client.ext"
openssl x509 -req -in "$c/client.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 2 -sha256 \
  -extfile "$c/client.ext" -out "$c/client.crt" 2>/dev/null
T_KAFKA_KEY_PW=$KEYPW openssl pkey -in "$c/client.plain.key" -aes256 -passout env:T_KAFKA_KEY_PW -out "$c/client.key"
rm -f "$c/client.plain.key"
grep -q ENCRYPTED "$c/client.key" || fail "client key not encrypted"

# The dev broker, one broker, on the host's loopback.
"$ctl" dev-kafka --brokers 1 --partitions 2 --bootstrap-file "$tmp/bootstrap" >"$tmp/devkafka.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do [ -s "$tmp/bootstrap" ] && break; sleep 0.1; done
[ -s "$tmp/bootstrap" ] || fail "dev-kafka did not start"
bs=$(cat "$tmp/bootstrap")
port=${bs##*:}

# A dead letter to list later (plaintext, on the host).
printf 'acme:anon-1\t{"v":1}\n' | kcat -b "$bs" -t sluice.dlq -P -K '\t' -H vendor=meta -H org=acme \
  -H integration=meta -H status=500 -H attempts=6 -H error=tls-test -H failed_at=1764672000000 2>"$tmp/kcat.log" ||
  fail "kcat produce"

# Forwarder: Unix socket -> the broker's TCP port.
cat >"$tmp/fwd.py" <<PY
import os, socket, threading
path, port = "$tmp/kafka.sock", $port
srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(64)
def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", port))
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()
PY
"$py" "$tmp/fwd.py" >"$tmp/fwd.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 50); do [ -S "$tmp/kafka.sock" ] && break; sleep 0.1; done

cat >"$tmp/stunnel.conf" <<ST
foreground = yes
pid =
debug = 5
[kafka]
accept = 127.0.0.1:$port
connect = $tmp/kafka.sock
cert = $c/server.crt
key = $c/server.key
CAfile = $c/ca.crt
requireCert = yes
verifyChain = yes
ST

config() { # config FILE [extra kafka property lines]
  cat >"$1" <<YAML
version: 1
server:
  https: {listen: ""}
  http: {listen: "127.0.0.1:18080"}
  metrics: {listen: "127.0.0.1:18081"}
  threads: 1
kafka:
  brokers: "127.0.0.1:$port"
  ack_timeout_ms: 10000
  properties:
    security.protocol: SSL
    ssl.ca.location: $c/ca.crt
$2
  ssl_key_password_env: T_KAFKA_KEY_PW
orgs:
  - id: acme
    sources: [{id: web, write_key_env: T_WRITE_KEY}]
    consent: {policy: allow}
YAML
}
config "$tmp/tls.yaml" "    ssl.certificate.location: $c/client.crt
    ssl.key.location: $c/client.key"

# Everything below runs in the client namespace.
cat >"$tmp/inside.sh" <<IN
set -eu
ip link set lo up
stunnel "$tmp/stunnel.conf" >"$tmp/stunnel.log" 2>&1 &
st=\$!
trap 'kill \$st \$gwpid 2>/dev/null || true' EXIT
gwpid=
for _ in \$(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

# 1. config check: the settings, the files and the key password, as librdkafka takes them.
T_KAFKA_KEY_PW='$KEYPW' T_WRITE_KEY=wk "$ctl" config check --secrets "$tmp/tls.yaml" >"$tmp/check.log" 2>&1 ||
  { echo "config check refused the good TLS config"; cat "$tmp/check.log"; exit 1; }
if T_KAFKA_KEY_PW=wrong-password T_WRITE_KEY=wk "$ctl" config check --secrets "$tmp/tls.yaml" >"$tmp/check-bad.log" 2>&1; then
  echo "config check took a wrong key password"; exit 1
fi
grep -q "cannot make a client with these settings" "$tmp/check-bad.log" || { cat "$tmp/check-bad.log"; exit 1; }
grep -q "$KEYPW" "$tmp/check.log" "$tmp/check-bad.log" && { echo "a password in config check's output"; exit 1; }

# 2. sluicectl dlq list over TLS with the client certificate: the dead letter is there.
T_KAFKA_KEY_PW='$KEYPW' timeout 60 "$ctl" dlq list --config "$tmp/tls.yaml" >"$tmp/dlq.out" 2>"$tmp/dlq.log" ||
  { echo "dlq list over TLS failed"; cat "$tmp/dlq.log"; exit 1; }
grep -q '"error":"tls-test"' "$tmp/dlq.out" || { echo "dead letter not listed:"; cat "$tmp/dlq.out" "$tmp/dlq.log"; exit 1; }

# 3. The gateway produces over TLS: an event answered 200.
T_KAFKA_KEY_PW='$KEYPW' T_WRITE_KEY=wk_tls_test "$gw" --config "$tmp/tls.yaml" >"$tmp/gateway.log" 2>&1 &
gwpid=\$!
for _ in \$(seq 100); do curl -fs http://127.0.0.1:18081/readyz >/dev/null 2>&1 && break; sleep 0.2; done
code=\$(curl -s -o "$tmp/post.out" -w '%{http_code}' -H 'Authorization: Bearer wk_tls_test' \
  -H 'Content-Type: application/json' -d '{"event":"Over TLS","messageId":"tls-msg-1"}' http://127.0.0.1:18080/v1/t)
[ "\$code" = 200 ] || { echo "gateway answered \$code"; cat "$tmp/post.out"; exit 1; }
kill -TERM \$gwpid; wait \$gwpid || { echo "gateway exit status \$?"; exit 1; }
gwpid=
grep -q '"event":"gateway.stopped"' "$tmp/gateway.log" || grep -q 'gateway.stopped' "$tmp/gateway.log"

# 4. Without a client certificate the TLS listener refuses the client.
if kcat -b 127.0.0.1:$port -X security.protocol=SSL -X ssl.ca.location=$c/ca.crt -L -m 3 >"$tmp/nocert.log" 2>&1; then
  echo "a client without a certificate got metadata"; exit 1
fi
echo inside-ok
IN
unshare -n sh "$tmp/inside.sh" >"$tmp/inside.log" 2>&1 || fail "in the client namespace: $(cat "$tmp/inside.log")"
grep -q inside-ok "$tmp/inside.log" || fail "namespace script did not finish"

# The event the gateway produced over TLS, read back on the host in plaintext.
kcat -b "$bs" -t sluice.events -C -e -q -f '%s\n' >"$tmp/events.out" 2>/dev/null
grep -q '"messageId":"tls-msg-1"' "$tmp/events.out" || fail "the gateway's event is not in Kafka"
grep -q "CN=sluice-gateway" "$tmp/stunnel.log" || fail "stunnel logged no client certificate"

# OIDC: librdkafka's own OAUTHBEARER OIDC needs a build with libcurl; config check says whether
# the linked one has it (Debian's 2.0.2 does not).
cat >"$tmp/oidc.yaml" <<YAML
version: 1
server: {https: {listen: ""}, http: {listen: "127.0.0.1:18080"}}
kafka:
  brokers: "127.0.0.1:$port"
  properties: {security.protocol: SASL_SSL, sasl.mechanism: OAUTHBEARER, sasl.oauthbearer.method: oidc,
               sasl.oauthbearer.client.id: sluice, sasl.oauthbearer.token.endpoint.url: "https://idp.test/token"}
  oauthbearer_client_secret_env: T_OIDC_SECRET
orgs: [{id: acme, sources: [{id: web, write_key_env: T_WRITE_KEY}]}]
YAML
if T_OIDC_SECRET=oidc-secret-x T_WRITE_KEY=wk "$ctl" config check --secrets "$tmp/oidc.yaml" >"$tmp/oidc.log" 2>&1; then
  oidc="supported by this librdkafka"
else
  grep -q "not supported in this build" "$tmp/oidc.log" || fail "OIDC config check: $(cat "$tmp/oidc.log")"
  grep -q "oidc-secret-x" "$tmp/oidc.log" && fail "the OIDC secret in config check's output"
  oidc="not in this librdkafka build (config check says so)"
fi
echo "kafka_tls: dlq list and the gateway over TLS with a client certificate and an encrypted key: ok;"
echo "kafka_tls: no certificate refused; wrong key password reported by config check; OIDC $oidc"
