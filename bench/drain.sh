#!/usr/bin/env bash
# bench/drain.sh BUILD_DIR WORK_DIR [EVENTS]: case (e) of bench/run. Puts EVENTS envelopes
# (default 10000; the dev broker keeps at most 5 MB per partition) on a fresh topic of the
# running stack (WORK_DIR/stack.env from sluice-devstack), starts a local HTTPS vendor stub and
# sluice-deliver delivering them to it as a webhook (batches of 100), and prints
#   "<events/s> - - <lost>"
# where events/s counts from the stub's first request to its last, and lost is the number of
# events that never arrived. Used by bench/run; runnable alone against a devstack.
set -euo pipefail
build=$1 work=$2 events=${3:-10000}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091
. "$work/stack.env"
run=drain-$RANDOM$RANDOM
topic=bench.$run
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"$build/tests/stubs/sluice-vendor-stub" --port "$port" --log "$work/$run.stub.log" \
  --cert "$work/certs/server.crt" --key "$work/certs/server.key" --ready-file "$work/$run.ready" \
  > "$work/$run.stub.out" 2>&1 &
stub=$!
trap 'kill $stub ${worker:-} 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do [ -e "$work/$run.ready" ] && break; sleep 0.1; done

cat > "$work/$run.yaml" <<EOF
version: 1
server: {http: {listen: "127.0.0.1:0"}}
kafka: {brokers: "$SLUICE_KAFKA_BROKERS", topic: $topic, dlq_topic: $topic.dlq}
database: {url: "$SLUICE_DATABASE_URL"}
delivery: {ca_file: "$work/certs/ca.crt", metrics: {listen: "127.0.0.1:0"}}
orgs:
  - id: acme
    sources: [{id: web, write_key_env: BENCH_WRITE_KEY}]
    integrations:
      - {name: hook, vendor: webhook, url: "https://127.0.0.1:$port/in", rate_limit_rps: 100000,
         batch: {max_events: 100, max_wait_ms: 100}}
EOF

# The envelopes the gateway would produce for bench/event.json, one messageId each.
awk -v n="$events" -v run="$run" 'BEGIN {
  for (i = 0; i < n; i++)
    printf "acme:v-%d\t{\"v\":1,\"org\":\"acme\",\"source\":\"web\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\",\"event\":{\"type\":\"track\",\"event\":\"Order Completed\",\"anonymousId\":\"v-%d\",\"messageId\":\"%s-%06d\",\"properties\":{\"order_id\":\"o-%d\",\"total\":19.99,\"currency\":\"USD\",\"card_number\":\"************1111\"},\"traits\":{\"email\":\"62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f\"},\"context\":{\"ip\":\"203.0.113.0\",\"page\":{\"url\":\"https://shop.acme.test/checkout\"},\"consent\":{\"categories\":[\"analytics\",\"marketing\"]}},\"timestamp\":\"2026-11-23T10:00:00.000Z\",\"receivedAt\":\"2026-11-23T10:00:00.000Z\"},\"privacy\":{\"hashed\":[\"traits.email\"],\"masked\":[\"properties.card_number\",\"context.ip\"],\"dropped\":[]}}\n", i % 200, i % 200, run, i, i
}' | kcat -b "$SLUICE_KAFKA_BROKERS" -t "$topic" -P -K '	' -z lz4

"$build/vendors/sluice-deliver" --config "$work/$run.yaml" --vendor webhook > "$work/$run.worker.log" 2>&1 &
worker=$!
delivered=0
for _ in $(seq 1 600); do
  delivered=$({ grep -o "$run-[0-9]*" "$work/$run.stub.log" 2>/dev/null || true; } | sort -u | wc -l)
  [ "$delivered" -ge "$events" ] && break
  sleep 0.1
done
kill -TERM "$worker" 2>/dev/null || true
wait "$worker" 2>/dev/null || true
worker=

awk -v n="$delivered" '
  match($0, /"ts_ms":[0-9]+/) { t = substr($0, RSTART + 8, RLENGTH - 8) + 0; if (!first || t < first) first = t; if (t > last) last = t }
  END { span = (last - first) / 1000.0; if (span <= 0) span = 0.001; printf "%.0f - - ", n / span }' "$work/$run.stub.log"
echo $((events - delivered))
