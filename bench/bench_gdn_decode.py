#!/usr/bin/env python3
"""hyla's GDN decode against fla, on the GPU, with float64 checks.

Runs the functions of a module compiled from bench/graphs/gdn_decode.mlir:

  core   decode_h30_k96_v192 / decode_h16_k128_v128: the delta rule for T
         new tokens per sequence from an f32 state cache updated in place
         through a slot table (q, k L2-normalized in the kernel), against
         fla's fused_recurrent_gated_delta_rule (use_qk_l2norm_in_kernel)
         on the same inputs, its state gathered to a dense [B, ...] tensor
         beforehand (outside the timing).
  layer  layer_decode_h30_k96_v192: Olmo Hybrid's GDN layer after its
         projections (three cached short convs + SiLU, L2 norms, gates from
         the raw a/b, the delta rule, gated RMSNorm), against fla's chain
         (causal_conv1d_update x3, fused_recurrent with gates, L2 norm and
         beta sigmoid in the kernel, FusedRMSNormGated).

Each row reports median times, eager (triton.testing.do_bench) and replayed
from a CUDA graph of 20 steps, the state traffic (B HV K V x 4 bytes read and
written per token) in TB/s, and the memory floor (all bytes moved over the
device-to-device copy bandwidth measured in the same run). Before timing,
both are checked against a float64 recurrence on fresh random inputs, hyla's
outputs poisoned with NaN; cache slots outside the batch must come back
bit-identical. Then:

  chain     a prefill (gdn_bench.hyla's chunked kernels, T not a multiple
            of 64) followed by decode steps of 1 and 2 tokens gives the
            outputs and state of one float64 recurrence over all tokens;
  bad slot  a slot outside the cache gives NaN outputs for that sequence
            and leaves the cache alone.

  python3 bench/bench_gdn_decode.py --module gdn_decode.hyla
      [--prefill-module gdn_bench.hyla] [--json OUT] [--seed N] [--no-fla]
      [--batches 1,64,256] [--core-only] [--no-timing]

--no-timing runs the checks only (e.g. under compute-sanitizer).

Exit status 1 if a check failed.
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
sys.path.insert(0, HERE)
import hyla  # noqa: E402
from check_gdn_attention import delta_rule64, l2norm64, median_ms, rel_err  # noqa: E402

BF = torch.bfloat16
GRAPH_STEPS = 20
TIMING = True
EPS_NORM = 1e-5
# Float64 checks: hyla's error must be at most this, and no worse than
# twice fla's (i.e. at least half as accurate is the floor we accept).
TOL = 2e-2


def copy_bandwidth(dev):
    n = 1 << 29
    src = torch.empty(n, dtype=BF, device=dev)
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src))
    del src, dst
    torch.cuda.empty_cache()
    return 2 * n * 2 / (ms * 1e-3)


def timed_ms(step):
    return median_ms(step) if TIMING else float("nan")


def graph_ms(step):
    """Median ms of one step replayed from a CUDA graph of GRAPH_STEPS steps,
    or None when the step cannot be captured."""
    if not TIMING:
        return None
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = capture(step, GRAPH_STEPS)
    if g is None:
        return None
    times = []
    start, end = torch.cuda.Event(True), torch.cuda.Event(True)
    for _ in range(30):
        start.record()
        g.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / GRAPH_STEPS)
    times.sort()
    return times[len(times) // 2]


def capture(step, steps):
    """A CUDA graph of `steps` calls of step, or None (reported) when the
    step cannot be captured."""
    try:
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(steps):
                step()
        torch.cuda.synchronize()
        return g
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        print(f"    (CUDA graph capture failed: {e})")
        torch.cuda.synchronize()
        return None


def replay_once(step):
    """Captures one step into a CUDA graph and replays it once (no warm-up
    calls: the step's effects must happen exactly once). False if capture
    fails."""
    g = capture(step, 1)
    if g is None:
        return False
    g.replay()
    torch.cuda.synchronize()
    return True


def finite(x):
    return bool(torch.isfinite(x).all().item())


def rand_decays(shape, dev, gen, lo=1e-3, hi=5.0):
    u = torch.rand(shape, device=dev, generator=gen)
    return -torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))


# ---------------------------------------------------------------- core

def core_inputs(B, T, H, K, V, dev, gen):
    ns = 2 * B + 1                           # the batch is a subset of slots
    q = torch.randn(B, T, H, K, device=dev, generator=gen).to(BF)
    k = torch.randn(B, T, H, K, device=dev, generator=gen).to(BF)
    v = torch.randn(B, T, H, V, device=dev, generator=gen).to(BF)
    g = rand_decays((B, T, H), dev, gen)
    beta = (2 * torch.sigmoid(torch.randn(B, T, H, device=dev, generator=gen))).to(BF).float()
    cache = 0.1 * torch.randn(ns, H, K, V, device=dev, generator=gen)
    slots = torch.randperm(ns, device=dev, generator=gen)[:B].to(torch.int32)
    return q, k, v, g, beta, cache, slots


def fla_core(fla, q, k, v, g, beta, h0, scale):
    return fla.fused_recurrent_gated_delta_rule(
        q, k, v, g=g, beta=beta, scale=scale, initial_state=h0,
        output_final_state=True, use_qk_l2norm_in_kernel=True)


def core_row(m, fla, B, T, H, K, V, dev, gen, bandwidth):
    fn = f"decode_h{H}_k{K}_v{V}"
    scale = K ** -0.5
    q, k, v, g, beta, cache, slots = core_inputs(B, T, H, K, V, dev, gen)
    sl = slots.long()
    row = {"kind": "core", "function": fn, "B": B, "T": T, "H": H, "K": K, "V": V}

    # float64 check
    ro, rs = delta_rule64(l2norm64(q.double()), l2norm64(k.double()), v.double(),
                          g.double(), beta.double(), scale, cache[sl].double())
    c1 = cache.clone()
    o = torch.full(v.shape, float("nan"), dtype=BF, device=dev)
    m.call(fn, q, k, v, g, beta, c1, slots, outputs=(o, c1))
    torch.cuda.synchronize()
    others = torch.ones(cache.shape[0], dtype=torch.bool, device=dev)
    others[sl] = False
    row["hyla_o"], row["hyla_state"] = rel_err(o, ro), rel_err(c1[sl], rs)
    row["untouched_slots_same"] = bool(torch.equal(c1[others], cache[others]))
    ok = finite(o) and row["untouched_slots_same"] and row["hyla_o"] <= TOL \
        and row["hyla_state"] <= TOL
    if fla:
        fo, fs = fla_core(fla, q, k, v, g, beta, cache[sl].contiguous(), scale)
        row["fla_o"], row["fla_state"] = rel_err(fo, ro), rel_err(fs, rs)
        for out in ("o", "state"):
            ok &= row[f"hyla_{out}"] <= max(2 * row[f"fla_{out}"], 1e-6)
    row["ok"] = bool(ok)

    # timing (the cache keeps evolving in place: bounded, |k| = 1, g < 0)
    state_bytes = 2 * B * H * K * V * 4
    io_bytes = B * T * H * (2 * K + 2 * V) * 2 + 2 * B * T * H * 4 + B * 4
    row["floor_ms"] = (state_bytes + io_bytes) / bandwidth * 1e3
    step = lambda: m.call(fn, q, k, v, g, beta, c1, slots, outputs=(o, c1))  # noqa: E731
    row["hyla_ms"] = timed_ms(step)
    row["hyla_graph_ms"] = graph_ms(step)
    if fla:
        h0 = cache[sl].contiguous()
        fstep = lambda: fla_core(fla, q, k, v, g, beta, h0, scale)  # noqa: E731
        row["fla_ms"] = timed_ms(fstep)
        row["fla_graph_ms"] = graph_ms(fstep)
    for who in ("hyla", "fla"):
        t = row.get(f"{who}_graph_ms") or row.get(f"{who}_ms")
        if t:
            row[f"{who}_state_tbs"] = state_bytes / (t * 1e-3) / 1e12
    return row


# ---------------------------------------------------------------- layer

H7, K7, V7 = 30, 96, 192
CQ, CV, W = H7 * K7, H7 * V7, 4


def layer_weights(dev, gen):
    w = {
        "q_conv1d.weight": 0.5 * torch.randn(CQ, W, device=dev, generator=gen),
        "k_conv1d.weight": 0.5 * torch.randn(CQ, W, device=dev, generator=gen),
        "v_conv1d.weight": 0.5 * torch.randn(CV, W, device=dev, generator=gen),
        "A_log": torch.log(torch.empty(H7, device=dev).uniform_(1, 16, generator=gen)),
        "dt_bias": 0.5 * torch.randn(H7, device=dev, generator=gen),
        "o_norm.weight": 1 + 0.1 * torch.randn(V7, device=dev, generator=gen),
    }
    return {n: t.to(BF).contiguous() for n, t in w.items()}


def conv_step64(x, rows, w):
    """x [B,T,C], rows [B,W-1,C] (oldest first), w [C,W]: causal conv + SiLU
    over (rows, x); returns y [B,T,C] and the new rows."""
    full = torch.cat([rows, x], 1)
    T = x.shape[1]
    y = torch.stack([(full[:, t:t + W] * w.t()[None]).sum(1) for t in range(T)], 1)
    return F.silu(y), full[:, -(W - 1):]


def layer_row(m, fla, B, dev, gen, weights, bandwidth):
    T, fn = 1, "layer_decode_h30_k96_v192"
    scale = K7 ** -0.5
    ns = 2 * B + 1
    qp = torch.randn(B, T, CQ, device=dev, generator=gen).to(BF)
    kp = torch.randn(B, T, CQ, device=dev, generator=gen).to(BF)
    vp = torch.randn(B, T, CV, device=dev, generator=gen).to(BF)
    a = torch.randn(B, T, H7, device=dev, generator=gen).to(BF)
    b = torch.randn(B, T, H7, device=dev, generator=gen).to(BF)
    gate = torch.randn(B, T, CV, device=dev, generator=gen).to(BF)
    qc = torch.randn(ns, W - 1, CQ, device=dev, generator=gen).to(BF)
    kc = torch.randn(ns, W - 1, CQ, device=dev, generator=gen).to(BF)
    vc = torch.randn(ns, W - 1, CV, device=dev, generator=gen).to(BF)
    cache = 0.1 * torch.randn(ns, H7, K7, V7, device=dev, generator=gen)
    slots = torch.randperm(ns, device=dev, generator=gen)[:B].to(torch.int32)
    sl = slots.long()
    row = {"kind": "layer", "function": fn, "B": B, "T": T}

    # float64 reference
    w64 = {n: t.double() for n, t in weights.items()}
    q64, _ = conv_step64(qp.double(), qc[sl].double(), w64["q_conv1d.weight"])
    k64, _ = conv_step64(kp.double(), kc[sl].double(), w64["k_conv1d.weight"])
    v64, _ = conv_step64(vp.double(), vc[sl].double(), w64["v_conv1d.weight"])
    g64 = -torch.exp(w64["A_log"]) * F.softplus(a.double() + w64["dt_bias"])
    beta64 = 2 * torch.sigmoid(b.double())
    o64, s64 = delta_rule64(l2norm64(q64.view(B, T, H7, K7)), l2norm64(k64.view(B, T, H7, K7)),
                            v64.view(B, T, H7, V7), g64, beta64, scale, cache[sl].double())
    gate64 = gate.double().view(B, T, H7, V7)
    y64 = (o64 * torch.rsqrt((o64 * o64).mean(-1, keepdim=True) + EPS_NORM)
           * w64["o_norm.weight"] * F.silu(gate64)).reshape(B, T, CV)

    caches = [qc.clone(), kc.clone(), vc.clone(), cache.clone()]
    y = torch.full((B, T, CV), float("nan"), dtype=BF, device=dev)
    outs = (y, *caches)
    m.call(fn, qp, kp, vp, a, b, gate, *caches, slots, outputs=outs)
    torch.cuda.synchronize()
    row["hyla_y"] = rel_err(y, y64)
    row["hyla_state"] = rel_err(caches[3][sl], s64)
    rows_ok = all(torch.equal(c[sl], torch.cat([old[sl][:, 1:], x], 1))
                  for c, old, x in ((caches[0], qc, qp), (caches[1], kc, kp), (caches[2], vc, vp)))
    row["conv_caches_exact"] = bool(rows_ok)
    ok = finite(y) and rows_ok and row["hyla_y"] <= TOL and row["hyla_state"] <= TOL

    if fla:
        norm = fla.FusedRMSNormGated(V7, eps=EPS_NORM).to(dev)
        with torch.no_grad():
            norm.weight.copy_(weights["o_norm.weight"].float())
        wq, wk, wv = (weights[n] for n in ("q_conv1d.weight", "k_conv1d.weight", "v_conv1d.weight"))
        a_log, dt_bias = weights["A_log"].float(), weights["dt_bias"].float()

        def fla_cache(c):             # [B, C, W]; column 0 is dropped by the step
            out = torch.zeros(B, c.shape[2], W, dtype=BF, device=dev)
            out[:, :, 1:] = c[sl].transpose(1, 2)
            return out
        fqc, fkc, fvc = fla_cache(qc), fla_cache(kc), fla_cache(vc)
        h0 = cache[sl].contiguous()

        def fla_chain():
            q, _ = fla.causal_conv1d_update(qp, fqc, weight=wq, activation="silu")
            k, _ = fla.causal_conv1d_update(kp, fkc, weight=wk, activation="silu")
            v, _ = fla.causal_conv1d_update(vp, fvc, weight=wv, activation="silu")
            o, s = fla.fused_recurrent_gated_delta_rule(
                q.view(B, T, H7, K7), k.view(B, T, H7, K7), v.view(B, T, H7, V7),
                g=a, beta=b, A_log=a_log, dt_bias=dt_bias, scale=scale,
                initial_state=h0, output_final_state=True,
                use_qk_l2norm_in_kernel=True, use_gate_in_kernel=True,
                use_beta_sigmoid_in_kernel=True, allow_neg_eigval=True)
            with torch.no_grad():
                return norm(o, gate.view(B, T, H7, V7)).reshape(B, T, CV), s
        fy, fs = fla_chain()
        torch.cuda.synchronize()
        row["fla_y"], row["fla_state"] = rel_err(fy, y64), rel_err(fs, s64)
        for out in ("y", "state"):
            ok &= row[f"hyla_{out}"] <= max(2 * row[f"fla_{out}"], 1e-6)
        row["fla_ms"] = timed_ms(fla_chain)
        row["fla_graph_ms"] = graph_ms(fla_chain)
    row["ok"] = bool(ok)

    step = lambda: m.call(fn, qp, kp, vp, a, b, gate, *caches, slots, outputs=outs)  # noqa: E731
    # The same step replayed once from a CUDA graph (kernels launched
    # programmatically, overlapping the one before) from the original caches.
    for c, orig in zip(caches, (qc, kc, vc, cache)):
        c.copy_(orig)
    y.fill_(float("nan"))
    if replay_once(step):
        row["hyla_graph_y"] = rel_err(y, y64)
        row["hyla_graph_state"] = rel_err(caches[3][sl], s64)
        ok &= finite(y) and row["hyla_graph_y"] <= TOL and row["hyla_graph_state"] <= TOL
        row["ok"] = bool(ok)
    row["hyla_ms"] = timed_ms(step)
    row["hyla_graph_ms"] = graph_ms(step)
    # Side by side: the same graph without programmatic launch.
    m.set_programmatic_launch(False)
    row["hyla_graph_serial_ms"] = graph_ms(step)
    m.set_programmatic_launch(True)
    state_bytes = 2 * B * H7 * K7 * V7 * 4
    io_bytes = B * (2 * CQ + 3 * CV + 2 * H7) * 2 + 2 * B * (W - 1) * (2 * CQ + CV) * 2
    row["floor_ms"] = (state_bytes + io_bytes) / bandwidth * 1e3
    return row


# ---------------------------------------------------------------- chain

def chain_check(m, pm, dev, gen):
    """Prefill of 300 tokens (chunked kernels) then decode steps of 1 and 2
    tokens, against one float64 recurrence over all 303 tokens."""
    B, T0, H, K, V = 2, 300, H7, K7, V7
    scale = K ** -0.5
    T = T0 + 3
    q = torch.randn(B, T, H, K, device=dev, generator=gen).to(BF)
    k = torch.randn(B, T, H, K, device=dev, generator=gen).to(BF)
    v = torch.randn(B, T, H, V, device=dev, generator=gen).to(BF)
    g = rand_decays((B, T, H), dev, gen, 1e-4, 20.0)      # down to -20
    beta = (2 * torch.sigmoid(torch.randn(B, T, H, device=dev, generator=gen))).to(BF).float()
    h0 = 0.1 * torch.randn(B, H, K, V, device=dev, generator=gen)
    ro, rs = delta_rule64(l2norm64(q.double()), l2norm64(k.double()), v.double(),
                          g.double(), beta.double(), scale, h0.double())
    o = torch.full((B, T, H, V), float("nan"), dtype=BF, device=dev)
    po = torch.empty(B, T0, H, V, dtype=BF, device=dev)
    state = torch.empty(B, H, K, V, device=dev)
    pm.call(f"gdr_h{H}_k{K}_v{V}", q[:, :T0].contiguous(), k[:, :T0].contiguous(),
            v[:, :T0].contiguous(), g[:, :T0].contiguous(), beta[:, :T0].contiguous(), h0,
            outputs=(po, state))
    o[:, :T0] = po
    # The cache holds the two sequences in swapped slots.
    cache = state[[1, 0]].contiguous()
    slots = torch.tensor([1, 0], dtype=torch.int32, device=dev)
    for t0, t1 in ((T0, T0 + 1), (T0 + 1, T)):
        step_o = torch.full((B, t1 - t0, H, V), float("nan"), dtype=BF, device=dev)
        m.call(f"decode_h{H}_k{K}_v{V}", *(x[:, t0:t1].contiguous() for x in (q, k, v, g, beta)),
               cache, slots, outputs=(step_o, cache))
        o[:, t0:t1] = step_o
    torch.cuda.synchronize()
    res = {"chain_tokens": T, "chain_o_all": rel_err(o, ro),
           "chain_o_decoded": rel_err(o[:, T0:], ro[:, T0:]),
           "chain_state": rel_err(cache[[1, 0]], rs)}
    res["chain_ok"] = bool(finite(o) and all(res[x] <= TOL for x in
                                             ("chain_o_all", "chain_o_decoded", "chain_state")))
    return res


def bad_slot_check(m, dev, gen):
    B, T, H, K, V = 2, 1, H7, K7, V7
    q, k, v, g, beta, cache, _ = core_inputs(B, T, H, K, V, dev, gen)
    ns = cache.shape[0]
    slots = torch.tensor([ns, 0], dtype=torch.int32, device=dev)   # 1st is outside
    c1 = cache.clone()
    o = torch.zeros(v.shape, dtype=BF, device=dev)
    m.call(f"decode_h{H}_k{K}_v{V}", q, k, v, g, beta, c1, slots, outputs=(o, c1))
    torch.cuda.synchronize()
    res = {"bad_slot_output_nan": bool(torch.isnan(o[0].float()).all().item()),
           "good_slot_output_finite": finite(o[1]),
           "other_slots_same": bool(torch.equal(c1[1:], cache[1:]))}
    res["bad_slot_ok"] = all(res.values())
    return res


# ---------------------------------------------------------------- main

def load_fla():
    try:
        import fla as fla_pkg  # noqa: F401
        from fla.modules import FusedRMSNormGated
        from fla.modules.convolution import causal_conv1d_update
        from fla.ops.gated_delta_rule import fused_recurrent_gated_delta_rule
    except Exception as e:  # noqa: BLE001
        print(f"fla not available: {e}")
        return None

    class Fla:
        pass
    f = Fla()
    f.FusedRMSNormGated = FusedRMSNormGated
    f.causal_conv1d_update = causal_conv1d_update
    f.fused_recurrent_gated_delta_rule = fused_recurrent_gated_delta_rule
    return f


def fmt(x, spec=".3f"):
    return "-" if x is None else format(x * 1e3, ".1f") + " us" if spec == "us" else format(x, spec)


def print_row(r):
    who = ["hyla"] + (["fla"] if "fla_ms" in r else [])
    head = f"  {r['kind']:<5} B={r['B']:<3} T={r['T']} {r['function']}"
    print(head)
    for w in who:
        line = (f"    {w:<4} eager {fmt(r[w + '_ms'], 'us'):>10}   graph "
                f"{fmt(r.get(w + '_graph_ms'), 'us'):>10}")
        if f"{w}_state_tbs" in r:
            line += f"   state {r[w + '_state_tbs']:.2f} TB/s"
        if r.get(f"{w}_graph_serial_ms"):
            line += f"   (graph without programmatic launch {fmt(r[w + '_graph_serial_ms'], 'us')})"
        print(line)
    best = lambda w: r.get(w + "_graph_ms") or r[w + "_ms"]  # noqa: E731
    line = f"    floor {r['floor_ms'] * 1e3:.1f} us   hyla/floor {best('hyla') / r['floor_ms']:.1f}"
    if "fla_ms" in r:
        line += f"   fla/hyla {best('fla') / best('hyla'):.2f}x"
    print(line)
    errs = "   ".join(f"{k} {v:.2e}" for k, v in r.items()
                      if k.startswith(("hyla_o", "hyla_y", "hyla_state", "fla_o", "fla_y", "fla_state"))
                      and isinstance(v, float))
    print(f"    vs float64: {errs}   ok {r['ok']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", required=True)
    ap.add_argument("--prefill-module")
    ap.add_argument("--json")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--batches", default="1,64,256")
    ap.add_argument("--no-fla", action="store_true")
    ap.add_argument("--core-only", action="store_true")
    ap.add_argument("--no-timing", action="store_true")
    args = ap.parse_args()
    global TIMING
    TIMING = not args.no_timing

    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    torch.manual_seed(args.seed)
    print(f"device {torch.cuda.get_device_name()}, seed {args.seed}, module {args.module}")
    m = hyla.Module(args.module)
    m.prepare(0)
    fla = None if args.no_fla else load_fla()
    bandwidth = copy_bandwidth(dev) if TIMING else float("nan")
    print(f"copy bandwidth {bandwidth / 1e12:.2f} TB/s")
    batches = [int(b) for b in args.batches.split(",")]
    rows, ok = [], True

    print("\ncore (delta rule from the cache, T new tokens per sequence)")
    spec_b = 64 if 64 in batches else batches[0]   # speculative verification
    shapes = [(b, 1, 30, 96, 192) for b in batches] + [(spec_b, 4, 30, 96, 192)]
    shapes += [(b, 1, 16, 128, 128) for b in batches if b >= 64]
    for shape in shapes:
        r = core_row(m, fla, *shape, dev, gen, bandwidth)
        print_row(r)
        rows.append(r)
        ok &= r["ok"]

    extra = {}
    if not args.core_only:
        weights = layer_weights(dev, gen)
        for n, t in weights.items():
            m.bind_weight(n, t)
        print("\nlayer (Olmo Hybrid GDN layer after the projections, T=1)")
        for b in batches:
            r = layer_row(m, fla, b, dev, gen, weights, bandwidth)
            print_row(r)
            rows.append(r)
            ok &= r["ok"]
        if args.prefill_module:
            pm = hyla.Module(args.prefill_module)
            pm.prepare(0)
            extra.update(chain_check(m, pm, dev, gen))
            print(f"\nprefill 300 + decode 1 + 2 tokens vs one float64 recurrence: "
                  f"o {extra['chain_o_all']:.2e} (decoded {extra['chain_o_decoded']:.2e}), "
                  f"state {extra['chain_state']:.2e}   ok {extra['chain_ok']}")
            ok &= extra["chain_ok"]
        extra.update(bad_slot_check(m, dev, gen))
        print(f"slot outside the cache: output NaN {extra['bad_slot_output_nan']}, "
              f"other sequence finite {extra['good_slot_output_finite']}, "
              f"cache untouched elsewhere {extra['other_slots_same']}   ok {extra['bad_slot_ok']}")
        ok &= extra["bad_slot_ok"]

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "seed": args.seed,
                       "module": args.module, "copy_bandwidth": bandwidth,
                       "rows": rows, **extra, "ok": bool(ok)}, f, indent=1)
    print("\nALL OK" if ok else "\nFAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
