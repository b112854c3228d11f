#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test that needs no GPU:
# the lit suite (dialects, passes, CPU numerics of every rewrite against
# float64, lowering, PTX checked by ptxas for sm_90a and sm_100a, hylac,
# hyla-run), the runtime's unit tests, the Python wrapper's tests, and
# 60 s of fuzzing the module loader.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
build=${HYLA_BUILD_DIR:-$root/build}

echo "== lit"
/usr/lib/llvm-22/bin/lit -sv "$build/test"
echo "== ctest"
ctest --test-dir "$build" --output-on-failure
echo "== fuzz the module loader (${HYLA_FUZZ_SECONDS:-60} s)"
"$root/scripts/fuzz_loader.sh" "${HYLA_FUZZ_SECONDS:-60}"
echo "all tests passed"
