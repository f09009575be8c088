#!/usr/bin/env bash
# One entry point for building, running and testing Squall on Debian 12.
#   ./dev.sh run [FILE]   install what is missing, build, run squall on FILE (conf/squall.toml)
#   ./dev.sh test         install what is missing, build, run every test
#   ./dev.sh build        build only (build/squall)
#   ./dev.sh asan         build with ASan+UBSan and run every test (build-asan/)
#   ./dev.sh fuzz [SECS]  build the libFuzzer targets with clang and run each for SECS (60)
#   ./dev.sh bench        compare Squall with nginx (bench/README.md)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
jobs=$(nproc 2>/dev/null || echo 2)

configure() {  # configure DIR [cmake args...]
  local dir=$1; shift
  if [[ ! -f $dir/build.ninja ]]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  fi
}

cmd=${1:-}
shift || true
case "$cmd" in
  run)
    scripts/deps.sh build
    configure build -DGW_TESTS=OFF
    cmake --build build --target squall -j "$jobs"
    exec build/squall run "${1:-conf/squall.toml}"
    ;;
  build)
    scripts/deps.sh build
    configure build -DGW_TESTS=OFF
    cmake --build build --target squall -j "$jobs"
    ;;
  test)
    scripts/deps.sh test
    configure build -DGW_TESTS=ON
    cmake -S . -B build -DGW_TESTS=ON >/dev/null
    cmake --build build -j "$jobs"
    cd build && ctest --output-on-failure -j "$jobs" --timeout 600
    ;;
  asan)
    scripts/deps.sh test
    configure build-asan -DGW_TESTS=ON -DGW_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
    cmake --build build-asan -j "$jobs"
    cd build-asan && UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs" --timeout 900
    ;;
  fuzz)
    scripts/deps.sh fuzz
    CC=clang CXX=clang++ configure build-fuzz -DGW_FUZZ=ON -DGW_TESTS=OFF
    cmake --build build-fuzz -j "$jobs"
    secs=${1:-60}
    failed=()
    for t in build-fuzz/tests/fuzz/*_fuzz; do
      [[ -x $t ]] || { echo "no fuzz targets built" >&2; exit 1; }
      name=$(basename "$t" _fuzz)
      mkdir -p "build-fuzz/corpus/$name" "build-fuzz/crashes/$name"
      echo "== $name ($secs s)"
      "$t" -max_total_time="$secs" -dict=tests/fuzz/http.dict -artifact_prefix="build-fuzz/crashes/$name/" \
        "build-fuzz/corpus/$name" "tests/fuzz/corpus/$name" || failed+=("$name")
    done
    if ((${#failed[@]})); then
      echo "fuzz: failures in ${failed[*]} (inputs in build-fuzz/crashes/; add them to tests/fuzz/corpus/)" >&2
      exit 1
    fi
    ;;
  bench)
    exec bench/respond.sh "$@"
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
