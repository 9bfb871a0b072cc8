#!/usr/bin/env bash
# Fails when a C file in the tree is not formatted as the project's .clang-format says, and
# names the files (fix with `scripts/checkformat.sh --fix`). The version is pinned to Debian 12's
# clang-format 14, the one scripts/deps.sh installs: other versions format some constructs
# differently, so a different major is refused rather than trusted.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "checkformat: $cf not found (scripts/deps.sh installs it)" >&2; exit 1; }
major=$("$cf" --version | sed -nE 's/.*version ([0-9]+)\..*/\1/p')
if [ "$major" != 14 ]; then
  echo "checkformat: $cf is version ${major:-unknown}; the project's format is clang-format 14's" >&2
  exit 1
fi
fix=0
[ "${1:-}" = --fix ] && fix=1
bad=()
while IFS= read -r f; do
  if [ $fix = 1 ]; then
    "$cf" -i "$f"
  elif ! "$cf" "$f" | cmp -s - "$f"; then
    bad+=("$f")
  fi
done < <(git ls-files -co --exclude-standard -- '*.c' '*.h')
if [ ${#bad[@]} -gt 0 ]; then
  echo "checkformat: ${#bad[@]} file(s) differ from clang-format's output (scripts/checkformat.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "checkformat: ok"
