#!/bin/sh
# Writes the data map of the example's org acme (config/examples/acme.yaml) as Markdown, Graphviz
# DOT and SVG (`sluicectl privacy map`; the SVG needs Graphviz's dot, scripts/deps.sh installs it):
# into docs/ by default, the committed copies that the test integration.privacy_map holds to the
# config, or into OUT_DIR (`make demo` writes build/demo/).
# usage: scripts/privacy-map.sh BUILD_DIR [OUT_DIR]
set -eu
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: scripts/privacy-map.sh BUILD_DIR [OUT_DIR]" >&2; exit 2; }
ctl=$(cd "$1" && pwd)/tools/sluicectl
[ -x "$ctl" ] || { echo "privacy-map: $ctl is missing: build first (make build)" >&2; exit 1; }
cd "$(dirname "$0")/.."
out=${2:-docs}
mkdir -p "$out"
for fmt in md dot svg; do
  "$ctl" privacy map --config config/examples/acme.yaml --org acme --format "$fmt" > "$out/privacy-map-acme.$fmt.tmp"
  mv "$out/privacy-map-acme.$fmt.tmp" "$out/privacy-map-acme.$fmt"
done
echo "privacy-map: $out/privacy-map-acme.svg (and .md, .dot)"
