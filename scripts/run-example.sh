#!/usr/bin/env bash
# The main job: builds hyla, compiles the Olmo Hybrid 7B config into a
# module and prints its kernels; on a machine with an NVIDIA GPU it also
# runs the module (random weights and tokens) and prints timings, then
# generates 32 tokens greedily through its decode step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" hylac hyla-run hyla_runtime
build=${HYLA_BUILD_DIR:-$root/build}
out=${HYLA_OUT:-$root/out}
mkdir -p "$out"

"$build/bin/hylac" "$root/examples/olmo-hybrid-7b/config.json" \
  -o "$out/olmo-hybrid-7b.hyla" --summary
"$build/bin/hyla-run" "$out/olmo-hybrid-7b.hyla" --info

# Run it where a GPU exists; hyla-run says so clearly (exit 3) otherwise.
set +e
"$build/bin/hyla-run" "$out/olmo-hybrid-7b.hyla" --sym batch=1 --sym tokens=512 \
  --warmup 1 --iters 3
rc=$?
if [ $rc -eq 0 ]; then
  # Greedy generation through the module's decode step (random weights).
  "$build/bin/hyla-run" "$out/olmo-hybrid-7b.hyla" --generate 32 \
    --prompt 11,22,33,44,55,66,77,88
  rc=$?
fi
set -e
if [ $rc -eq 3 ]; then
  echo "run-example: no GPU here; the module was compiled and inspected only"
  exit 0
fi
exit $rc
