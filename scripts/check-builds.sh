#!/usr/bin/env bash
# Builds the configurations `make build` and the ASan build do not, so a warning that only an
# optimiser or another compiler sees (-Werror) fails `make test` instead of the image build:
#   dockerfile     the Dockerfile's own cmake configure line, EXTRACTED from the Dockerfile (so the
#                  two cannot drift apart), with its compiler (cc), then its DESTDIR install checked
#                  against what the runtime stage expects: the files it copies and, for every shared
#                  library the installed programs and plugins need, a Debian package the runtime
#                  stage installs;
#   clang-release  CC=clang, Release, tests on.
# Each builds in SCRATCH/<name>, kept between runs (the configure line is remembered: a changed
# line starts that build from scratch; --clean always does). A failure prints the compiler's
# messages and exits 1.
# usage: scripts/check-builds.sh [--clean] SCRATCH [dockerfile|clang-release]...
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

clean=0
if [ "${1:-}" = "--clean" ]; then
  clean=1
  shift
fi
[ $# -ge 1 ] || { echo "usage: scripts/check-builds.sh [--clean] SCRATCH [dockerfile|clang-release]..." >&2; exit 2; }
mkdir -p "$1"
scratch=$(cd "$1" && pwd)
shift
[ $# -gt 0 ] || set -- dockerfile clang-release
jobs=$(nproc 2>/dev/null || echo 2)

fail() { echo "check-builds: $*" >&2; exit 1; }

# The Dockerfile's instructions one per line (continuations joined), comments dropped.
dockerfile_lines() {
  sed -e '/^[[:space:]]*#/d' "$src/Dockerfile" | awk '{ if (sub(/\\[[:space:]]*$/, "")) { buf = buf $0 " " } else { print buf $0; buf = "" } }'
}

# The `cmake -S ...` command of the build stage's RUN, as words.
dockerfile_configure() {
  local run
  run=$(dockerfile_lines | grep -E '^RUN .*cmake -S ' || true)
  [ -n "$run" ] || fail "no 'RUN ... cmake -S ...' line in the Dockerfile"
  [ "$(printf '%s\n' "$run" | wc -l)" -eq 1 ] || fail "several RUN lines configure with cmake -S in the Dockerfile"
  # The RUN's commands are joined with &&; the configure step is the one starting with cmake -S.
  printf '%s\n' "${run#RUN }" | sed 's/[[:space:]]*&&[[:space:]]*/\n/g' | grep -E '^[[:space:]]*cmake -S ' |
    sed 's/^[[:space:]]*//; s/[[:space:]]*$//'
}

# The packages a stage's `apt-get install` names: stage 1 = build, 2 = runtime.
dockerfile_packages() {
  dockerfile_lines | awk -v want="$1" '/^FROM /{ stage++ } stage == want && /apt-get install/' |
    sed 's/.*apt-get install//; s/&&.*//' | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' || true
}

# Runs a build step with its output in a log; on failure shows the compiler's messages.
step() {
  local log=$1 what=$2
  shift 2
  if ! "$@" >>"$log" 2>&1; then
    echo "check-builds: $what FAILED: $*" >&2
    if grep -qE '(error|warning):' "$log"; then
      grep -E -B2 -A6 '(error|warning):' "$log" | head -150 >&2
    else
      tail -40 "$log" >&2
    fi
    echo "check-builds: full log in $log" >&2
    exit 1
  fi
}

# configure_and_build NAME ENV-ASSIGNMENTS... -- CMAKE-ARGS...
configure_and_build() {
  local name=$1
  shift
  local envs=()
  while [ "$1" != "--" ]; do
    envs+=("$1")
    shift
  done
  shift
  local dir=$scratch/$name
  local line="${envs[*]} cmake $*"
  if [ $clean -eq 1 ] || [ ! -f "$dir/configure-line" ] || [ "$(cat "$dir/configure-line")" != "$line" ]; then
    rm -rf "$dir"
  fi
  mkdir -p "$dir"
  printf '%s\n' "$line" >"$dir/configure-line"
  : >"$dir/build.log"
  local start=$SECONDS
  echo "check-builds: $name: $line"
  step "$dir/build.log" "$name: configure" env "${envs[@]}" cmake "$@"
  step "$dir/build.log" "$name: build" cmake --build "$dir/build" -j "$jobs"
  echo "check-builds: $name: built in $((SECONDS - start)) s"
}

check_dockerfile() {
  local words
  words=$(dockerfile_configure)
  echo "check-builds: the Dockerfile configures with: $words"
  case "$words" in *[\"\'\$\`]*) fail "cannot take the Dockerfile's configure line apart (quotes or variables): $words" ;; esac
  # The build stage runs `cmake -S . -B /build ...` in /src: the same with this tree and a scratch dir.
  read -r -a argv <<<"$words"
  local args=() i
  for ((i = 1; i < ${#argv[@]}; i++)); do
    case "${argv[i]}" in
      -S) args+=(-S "$src"); i=$((i + 1)) ;;
      -B) args+=(-B "$scratch/dockerfile/build"); i=$((i + 1)) ;;
      *) args+=("${argv[i]}") ;;
    esac
  done
  # The image's build stage installs gcc and nothing else that compiles C: cc is gcc.
  configure_and_build dockerfile CC=gcc -- "${args[@]}"

  # What the runtime stage copies: the build stage's `DESTDIR=/out cmake --install /build`.
  local out=$scratch/dockerfile/out
  rm -rf "$out"
  step "$scratch/dockerfile/build.log" "dockerfile: install" env DESTDIR="$out" cmake --install "$scratch/dockerfile/build"
  local prefix libdir
  prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$scratch/dockerfile/build/CMakeCache.txt")
  libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$scratch/dockerfile/build/CMakeCache.txt")
  local root=$out$prefix
  for f in bin/sluice-gateway bin/sluice-deliver bin/sluicectl include/sluice/mask_plugin.h \
           "$libdir/pkgconfig/sluice-plugin.pc"; do
    [ -f "$root/$f" ] || fail "dockerfile: $prefix/$f is not installed"
  done
  local plugins=("$root/$libdir"/sluice/plugins/*.so)
  [ -f "${plugins[0]}" ] || fail "dockerfile: no built-in plugins in $prefix/$libdir/sluice/plugins"
  # The installed programs find those plugins with no SLUICE_PLUGIN_DIR (as in the image): a
  # config naming a built-in checks, and the dir it used is the installed one.
  local cfg=$scratch/dockerfile/builtin.yaml used
  cat >"$cfg" <<'YAML'
version: 1
server: {http: {listen: "127.0.0.1:8080"}}
kafka: {brokers: "127.0.0.1:9092"}
orgs:
  - id: acme
    sources: [{id: web, write_key_env: CHECK_BUILDS_WRITE_KEY}]
    data_layer: {mask: [{path: properties.card, plugin: partial, params: {keep_last: 4}}]}
YAML
  env -u SLUICE_PLUGIN_DIR "$root/bin/sluicectl" config check "$cfg" >"$scratch/dockerfile/check.log" 2>&1 ||
    fail "dockerfile: the installed sluicectl cannot load a built-in plugin: $(cat "$scratch/dockerfile/check.log")"
  used=$(env -u SLUICE_PLUGIN_DIR "$root/bin/sluicectl" config dump "$cfg" 2>/dev/null |
    sed -n '/^  "plugins": {$/{n;s/^    "dir": "\(.*\)"$/\1/p;}')
  [ "$used" = "$(cd "$root/$libdir/sluice/plugins" && pwd -P)" ] ||
    fail "dockerfile: the installed sluicectl looks for plugins in '$used', not in $prefix/$libdir/sluice/plugins"

  # Every shared library they need comes from a package the runtime stage installs (libc6 is in
  # the base image).
  local runtime
  runtime=$(dockerfile_packages 2)
  [ -n "$runtime" ] || fail "dockerfile: no apt-get install in the runtime stage"
  local missing=""
  local lib path pkg
  for lib in $(for b in "$root"/bin/* "${plugins[@]}"; do readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done | sort -u); do
    # This machine's own architecture first (ldconfig also lists other ABIs' copies).
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p { p = $NF } $1 == l && /x86-64|64bit/ && !q { q = $NF } END { print q ? q : p }')
    [ -n "$path" ] || fail "dockerfile: $lib (needed by the installed programs) is not a library on this machine"
    path=$(readlink -f "$path")
    pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null || true)
    pkg=${pkg%%:*}
    [ -n "$pkg" ] || fail "dockerfile: no Debian package owns $path ($lib)"
    case "$pkg" in libc6) continue ;; esac
    grep -qx -- "$pkg" <<<"$runtime" || missing="$missing $pkg($lib)"
  done
  [ -z "$missing" ] || fail "dockerfile: the runtime stage does not install:$missing"
  echo "check-builds: dockerfile: install layout and runtime packages ok"
}

for what in "$@"; do
  case "$what" in
    dockerfile) check_dockerfile ;;
    clang-release)
      configure_and_build clang-release CC=clang -- -S "$src" -B "$scratch/clang-release/build" \
        -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=ON
      ;;
    *) fail "unknown build '$what' (dockerfile, clang-release)" ;;
  esac
done
echo "check-builds: ok"
