#!/usr/bin/env python3
"""One causal attention prefill call of a module compiled from
bench/graphs/attention.mlir, for ncu and compute-sanitizer (random bf16
inputs, no checks, no peers).

  ncu -k regex:flash_attn python3 bench/profile_attention.py --module attn.hyla \
      [--shape 1,8192,30]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "python"))
import hyla  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", required=True)
    ap.add_argument("--shape", default="1,8192,30", help="B,T,H (head dim 128)")
    args = ap.parse_args()
    B, T, H = (int(x) for x in args.shape.split(","))
    m = hyla.Module(args.module)
    q, k, v = (torch.randn(B, T, H, 128, device="cuda").to(torch.bfloat16)
               for _ in range(3))
    o = torch.empty_like(q)
    m.call(f"attention_h{H}", q, k, v, outputs=(o,))
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
