#!/bin/sh
# ctest docs.examples: tests/docs/check.py (YAML blocks through config check, command lines against
# --help) and tests/docs/live.py (the curl transcripts against a real gateway, sluicectl tag and fpe's) on the docs
# as they are (must pass), then on copies with one planted mistake each (each must fail, naming it).
# usage: check.sh SOURCE_DIR BUILD_DIR
set -u
src=$1 build=$2
py=/usr/bin/python3
fails=0
"$py" "$src/tests/docs/check.py" "$src" "$build" || fails=$((fails + 1))
"$py" "$src/tests/docs/live.py" "$src" "$build" || fails=$((fails + 1))
[ $fails -eq 0 ] || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
planted=0
# mutate SCRIPT FILE SED-EXPR EXPECTED-MESSAGE      (SCRIPT: check or live)
mutate() {
  planted=$((planted + 1))
  rm -rf "$tmp/src" && mkdir -p "$tmp/src" && cp -r "$src/docs" "$src/README.md" "$src/config" "$src/vendors" "$tmp/src/"
  sed -i "$3" "$tmp/src/$2"
  if cmp -s "$src/$2" "$tmp/src/$2"; then
    echo "mutation left $2 unchanged: $3"; fails=$((fails + 1)); return
  fi
  if [ "$1" = live ]; then
    out=$("$py" "$src/tests/docs/live.py" "$tmp/src" "$build" "$tmp/src/$2" 2>&1)
  else
    out=$("$py" "$src/tests/docs/check.py" "$tmp/src" "$build" 2>&1)
  fi
  if [ $? -eq 0 ] || ! printf '%s' "$out" | grep -qF -- "$4"; then
    echo "not caught ($2: $3), expected '$4':"; printf '%s\n' "$out"; fails=$((fails + 1))
  fi
}
mutate check docs/plugins-builtin.md 's|--key-hex 2B7E151628AED2A6ABF7158809CF4F3C --radix 10|--key-hex 2B7E151628AED2A6ABF7158809CF4F3C --radx 10|' 'has no flag --radx'
mutate check docs/vault.md '/^sluicectl vault put    --config acme.yaml --org acme --name meta /s|sluicectl vault put |sluicectl vault set |' "has no subcommand 'set'"
mutate check docs/config.md '13s|config check --secrets|config check --secret|' 'has no flag --secret'
mutate check docs/vendors.md 's|^sluice-deliver --config acme.yaml --vendor meta|sluice-deliver --config acme.yaml --vendors meta|' 'has no flag --vendors'
mutate check docs/compat.md 's|      policy: strip|      policy: strips|' "'strips' is not one of"
mutate check docs/vendors.md 's|^  pixel_id: "1234567890"|  pixl_id: "1234567890"|' "unknown key 'pixl_id'"
mutate check docs/tag.md 's|^  cross_domain: {domains:|  crossdomain: {domains:|' "unknown key 'crossdomain'"
mutate check docs/deploy.md '/example: skip "Prometheus/d' 'cannot tell where this block goes'
mutate check docs/plugins.md 's|example: tolerate "/opt/acme/plugins/uppercase.so"|example: tolerate "/opt/acme/plugins/lowercase.so"|' 'cannot open plugin /opt/acme/plugins/uppercase.so'
mutate check docs/security.md 's|^```yaml$|<!-- example: fails "nothing to listen on" -->\n&|' 'should fail with only'
mutate check docs/api.md 's|"messageId":"order-1001-paid"}|"messageId":"order-1001-paid"|' 'is not JSON'
mutate check docs/config.md 's|  .mapping.events  .mapping.fields  .mapping.set||' 'orgs[].integrations[].mapping is a key the loader takes and is not listed'
mutate check docs/config.md 's|  .customer_id  .conversion_action$||' 'orgs[].integrations[].customer_id is a key'
mutate live docs/api.md 's|^{"ok":true,"accepted":1,"rejected"|{"ok":true,"accepted":2,"rejected"|' 'the doc shows `{"ok":true,"accepted":2'
mutate live docs/api.md 's|curl -sk -i -X OPTIONS|curl -sk -X OPTIONS|' 'the doc shows `HTTP/1.1 204 No Content`'
mutate live docs/api.md 's|X63c...","anonymousId":"[0-9a-f]*"}|X63c..."}|' 'the doc shows `{"token":'
mutate live docs/api.md 's|^HTTP/1.1 403 Forbidden|HTTP/1.1 401 Unauthorized|' 'the doc shows `HTTP/1.1 401 Unauthorized`'
mutate live docs/api.md 's|^SHA2-256(stdin)= 67d5|SHA2-256(stdin)= 77d5|' 'the doc shows `SHA2-256(stdin)= 77d5'
mutate live docs/tag.md 's|sluice.53ccb6f3c308f830.js|sluice.53ccb6f3c308f831.js|' 'the doc shows `0.2.3	previous	https://data.shop.example/sluice.53ccb6f3c308f831.js'
mutate live docs/plugins-builtin.md 's|^2433477484$|2433477485|' 'the doc shows `2433477485`'
[ $fails -eq 0 ] && echo "docs check: $planted planted mistakes caught"
exit $fails
