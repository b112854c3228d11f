#!/usr/bin/env python3
"""One call of hyla's GDN prefill (and fla's, unless --no-fla) at one shape,
for profilers: `ncu -k regex:gdn_state python3 bench/profile_gdn_prefill.py
--module gdn_bench.hyla`. No timing, no reference.

  python3 bench/profile_gdn_prefill.py --module gdn_bench.hyla
      [--shape B,T,H,K,V] [--calls N] [--no-fla] [--varlen N]

With --varlen N, the T tokens are N packed sequences of random lengths
(gdr_varlen_h30_k96_v192, B must be 1), e.g. for compute-sanitizer.
"""

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
import hyla  # noqa: E402
from bench_gdn import (fla_call, function_name, make_inputs,  # noqa: E402
                       poisoned_outputs, varlen_inputs)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--module", required=True)
    p.add_argument("--shape", default="1,8192,30,96,192", help="B,T,H,K,V")
    p.add_argument("--calls", type=int, default=1)
    p.add_argument("--no-fla", action="store_true")
    p.add_argument("--varlen", type=int, default=0, metavar="N")
    args = p.parse_args()
    B, T, H, K, V = (int(x) for x in args.shape.split(","))
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(1)
    m = hyla.Module(args.module)
    if args.varlen:
        q, k, v, g, beta, h0, cu = varlen_inputs(T, args.varlen, H, K, V, dev, gen)
        o, _ = poisoned_outputs(1, T, H, K, V, dev)
        s = torch.full((args.varlen, H, K, V), float("nan"), device=dev)
        for _ in range(args.calls):
            m.call(f"gdr_varlen_h{H}_k{K}_v{V}", q, k, v, g, beta.float(), h0, cu,
                   outputs=(o, s))
        torch.cuda.synchronize()
        print("lengths:", (cu[1:] - cu[:-1]).tolist(),
              "finite:", bool(torch.isfinite(o).all() and torch.isfinite(s).all()))
        return
    q, k, v, g, beta, h0 = make_inputs(B, T, H, K, V, dev, gen)
    o, s = poisoned_outputs(B, T, H, K, V, dev)
    for _ in range(args.calls):
        m.call(function_name(H, K, V), q, k, v, g, beta.float(), h0, outputs=(o, s))
    if not args.no_fla:
        from fla.ops.gated_delta_rule import chunk_gated_delta_rule
        for _ in range(args.calls):
            fla_call(chunk_gated_delta_rule, q, k, v, g, beta, h0, K ** -0.5)
    torch.cuda.synchronize()
    print("finite:", bool(torch.isfinite(o).all() and torch.isfinite(s).all()))


if __name__ == "__main__":
    main()
