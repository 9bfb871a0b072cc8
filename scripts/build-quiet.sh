#!/usr/bin/env bash
# The build of `make demo`: the same configure and build as `make build`, with all of their
# output kept in BUILD_DIR/build.log and one line printed instead:
#   build: ok (RelWithDebInfo, 214 targets, 3 files compiled, 31 s; log in build/build.log)
# On a failure it prints the first errors from the log (progress lines left out) and the log's
# path, and exits 1.
#   scripts/build-quiet.sh BUILD_DIR
# Environment: JOBS (default: the number of cores), CMAKE_ARGS (extra configure arguments, as for
# `make build`), SOURCE_DIR (default: this repository).
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/build-quiet.sh BUILD_DIR" >&2; exit 2; }
build=$1
src=${SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
jobs=${JOBS:-$(nproc)}
mkdir -p "$build" || exit 1
log=$build/build.log
start=$(date +%s)
# shellcheck disable=SC2086 # CMAKE_ARGS is a list of arguments, as in the Makefile
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ): cmake -S $src -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-}"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-} &&
    cmake --build "$build" -j "$jobs"
} >"$log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)

if [ "$rc" -eq 0 ]; then
  targets=$(grep -c 'Built target ' "$log")
  compiled=$(grep -cE 'Building (C|CXX) object ' "$log")
  what="${type:-no build type}"
  [ "$targets" -gt 0 ] && what="$what, $targets targets, $compiled files compiled"
  echo "build: ok ($what, $secs s; log in $log)"
  exit 0
fi

# Make's progress and directory lines and CMake's "done" lines say nothing about the failure;
# with parallel jobs they also push the compiler's message away from the end of the log.
noise='^\[ *[0-9]+%\] |^g?make(\[[0-9]+\])?: (Entering|Leaving) directory|^Consolidate compiler generated'
noise="$noise|^-- (Configuring done|Generating done|Build files have been written)|^# "
filtered=$(grep -vE "$noise" "$log")
first=$(printf '%s\n' "$filtered" | grep -nE -m1 'error|Error' | cut -d: -f1)
echo "build: FAILED after $secs s (${type:-no build type}); from the log:" >&2
if [ -n "$first" ]; then
  printf '%s\n' "$filtered" | sed -n "$((first > 8 ? first - 8 : 1)),$((first + 31))p" >&2
else
  printf '%s\n' "$filtered" | tail -n 40 >&2
fi
echo "build: FAILED; the whole output is in $log" >&2
exit 1
