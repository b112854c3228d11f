#!/usr/bin/env python3
"""hyla's GEMMs against torch.matmul (cuBLAS) at Olmo Hybrid 7B's shapes.

Runs the functions of modules compiled from bench/graphs/gemm_7b.mlir (one
per projection shape, y = x W^T in bf16 with f32 accumulation) through the
hyla runtime beside torch.matmul on the same inputs, for each token count M.
Several modules (compiled with different --gemm-* tile flags) can be timed
in one run: --module LABEL=PATH, repeated. Every output is checked against a
float64 product of the same bf16 inputs (fresh random inputs per run, hyla's
output poisoned with NaN first); hyla's error must stay within 2x cuBLAS's.
Median times from triton.testing.do_bench.

  python3 bench/bench_gemm.py --module base=gemm.hyla [--module big=...]
      [--tokens 8192,32] [--json OUT] [--seed N]

Exit status 1 if a check failed.
"""

import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
import hyla  # noqa: E402
from check_gdn_attention import median_ms, rel_err  # noqa: E402

# (function, N, K) as in bench/graphs/gemm_7b.mlir.
SHAPES = [
    ("gdn_qk", 2880, 3840),
    ("gdn_vg", 5760, 3840),
    ("gdn_o", 3840, 5760),
    ("attn_qkvo", 3840, 3840),
    ("mlp_up", 11008, 3840),
    ("mlp_down", 3840, 11008),
    ("lm_head", 100352, 3840),
]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", action="append", required=True,
                   help="LABEL=PATH of a module compiled from gemm_7b.mlir")
    p.add_argument("--tokens", default="8192,32", help="comma-separated M values")
    p.add_argument("--shapes", default="all", help="comma-separated function names")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--json")
    args = p.parse_args()

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(seed)
    modules = []
    for spec in args.module:
        label, _, path = spec.partition("=")
        m = hyla.Module(path)
        m.prepare()
        modules.append((label, m))
    shapes = SHAPES if args.shapes == "all" else [
        s for s in SHAPES if s[0] in args.shapes.split(",")]
    tokens = [int(t) for t in args.tokens.split(",")]
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, seed {seed}")
    header = f"{'shape':<11}{'N x K':>13}{'M':>6}{'cublas ms':>10}{'TF/s':>6}"
    for label, _ in modules:
        header += f"{label + ' ms':>14}{'x cuBLAS':>9}"
    print(header + f"{'err hyla/cublas':>17}")
    rows, ok = [], True
    bf = torch.bfloat16
    for name, n, k in shapes:
        w = (torch.randn(n, k, device=dev, generator=gen) * k ** -0.5).to(bf)
        wt = w.t()
        for mm in tokens:
            x = torch.randn(mm, k, device=dev, generator=gen).to(bf)
            ref = x.double() @ w.double().t()
            c = torch.matmul(x, wt)
            row = {"shape": name, "n": n, "k": k, "m": mm,
                   "cublas_err": rel_err(c, ref),
                   "cublas_ms": median_ms(lambda: torch.matmul(x, wt))}
            flops = 2.0 * mm * n * k
            line = (f"{name:<11}{f'{n}x{k}':>13}{mm:>6}{row['cublas_ms']:>10.3f}"
                    f"{flops / row['cublas_ms'] / 1e9:>6.0f}")
            errs = []
            for label, m in modules:
                y = torch.full((mm, n), float("nan"), device=dev, dtype=bf)
                m.call(name, x, w, outputs=(y,))
                torch.cuda.synchronize()
                err = rel_err(y, ref)
                t = median_ms(lambda: m.call(name, x, w, outputs=(y,)))
                good = err == err and err <= 2 * row["cublas_err"]
                ok &= good
                row[label] = {"ms": t, "err": err, "pass": good}
                line += f"{t:>14.3f}{row['cublas_ms'] / t:>9.2f}"
                errs.append(f"{err:.2e}{'' if good else '!'}")
            print(line + f"  {'/'.join(errs)} / {row['cublas_err']:.2e}", flush=True)
            rows.append(row)
            del ref, c, x
        del w, wt
        torch.cuda.empty_cache()
    print("PASS" if ok else "FAIL")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "seed": seed,
                       "date": time.strftime("%Y-%m-%d"), "rows": rows,
                       "modules": args.module, "pass": ok}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
