#!/usr/bin/env bash
# Regenerates the dialect and pass references from ODS into docs/generated/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HYLA_BUILD_DIR:-$root/build}
"$root/scripts/build.sh" hyla-docs
mkdir -p "$root/docs/generated"
for f in hyla-dialect hyla_tile-dialect passes lowering-passes; do
  cp "$build/docs/$f.md" "$root/docs/generated/$f.md"
done
echo "updated docs/generated/"
