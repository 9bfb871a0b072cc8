#!/bin/sh
# Integration test of sluicectl's exit status as scripts see it (ctest integration.sluicectl_cli):
# 0 only when the command did its work, including writing its output. A key generated into a
# file on a full disk (here /dev/full) is a failure, not an empty file and exit 0.
# usage: cli.sh SLUICECTL
set -eu
ctl=$1
tmp=$(mktemp -d /tmp/sluice-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
status() { set +e; "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e; }
full() { set +e; "$@" >/dev/full 2>"$tmp/err"; rc=$?; set -e; }

# 1. a key, on stdout, exit 0
status "$ctl" keys generate
[ "$rc" -eq 0 ] || fail "keys generate exited $rc: $(cat "$tmp/err")"
grep -Eq '^[0-9a-f]{64}$' "$tmp/out" || fail "keys generate printed '$(cat "$tmp/out")'"

# 2. usage errors: 2
status "$ctl" no-such-command
[ "$rc" -eq 2 ] || fail "an unknown command exited $rc"
status "$ctl" keys generate extra
[ "$rc" -eq 2 ] || fail "keys generate extra exited $rc"

# 3. output that cannot be written: 1, and said on stderr
full "$ctl" keys generate
[ "$rc" -eq 1 ] || fail "keys generate >/dev/full exited $rc"
grep -q 'cannot write' "$tmp/err" || fail "keys generate >/dev/full said '$(cat "$tmp/err")'"
full "$ctl" --help
[ "$rc" -eq 1 ] || fail "--help >/dev/full exited $rc"
full "$ctl" fpe encrypt --key-hex 00000000000000000000000000000000 --radix 10 123456
[ "$rc" -eq 1 ] || fail "fpe encrypt >/dev/full exited $rc"
echo "sluicectl cli: ok"
