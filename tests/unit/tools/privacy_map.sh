#!/bin/sh
# Integration test of `sluicectl privacy map` (ctest integration.privacy_map): the committed map of
# the example (docs/privacy-map-acme.md, .dot, .svg) is what the config gives today, the SVG was
# drawn from that DOT (it names the DOT's SHA-256), Graphviz draws the same bytes twice, and
# changing one rule of the config changes the map where that rule is.
# usage: privacy_map.sh SLUICECTL SOURCE_DIR
set -eu
ctl=$1
src=$2
tmp=$(mktemp -d /tmp/sluice-privacy-map.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
stale() { fail "docs/privacy-map-acme.$1 is stale: regenerate it with scripts/privacy-map.sh BUILD_DIR (diff below)
$(diff -u "$src/docs/privacy-map-acme.$1" "$tmp/map.$1" | head -40)"; }
command -v dot >/dev/null 2>&1 || fail "Graphviz's dot is not installed (Debian package graphviz: scripts/deps.sh)"
map() { "$ctl" privacy map --config "$1" --org acme --format "$2"; }

# 1. the committed map is the config's
map "$src/config/examples/acme.yaml" md > "$tmp/map.md" || fail "privacy map --format md exited $?"
map "$src/config/examples/acme.yaml" dot > "$tmp/map.dot" || fail "privacy map --format dot exited $?"
cmp -s "$tmp/map.md" "$src/docs/privacy-map-acme.md" || stale md
cmp -s "$tmp/map.dot" "$src/docs/privacy-map-acme.dot" || stale dot
sum=$(sha256sum < "$tmp/map.dot" | cut -d' ' -f1)
grep -q "<!-- sluice privacy map: DOT sha256 $sum -->" "$src/docs/privacy-map-acme.svg" ||
  fail "docs/privacy-map-acme.svg was not drawn from today's DOT (sha256 $sum): regenerate it with scripts/privacy-map.sh BUILD_DIR"

# 2. the SVG: Graphviz's drawing, the same bytes every time, every field and integration in it
map "$src/config/examples/acme.yaml" svg > "$tmp/a.svg" || fail "privacy map --format svg exited $?"
map "$src/config/examples/acme.yaml" svg > "$tmp/b.svg"
cmp -s "$tmp/a.svg" "$tmp/b.svg" || fail "two runs of dot -Tsvg gave different bytes"
grep -q "DOT sha256 $sum" "$tmp/a.svg" || fail "the SVG does not name its DOT's SHA-256"
for text in 'traits.email' 'properties.card_number' 'context.ip' 'meta · meta' 'ga4 · ga4' 'webhook · webhook' \
            'user_data.em' 'the whole envelope'; do
  grep -q ">$text<" "$tmp/a.svg" || fail "the SVG has no text '$text'"
done
"$ctl" privacy map --config "$src/config/examples/acme.yaml" --org acme --format json > "$tmp/map.json" ||
  fail "privacy map --format json exited $?"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["org"] == "acme" and m["fields"]' "$tmp/map.json" ||
  fail "--format json is not the map as JSON"

# 3. one rule changed: card numbers fully masked instead of keeping the last 4 digits
mkdir "$tmp/cfg"
cp -R "$src/config/examples/." "$tmp/cfg/"
sed -i 's/{path: properties.card_number, plugin: partial, params: {keep_last: 4}}/{path: properties.card_number, plugin: full}/' \
  "$tmp/cfg/acme.yaml"
grep -q 'properties.card_number, plugin: full' "$tmp/cfg/acme.yaml" || fail "the test could not change the rule"
map "$tmp/cfg/acme.yaml" md > "$tmp/changed.md"
map "$tmp/cfg/acme.yaml" dot > "$tmp/changed.dot"
grep -q '^| `properties.card_number` | event | \*\*masked\*\* by `partial` `{"keep_last":4}`' "$tmp/map.md" ||
  fail "the map does not show the card number rule as written"
grep -q '^| `properties.card_number` | event | \*\*masked\*\* by `full` (`mask\[0\]`)' "$tmp/changed.md" ||
  fail "the map does not show the changed rule: $(grep card_number "$tmp/changed.md" | head -1)"
[ "$(diff "$tmp/map.md" "$tmp/changed.md" | grep -c '^[<>]')" -eq 2 ] ||
  fail "changing one rule changed more than its row: $(diff "$tmp/map.md" "$tmp/changed.md")"
grep -q 'mask · full' "$tmp/changed.dot" || fail "the DOT does not show the changed rule"
if grep -q 'mask · partial' "$tmp/changed.dot"; then fail "the DOT still shows the old rule"; fi
csum=$(sha256sum < "$tmp/changed.dot" | cut -d' ' -f1)
[ "$csum" != "$sum" ] || fail "the changed rule gave the same DOT"
echo "ok: the committed data map is current; a changed rule changes it"
