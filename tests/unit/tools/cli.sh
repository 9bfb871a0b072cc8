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

# 4. --help anywhere shows the command's help, but an option's value that reads -h or --help is
# the option's: a radix-2 alphabet of '-' and 'h' encrypts (not the help, exit 0, on stdout)
status "$ctl" fpe encrypt --key-hex 2B7E151628AED2A6ABF7158809CF4F3C --radix 10 --help
[ "$rc" -eq 0 ] && grep -q '^usage: sluicectl fpe' "$tmp/out" || fail "fpe encrypt ... --help: rc $rc, '$(head -1 "$tmp/out")'"
status "$ctl" fpe encrypt --key-hex 2B7E151628AED2A6ABF7158809CF4F3C --alphabet -h hhhhhhhhhh----------
[ "$rc" -eq 0 ] || fail "fpe encrypt --alphabet -h exited $rc: $(cat "$tmp/err")"
grep -Eq '^[-h]{20}$' "$tmp/out" || fail "fpe encrypt --alphabet -h printed '$(head -1 "$tmp/out")', not a value"
status "$ctl" fpe decrypt --key-hex 2B7E151628AED2A6ABF7158809CF4F3C --alphabet -h -- "$(cat "$tmp/out")"
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = hhhhhhhhhh---------- ] || fail "fpe decrypt --alphabet -h: rc $rc, '$(head -1 "$tmp/out")'"
# a person whose id reads -h is forgotten (here: the config is missing, so exit 1), not the help and 0
status "$ctl" forget --config "$tmp/none.yaml" --org acme --user-id -h
[ "$rc" -ne 0 ] && grep -q 'none.yaml' "$tmp/err" || fail "forget --user-id -h: rc $rc, '$(head -1 "$tmp/out")'"
status "$ctl" fpe encrypt --key-hex 2B7E151628AED2A6ABF7158809CF4F3C --radix 10 -- --help
[ "$rc" -ne 0 ] && ! grep -q usage "$tmp/out" || fail "fpe encrypt -- --help took the value for --help: rc $rc"

# 5. every command the top-level help lists answers -h and --help with its own usage, exit 0
status "$ctl" --help
cmds=$(sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' "$tmp/out")
[ -n "$cmds" ] || fail "no commands in sluicectl --help"
for c in $cmds; do
    for h in -h --help; do
        status "$ctl" "$c" "$h"
        [ "$rc" -eq 0 ] && grep -q "usage: sluicectl $c" "$tmp/out" ||
            fail "sluicectl $c $h: rc $rc, '$(head -1 "$tmp/out")' '$(head -1 "$tmp/err")'"
    done
done
echo "sluicectl cli: ok"
