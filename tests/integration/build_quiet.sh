#!/bin/sh
# scripts/build-quiet.sh (the build of `make demo`) on a small CMake project of its own (ctest
# label "integration"): a good build prints exactly one summary line and keeps the whole output
# in BUILD/build.log; a compile error, a link error and a CMake error each exit 1 with the
# compiler's (or CMake's) message and the log's path, in a few lines, without make's noise.
# usage: build_quiet.sh SOURCE_ROOT
set -eu
root=$1
tmp=$(mktemp -d /tmp/sluice-build-quiet.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q="$root/scripts/build-quiet.sh"
mkdir "$tmp/src"
cat >"$tmp/src/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(quiet C)
foreach(n RANGE 1 12)
  add_library(lib${n} STATIC ${CMAKE_SOURCE_DIR}/f${n}.c)
endforeach()
add_library(b STATIC ${CMAKE_SOURCE_DIR}/b.c)
add_executable(m ${CMAKE_SOURCE_DIR}/m.c)
target_link_libraries(m b lib1)
EOF
for n in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "int f$n(void) { return $n; }" >"$tmp/src/f$n.c"; done
echo 'int b(void) { return 2; }' >"$tmp/src/b.c"
echo 'int b(void); int f1(void); int main(void) { return b() + f1() - 3; }' >"$tmp/src/m.c"
build() { SOURCE_DIR="$tmp/src" JOBS=2 sh -c '"$0" "$1"' "$q" "$tmp/build" >"$tmp/out" 2>&1; }

# Good: one line, the whole output in the log.
build || fail "good build: $(cat "$tmp/out")"
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "good build printed more than one line: $(cat "$tmp/out")"
grep -qE "^build: ok \(RelWithDebInfo, 14 targets, 14 files compiled, [0-9]+ s; log in $tmp/build/build.log\)$" \
    "$tmp/out" || fail "summary: $(cat "$tmp/out")"
grep -q 'Built target m' "$tmp/build/build.log" || fail "the log lacks the build output"
# Again: nothing to compile.
build || fail "second build: $(cat "$tmp/out")"
grep -q ', 14 targets, 0 files compiled, ' "$tmp/out" || fail "up to date: $(cat "$tmp/out")"

# A compile error: exit 1, the message and where to read more, no progress lines.
echo 'int b(void) { return nope; }' >"$tmp/src/b.c"
if build; then fail "a compile error exited 0: $(cat "$tmp/out")"; fi
grep -q "b.c:1:22: error: 'nope' undeclared\|b.c:1:22: error: .nope. undeclared" "$tmp/out" ||
    fail "compile error not shown: $(cat "$tmp/out")"
grep -q "^build: FAILED; the whole output is in $tmp/build/build.log$" "$tmp/out" || fail "no log path: $(cat "$tmp/out")"
if grep -qE '^\[ *[0-9]+%\]|Entering directory' "$tmp/out"; then fail "progress lines shown: $(cat "$tmp/out")"; fi
[ "$(wc -l <"$tmp/out")" -le 45 ] || fail "too long: $(cat "$tmp/out")"

# A link error.
echo 'int b(void) { return 2; }' >"$tmp/src/b.c"
echo 'int c(void); int main(void) { return c(); }' >"$tmp/src/m.c"
if build; then fail "a link error exited 0"; fi
grep -q "undefined reference to .c'" "$tmp/out" || fail "link error not shown: $(cat "$tmp/out")"

# A CMake error.
echo 'project(' >>"$tmp/src/CMakeLists.txt"
if build; then fail "a CMake error exited 0"; fi
grep -q '^CMake Error at CMakeLists.txt' "$tmp/out" || fail "CMake error not shown: $(cat "$tmp/out")"
echo "build quiet: ok"
