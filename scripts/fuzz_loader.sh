#!/usr/bin/env bash
# Fuzzes the hyla module loader with libFuzzer (ASan + UBSan).
#
#   scripts/fuzz_loader.sh [SECONDS]     (default 60)
#
# Configures a runtime-only clang build in build-fuzz/ (ccache if present),
# builds the fuzzer and the test-module generator, seeds the corpus with the
# generated modules, and fuzzes for SECONDS. Exits non-zero on any crash,
# leak or sanitizer report; the crashing input is left in build-fuzz/.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
cc="${CC:-clang-22}"
cxx="${CXX:-clang++-22}"
command -v "$cxx" >/dev/null || { cc=clang; cxx=clang++; }

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

cmake -G Ninja -S "$root" -B "$build" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DHYLA_ENABLE_COMPILER=OFF -DHYLA_ENABLE_FUZZER=ON \
  "${launcher[@]}" >/dev/null
ninja -C "$build" hyla-loader-fuzzer hyla-make-test-modules

corpus="$build/fuzz-corpus"
seeds="$build/fuzz-seeds"
mkdir -p "$corpus" "$seeds"
"$build/bin/hyla-make-test-modules" "$seeds"

cd "$build"  # crash-* files land here
echo "fuzzing the module loader for ${seconds}s..."
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  "$build/bin/hyla-loader-fuzzer" "$corpus" "$seeds" \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -print_final_stats=1
echo "fuzz_loader.sh: no crash in ${seconds}s"
