#!/usr/bin/env bash
# Part of `make demo`: once the stack is ready, sends one batch of sample events with planted
# PII through the gateway as a site would (identify, page, an order), then prints what Kafka
# holds for them: hashed and masked, never the raw values. The vendor stubs print what Meta,
# GA4 and Pinterest then receive from sluice-deliver.
#   scripts/demo-sample.sh BUILD_DIR DEVSTACK_ENV_FILE   (ACME_WEB_WRITE_KEY in the environment)
set -euo pipefail
build=$1 env_file=$2
for _ in $(seq 1 240); do [ -s "$env_file" ] && break; sleep 0.5; done
[ -s "$env_file" ] || { echo "demo: the stack did not come up; no sample events sent" >&2; exit 0; }
# shellcheck disable=SC1090
. "$env_file"

anon=demo-$(openssl rand -hex 6)
consent='"context":{"consent":{"categories":["analytics","marketing"]},"page":{"url":"https://shop.acme.test/checkout?email=jane.doe%40example.com"}}'
body='{"batch":[
 {"type":"identify","userId":"u-demo-1","anonymousId":"'$anon'","traits":{"email":" Jane.Doe@Example.com","phone":"(650) 555-1212","firstName":"Jane"},'$consent'},
 {"type":"page","name":"Checkout","anonymousId":"'$anon'",'$consent'},
 {"type":"track","event":"Order Completed","userId":"u-demo-1","anonymousId":"'$anon'","properties":{"order_id":"o-1001","total":42.5,"currency":"USD","card_number":"4111 1111 1111 1111"},'$consent'}
]}'

echo
echo "demo: sending 3 sample events (identify, page, Order Completed) with an e-mail, a phone, a card"
echo "      number and an e-mail inside the page URL, as a site would:"
# A browser's User-Agent, as a site's visitors send: with curl's own the gateway flags the events
# as a bot's (enrichment.bots) and no vendor gets them.
ua='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'
answer=$(curl -sS --cacert "$build/demo/certs/ca.crt" -w ' (HTTP %{http_code})' https://127.0.0.1:8443/v1/batch \
  -H "Authorization: Bearer $ACME_WEB_WRITE_KEY" -H 'Content-Type: application/json' -H "User-Agent: $ua" \
  --data "$body" 2>&1) || true
echo "demo: gateway answered $answer"

sleep 1
echo "demo: what sluice.events holds for them, in short (whole messages: the command on the next line):"
echo "      kcat -b $SLUICE_KAFKA_BROKERS -t sluice.events -C -o -3 -e"
kcat -b "$SLUICE_KAFKA_BROKERS" -t sluice.events -C -o -3 -e -q 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        env = json.loads(line)
    except ValueError:
        continue
    ev = env.get("event", {})
    shown = {k: ev[k] for k in ("type", "event", "userId", "traits", "properties") if k in ev}
    shown["context.page.url"] = ev.get("context", {}).get("page", {}).get("url")
    print("  " + json.dumps(shown))
    print("    privacy: " + json.dumps(env.get("privacy")))
' || echo "demo: (kcat could not read the topic)"
echo "demo: the [meta], [ga4] and [pinterest] lines are what sluice-deliver sent the vendor stubs for them. Open"
ca=$build/demo/certs/ca.crt
echo "      https://localhost:8444/ (trust ${ca#"$PWD"/}) to send your own from the tag."
