#!/usr/bin/env bash
# A small device bundle for decode experiments (.device/, ignored by git):
# the runtime library, hyla-run and the execution tests with their
# modules, the tiny and 7B models with cubins, and 7B variants compiled
# with extra hylac flags, then the decode GEMM graph (default flags, and
# each variant's). Then `device run` with carry [".device"] and
# scripts/device_decode_variants.sh.
#
#   VARIANTS="name:--flag=value,--other-flag name2:..." scripts/make_decode_bundle.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HYLA_BUILD_DIR:-$root/build}
out=$root/.device
"$root/scripts/build.sh" hylac hyla-run hyla_runtime hyla-execution-tests >/dev/null
rm -rf "$out" && mkdir -p "$out/lib" "$out/bin"
cp "$build/lib/libhyla_runtime.so" "$out/lib/"
cp "$build/bin/hyla-run" "$build/bin/hyla-execution-tests" "$out/bin/"
cp -r "$build/runtime/test/modules" "$out/test_modules"
hylac=$build/bin/hylac
# ptxas's per-kernel info lines are noise here; its errors still show.
quiet() { "$@" 2> >(grep -v "^ptxas info" >&2); }
quiet "$hylac" "$root/examples/olmo-hybrid-tiny/config.json" \
  -o "$out/olmo-hybrid-tiny.hyla" --quiet --cubin
quiet "$hylac" "$root/examples/olmo-hybrid-7b/config.json" \
  -o "$out/olmo-hybrid-7b.hyla" --quiet --cubin
"$hylac" "$root/bench/graphs/gemm_7b_decode.mlir" -o "$out/gemm_7b_decode.hyla" --quiet
for v in ${VARIANTS:-}; do
  name=${v%%:*} flags=${v#*:}
  quiet "$hylac" "$root/examples/olmo-hybrid-7b/config.json" \
    -o "$out/olmo-hybrid-7b_$name.hyla" --quiet --cubin ${flags//,/ }
  "$hylac" "$root/bench/graphs/gemm_7b_decode.mlir" \
    -o "$out/gemm_7b_decode_$name.hyla" --quiet ${flags//,/ }
done
du -sh "$out"
