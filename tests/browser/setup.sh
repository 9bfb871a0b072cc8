#!/usr/bin/env bash
# Fixture of the browser tests (ctest browser.setup): Chromium must be installed, and the npm
# packages of the tests (playwright-core; TypeScript and esbuild for the npm package's test) and
# of the tag's build (esbuild, terser) are installed with `npm ci` from their lock files when
# missing or out of date. Only the npm registry is needed.
# Fails loudly, never skips: a machine without Chromium cannot pass the browser suite.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
chromium=${SLUICE_CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then
  echo "browser tests: Chromium is not installed at $chromium: run scripts/deps.sh (Debian package chromium)" >&2
  exit 1
fi
"$chromium" --version >/dev/null 2>&1 || { echo "browser tests: $chromium does not run" >&2; exit 1; }
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "browser tests: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done

# npm ci wipes node_modules, so run it only when the lock file changed since the last install.
for dir in tests/browser gateway/tag; do
  stamp="$src/$dir/node_modules/.sluice-installed-lock"
  if ! cmp -s "$src/$dir/package-lock.json" "$stamp" 2>/dev/null; then
    echo "browser tests: npm ci in $dir" >&2
    (cd "$src/$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$src/$dir/package-lock.json" "$stamp"
  fi
done
echo "browser tests: $("$chromium" --version 2>/dev/null), node $(node --version)"
