# Sourced by the device_*.sh scripts on the GPU machine: repository root as
# the working directory, the carried bundle in $b, logs in $out, the runtime
# library and Python wrapper on the paths, and `step`/`limit` to run a
# command with a header, recording a failure in $status without stopping.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
b=$PWD/.device
out=${OUT:-$PWD/out}
mkdir -p "$out"
export HYLA_RUNTIME_LIB=$b/lib/libhyla_runtime.so
export PYTHONPATH=$PWD/python:$b PYTHONUNBUFFERED=1
status=0
step() { echo; echo "=== $*"; "$@" || { echo "!!! failed ($?): $*"; status=1; }; }
limit() { local s=$1; shift; step timeout "$s" "$@"; }
