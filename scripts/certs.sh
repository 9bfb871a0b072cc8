#!/usr/bin/env bash
# Generates the demo/test TLS material into OUTDIR with the openssl CLI:
#   ca.crt, ca.key          a local CA (EC P-256) to trust in clients and browsers
#   server.crt, server.key  an EC P-256 server certificate signed by it, for localhost, the demo
#                           org domains and 127.0.0.1
# For development and tests only: the keys are unencrypted.
set -euo pipefail
out=${1:?usage: scripts/certs.sh OUTDIR}
sans="DNS:localhost,DNS:*.acme.test,DNS:shop.acme.test,DNS:checkout.acme-pay.test,IP:127.0.0.1"

mkdir -p "$out"
tmp=$(mktemp -d "$out/.certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days 3650 -subj "/O=sluice demo/CN=sluice demo CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$tmp/ca.crt"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/server.key"
openssl req -new -key "$tmp/server.key" -subj "/O=sluice demo/CN=localhost" -out "$tmp/server.csr"
cat > "$tmp/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$sans
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
# 365 days: clients cap the lifetime of server certificates they accept.
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
  -sha256 -days 365 -extfile "$tmp/server.ext" -out "$tmp/server.crt" 2>/dev/null
openssl verify -CAfile "$tmp/ca.crt" "$tmp/server.crt" >/dev/null

chmod 644 "$tmp/ca.crt" "$tmp/server.crt"
mv "$tmp/ca.key" "$tmp/ca.crt" "$tmp/server.key" "$tmp/server.crt" "$out/"
echo "certs: wrote $out/{ca.crt,ca.key,server.crt,server.key} (server SANs: $sans)"
