#!/usr/bin/env python3
"""hyla's attention (prefill and decode) against float64, beside PyTorch SDPA.

Runs modules compiled from bench/graphs/attention.mlir (several variants of
hylac flags can be compared in one run: --module NAME=PATH, repeatable)
through the hyla runtime, on fresh random bf16 inputs every run:

  prefill  causal, head dim 128: B8 T4096 H32, B1 T16384 H32, Olmo Hybrid's
           B1 T8192 H30. hyla vs SDPA on the cuDNN and flash backends, same
           inputs; error of each against float64; median ms and TFLOP/s.
  edges    T=1, T=1000 (not a multiple of any tile), B=2 T=130: errors vs
           float64 beside cuDNN's (hyla must be within 1.5x of cuDNN's).
  varlen   sequences of random lengths packed along the tokens of one row
           (cu_seqlens): T=1000 in 5 (a check) and T=8192 in 8 sequences
           (timed), H30; errors against float64 per sequence beside cuDNN
           run on each sequence, whose loop over the sequences is the
           timed peer.
  decode   one new token per sequence over a KV cache (hyla.attention_cached:
           append, split-KV partials, combine): random slots and lengths
           against float64 (untouched cache positions checked), a bad length
           (NaN outputs, caches untouched), then B 1/32/128 at contexts 4k
           and 32k: median ms, bytes of KV read per second against the
           measured copy bandwidth, SDPA flash/cuDNN on the same cache
           (strided views, no copy) with one query per sequence.

hyla's outputs are poisoned with NaN before each checked call. Timings are
triton.testing.do_bench medians.

  python3 bench/bench_attention.py --module default=.device/attn.hyla \
      [--module m0=.device/attn_m0.hyla] [--only prefill,edges,varlen,decode]
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
from check_gdn_attention import median_ms, rel_err  # noqa: E402
from bench_gdn_decode import copy_bandwidth  # noqa: E402
from bench_gdn import random_offsets  # noqa: E402

BF = torch.bfloat16
D = 128
SCALE = D ** -0.5
PREFILL = [(8, 4096, 32), (1, 16384, 32), (1, 8192, 30)]
EDGES = [(1, 1, 30), (1, 1000, 30), (2, 130, 30)]
VARLEN = [(1000, 5, False), (8192, 8, True)]  # tokens, sequences, timed
DECODE = [(1, 4096), (32, 4096), (128, 4096), (1, 32768), (32, 32768),
          (128, 32768)]
ERR_RATIO = 1.5        # hyla's error may be at most this times cuDNN's
ERR_FLOOR = 1e-5       # ... or this, where cuDNN is exact (T=1)


def causal_ref64(q, k, v, chunk=2048):
    """Causal softmax attention in float64, [B,T,H,D] in and out, query rows
    in chunks so that T=16384 fits."""
    B, T, H, _ = q.shape
    out = torch.empty(q.shape, dtype=torch.float64, device=q.device)
    for b in range(B):
        for h in range(H):
            kk = k[b, :, h].double()
            vv = v[b, :, h].double()
            for t0 in range(0, T, chunk):
                t1 = min(T, t0 + chunk)
                s = (q[b, t0:t1, h].double() @ kk[:t1].T) * SCALE
                mask = torch.arange(t1, device=q.device)[None, :] > \
                    torch.arange(t0, t1, device=q.device)[:, None]
                s.masked_fill_(mask, float("-inf"))
                out[b, t0:t1, h] = torch.softmax(s, -1) @ vv[:t1]
    return out


def sdpa(backend, q, k, v, causal):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    be = {"cudnn": SDPBackend.CUDNN_ATTENTION,
          "flash": SDPBackend.FLASH_ATTENTION}[backend]
    with sdpa_kernel(be):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def peers_prefill(q, k, v, ref, res, timing):
    t = lambda x: x.transpose(1, 2)  # noqa: E731
    qt, kt, vt = t(q), t(k), t(v)
    for be in ("cudnn", "flash"):
        try:
            o = sdpa(be, qt, kt, vt, True)
            res[f"{be}_err"] = rel_err(t(o), ref)
            if timing:
                res[f"{be}_ms"] = median_ms(lambda: sdpa(be, qt, kt, vt, True))
        except RuntimeError as e:
            res[f"{be}_error"] = str(e)[:200]


def prefill_row(mods, B, T, H, dev, gen, timing):
    fn = f"attention_h{H}"
    q, k, v = (torch.randn(B, T, H, D, device=dev, generator=gen).to(BF)
               for _ in range(3))
    ref = causal_ref64(q, k, v)
    res = {"B": B, "T": T, "H": H}
    flop = 4 * B * H * D * T * T / 2  # causal: half of the two products
    for name, m in mods.items():
        o = torch.full_like(q, float("nan"))
        m.call(fn, q, k, v, outputs=(o,))
        torch.cuda.synchronize()
        res[f"{name}_err"] = rel_err(o, ref)
        if timing:
            ms = median_ms(lambda: m.call(fn, q, k, v, outputs=(o,)))
            res[f"{name}_ms"] = ms
            res[f"{name}_tflops"] = flop / ms / 1e9
    peers_prefill(q, k, v, ref, res, timing)
    if timing:
        for be in ("cudnn", "flash"):
            if f"{be}_ms" in res:
                res[f"{be}_tflops"] = flop / res[f"{be}_ms"] / 1e9
    return res


def varlen_row(mods, T, N, H, dev, gen, timing):
    """Packed sequences: hyla's one call against float64 and cuDNN per
    sequence."""
    fn = f"attention_varlen_h{H}"
    q, k, v = (torch.randn(1, T, H, D, device=dev, generator=gen).to(BF)
               for _ in range(3))
    cu = random_offsets(T, N, gen, dev)
    bounds = [(int(cu[i]), int(cu[i + 1])) for i in range(N)]
    ref = torch.cat([causal_ref64(q[:, a:b], k[:, a:b], v[:, a:b])
                     for a, b in bounds], dim=1)
    res = {"T": T, "N": N, "H": H, "lengths": [b - a for a, b in bounds]}
    flop = sum(4 * H * D * (b - a) ** 2 / 2 for a, b in bounds)
    for name, m in mods.items():
        o = torch.full_like(q, float("nan"))
        m.call(fn, q, k, v, cu, outputs=(o,))
        torch.cuda.synchronize()
        res[f"{name}_err"] = rel_err(o, ref)
        if timing:
            ms = median_ms(lambda: m.call(fn, q, k, v, cu, outputs=(o,)))
            res[f"{name}_ms"] = ms
            res[f"{name}_tflops"] = flop / ms / 1e9
    t = lambda x: x.transpose(1, 2)  # noqa: E731
    views = [(t(q[:, a:b]), t(k[:, a:b]), t(v[:, a:b])) for a, b in bounds]
    run = lambda: [sdpa("cudnn", *x, True) for x in views]  # noqa: E731
    res["cudnn_err"] = rel_err(torch.cat([t(o) for o in run()], dim=1), ref)
    if timing:
        res["cudnn_ms"] = median_ms(run)
        res["cudnn_tflops"] = flop / res["cudnn_ms"] / 1e9
    return res


def err_ok(err, cudnn_err):
    return math.isfinite(err) and err <= max(ERR_RATIO * cudnn_err, ERR_FLOOR)


def decode_ref64(q, kc, vc, slots, lengths):
    """One query per sequence over its slot's first lengths[b] + 1 tokens."""
    B, _, HQ, _ = q.shape
    HKV = kc.shape[2]
    out = torch.empty((B, 1, HQ, vc.shape[3]), dtype=torch.float64,
                      device=q.device)
    for b in range(B):
        n = int(lengths[b]) + 1
        s = int(slots[b])
        kk = kc[s, :n].double().repeat_interleave(HQ // HKV, dim=1)  # [n,HQ,D]
        vv = vc[s, :n].double().repeat_interleave(HQ // HKV, dim=1)
        sc = torch.einsum("hd,nhd->hn", q[b, 0].double(), kk) * SCALE
        out[b, 0] = torch.einsum("hn,nhd->hd", torch.softmax(sc, -1), vv)
    return out


def decode_check(m, fn, HQ, HKV, dev, gen):
    """Random slots among 7, random lengths up to 3000 of 3072 positions;
    then one sequence with a length past the cache (NaN, caches untouched)."""
    B, NS, L = 4, 7, 3072
    q = torch.randn(B, 1, HQ, D, device=dev, generator=gen).to(BF)
    k = torch.randn(B, 1, HKV, D, device=dev, generator=gen).to(BF)
    v = torch.randn(B, 1, HKV, D, device=dev, generator=gen).to(BF)
    kc = torch.randn(NS, L, HKV, D, device=dev, generator=gen).to(BF)
    vc = torch.randn(NS, L, HKV, D, device=dev, generator=gen).to(BF)
    slots = torch.randperm(NS, device=dev, generator=gen)[:B].to(torch.int32)
    lengths = torch.randint(0, 3000, (B,), device=dev, generator=gen,
                            dtype=torch.int32)
    lengths[0] = 0                      # a cache of length 1 after the append
    want_k, want_v = kc.clone(), vc.clone()
    for b in range(B):
        want_k[slots[b], lengths[b]] = k[b, 0]
        want_v[slots[b], lengths[b]] = v[b, 0]
    o = torch.full((B, 1, HQ, D), float("nan"), device=dev, dtype=BF)
    m.call(fn, q, k, v, kc, vc, slots, lengths, outputs=(o, kc, vc))
    torch.cuda.synchronize()
    ref = decode_ref64(q, want_k, want_v, slots, lengths)
    res = {"fn": fn, "err": rel_err(o, ref),
           "cache_exact": bool(torch.equal(kc, want_k) and
                               torch.equal(vc, want_v))}
    # SDPA (cuDNN) on the same inputs for the error bar: per sequence.
    errs = []
    for b in range(B):
        n = int(lengths[b]) + 1
        s = int(slots[b])
        kk = want_k[s, :n].repeat_interleave(HQ // HKV, dim=1).transpose(0, 1)
        vv = want_v[s, :n].repeat_interleave(HQ // HKV, dim=1).transpose(0, 1)
        try:
            ob = sdpa("cudnn", q[b].transpose(0, 1)[None], kk[None], vv[None],
                      False)[0].transpose(0, 1)
        except RuntimeError:
            ob = sdpa("flash", q[b].transpose(0, 1)[None], kk[None], vv[None],
                      False)[0].transpose(0, 1)
        errs.append(ob)
    res["cudnn_err"] = rel_err(torch.stack(errs), ref)
    res["ok"] = err_ok(res["err"], res["cudnn_err"]) and res["cache_exact"]
    # A length that leaves no room for the new token.
    bad = lengths.clone()
    bad[1] = L
    kc2, vc2 = kc.clone(), vc.clone()
    o.fill_(0)
    m.call(fn, q, k, v, kc, vc, slots, bad, outputs=(o, kc, vc))
    torch.cuda.synchronize()
    res["bad_len_nan"] = bool(torch.isnan(o[1].float()).all())
    res["bad_len_caches_untouched"] = bool(torch.equal(kc, kc2) and
                                          torch.equal(vc, vc2))
    res["ok"] = res["ok"] and res["bad_len_nan"] and \
        res["bad_len_caches_untouched"]
    return res


def decode_row(mods, B, ctx, HQ, HKV, dev, gen, bandwidth, timing):
    fn = f"decode_h{HQ}" + ("" if HQ == HKV else f"_kv{HKV}")
    L = ctx + 1
    res = {"B": B, "ctx": ctx, "HQ": HQ, "HKV": HKV}
    try:
        kc = torch.empty(B, L, HKV, D, device=dev, dtype=BF)
        vc = torch.empty(B, L, HKV, D, device=dev, dtype=BF)
    except torch.OutOfMemoryError:
        res["skipped"] = "KV cache does not fit"
        return res
    kc.normal_(generator=gen)
    vc.normal_(generator=gen)
    q = torch.randn(B, 1, HQ, D, device=dev, generator=gen).to(BF)
    k = torch.randn(B, 1, HKV, D, device=dev, generator=gen).to(BF)
    v = torch.randn(B, 1, HKV, D, device=dev, generator=gen).to(BF)
    slots = torch.arange(B, device=dev, dtype=torch.int32)
    lengths = torch.full((B,), ctx, device=dev, dtype=torch.int32)
    kv_bytes = B * L * HKV * D * 2 * 2
    sub = min(B, 2)                     # float64 check on two sequences
    for name, m in mods.items():
        o = torch.full((B, 1, HQ, D), float("nan"), device=dev, dtype=BF)
        m.call(fn, q, k, v, kc, vc, slots, lengths, outputs=(o, kc, vc))
        torch.cuda.synchronize()
        ref = decode_ref64(q[:sub], kc, vc, slots[:sub], lengths[:sub])
        res[f"{name}_err"] = rel_err(o[:sub], ref)
        res[f"{name}_finite"] = bool(torch.isfinite(o.float()).all())
        if timing:
            ms = median_ms(lambda: m.call(fn, q, k, v, kc, vc, slots, lengths,
                                          outputs=(o, kc, vc)))
            res[f"{name}_ms"] = ms
            res[f"{name}_tbs"] = kv_bytes / (ms * 1e-3) / 1e12
            res[f"{name}_of_copy"] = kv_bytes / (ms * 1e-3) / bandwidth
    # SDPA on strided views of the same cache: [B, H, L, D].
    qt = q.transpose(1, 2)
    kt = kc.transpose(1, 2)
    vt = vc.transpose(1, 2)
    if HQ != HKV:
        kt = kt.repeat_interleave(HQ // HKV, dim=1) if B * L * HQ * D * 4 < 8e9 else None
        vt = vt.repeat_interleave(HQ // HKV, dim=1) if kt is not None else None
    if kt is not None and timing:
        for be in ("cudnn", "flash"):
            try:
                sdpa(be, qt, kt, vt, False)
                ms = median_ms(lambda: sdpa(be, qt, kt, vt, False))
                res[f"{be}_ms"] = ms
                res[f"{be}_tbs"] = kv_bytes / (ms * 1e-3) / 1e12
            except RuntimeError as e:
                res[f"{be}_error"] = str(e)[:160]
    del kc, vc, kt, vt
    torch.cuda.empty_cache()
    return res


def fmt(x, spec=".3f"):
    return "-" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", action="append", required=True,
                    help="NAME=PATH of a module compiled from "
                         "bench/graphs/attention.mlir (repeatable)")
    ap.add_argument("--only", default="prefill,edges,varlen,decode")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--decode-rows", default=None,
                    help="B:ctx,... (default: issue 5's six)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time() * 1e3) % (1 << 31)
    print(f"seed {seed}  device {torch.cuda.get_device_name()}  torch "
          f"{torch.__version__}")
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    mods = {}
    for spec in args.module:
        name, _, path = spec.partition("=")
        mods[name] = hyla.Module(path)
    timing = not args.no_timing
    only = set(args.only.split(","))
    out = {"seed": seed, "modules": {n: s.partition("=")[2]
                                     for n, s in zip(mods, args.module)}}
    ok = True
    if "prefill" in only:
        out["prefill"] = []
        for B, T, H in PREFILL:
            r = prefill_row(mods, B, T, H, dev, gen, timing)
            out["prefill"].append(r)
            line = f"prefill B{B} T{T} H{H}:"
            for n in list(mods) + ["cudnn", "flash"]:
                line += (f"  {n} {fmt(r.get(n + '_ms'))} ms "
                         f"{fmt(r.get(n + '_tflops'), '.0f')} TF/s "
                         f"err {fmt(r.get(n + '_err'), '.2e')}")
            print(line, flush=True)
            for n in mods:
                if not err_ok(r[f"{n}_err"], r.get("cudnn_err", 0.0)):
                    ok = False
                    print(f"  FAIL {n}: error {r[n + '_err']:.3e} vs cuDNN "
                          f"{r.get('cudnn_err', float('nan')):.3e}")
    if "edges" in only:
        out["edges"] = []
        for B, T, H in EDGES:
            r = prefill_row(mods, B, T, H, dev, gen, False)
            out["edges"].append(r)
            for n in mods:
                good = err_ok(r[f"{n}_err"], r.get("cudnn_err", 0.0))
                ok = ok and good
                print(f"edge B{B} T{T} H{H}: {n} err {r[n + '_err']:.3e} "
                      f"cuDNN {fmt(r.get('cudnn_err'), '.3e')} "
                      f"{'PASS' if good else 'FAIL'}", flush=True)
    if "varlen" in only:
        out["varlen"] = []
        for T, N, timed in VARLEN:
            r = varlen_row(mods, T, N, 30, dev, gen, timing and timed)
            out["varlen"].append(r)
            line = f"varlen T{T} N{N} H30 (lengths {r['lengths']}):"
            for n in list(mods) + ["cudnn"]:
                good = n == "cudnn" or err_ok(r[f"{n}_err"], r["cudnn_err"])
                ok = ok and good
                line += (f"  {n} {fmt(r.get(n + '_ms'))} ms "
                         f"{fmt(r.get(n + '_tflops'), '.0f')} TF/s "
                         f"err {fmt(r.get(n + '_err'), '.2e')}"
                         f"{'' if good else ' FAIL'}")
            print(line, flush=True)
    if "decode" in only:
        out["decode_check"] = []
        for n, m in mods.items():
            for fn, hq, hkv in (("decode_h30", 30, 30),
                                ("decode_h32_kv8", 32, 8)):
                r = decode_check(m, fn, hq, hkv, dev, gen)
                r["module"] = n
                out["decode_check"].append(r)
                ok = ok and r["ok"]
                print(f"decode check {n} {fn}: err {r['err']:.3e} cuDNN "
                      f"{r['cudnn_err']:.3e} cache exact {r['cache_exact']} "
                      f"bad length -> NaN {r['bad_len_nan']}, caches untouched "
                      f"{r['bad_len_caches_untouched']} "
                      f"{'PASS' if r['ok'] else 'FAIL'}", flush=True)
        bw = copy_bandwidth(dev)
        out["copy_tbs"] = bw / 1e12
        print(f"copy bandwidth {bw / 1e12:.3f} TB/s (bytes read + written)")
        rows = DECODE
        if args.decode_rows:
            rows = [tuple(int(x) for x in r.split(":"))
                    for r in args.decode_rows.split(",")]
        out["decode"] = []
        for B, ctx in rows:
            r = decode_row(mods, B, ctx, 30, 30, dev, gen, bw, timing)
            out["decode"].append(r)
            if "skipped" in r:
                print(f"decode B{B} ctx{ctx}: skipped ({r['skipped']})")
                continue
            line = f"decode B{B} ctx{ctx} H30:"
            for n in mods:
                line += (f"  {n} {fmt(r.get(n + '_ms'), '.4f')} ms "
                         f"{fmt(r.get(n + '_tbs'), '.2f')} TB/s "
                         f"({fmt(r.get(n + '_of_copy'), '.2f')} of copy) "
                         f"err {fmt(r.get(n + '_err'), '.2e')}")
                ok = ok and r[f"{n}_finite"] and r[f"{n}_err"] < 2e-2
            for be in ("cudnn", "flash"):
                line += (f"  {be} {fmt(r.get(be + '_ms'), '.4f')} ms "
                         f"{fmt(r.get(be + '_tbs'), '.2f')} TB/s")
            print(line, flush=True)
    print("PASS" if ok else "FAIL")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
