#!/bin/sh
# ctest deploy.files: tests/deploy/check.py on deploy/ (and the Dockerfile's examples) as it is (must pass), then on copies with
# one mistake each of the kinds it exists to catch (each must fail, naming the mistake).
# usage: check.sh SOURCE_DIR BUILD_DIR
set -u
src=$1 build=$2
py=/usr/bin/python3
"$py" "$src/tests/deploy/check.py" "$src" "$build" || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
# mutate FILE SED-EXPR EXPECTED-MESSAGE
mutate() {
  rm -rf "$tmp/src" && mkdir -p "$tmp/src/docs" "$tmp/src/config" "$tmp/src/scripts"
  cp -r "$src/deploy" "$src/README.md" "$src/Dockerfile" "$tmp/src/" && cp "$src/docs/deploy.md" "$tmp/src/docs/"
  cp -r "$src/config/examples" "$tmp/src/config/" && cp "$src/scripts/certs.sh" "$tmp/src/scripts/"
  sed -i "$2" "$tmp/src/$1"
  if cmp -s "$src/$1" "$tmp/src/$1"; then
    echo "mutation left $1 unchanged: $2"; fails=$((fails + 1)); return
  fi
  out=$("$py" "$src/tests/deploy/check.py" "$tmp/src" "$build" 2>&1)
  if [ $? -eq 0 ] || ! printf '%s' "$out" | grep -q -- "$3"; then
    echo "not caught ($1: $2), expected '$3':"; printf '%s\n' "$out"; fails=$((fails + 1))
  fi
}
mutate deploy/kubernetes/gateway.yaml 's|path: /readyz|path: /ready|' 'serves no /ready'
mutate deploy/kubernetes/worker-meta.yaml 's|path: /healthz, port: metrics}$|path: /readyz, port: metrics}|' 'sluice-deliver serves no /readyz'
mutate deploy/kubernetes/gateway.yaml 's|containerPort: 9464|containerPort: 9463|' 'containerPort 9463'
mutate deploy/kubernetes/gateway.yaml 's|terminationGracePeriodSeconds: 20|terminationGracePeriodSeconds: 12|' 'terminationGracePeriodSeconds 12'
mutate deploy/kubernetes/gateway.yaml 's|name: SLUICE_REDIS_URL|name: SLUICE_REDIS_ADDR|' 'never reads'
mutate deploy/kubernetes/worker-ga4.yaml 's|"--vendor", "ga4"|"--vendor", "ga5"|' 'not a vendor'
mutate deploy/kubernetes/configmap.yaml 's|drain_timeout_ms: 10000|drain_timeout_ms: 30000|' 'not deploy/sluice.yaml'
mutate deploy/compose.yaml 's|"--config", "/etc/sluice/deploy/sluice.yaml"\]|"--configfile", "/etc/sluice/deploy/sluice.yaml"]|' 'no flag --configfile'
mutate deploy/compose.yaml 's|/dev/tcp/127.0.0.1/9465|/dev/tcp/127.0.0.1/9464|' 'probe /healthz on port 9464'
mutate deploy/compose.yaml 's|SLUICE_LOG_LEVEL: "info"|SLUICE_LOGLEVEL: "info"|' 'SLUICE_LOGLEVEL, which it never reads'
mutate deploy/compose.yaml 's|kafka-3:9092"$|kafka-4:9092"|' 'kafka-4'
mutate deploy/compose/sluice.env.example '/^ACME_WEB_WRITE_KEY=/d' 'ACME_WEB_WRITE_KEY'
mutate deploy/sluice.yaml 's|http: {listen: "0.0.0.0:8080"}|http: {listen: "0.0.0.0:8081"}|' 'exposes 8080'
mutate deploy/compose/nginx.conf 's|gateway-2:8080|gateway-2:8081|' 'balancer.conf filled in'
mutate deploy/kubernetes/worker-meta.yaml 's|name: SLUICE_LOG_LEVEL|name: SLUICE_LOG|' 'SLUICE_LOG, which it never reads'
mutate Dockerfile 's|--uid 10001|--uid 999|' 'uid 10001'
mutate deploy/sluice.yaml 's|threads: 2 |threads: 4 |' 'server.threads 4 with limits.cpu 2'
mutate deploy/kubernetes/worker-meta.yaml 's|key: SLUICE_DATABASE_URL}}|&\n            - name: SLUICE_REDIS_PASSWORD\n              valueFrom: {secretKeyRef: {name: sluice-secrets, key: SLUICE_REDIS_PASSWORD}}|' 'sluice-deliver is given SLUICE_REDIS_PASSWORD'
mutate Dockerfile 's|-e ACME_FPE_KEY ||' 'ACME_FPE_KEY'
mutate Dockerfile 's|entrypoint sluice-deliver -e SLUICE_KAFKA_BROKERS=kafka:9092|entrypoint sluice-deliver|' 'SLUICE_KAFKA_BROKERS is not given'
mutate Dockerfile 's|-e ENCRYPTION_KEY sluice --config|sluice --config|' 'refuses to start without ENCRYPTION_KEY'
mutate deploy/kubernetes/gateway.yaml '/name: SLUICE_KEYRING/,+1d' 'not SLUICE_KEYRING'
mutate deploy/compose/sluice.env.example '/^SLUICE_KEYRING=/d' 'key SLUICE_KEYRING is not in'
mutate deploy/compose.yaml 's|^    environment:$|    env_file: [compose/sluice.env]\n&|' 'env_file compose/sluice.env gives the service every secret'
mutate deploy/compose.yaml 's|ACME_WEB_WRITE_KEY: ${ACME_WEB_WRITE_KEY:?|ACME_WEB_WRITE_KEY: ${ACME_WEB_KEY:?|' 'ACME_WEB_KEY}, which is not in'
mutate deploy/compose.yaml 's|    SLUICE_DATABASE_URL: ${SLUICE_DATABASE_URL|    SLUICE_REDIS_PASSWORD: ${SLUICE_REDIS_PASSWORD:-}\n&|' 'sluice-deliver is given SLUICE_REDIS_PASSWORD'
mutate deploy/kubernetes/vault-audit-prune.yaml 's|"audit", "prune"|"audit", "purge"|' "unknown or incomplete option 'purge'"
mutate deploy/kubernetes/vault-audit-prune.yaml 's|"prune", "--config"|"prune", "--batch", "500000", "--config"|' 'is not a number from 1 to 100000'
mutate deploy/kubernetes/vault-audit-prune.yaml 's|/usr/bin/sluicectl|/usr/local/bin/sluicectl|' 'not /usr/bin/sluicectl'
mutate deploy/kubernetes/vault-audit-prune.yaml 's|/etc/sluice/deploy/sluice.yaml|/etc/sluice/sluice.yaml|' 'is not where the config is mounted'
mutate deploy/kubernetes/vault-audit-prune.yaml 's|key: SLUICE_DATABASE_URL}}|key: SLUICE_DATABASE_OWNER_URL}}|' 'SLUICE_DATABASE_OWNER_URL is not in'
mutate deploy/kubernetes/vault-audit-prune.yaml 's|- name: SLUICE_DATABASE_URL$|- name: SLUICE_DB_URL|' 'SLUICE_DB_URL, which it never reads'
mutate deploy/kubernetes/vault-audit-prune.yaml 's|concurrencyPolicy: Forbid|concurrencyPolicy: Allow|' 'concurrencyPolicy is not Forbid'
mutate deploy/kubernetes/vault-audit-prune.yaml 's|runAsNonRoot: true|runAsNonRoot: false|' 'not runAsNonRoot'
[ $fails -eq 0 ] && echo "deploy check: 34 planted mistakes caught"
exit $fails
