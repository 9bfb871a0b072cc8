#!/bin/sh
# `sluicectl plugin test` and `sluicectl config check` on the fixture plugins (ctest label
# "integration"): every broken plugin is refused with its reason and exit 1, the good one
# passes, a plugin cutting multi-byte characters in half fails the UTF-8 check, known-answer
# vectors pass and fail as they should, and a config naming a broken plugin fails `config check`
# with "file:line:col: ... reason".
# usage: plugin_cli.sh SLUICECTL FIXTURE_DIR
set -eu
ctl=$1
fx=$2
tmp=$(mktemp -d /tmp/sluice-plugin-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# refused: fixture, then the reason expected in the report
while IFS='|' read -r name reason; do
    set +e
    "$ctl" plugin test "$fx/$name.so" >"$tmp/out" 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 1 ] || fail "$name: exit $rc: $(cat "$tmp/out")"
    reason=$(printf '%s' "$reason" | sed "s|FX|$fx|")
    grep -qF -- "$reason" "$tmp/out" || fail "$name: expected '$reason' in: $(cat "$tmp/out")"
    grep -q '^result: FAIL' "$tmp/out" || fail "$name: no FAIL result"
done <<'CASES'
broken_bad_magic|FAIL  load: plugin FX/broken_bad_magic.so: not a sluice masking plugin: bad magic 0xdeadbeef
broken_wrong_major|built for ABI 2.0; this gateway speaks ABI 1
broken_newer_minor|built for ABI 1.7, newer than this gateway's 1.0
broken_bad_signature|built for another platform
broken_short_descriptor|short descriptor: it declares 16 bytes
broken_missing_symbol|it exports no symbol 'sluice_mask_plugin_v1'
broken_abi2_only|built for ABI 2 (exports sluice_mask_plugin_v2)
broken_failing_create|FAIL  create
broken_failing_create|refused its configuration: the key must be 32 bytes
broken_failing_selftest|failed its selftest: known-answer vector 2 does not match
broken_refuses_all|FAIL  mask: the plugin refused every one of the
CASES

# The good fixture passes the whole suite.
"$ctl" plugin test "$fx/fixture.so" --param prefix=x- >"$tmp/out" 2>&1 || fail "fixture: $(cat "$tmp/out")"
grep -q '^PASS  threads: 2 threads x 200 rounds agree' "$tmp/out" || fail "threads: $(cat "$tmp/out")"
grep -q '^PASS  UTF-8: no output cuts a character: [0-9]* inputs with 2-, 3- and 4-byte characters' "$tmp/out" ||
    fail "UTF-8: $(cat "$tmp/out")"
grep -q '^result: PASS' "$tmp/out" || fail "fixture result"

# A plugin that calls exit(0) on a value ended the suite silently with status 0: a release
# pipeline passed a plugin that ends the gateway at its first such event.
rc=0
"$ctl" plugin test "$fx/fixture.so" --param exit_on=hello >"$tmp/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "a plugin calling exit(0) in mask: status $rc: $(cat "$tmp/out")"
grep -q '^FAIL  mask: the plugin ended the process (exit)' "$tmp/out" || fail "exit in mask: $(cat "$tmp/out")"
grep -q '^result: FAIL' "$tmp/out" || fail "exit in mask result: $(cat "$tmp/out")"

# A plugin that keeps the first byte of an e-mail's local part passes every ASCII input but cuts
# "é", "€" and "😀" in half: the UTF-8 check, and only it, fails, naming each input escaped and in
# hex, and the rule.
set +e
"$ctl" plugin test "$fx/cuts_utf8.so" >"$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "cuts_utf8: exit $rc: $(cat "$tmp/out")"
grep -qF '        input "\u00E9va@example.com" (bytes c3 a9 76 61 40 65 78 61 6d 70 6c 65 2e 63 6f 6d): output is not valid UTF-8' \
    "$tmp/out" || fail "cuts_utf8: 2-byte input not named: $(cat "$tmp/out")"
grep -qF '        input "\u20AC@example.com" (bytes e2 82 ac 40 65 78 61 6d 70 6c 65 2e 63 6f 6d): output is not valid UTF-8' \
    "$tmp/out" || fail "cuts_utf8: 3-byte input not named: $(cat "$tmp/out")"
grep -qF '        input "\uD83D\uDE00@example.com" (bytes f0 9f 98 80 40 65 78 61 6d 70 6c 65 2e 63 6f 6d): output is not valid UTF-8' \
    "$tmp/out" || fail "cuts_utf8: 4-byte input not named: $(cat "$tmp/out")"
grep -qE '^FAIL  UTF-8: with default parameters, [0-9]+ of [0-9]+ inputs with multi-byte characters gave output that is not valid UTF-8' \
    "$tmp/out" || fail "cuts_utf8: no UTF-8 verdict: $(cat "$tmp/out")"
[ "$(grep -c '^FAIL' "$tmp/out")" -eq 1 ] || fail "cuts_utf8: more than the UTF-8 check failed: $(cat "$tmp/out")"
grep -q '^result: FAIL' "$tmp/out" || fail "cuts_utf8: no FAIL result"
# Vectors: passing, failing, and malformed.
cat >"$tmp/good.jsonl" <<'V'
# comment
{"input": "abc", "expect": "x-abc"}
{"input": "abc", "params": {"prefix": "p:"}, "expect": "p:abc"}
{"input": "__remove__", "expect_status": "remove"}
{"input": 7, "expect_status": "unchanged"}
{"input": "boom", "params": {"fail_on": "boom"}, "expect_status": "error"}
{"input": "__null__", "expect": null}
{"input": "abc", "expect_prefix": "x-"}
V
"$ctl" plugin test "$fx/fixture.so" --param prefix=x- --vectors "$tmp/good.jsonl" >"$tmp/out" 2>&1 ||
    fail "good vectors: $(cat "$tmp/out")"
grep -q "^PASS  vectors: 7 of 7 from $tmp/good.jsonl" "$tmp/out" || fail "vectors line: $(cat "$tmp/out")"
cat >"$tmp/bad.jsonl" <<'V'
{"name": "wrong", "input": "abc", "expect": "nope"}
{"input": "abc", "params": {"prefx": "p:"}, "expect": "p:abc"}
not json
V
set +e
"$ctl" plugin test "$fx/fixture.so" --vectors "$tmp/bad.jsonl" >"$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "bad vectors exit $rc"
grep -qF "$tmp/bad.jsonl:1 wrong: expected \"nope\", got \"m:abc\"" "$tmp/out" || fail "wrong answer: $(cat "$tmp/out")"
grep -qF "$tmp/bad.jsonl:2: the plugin refused params" "$tmp/out" || fail "bad params: $(cat "$tmp/out")"
# ... saying why, with the loader's "did you mean" (it was only "refused params {...}").
grep -qF "unknown parameter of plugin 'fixture'; did you mean 'prefix'?" "$tmp/out" || fail "bad params why: $(cat "$tmp/out")"
grep -qF "$tmp/bad.jsonl:3: not a JSON object" "$tmp/out" || fail "malformed: $(cat "$tmp/out")"
grep -q '^FAIL  vectors: 3 of 3' "$tmp/out" || fail "vector count: $(cat "$tmp/out")"

# A plugin's own texts reach the terminal without their control characters (an escape sequence
# in a description could rewrite what the author reads).
"$ctl" plugin test "$fx/broken_escape_text.so" >"$tmp/out" 2>&1 || true
grep -qF 'plugin escape_text 1?[31m' "$tmp/out" || fail "version shown: $(cat "$tmp/out")"
grep -qF 'clears ?[2J the screen' "$tmp/out" || fail "description shown: $(cat "$tmp/out")"
if grep -q "$(printf '\033')" "$tmp/out"; then fail "an escape reached the output"; fi

# A --param value YAML would read as a block collection (" -" is a sequence) is taken as text.
printf '{"input": "abc", "expect": " -abc"}\n' >"$tmp/dash.jsonl"
"$ctl" plugin test "$fx/fixture.so" --param 'prefix= -' --vectors "$tmp/dash.jsonl" >"$tmp/out" 2>&1 ||
    fail "--param 'prefix= -': $(cat "$tmp/out")"

# Usage errors.
set +e
"$ctl" plugin test >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing PATH should exit 2"
"$ctl" plugin test "$fx/fixture.so" --param noequals >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --param should exit 2"
"$ctl" plugin frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown subcommand should exit 2"
set -e
"$ctl" plugin test --help | grep -q 'usage: sluicectl plugin test' || fail "--help"

# config check with a broken plugin: exit 1, the reason with the rule's position.
cat >"$tmp/sluice.yaml" <<YAML
version: 1
server: {http: {listen: "127.0.0.1:0"}}
kafka: {brokers: "127.0.0.1:9092"}
plugins: {dir: $fx}
orgs:
  - id: acme
    sources: [{id: web, write_key_env: ACME_WEB_WRITE_KEY}]
    data_layer:
      mask:
        - {path: properties.a, plugin: fixture}
        - {path: properties.b, plugin: broken_wrong_major}
YAML
set +e
"$ctl" config check "$tmp/sluice.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "config check of a broken plugin exited $rc"
[ ! -s "$tmp/out" ] || fail "config check printed: $(cat "$tmp/out")"
want="$tmp/sluice.yaml:11:40: orgs[0].data_layer.mask[1].plugin: plugin $fx/broken_wrong_major.so: built for ABI 2.0; this gateway speaks ABI 1: rebuild the plugin against this gateway's mask_plugin.h"
got=$(grep -v '^warning: ' "$tmp/err")
[ "$got" = "$want" ] || fail "expected '$want', got '$got'"
# ...and without it, ok.
sed '/broken_wrong_major/d' "$tmp/sluice.yaml" >"$tmp/good.yaml"
[ "$("$ctl" config check "$tmp/good.yaml" 2>/dev/null)" = "ok" ] || fail "config check of the good plugin"
echo "plugin cli: ok"
