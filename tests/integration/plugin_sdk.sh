#!/bin/sh
# The plugin SDK end to end (ctest label "integration"): `cmake --install` this build into a
# temporary prefix, build examples/plugin-uppercase out of tree with its own Makefile and
# pkg-config (the header comes from the prefix, never from the source tree), check that only the
# descriptor is exported, run the conformance suite with the example's vectors, build it again
# with the bare one-liner, build a C++ plugin with -Wall -Wextra -Werror, and load the example
# through `sluicectl config check`.
# usage: plugin_sdk.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d /tmp/sluice-sdk.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || fail "install: $(cat "$tmp/install.log")"
[ -f "$tmp/prefix/include/sluice/mask_plugin.h" ] || fail "header not installed"
pc=$(find "$tmp/prefix" -name sluice-plugin.pc)
[ -n "$pc" ] || fail "sluice-plugin.pc not installed"
ctl="$tmp/prefix/bin/sluicectl"
[ -x "$ctl" ] || fail "sluicectl not installed"
export PKG_CONFIG_PATH="$(dirname "$pc")"
cflags=$(pkg-config --cflags sluice-plugin)
case "$cflags" in *"$tmp/prefix"*) ;; *) fail "pkg-config --cflags points elsewhere: $cflags" ;; esac
plugindir=$(pkg-config --variable=plugindir sluice-plugin)
for p in full partial null drop ip_truncate hmac encrypt fpe redact_text generalize regex randomized_response; do
    [ -f "$plugindir/$p.so" ] || fail "built-in $p.so not installed in $plugindir"
done

# Out of tree: a copy of the example, nothing else from the source tree.
cp -R "$src/examples/plugin-uppercase" "$tmp/example"
make -C "$tmp/example" >"$tmp/make.log" 2>&1 || fail "make: $(cat "$tmp/make.log")"
grep -q -- "-I$tmp/prefix" "$tmp/make.log" || grep -q -- "$cflags" "$tmp/make.log" || fail "make did not use the SDK cflags"
syms=$(nm -D --defined-only "$tmp/example/uppercase.so" | awk '{print $3}')
[ "$syms" = "sluice_mask_plugin_v1" ] || fail "exported symbols: $syms"

make -C "$tmp/example" test SLUICECTL="$ctl" >"$tmp/test.log" 2>&1 || fail "make test: $(cat "$tmp/test.log")"
grep -q '^PASS  vectors: 7 of 7' "$tmp/test.log" || fail "vectors: $(cat "$tmp/test.log")"
grep -q '^PASS  idempotence' "$tmp/test.log" || fail "idempotence: $(cat "$tmp/test.log")"
grep -q '^result: PASS' "$tmp/test.log" || fail "conformance: $(cat "$tmp/test.log")"

# The bare one-liner of the docs.
cc -shared -fPIC $cflags -o "$tmp/one.so" "$tmp/example/uppercase.c" || fail "one-liner build"
"$ctl" plugin test "$tmp/one.so" >"$tmp/one.log" 2>&1 || fail "one-liner plugin: $(cat "$tmp/one.log")"

# In C++, as docs/plugins.md#c shows, with the warnings a C++ shop builds with: the header's own
# macro made g++ warn on every build ("visibility attribute ignored") and, with -Wextra, on each
# optional callback left out, so -Werror failed in the SDK's header. Every C++ compiler present
# (clang, a dependency, brings clang++).
cat >"$tmp/stars.cpp" <<'CPP'
#include <sluice/mask_plugin.h>
#include <string>

namespace {
const sluice_mask_config_entry_t config[] = {
    {"mask", SLUICE_MASK_CONF_STRING, 0, "\"***\"", "what every string becomes"},
    {},
};
struct Stars { const sluice_mask_host_t *host; std::string mask; };

int create(const sluice_mask_host_t *host, sluice_mask_handle_t *, const sluice_mask_config_t *cfg,
           void **instance, char *, size_t) noexcept
{
    const char *m; size_t len;
    host->config_string(cfg, "mask", &m, &len);
    try { *instance = new Stars{host, std::string(m, len)}; } catch (...) { return SLUICE_MASK_ENOMEM; }
    return SLUICE_MASK_OK;
}
void destroy(void *instance) noexcept { delete static_cast<Stars *>(instance); }
int mask(void *instance, void *, const sluice_mask_input_t *in, sluice_mask_output_t *out) noexcept
{
    const Stars *s = static_cast<const Stars *>(instance);
    if (in->type != SLUICE_MASK_JSON_STRING) return SLUICE_MASK_REMOVE;
    return s->host->append(out, s->mask.data(), s->mask.size());
}
}

SLUICE_MASK_PLUGIN(.name = "stars", .version = "1.0.0", .description = "replaces strings by a mask",
                   .config = config, .flags = SLUICE_MASK_FLAG_DETERMINISTIC | SLUICE_MASK_FLAG_IDEMPOTENT,
                   .create = create, .destroy = destroy, .mask = mask);
CPP
cxx_built=0
for cxx in g++ clang++; do
    command -v "$cxx" >/dev/null 2>&1 || continue
    "$cxx" -std=c++20 -Wall -Wextra -Werror -O2 -shared -fPIC -fvisibility=hidden $cflags -o "$tmp/stars.so" \
        "$tmp/stars.cpp" >"$tmp/cxx.log" 2>&1 || fail "$cxx: $(cat "$tmp/cxx.log")"
    syms=$(nm -D --defined-only "$tmp/stars.so" | awk '$2 != "W" && $2 != "V" && $2 != "u" {print $3}')
    [ "$syms" = "sluice_mask_plugin_v1" ] || fail "$cxx: exported symbols: $syms"
    "$ctl" plugin test "$tmp/stars.so" >"$tmp/cxx.out" 2>&1 || fail "$cxx plugin: $(cat "$tmp/cxx.out")"
    cxx_built=$((cxx_built + 1))
done
[ "$cxx_built" -gt 0 ] || fail "no C++ compiler (g++ or clang++)"

# Loaded from a config, by path, as the gateway will.
cat >"$tmp/sluice.yaml" <<YAML
version: 1
server: {http: {listen: "127.0.0.1:0"}}
kafka: {brokers: "127.0.0.1:9092"}
orgs:
  - id: acme
    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]
    data_layer:
      mask:
        - {path: traits.nickname, plugin: ./example/uppercase.so, params: {prefix: "U:"}}
YAML
"$ctl" config check "$tmp/sluice.yaml" >"$tmp/check.out" 2>"$tmp/check.err" || fail "config check: $(cat "$tmp/check.err")"
[ "$(cat "$tmp/check.out")" = "ok" ] || fail "config check printed $(cat "$tmp/check.out")"
sed 's/prefix: "U:"/prefix: "this prefix is far longer than thirty-two bytes"/' "$tmp/sluice.yaml" >"$tmp/long.yaml"
if "$ctl" config check "$tmp/long.yaml" >/dev/null 2>"$tmp/long.err"; then fail "a refused prefix passed config check"; fi
grep -q "long.yaml:9:75: orgs\[0\].data_layer.mask\[0\]: plugin 'uppercase' (.*uppercase.so) refused its configuration: prefix is 47 bytes long; at most 32 are allowed" "$tmp/long.err" ||
    fail "create failure: $(cat "$tmp/long.err")"
echo "plugin sdk: ok"
