#!/usr/bin/env bash
# Fixture of the SDK compatibility suite (ctest compat.setup): Chromium must be installed, and the
# SDKs under test (pinned in package.json and package-lock.json) are installed with `npm ci` when
# missing or out of date. Only the npm registry is needed; after the first install nothing is
# fetched. Fails loudly, never skips: a machine without Chromium cannot pass the suite.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
chromium=${SLUICE_CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then
  echo "compat tests: Chromium is not installed at $chromium: run scripts/deps.sh (Debian package chromium)" >&2
  exit 1
fi
"$chromium" --version >/dev/null 2>&1 || { echo "compat tests: $chromium does not run" >&2; exit 1; }
for tool in node npm kcat; do
  command -v "$tool" >/dev/null 2>&1 || { echo "compat tests: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done

# npm ci wipes node_modules, so run it only when the lock file changed since the last install.
stamp="$dir/node_modules/.sluice-installed-lock"
if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
  echo "compat tests: npm ci in tests/compat" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
fi
echo "compat tests: $("$chromium" --version 2>/dev/null), node $(node --version)"
