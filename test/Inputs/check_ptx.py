#!/usr/bin/env python3
"""Assembles every .ptx file of a directory with ptxas for one GPU arch.

Prints one line per kernel: its name, whether ptxas accepted it, how many
tensor-core instructions (mma.sync / wgmma) it has, registers, spills, and
how many of those instructions are wgmma.
Exits 1 if any kernel is rejected. Used by the lit tests and CI.
"""
import os
import re
import subprocess
import sys


def main():
    if len(sys.argv) != 4:
        print("usage: check_ptx.py PTXAS ARCH DIR", file=sys.stderr)
        return 2
    ptxas, arch, directory = sys.argv[1:]
    files = sorted(f for f in os.listdir(directory) if f.endswith(".ptx"))
    if not files:
        print(f"no .ptx files in {directory}", file=sys.stderr)
        return 1
    failed = 0
    for f in files:
        path = os.path.join(directory, f)
        text = open(path).read()
        wgmma = len(re.findall(r"\bwgmma\.mma_async\b", text))
        mma = len(re.findall(r"\bmma\.sync\b", text)) + wgmma
        res = subprocess.run([ptxas, f"-arch={arch}", "-v", path, "-o", os.devnull],
                             capture_output=True, text=True)
        info = res.stdout + res.stderr
        regs = re.search(r"Used (\d+) registers", info)
        spill = re.search(r"(\d+) bytes spill stores", info)
        status = "assembled" if res.returncode == 0 else "REJECTED"
        failed += res.returncode != 0
        print(f"{f[:-4]}: {status}, {mma} mma, "
              f"{regs.group(1) if regs else '?'} registers, "
              f"{spill.group(1) if spill else '?'} bytes spilled, {wgmma} wgmma")
        if res.returncode != 0:
            print(info, file=sys.stderr)
    print(f"{len(files) - failed} of {len(files)} kernels assembled for {arch}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
