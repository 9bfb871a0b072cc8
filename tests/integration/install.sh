#!/bin/sh
# Installed paths come from the install prefix (ctest label "integration"): `cmake --install`
# this build into a temporary prefix, then with no plugin dir set anywhere
#   - the installed sluicectl checks config/examples/acme.yaml (built-in plugins by name): ok;
#   - the dir it uses (config dump's plugins.dir) is the prefix's, and is what
#     `pkg-config --variable=plugindir sluice-plugin` says;
#   - a misspelt plugin name is a config error at the rule's plugin (file:line:col) naming the
#     dir tried and why, the plugins there and the closest name, from sluicectl and from the
#     installed sluice-gateway;
#   - the tree still works after being moved (relocatable), and when installed with DESTDIR.
# The example names TLS files of `make demo` (build/demo/certs); SLUICE_TLS_CERT/KEY point at
# certificates made here instead, so the test does not depend on the demo having run.
# usage: install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d /tmp/sluice-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for v in SLUICE_PLUGIN_DIR SLUICE_HTTPS_LISTEN SLUICE_HTTP_LISTEN SLUICE_TLS_CERT SLUICE_TLS_KEY \
         SLUICE_KAFKA_BROKERS SLUICE_REDIS_URL SLUICE_DATABASE_URL SLUICE_METRICS_LISTEN SLUICE_LOG_LEVEL; do
    unset "$v"
done
example="$src/config/examples/acme.yaml"

"$src/scripts/certs.sh" "$tmp/certs" >"$tmp/certs.log" 2>&1 || fail "certs: $(cat "$tmp/certs.log")"
export SLUICE_TLS_CERT="$tmp/certs/server.crt" SLUICE_TLS_KEY="$tmp/certs/server.key"

# plugins.dir of `sluicectl config dump FILE` (the dir the binary really uses).
used_dir() {
    "$1" config dump "$2" 2>/dev/null | sed -n '/^  "plugins": {$/{n;s/^    "dir": "\(.*\)"$/\1/p;}'
}

# check_prefix PREFIX: the installed tree under PREFIX finds its own plugins.
check_prefix() {
    ctl="$1/bin/sluicectl"
    [ -x "$ctl" ] || fail "no $ctl"
    # From another working dir, so nothing is found relative to the source or build tree.
    out=$(cd / && "$ctl" config check "$example" 2>"$tmp/err") || fail "config check with $ctl exited $?: $(cat "$tmp/err")"
    [ "$out" = "ok" ] || fail "config check with $ctl: expected 'ok', got '$out'"
    dir=$(used_dir "$ctl" "$example")
    [ "$dir" = "$(cd "$1/lib/sluice/plugins" && pwd -P)" ] || fail "$ctl uses plugin dir '$dir', not $1/lib/sluice/plugins"
    pc=$(PKG_CONFIG_PATH="$1/lib/pkgconfig" pkg-config --variable=plugindir sluice-plugin) || fail "pkg-config"
    [ "$(cd "$pc" && pwd -P)" = "$dir" ] || fail "pkg-config plugindir '$pc' is not the dir $ctl uses ('$dir')"
}

cmake --install "$build" --prefix "$tmp/p" >"$tmp/install.log" 2>&1 || fail "install: $(cat "$tmp/install.log")"
check_prefix "$tmp/p"

# A misspelt built-in: where it looked and why, what is there, the closest name.
sed 's/plugin: ip_truncate}/plugin: ip_trunacte}/' "$example" >"$tmp/typo.yaml"
n=$(grep -n 'plugin: ip_trunacte}' "$tmp/typo.yaml" | cut -d: -f1)
col=$(grep 'plugin: ip_trunacte}' "$tmp/typo.yaml" | awk '{print index($0, "ip_trunacte")}')
[ -n "$n" ] && [ -n "$col" ] || fail "no ip_truncate rule in the example"
cp -R "$src/config/examples/orgs" "$tmp/orgs"
plugins="$tmp/p/lib/sluice/plugins"
builtins="drop, encrypt, fpe, full, generalize, hmac, ip_truncate, null, partial, randomized_response, redact_text, regex"
want="$tmp/typo.yaml:$n:$col: orgs[0].data_layer.mask[1].plugin: cannot open plugin 'ip_trunacte': no ip_trunacte.so in $plugins (the built-in default: next to $tmp/p/bin/sluicectl); did you mean 'ip_truncate'? Plugins there: $builtins. Set plugins.dir in the config or SLUICE_PLUGIN_DIR to look in another directory"
set +e
(cd / && "$tmp/p/bin/sluicectl" config check "$tmp/typo.yaml") >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "misspelt plugin: expected exit 1, got $rc"
got=$(grep -v '^warning: ' "$tmp/err")
[ "$got" = "$want" ] || fail "misspelt plugin: expected
$want
got
$got"

# The gateway refuses to start on it with the same message (in its JSON log, with its own path).
cat >"$tmp/gw.yaml" <<YAML
version: 1
server: {http: {listen: "127.0.0.1:0"}, metrics: {listen: "127.0.0.1:0"}}
kafka: {brokers: "127.0.0.1:9"}
orgs:
  - id: acme
    sources: [{id: web, write_key_env: T_INSTALL_WRITE_KEY}]
    data_layer: {mask: [{path: context.ip, plugin: ip_trunacte}]}
YAML
set +e
(cd / && T_INSTALL_WRITE_KEY=wk_install_test "$tmp/p/bin/sluice-gateway" --config "$tmp/gw.yaml") >"$tmp/gw.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "gateway on the misspelt plugin: expected exit 1, got $rc: $(cat "$tmp/gw.log")"
grep -qF "no ip_trunacte.so in $plugins (the built-in default: next to $tmp/p/bin/sluice-gateway); did you mean 'ip_truncate'?" "$tmp/gw.log" ||
    fail "gateway log: $(cat "$tmp/gw.log")"

# Overrides still win: plugins.dir in the file, then SLUICE_PLUGIN_DIR over it.
printf 'plugins: {dir: %s}\n' "$tmp/elsewhere" >"$tmp/dir.yaml"
sed '/^version: 1$/r '"$tmp/dir.yaml" "$example" >"$tmp/withdir.yaml"
[ "$(used_dir "$tmp/p/bin/sluicectl" "$tmp/withdir.yaml")" = "$tmp/elsewhere" ] || fail "plugins.dir is not used"
[ "$(SLUICE_PLUGIN_DIR="$plugins" used_dir "$tmp/p/bin/sluicectl" "$tmp/withdir.yaml")" = "$plugins" ] ||
    fail "SLUICE_PLUGIN_DIR does not win over plugins.dir"

# Relocatable: the same tree moved elsewhere.
mv "$tmp/p" "$tmp/moved"
check_prefix "$tmp/moved"

# Packaging: DESTDIR with the Dockerfile's prefix, used from under DESTDIR.
DESTDIR="$tmp/dest" cmake --install "$build" --prefix /usr >"$tmp/install2.log" 2>&1 ||
    fail "DESTDIR install: $(cat "$tmp/install2.log")"
check_prefix "$tmp/dest/usr"
echo "install: ok"
