#!/usr/bin/env bash
# Fails when a C file in the tree calls a function STYLE.md bans:
# strcpy strcat sprintf vsprintf gets atoi atol strtok rand system.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='(^|[^A-Za-z0-9_.>])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|rand|system)[[:space:]]*\('
hits=$(git ls-files -co --exclude-standard -- '*.c' '*.h' | xargs -r grep -nE "$pattern" | grep -vE '^\S+:[0-9]+:\s*(\*|//)' || true)
if [ -n "$hits" ]; then
  echo "banned functions (see STYLE.md):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "checksrc: ok"
