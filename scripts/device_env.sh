# Sourced by the device_*.sh scripts on the GPU machine: repository root as
# the working directory, the carried bundle in $b, logs in $out, the runtime
# library and Python wrapper on the paths, and `step`/`limit` to run a
# command with a header, recording a failure in $status without stopping;
# `sanitize_prefill`, `time_7b` and `write_decode_inputs` (below) are their
# shared compute-sanitizer check, whole-model timing and decode-step inputs.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
b=$PWD/.device
out=${OUT:-$PWD/out}
mkdir -p "$out"
export HYLA_RUNTIME_LIB=$b/lib/libhyla_runtime.so
export PYTHONPATH=$PWD/python:$b PYTHONUNBUFFERED=1
status=0
step() { echo; echo "=== $*"; "$@" || { echo "!!! failed ($?): $*"; status=1; }; }
limit() { local s=$1; shift; step timeout "$s" "$@"; }
# The whole 7B forward (B=1, T=512 and 8192, median of 5 after 2 warm-up
# calls) through hyla-run, for each bundle module named (without .hyla).
time_7b() {
  local m t
  for m in "$@"; do
    for t in 512 8192; do
      limit 150 "$b/bin/hyla-run" "$b/$m.hyla" --sym batch=1 --sym tokens=$t \
        --warmup 2 --iters 5
    done
  done
}
# compute-sanitizer memcheck and racecheck on the GDN prefill of module $1
# (a packed prefill of 5 sequences and a dense B=2 T=130 one), when the
# sanitizer exists.
sanitize_prefill() {
  command -v compute-sanitizer >/dev/null || return 0
  local prof="python3 bench/profile_gdn_prefill.py --module $1 --no-fla" tool
  for tool in memcheck racecheck; do
    limit 150 compute-sanitizer --tool $tool --error-exitcode 9 $prof \
      --shape 1,300,30,96,192 --varlen 5
    limit 150 compute-sanitizer --tool $tool --error-exitcode 9 $prof \
      --shape 2,130,30,96,192
  done
}
# Inputs of one decode step after 511 cached tokens, for hyla-run
# --function decode at B = 1 and 32, into directory $1: ids$B.npy,
# slots$B.npy (slots 0..B-1) and lengths$B.npy.
write_decode_inputs() {
  python3 - "$1" <<'PY'
import os, sys
import numpy as np
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for b in (1, 32):
    np.save(f"{d}/ids{b}.npy", (np.arange(b, dtype=np.int32) * 7 + 123).reshape(b, 1))
    np.save(f"{d}/slots{b}.npy", np.arange(b, dtype=np.int32))
    np.save(f"{d}/lengths{b}.npy", np.full(b, 511, dtype=np.int32))
PY
}
