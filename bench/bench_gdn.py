#!/usr/bin/env python3
"""hyla's gated delta rule (GDN prefill) against fla's Triton kernel.

Runs the functions of a module compiled from bench/graphs/gdn_bench.mlir
(gdr_h30_k96_v192, gdr_h16_k128_v128) through the hyla runtime and fla's
chunk_gated_delta_rule on the same inputs, at the prefill shapes below:
bf16 q, k, v; f32 log decays g and initial/final state; beta bf16 values
(bf16 for fla, the same values in f32 for hyla); L2 norm of q and k inside
both, scale K^-0.5.

For each shape it reports the median time of both (triton.testing.do_bench)
against the memory floor (bytes of inputs, output and states over the
device-to-device copy bandwidth measured in the same run), then checks both
against a float64 recurrence on a shorter sequence (--check-tokens, same B,
H, K, V) with hyla's outputs poisoned with NaN. Shape i draws its inputs
from seed + i, so a subset rerun with the same seed sees the same inputs.
With --layer-module, the GDN layer core after the projections (convs,
norms, gates, delta rule) is timed too at the H=30 shapes, against fla's
Triton causal_conv1d and PyTorch gates feeding fla's delta rule, and then
with the gated RMSNorm (gdn_layer_core) against that chain ending in fla's
fused rms_norm_gated. Then the same for packed variable-length sequences (gdr_varlen_h30_k96_v192
against fla with cu_seqlens): VARLEN tokens in random-length sequences, each
from its own initial state, checked per sequence against float64.

  python3 bench/bench_gdn.py --module bench_gdn.hyla [--shapes all|0,2]
      [--json OUT] [--seed N] [--check-tokens 1024] [--no-fla] [--no-varlen]

Exit status 1 if a shape failed or an output was not finite.
"""

import argparse
import gc
import json
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
import hyla  # noqa: E402
from check_gdn_attention import (delta_rule64, fla_gdn_core, fla_gdn_layer_core,  # noqa: E402
                                 gdn_core_inputs, gdn_layer_inputs, l2norm64,
                                 median_ms, rel_err)

# (B, T, H, K, V): Olmo Hybrid's GDN heads at three lengths, and the K=V=128
# shape the published sm90 kernels support.
PREFILL = [
    (1, 8192, 30, 96, 192),
    (8, 4096, 30, 96, 192),
    (1, 65536, 30, 96, 192),
    (8, 4096, 16, 128, 128),
]
SHAPE_SETS = {"prefill": PREFILL, "all": PREFILL}


def function_name(H, K, V):
    # Named after the static dims in bench/graphs/gdn_bench.mlir; a missing
    # one is a HylaError from m.call, reported for that shape.
    return f"gdr_h{H}_k{K}_v{V}"


def floor_bytes(B, T, H, K, V):
    return (B * T * H * (2 * K + V) * 2     # q, k, v (bf16)
            + B * T * H * V * 2             # o (bf16)
            + 2 * B * T * H * 4             # g, beta (f32)
            + 2 * B * H * K * V * 4)        # initial and final state (f32)


def copy_bandwidth(dev):
    """Bytes/s of a device-to-device copy, counting bytes read + written."""
    n = 1 << 30                             # 2 GiB of bf16, far above L2
    src = torch.empty(n, dtype=torch.bfloat16, device=dev)
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src))
    del src, dst
    torch.cuda.empty_cache()
    return 2 * n * 2 / (ms * 1e-3)


def make_inputs(B, T, H, K, V, dev, gen):
    bf = torch.bfloat16
    q = torch.randn(B, T, H, K, device=dev, generator=gen).to(bf)
    k = torch.randn(B, T, H, K, device=dev, generator=gen).to(bf)
    v = torch.randn(B, T, H, V, device=dev, generator=gen).to(bf)
    # log decays from -1e-3 to -5, log-uniform; beta in (0, 2), bf16 values.
    u = torch.rand(B, T, H, device=dev, generator=gen)
    g = -torch.exp(math.log(1e-3) + u * (math.log(5.0) - math.log(1e-3)))
    beta = (2 * torch.sigmoid(torch.randn(B, T, H, device=dev, generator=gen))).to(bf)
    h0 = 0.1 * torch.randn(B, H, K, V, device=dev, generator=gen)
    return q, k, v, g, beta, h0


def poisoned_outputs(B, T, H, K, V, dev):
    # An element hyla never writes stays NaN and shows up as non-finite.
    o = torch.full((B, T, H, V), float("nan"), device=dev, dtype=torch.bfloat16)
    s = torch.full((B, H, K, V), float("nan"), device=dev)
    return o, s


def finite(x):
    return bool(torch.isfinite(x).all().item())


def rel_diff(a, b):
    """||a - b|| / ||b|| in f32: hyla vs fla where float64 is too slow."""
    a, b = a.float(), b.float()
    return ((a - b).norm() / b.norm()).item()


def fla_call(fla_rule, q, k, v, g, beta, h0, scale):
    return fla_rule(q, k, v, g, beta, scale=scale, initial_state=h0,
                    output_final_state=True, use_qk_l2norm_in_kernel=True)


def time_shape(m, fn, shape, dev, gen, fla_rule):
    B, T, H, K, V = shape
    scale = K ** -0.5
    q, k, v, g, beta, h0 = make_inputs(B, T, H, K, V, dev, gen)
    beta32 = beta.float()                   # converted once, outside the timing
    o, s = poisoned_outputs(B, T, H, K, V, dev)

    # One call before timing: surfaces errors and checks every element is
    # written at the full length, where no float64 reference is computed.
    m.call(fn, q, k, v, g, beta32, h0, outputs=(o, s))
    torch.cuda.synchronize()
    res = {"hyla_finite": finite(o) and finite(s)}
    res["hyla_ms"] = median_ms(lambda: m.call(fn, q, k, v, g, beta32, h0, outputs=(o, s)))
    if fla_rule:
        fo, fs = fla_call(fla_rule, q, k, v, g, beta, h0, scale)
        torch.cuda.synchronize()
        res["fla_finite"] = finite(fo) and finite(fs)
        res["hyla_vs_fla_o"] = rel_diff(o, fo)
        res["hyla_vs_fla_state"] = rel_diff(s, fs)
        del fo, fs
        res["fla_ms"] = median_ms(lambda: fla_call(fla_rule, q, k, v, g, beta, h0, scale))
    return res


def check_shape(m, fn, shape, T, dev, gen, fla_rule):
    B, _, H, K, V = shape
    scale = K ** -0.5
    q, k, v, g, beta, h0 = make_inputs(B, T, H, K, V, dev, gen)
    o, s = poisoned_outputs(B, T, H, K, V, dev)
    m.call(fn, q, k, v, g, beta.float(), h0, outputs=(o, s))
    torch.cuda.synchronize()

    ro, rs = delta_rule64(l2norm64(q.double()), l2norm64(k.double()), v.double(),
                          g.double(), beta.double(), scale, h0.double())
    res = {"check_tokens": T, "hyla_o": rel_err(o, ro), "hyla_state": rel_err(s, rs),
           "check_hyla_finite": finite(o) and finite(s)}
    if fla_rule:
        fo, fs = fla_call(fla_rule, q, k, v, g, beta, h0, scale)
        res["fla_o"], res["fla_state"] = rel_err(fo, ro), rel_err(fs, rs)
        res["check_fla_finite"] = finite(fo) and finite(fs)
        for out in ("o", "state"):
            fe = res[f"fla_{out}"]
            res[f"hyla_over_fla_{out}"] = res[f"hyla_{out}"] / fe if fe else float("nan")
    return res


def bench_shape(m, i, shape, dev, seed, fla_rule, bandwidth, check_tokens):
    B, T, H, K, V = shape
    fn = function_name(H, K, V)
    gen = torch.Generator(device=dev).manual_seed(seed + i)
    row = {"index": i, "B": B, "T": T, "H": H, "K": K, "V": V, "function": fn}
    row["bytes"] = floor_bytes(B, T, H, K, V)
    row["floor_ms"] = row["bytes"] / bandwidth * 1e3
    print(f"\n[{i}] B={B} T={T} H={H} K={K} V={V}  ({fn})")

    row.update(time_shape(m, fn, shape, dev, gen, fla_rule))
    torch.cuda.empty_cache()
    row["hyla_over_floor"] = row["hyla_ms"] / row["floor_ms"]
    line = f"  hyla {row['hyla_ms']:.3f} ms"
    if fla_rule:
        row["fla_over_hyla"] = row["fla_ms"] / row["hyla_ms"]
        row["fla_over_floor"] = row["fla_ms"] / row["floor_ms"]
        line += f"   fla {row['fla_ms']:.3f} ms   fla/hyla {row['fla_over_hyla']:.2f}x"
    print(line)
    line = (f"  floor {row['floor_ms']:.3f} ms ({row['bytes'] / 1e6:.1f} MB)"
            f"   hyla/floor {row['hyla_over_floor']:.1f}")
    if fla_rule:
        line += f"   fla/floor {row['fla_over_floor']:.1f}"
    print(line)
    line = f"  T={T}: hyla outputs finite: {row['hyla_finite']}"
    if fla_rule:
        line += (f"; fla finite: {row['fla_finite']}; hyla vs fla: o "
                 f"{row['hyla_vs_fla_o']:.2e}, state {row['hyla_vs_fla_state']:.2e}")
    print(line)

    if check_tokens > 0:
        row.update(check_shape(m, fn, shape, check_tokens, dev, gen, fla_rule))
        torch.cuda.empty_cache()
        for out in ("o", "state"):
            line = f"  T={check_tokens} vs float64, {out:<5}: hyla {row[f'hyla_{out}']:.2e}"
            if fla_rule:
                line += (f"   fla {row[f'fla_{out}']:.2e}"
                         f"   hyla/fla {row[f'hyla_over_fla_{out}']:.2f}")
            print(line)
        line = f"  T={check_tokens}: hyla outputs finite: {row['check_hyla_finite']}"
        if fla_rule:
            line += f"; fla finite: {row['check_fla_finite']}"
        print(line)
    return row


def sci(x):
    """1.72e-3 as in docs/perf.md; a dash when not measured."""
    if x is None:
        return "—"
    if math.isnan(x):
        return "nan"
    mant, exp = f"{x:.2e}".split("e")
    return f"{mant}e{int(exp)}"


def ms(x):
    return "—" if x is None else f"{x:.3f}"


def markdown_table(rows):
    lines = ["| shape (B, T, H, K, V) | hyla ms | fla ms | fla/hyla | floor ms "
             "| hyla err o / state | fla err o / state |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        shape = f"{r['B']}, {r['T']}, {r['H']}, {r['K']}, {r['V']}"
        if "error" in r:
            error = " ".join(r["error"].split())[:80].replace("|", "\\|")  # one row
            lines.append(f"| {shape} | {error} | | | | | |")
            continue
        ratio = r.get("fla_over_hyla")
        lines.append(
            f"| {shape} | {ms(r['hyla_ms'])} | {ms(r.get('fla_ms'))} "
            f"| {'—' if ratio is None else f'{ratio:.2f}'} | {ms(r['floor_ms'])} "
            f"| {sci(r.get('hyla_o'))} / {sci(r.get('hyla_state'))} "
            f"| {sci(r.get('fla_o'))} / {sci(r.get('fla_state'))} |")
    return "\n".join(lines)


# Packed variable-length prefill (cu_seqlens): total tokens, sequences.
VARLEN = (8192, 8)


def random_offsets(T, N, gen, dev):
    """N non-empty sequence lengths summing to T (random cut points, so
    sequence starts fall anywhere within a chunk), as int32 offsets [N + 1]."""
    cuts = torch.randperm(T - 1, generator=gen, device=dev)[: N - 1] + 1
    cuts, _ = torch.sort(cuts)
    zero = torch.zeros(1, dtype=torch.long, device=dev)
    end = torch.full((1,), T, dtype=torch.long, device=dev)
    return torch.cat([zero, cuts.long(), end]).to(torch.int32)


def varlen_inputs(T, N, H, K, V, dev, gen):
    q, k, v, g, beta, _ = make_inputs(1, T, H, K, V, dev, gen)
    h0 = 0.1 * torch.randn(N, H, K, V, device=dev, generator=gen)
    return q, k, v, g, beta, h0, random_offsets(T, N, gen, dev)


def varlen_fla(fla_rule, q, k, v, g, beta, h0, cu, scale):
    return fla_rule(q, k, v, g, beta, scale=scale, initial_state=h0,
                    output_final_state=True, use_qk_l2norm_in_kernel=True,
                    cu_seqlens=cu.long())


def bench_varlen(m, dev, seed, fla_rule, check_tokens):
    """hyla's packed-sequence prefill against fla's (cu_seqlens) at VARLEN,
    then both against a float64 recurrence per sequence at check_tokens."""
    T, N = VARLEN
    H, K, V = 30, 96, 192
    scale = K ** -0.5
    fn = "gdr_varlen_h30_k96_v192"
    gen = torch.Generator(device=dev).manual_seed(seed + 100)
    row = {"T": T, "N": N, "H": H, "K": K, "V": V, "function": fn}
    print(f"\n[varlen] T={T} in N={N} sequences, H={H} K={K} V={V}  ({fn})")
    q, k, v, g, beta, h0, cu = varlen_inputs(T, N, H, K, V, dev, gen)
    row["lengths"] = (cu[1:] - cu[:-1]).tolist()
    beta32 = beta.float()
    o, _ = poisoned_outputs(1, T, H, K, V, dev)
    s = torch.full((N, H, K, V), float("nan"), device=dev)
    m.call(fn, q, k, v, g, beta32, h0, cu, outputs=(o, s))
    torch.cuda.synchronize()
    row["hyla_finite"] = finite(o) and finite(s)
    row["hyla_ms"] = median_ms(lambda: m.call(fn, q, k, v, g, beta32, h0, cu, outputs=(o, s)))
    line = f"  lengths {row['lengths']}\n  hyla {row['hyla_ms']:.3f} ms"
    if fla_rule:
        fo, fs = varlen_fla(fla_rule, q, k, v, g, beta, h0, cu, scale)
        torch.cuda.synchronize()
        row["fla_finite"] = finite(fo) and finite(fs)
        row["hyla_vs_fla_o"], row["hyla_vs_fla_state"] = rel_diff(o, fo), rel_diff(s, fs)
        row["fla_ms"] = median_ms(lambda: varlen_fla(fla_rule, q, k, v, g, beta, h0, cu, scale))
        row["fla_over_hyla"] = row["fla_ms"] / row["hyla_ms"]
        line += (f"   fla {row['fla_ms']:.3f} ms   fla/hyla {row['fla_over_hyla']:.2f}x"
                 f"   hyla vs fla: o {row['hyla_vs_fla_o']:.2e}, state "
                 f"{row['hyla_vs_fla_state']:.2e}")
    print(line)
    del q, k, v, g, beta, h0, cu, o, s
    torch.cuda.empty_cache()
    if check_tokens <= 0:
        return row
    # float64: each sequence on its own from its own initial state.
    q, k, v, g, beta, h0, cu = varlen_inputs(check_tokens, N, H, K, V, dev, gen)
    o, _ = poisoned_outputs(1, check_tokens, H, K, V, dev)
    s = torch.full((N, H, K, V), float("nan"), device=dev)
    m.call(fn, q, k, v, g, beta.float(), h0, cu, outputs=(o, s))
    torch.cuda.synchronize()
    qn, kn = l2norm64(q.double()), l2norm64(k.double())
    ro = torch.empty(o.shape, dtype=torch.float64, device=dev)
    rs = torch.empty(s.shape, dtype=torch.float64, device=dev)
    bounds = cu.tolist()
    for n in range(N):
        a, b = bounds[n], bounds[n + 1]
        so, ss = delta_rule64(qn[:, a:b], kn[:, a:b], v[:, a:b].double(),
                              g[:, a:b].double(), beta[:, a:b].double(), scale,
                              h0[n:n + 1].double())
        ro[:, a:b], rs[n] = so, ss[0]
    row.update({"check_tokens": check_tokens, "hyla_o": rel_err(o, ro),
                "hyla_state": rel_err(s, rs), "check_hyla_finite": finite(o) and finite(s)})
    line = (f"  T={check_tokens} vs float64 (lengths {(cu[1:] - cu[:-1]).tolist()}): "
            f"hyla o {row['hyla_o']:.2e} state {row['hyla_state']:.2e}")
    if fla_rule:
        fo, fs = varlen_fla(fla_rule, q, k, v, g, beta, h0, cu, scale)
        row["fla_o"], row["fla_state"] = rel_err(fo, ro), rel_err(fs, rs)
        row["check_fla_finite"] = finite(fo) and finite(fs)
        line += f"   fla o {row['fla_o']:.2e} state {row['fla_state']:.2e}"
    print(line)
    return row


def time_layer_call(label, key, call, chain, o, s, row):
    """Times hyla's `call` (writing o, s, poisoned first) and, given, fla's
    `chain` beside it; fills row[key + "_..."] and prints one line."""
    o.fill_(float("nan"))
    s.fill_(float("nan"))
    call()
    torch.cuda.synchronize()
    row[f"{key}_hyla_finite"] = finite(o) and finite(s)
    row[f"{key}_hyla_ms"] = median_ms(call)
    line = f"  {label}: hyla {row[f'{key}_hyla_ms']:.3f} ms"
    if chain:
        fo, fs = chain()
        torch.cuda.synchronize()
        row[f"{key}_fla_finite"] = finite(fo) and finite(fs)
        row[f"{key}_hyla_vs_fla_o"] = rel_diff(o, fo)
        row[f"{key}_fla_ms"] = median_ms(chain)
        row[f"{key}_fla_over_hyla"] = row[f"{key}_fla_ms"] / row[f"{key}_hyla_ms"]
        line += (f"   fla chain {row[f'{key}_fla_ms']:.3f} ms   fla/hyla "
                 f"{row[f'{key}_fla_over_hyla']:.2f}x   hyla vs fla: o "
                 f"{row[f'{key}_hyla_vs_fla_o']:.2e}")
    print(line)


def bench_layer_core(layer_module, shape, dev, seed, fla_rule):
    """The GDN layer core after the projections (convs + SiLU, q/k norms,
    gates, delta rule: gdn_core of bench/graphs/olmo_gdn_attention.mlir)
    against the same chain from fla (its Triton causal_conv1d, PyTorch
    gates, its delta rule), then with the gated RMSNorm (gdn_layer_core)
    against that chain ending in fla's fused rms_norm_gated, timed.
    Their float64 checks are check_gdn_attention.py's (T=2048)."""
    B, T, H, K, V = shape
    gen = torch.Generator(device=dev).manual_seed(seed + 200)
    o = torch.empty((B, T, H, V), device=dev, dtype=torch.bfloat16)
    s = torch.empty((B, H, K, V), device=dev)
    row = {}
    qr, kr, vr, a, b, weights = gdn_core_inputs(layer_module, B, T, dev, gen)
    time_layer_call(
        "layer core", "layer",
        lambda: layer_module.call("gdn_core", qr, kr, vr, a, b, outputs=(o, s)),
        fla_rule and (lambda: fla_gdn_core(fla_rule, qr, kr, vr, a, b, weights)),
        o, s, row)
    qr, kr, vr, a, b, gate, weights = gdn_layer_inputs(layer_module, B, T, dev, gen)
    time_layer_call(
        "layer core + gated norm", "norm",
        lambda: layer_module.call("gdn_layer_core", qr, kr, vr, a, b, gate,
                                  outputs=(o, s)),
        fla_rule and (lambda: fla_gdn_layer_core(fla_rule, qr, kr, vr, a, b, gate,
                                                 weights)),
        o, s, row)
    return row


def parse_shapes(spec):
    if spec in SHAPE_SETS:
        return list(range(len(SHAPE_SETS[spec])))
    idx = [int(s) for s in spec.split(",") if s.strip()]
    bad = [i for i in idx if not 0 <= i < len(PREFILL)]
    if bad or not idx:
        raise SystemExit(f"--shapes: indices 0..{len(PREFILL) - 1}, "
                         f"'prefill' or 'all'; got {spec!r}")
    return idx


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", required=True, help="module compiled from "
                   "bench/graphs/gdn_bench.mlir")
    p.add_argument("--shapes", default="prefill",
                   help="'prefill' or 'all' (every shape), or comma-separated "
                   "indices into " + ", ".join(f"{i}: {s}" for i, s in enumerate(PREFILL)))
    p.add_argument("--check-tokens", type=int, default=1024,
                   help="sequence length of the float64 check (0: skip it)")
    p.add_argument("--seed", type=int, default=None,
                   help="default: a fresh seed, printed")
    p.add_argument("--no-fla", action="store_true", help="skip the fla peer")
    p.add_argument("--layer-module", help="module compiled from "
                   "bench/graphs/olmo_gdn_attention.mlir: also time the GDN layer "
                   "core (gdn_core) at the H=30 K=96 V=192 shapes")
    p.add_argument("--no-varlen", action="store_true",
                   help="skip the packed-sequence (cu_seqlens) comparison")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()

    indices = parse_shapes(args.shapes)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    dev = torch.device("cuda")
    fla_rule, fla_version = None, None
    if not args.no_fla:
        import fla
        from fla.ops.gated_delta_rule import chunk_gated_delta_rule as fla_rule
        fla_version = getattr(fla, "__version__", None)
    import triton

    m = hyla.Module(args.module)
    m.prepare()
    layer = None
    if args.layer_module:
        layer = hyla.Module(args.layer_module)
        layer.prepare()
    bandwidth = copy_bandwidth(dev)
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"triton {triton.__version__}, fla {fla_version if fla_rule else 'skipped'}")
    print(f"module {args.module} ({m.target}), seed {seed}, "
          f"copy bandwidth {bandwidth / 1e12:.2f} TB/s (read + written)")

    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
               "triton": triton.__version__, "fla": fla_version, "module": args.module,
               "target": m.target, "seed": seed, "date": time.strftime("%Y-%m-%d"),
               "copy_bytes_per_s": bandwidth, "check_tokens": args.check_tokens,
               "shapes": []}
    ok = True
    for i in indices:
        shape = PREFILL[i]
        try:
            row = bench_shape(m, i, shape, dev, seed, fla_rule, bandwidth,
                              args.check_tokens)
            if layer is not None and shape[2:] == (30, 96, 192):
                gc.collect()
                torch.cuda.empty_cache()
                row.update(bench_layer_core(layer, shape, dev, seed + i, fla_rule))
            ok &= all(v for key, v in row.items() if key.endswith("finite"))
        except (torch.cuda.OutOfMemoryError, hyla.HylaError) as e:
            B, T, H, K, V = shape
            row = {"index": i, "B": B, "T": T, "H": H, "K": K, "V": V,
                   "error": f"{type(e).__name__}: {e}"}
            print(f"  failed: {row['error']}")
            ok = False
        results["shapes"].append(row)
        # A failed shape's tensors live in its traceback's frames, released
        # when the except block ends; collect before returning the cache.
        gc.collect()
        torch.cuda.empty_cache()

    if not args.no_varlen:
        try:
            row = bench_varlen(m, dev, seed, fla_rule, args.check_tokens)
            ok &= all(v for key, v in row.items() if key.endswith("finite"))
        except (torch.cuda.OutOfMemoryError, hyla.HylaError) as e:
            row = {"error": f"{type(e).__name__}: {e}"}
            print(f"  failed: {row['error']}")
            ok = False
        results["varlen"] = row
        gc.collect()
        torch.cuda.empty_cache()

    check = (f"errors vs float64 at T={args.check_tokens}" if args.check_tokens > 0
             else "no float64 check")
    print(f"\n{torch.cuda.get_device_name()}, seed {seed}, copy "
          f"{bandwidth / 1e12:.2f} TB/s, {check}\n")
    print(markdown_table(results["shapes"]))
    results["pass"] = ok
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
