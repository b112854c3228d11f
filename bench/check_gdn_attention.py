#!/usr/bin/env python3
"""hyla's GDN core, delta rule and attention on the GPU against float64.

Runs the functions of a module compiled from bench/graphs/olmo_gdn_attention.mlir
through the hyla runtime (Python wrapper, PyTorch tensors, one stream) at
Olmo Hybrid 7B's shapes, on fresh random inputs every run, and reports
||out - ref|| / ||ref|| against float64 references computed with PyTorch,
with the peer measured on the same inputs beside it:

  gated_delta_rule  hyla vs fla's chunk_gated_delta_rule (Triton)
  gdn_core          hyla (conv+SiLU, L2 norm, gates, delta rule) vs the
                    same chain with fla's causal_conv1d (Triton), PyTorch
                    gates and fla's delta rule
  attention         hyla vs PyTorch SDPA on the cuDNN backend
  linear            hyla's GEMM (x W^T, 3840 -> 11008) vs torch.matmul (cuBLAS)

hyla's outputs are poisoned with NaN before each call, so an unwritten
element fails the check. Median times (triton.testing.do_bench) are printed
for information; speed is not what this script checks.

  python3 bench/check_gdn_attention.py --module bench.hyla [--tokens 2048]
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import hyla  # noqa: E402

H, K, V = 30, 96, 192          # GDN heads, key dim, value dim
HA, D = 30, 128                # attention heads, head dim
LIN_K, LIN_N = 3840, 11008     # hidden size, MLP width (the linear check)
CONV = 4


def rel_err(out, ref):
    out = out.double()
    if not torch.isfinite(out).all():
        return float("nan")
    return ((out - ref).norm() / ref.norm()).item()


def median_ms(fn):
    import triton.testing
    return triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median")


# ---------------------------------------------------------------- references

def l2norm64(x):
    return x / torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-6)


def delta_rule64(q, k, v, g, beta, scale, h0):
    """Token-by-token gated delta rule in float64. q,k [B,T,H,K] (normalized),
    v [B,T,H,V], g/beta [B,T,H], h0 [B,H,K,V]."""
    B, T = q.shape[:2]
    s = h0.clone()
    o = torch.empty(v.shape, dtype=torch.float64, device=v.device)
    for t in range(T):
        s = s * torch.exp(g[:, t])[..., None, None]
        kt = k[:, t]
        kv = torch.einsum("bhkv,bhk->bhv", s, kt)
        d = beta[:, t, :, None] * (v[:, t] - kv)
        s = s + kt[..., :, None] * d[..., None, :]
        o[:, t] = torch.einsum("bhkv,bhk->bhv", s, q[:, t] * scale)
    return o, s


def conv_silu64(x, w):
    """Depthwise causal conv1d + SiLU. x [B,T,C], w [C,1,W]."""
    C, W = w.shape[0], w.shape[-1]
    y = F.conv1d(x.transpose(1, 2), w, padding=W - 1, groups=C)[..., : x.shape[1]]
    return F.silu(y.transpose(1, 2))


def gates64(a, b, a_log, dt_bias):
    g = -torch.exp(a_log) * F.softplus(a + dt_bias)
    beta = 2.0 * torch.sigmoid(b)
    return g, beta


# ---------------------------------------------------------------- checks

def check_delta_rule(m, B, T, dev, gen, fla_rule):
    scale = K ** -0.5
    bf = torch.bfloat16
    q = torch.randn(B, T, H, K, device=dev, generator=gen).to(bf)
    k = torch.randn(B, T, H, K, device=dev, generator=gen).to(bf)
    v = torch.randn(B, T, H, V, device=dev, generator=gen).to(bf)
    # log decays from -1e-3 to -5, log-uniform; beta in (0, 2), bf16 values.
    u = torch.rand(B, T, H, device=dev, generator=gen)
    g = -torch.exp(math.log(1e-3) + u * (math.log(5.0) - math.log(1e-3)))
    beta = (2 * torch.sigmoid(torch.randn(B, T, H, device=dev, generator=gen))).to(bf).float()
    h0 = 0.1 * torch.randn(B, H, K, V, device=dev, generator=gen)

    o = torch.full((B, T, H, V), float("nan"), device=dev, dtype=bf)
    s = torch.full((B, H, K, V), float("nan"), device=dev)
    m.call("gated_delta_rule", q, k, v, g, beta, h0, outputs=(o, s))
    torch.cuda.synchronize()

    ro, rs = delta_rule64(l2norm64(q.double()), l2norm64(k.double()), v.double(),
                          g.double(), beta.double(), scale, h0.double())
    res = {"hyla_o": rel_err(o, ro), "hyla_state": rel_err(s, rs)}
    res["hyla_ms"] = median_ms(lambda: m.call("gated_delta_rule", q, k, v, g, beta, h0,
                                              outputs=(o, s)))
    if fla_rule:
        fo, fs = fla_rule(q, k, v, g, beta.to(bf), scale=scale, initial_state=h0,
                          output_final_state=True, use_qk_l2norm_in_kernel=True)
        res["fla_o"], res["fla_state"] = rel_err(fo, ro), rel_err(fs, rs)
        res["fla_ms"] = median_ms(lambda: fla_rule(
            q, k, v, g, beta.to(bf), scale=scale, initial_state=h0,
            output_final_state=True, use_qk_l2norm_in_kernel=True))
    return res


def gdn_core_inputs(m, B, T, dev, gen):
    """Raw projection outputs for gdn_core (q, k, v before the convs; the
    gate inputs a, b) and its weights, bound to the module by name."""
    bf = torch.bfloat16
    qr = torch.randn(B, T, H * K, device=dev, generator=gen).to(bf)
    kr = torch.randn(B, T, H * K, device=dev, generator=gen).to(bf)
    vr = torch.randn(B, T, H * V, device=dev, generator=gen).to(bf)
    a = torch.randn(B, T, H, device=dev, generator=gen).to(bf)
    b = torch.randn(B, T, H, device=dev, generator=gen).to(bf)
    weights = {
        "q_conv1d.weight": 0.5 * torch.randn(H * K, 1, CONV, device=dev, generator=gen),
        "k_conv1d.weight": 0.5 * torch.randn(H * K, 1, CONV, device=dev, generator=gen),
        "v_conv1d.weight": 0.5 * torch.randn(H * V, 1, CONV, device=dev, generator=gen),
        # As transformers initializes them: A in [1, 16], dt in [1e-3, 0.1].
        "A_log": torch.log(1 + 15 * torch.rand(H, device=dev, generator=gen)),
        "dt_bias": None,
    }
    dt = torch.exp(math.log(1e-3) + torch.rand(H, device=dev, generator=gen)
                   * (math.log(0.1) - math.log(1e-3)))
    weights["dt_bias"] = dt + torch.log(-torch.expm1(-dt))
    weights = {n: w.to(bf).contiguous() for n, w in weights.items()}
    for n, w in weights.items():
        m.bind_weight(n, w)
    return qr, kr, vr, a, b, weights


def fla_gdn_core(fla_rule, qr, kr, vr, a, b, weights):
    """The same layer core from fla's modules: its short convolution
    (Triton causal_conv1d with SiLU, as fla's ShortConvolution runs it), the
    gates in PyTorch, fla's delta rule."""
    from fla.modules.convolution import causal_conv1d
    B, T = qr.shape[:2]

    def conv(x, w):
        y, _ = causal_conv1d(x, w.view(w.shape[0], -1), activation="silu",
                             backend="triton")
        return y
    q = conv(qr, weights["q_conv1d.weight"]).reshape(B, T, H, K)
    k = conv(kr, weights["k_conv1d.weight"]).reshape(B, T, H, K)
    v = conv(vr, weights["v_conv1d.weight"]).reshape(B, T, H, V)
    g = -weights["A_log"].float().exp() * F.softplus(a.float() + weights["dt_bias"].float())
    beta = (b.sigmoid() * 2).to(torch.bfloat16)
    return fla_rule(q, k, v, g, beta, scale=K ** -0.5, output_final_state=True,
                    use_qk_l2norm_in_kernel=True)


def gdn_layer_inputs(m, B, T, dev, gen):
    """gdn_core_inputs plus the output gate (g_proj's output, raw) and the
    gated RMSNorm's weight for gdn_layer_core."""
    qr, kr, vr, a, b, weights = gdn_core_inputs(m, B, T, dev, gen)
    gate = torch.randn(B, T, H * V, device=dev, generator=gen).to(torch.bfloat16)
    weights["o_norm.weight"] = (1 + 0.2 * torch.randn(V, device=dev, generator=gen)
                                ).to(torch.bfloat16)
    m.bind_weight("o_norm.weight", weights["o_norm.weight"])
    return qr, kr, vr, a, b, gate, weights


def gated_rms_norm64(x, gate, w, eps=1e-6):
    return w * x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * F.silu(gate)


def fla_gdn_layer_core(fla_rule, qr, kr, vr, a, b, gate, weights):
    """fla_gdn_core followed by fla's fused gated RMSNorm (Triton)."""
    from fla.modules.fused_norm_gate import rms_norm_gated
    o, s = fla_gdn_core(fla_rule, qr, kr, vr, a, b, weights)
    B, T = qr.shape[:2]
    y = rms_norm_gated(o, gate.view(B, T, H, V), weights["o_norm.weight"], None,
                       activation="swish", eps=1e-6)
    return y, s


def gdn_core64(qr, kr, vr, a, b, weights):
    """gdn_core in float64: output and final state."""
    B, T = qr.shape[:2]
    d = lambda t: t.double()
    q64 = conv_silu64(d(qr), d(weights["q_conv1d.weight"])).view(B, T, H, K)
    k64 = conv_silu64(d(kr), d(weights["k_conv1d.weight"])).view(B, T, H, K)
    v64 = conv_silu64(d(vr), d(weights["v_conv1d.weight"])).view(B, T, H, V)
    g64, beta64 = gates64(d(a), d(b), d(weights["A_log"]), d(weights["dt_bias"]))
    return delta_rule64(l2norm64(q64), l2norm64(k64), v64, g64, beta64, K ** -0.5,
                        torch.zeros(B, H, K, V, dtype=torch.float64, device=qr.device))


def check_gdn_layer(m, B, T, dev, gen, fla_rule, with_norm):
    """gdn_core, or with_norm gdn_layer_core (its output through the gated
    RMSNorm), against float64 and fla's chain."""
    if with_norm:
        qr, kr, vr, a, b, gate, weights = gdn_layer_inputs(m, B, T, dev, gen)
        inputs, fn = (qr, kr, vr, a, b, gate), "gdn_layer_core"
        chain = lambda: fla_gdn_layer_core(fla_rule, qr, kr, vr, a, b, gate, weights)
    else:
        qr, kr, vr, a, b, weights = gdn_core_inputs(m, B, T, dev, gen)
        inputs, fn = (qr, kr, vr, a, b), "gdn_core"
        chain = lambda: fla_gdn_core(fla_rule, qr, kr, vr, a, b, weights)
    o = torch.full((B, T, H, V), float("nan"), device=dev, dtype=torch.bfloat16)
    s = torch.full((B, H, K, V), float("nan"), device=dev)
    call = lambda: m.call(fn, *inputs, outputs=(o, s))
    call()
    torch.cuda.synchronize()
    ro, rs = gdn_core64(qr, kr, vr, a, b, weights)
    if with_norm:
        ro = gated_rms_norm64(ro, gate.double().view(B, T, H, V),
                              weights["o_norm.weight"].double())
    res = {"hyla_o": rel_err(o, ro), "hyla_state": rel_err(s, rs),
           "hyla_ms": median_ms(call)}
    if fla_rule:
        fo, fs = chain()
        res["fla_o"], res["fla_state"] = rel_err(fo, ro), rel_err(fs, rs)
        res["fla_ms"] = median_ms(chain)
    return res


def check_attention(m, B, T, dev, gen):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    bf = torch.bfloat16
    q = torch.randn(B, T, HA, D, device=dev, generator=gen).to(bf)
    k = torch.randn(B, T, HA, D, device=dev, generator=gen).to(bf)
    v = torch.randn(B, T, HA, D, device=dev, generator=gen).to(bf)
    o = torch.full((B, T, HA, D), float("nan"), device=dev, dtype=bf)
    m.call("attention", q, k, v, outputs=(o,))
    torch.cuda.synchronize()
    t = lambda x: x.transpose(1, 2)
    with sdpa_kernel(SDPBackend.MATH):
        ref = t(F.scaled_dot_product_attention(t(q.double()), t(k.double()),
                                               t(v.double()), is_causal=True))
    res = {"hyla_o": rel_err(o, ref)}
    res["hyla_ms"] = median_ms(lambda: m.call("attention", q, k, v, outputs=(o,)))
    qt, kt, vt = t(q).contiguous(), t(k).contiguous(), t(v).contiguous()
    try:
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            c = F.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
            res["cudnn_o"] = rel_err(t(c), ref)
            res["cudnn_ms"] = median_ms(
                lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=True))
    except RuntimeError as e:
        res["cudnn_error"] = str(e)[:200]
    return res


def check_linear(m, B, T, dev, gen):
    bf = torch.bfloat16
    x = torch.randn(B, T, LIN_K, device=dev, generator=gen).to(bf)
    w = (torch.randn(LIN_N, LIN_K, device=dev, generator=gen) * LIN_K ** -0.5).to(bf)
    y = torch.full((B, T, LIN_N), float("nan"), device=dev, dtype=bf)
    m.call("linear", x, w, outputs=(y,))
    torch.cuda.synchronize()
    ref = x.double() @ w.double().t()
    res = {"hyla_o": rel_err(y, ref)}
    res["hyla_ms"] = median_ms(lambda: m.call("linear", x, w, outputs=(y,)))
    wt = w.t()
    c = torch.matmul(x, wt)
    res["cublas_o"] = rel_err(c, ref)
    res["cublas_ms"] = median_ms(lambda: torch.matmul(x, wt))
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", required=True, help="module compiled from "
                   "bench/graphs/olmo_gdn_attention.mlir")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--tokens", type=int, default=2048)
    p.add_argument("--seed", type=int, default=None,
                   help="default: a fresh seed, printed")
    p.add_argument("--no-fla", action="store_true", help="skip the fla peer")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--only", help="comma-separated checks to run (default: "
                   "all of gated_delta_rule, gdn_core, gdn_layer_core, "
                   "attention, linear)")
    args = p.parse_args()

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(seed)
    fla_rule = None
    if not args.no_fla:
        from fla.ops.gated_delta_rule import chunk_gated_delta_rule as fla_rule

    m = hyla.Module(args.module)
    m.prepare()
    B, T = args.batch, args.tokens
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"B={B} T={T}, seed {seed}")

    results = {"device": torch.cuda.get_device_name(), "batch": B, "tokens": T,
               "seed": seed, "date": time.strftime("%Y-%m-%d")}
    checks = {
        "gated_delta_rule": lambda: check_delta_rule(m, B, T, dev, gen, fla_rule),
        "gdn_core": lambda: check_gdn_layer(m, B, T, dev, gen, fla_rule, False),
        "gdn_layer_core": lambda: check_gdn_layer(m, B, T, dev, gen, fla_rule, True),
        "attention": lambda: check_attention(m, B, T, dev, gen),
        "linear": lambda: check_linear(m, B, T, dev, gen),
    }
    only = args.only.split(",") if args.only else list(checks)
    unknown = [c for c in only if c not in checks]
    if unknown:
        raise SystemExit(f"--only: unknown checks {unknown}; known: {list(checks)}")
    for name in only:
        results[name] = checks[name]()

    ok = True
    print(f"\n{'check':<18}{'output':<8}{'hyla err':>11}{'peer err':>11}"
          f"{'hyla ms':>10}{'peer ms':>10}  verdict")
    for name, peer in (("gated_delta_rule", "fla"), ("gdn_core", "fla"),
                       ("gdn_layer_core", "fla"), ("attention", "cudnn"),
                       ("linear", "cublas")):
        if name not in results:
            continue
        r = results[name]
        for out in ("o", "state"):
            if f"hyla_{out}" not in r:
                continue
            he, pe = r[f"hyla_{out}"], r.get(f"{peer}_{out}", float("nan"))
            # Under 1e-2 of float64, and for GDN no worse than 2x fla.
            good = he < 1e-2 and (not name.startswith("g") or math.isnan(pe) or he <= 2 * pe)
            ok &= good
            print(f"{name:<18}{out:<8}{he:>11.3e}{pe:>11.3e}{r['hyla_ms']:>10.3f}"
                  f"{r.get(peer + '_ms', float('nan')):>10.3f}  {'PASS' if good else 'FAIL'}")
    results["pass"] = ok
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
