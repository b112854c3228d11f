#!/usr/bin/env bash
# Installs what building and testing hyla needs on Debian 12, if missing:
# LLVM/MLIR 22, clang-22 (also for libFuzzer), FlatBuffers, ninja, ccache,
# GoogleTest. The CUDA toolkit (cuda.h, ptxas) is expected at /usr/local/cuda.
set -euo pipefail

packages=(llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22
          libflatbuffers-dev flatbuffers-compiler ninja-build ccache cmake
          libgtest-dev python3)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

cuda=${CUDA_HOME:-/usr/local/cuda}
if [ ! -f "$cuda/include/cuda.h" ]; then
  echo "setup: error: no CUDA toolkit at $cuda (need cuda.h for the runtime" \
       "and ptxas for the PTX checks); install CUDA 13 or set CUDA_HOME" >&2
  exit 1
fi
echo "setup: LLVM $(/usr/lib/llvm-22/bin/llvm-config --version), $("$cuda/bin/ptxas" --version | tail -1)"
