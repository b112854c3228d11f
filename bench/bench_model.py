#!/usr/bin/env python3
"""Whole-model prefill: a compiled hyla module against transformers'
OlmoHybridForCausalLM with the same random bf16 weights, in one process.

transformers builds the model from the config.json the module was compiled
from (--config; OlmoHybridConfig()'s defaults differ: RoPE on, where the
released 7B and examples/olmo-hybrid-7b use none) with its own random
initialization, saved (bf16) as a safetensors file that hyla loads by the
Hugging Face names (hyla_module_load_safetensors; --bind-weights instead
binds hyla's weights to the model's tensors in memory), so both compute the
same function. Correctness: the logits of both at --check-tokens against the same
model in float32 (a float64 7B model does not fit beside them), relative
Frobenius error, fresh random token ids each run, hyla's output poisoned
with NaN first. Timing: median of --iters calls after one warm-up, CUDA
events, logits for every position (transformers with use_cache=False).

Decode (the module's `decode` function, caches one slot a sequence, from
empty caches): --decode-check-steps compares hyla's prompt-then-decode
logits with its own forward pass over the whole sequence, and (the
module's `prefill`) the last logits of prompts of four different lengths
prefilled in one call into shuffled slots, then that many decode steps of
the whole batch, with hyla's forward of each sequence; --prefill-rows
times prefill (caches written) beside transformers' prefill with its
cache; --generate N
runs N greedy tokens in hyla and in transformers (its own KV cache) from
the same prompt and reports where they first differ, with the float32
model's logits of the two tokens there (a tie when their gap is below the
bf16 models' error); --decode-rows B:CTX,... times one decode step at
those batches and context lengths beside transformers' step with its
cache (medians, CUDA events; hyla without CUDA graphs).

    python3 bench/bench_model.py --module .device/olmo-hybrid-7b.hyla \\
        --tokens 512,8192 --json out/bench_model.json
"""
import argparse
import copy
import json
import os
import random
import statistics
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
import hyla  # noqa: E402
from check_gdn_attention import rel_err  # noqa: E402


def median_ms(fn, iters):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", required=True, help="compiled 7B module (.hyla)")
    p.add_argument("--config", default="examples/olmo-hybrid-7b/config.json",
                   help="the config.json the module was compiled from")
    p.add_argument("--tokens", default="512,8192", help="prefill lengths to time")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--check-tokens", type=int, default=512,
                   help="length of the float32-checked run (0: none)")
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--bind-weights", action="store_true",
                   help="bind hyla's weights to the model's tensors instead "
                        "of loading them from a saved safetensors file")
    p.add_argument("--decode-check-steps", type=int, default=16,
                   help="decode steps after a --check-tokens prompt compared "
                        "with the forward pass (0: none)")
    p.add_argument("--generate", type=int, default=64,
                   help="greedy tokens compared with transformers (0: none)")
    p.add_argument("--decode-rows", default="1:512,1:8192,32:512,32:8192",
                   help="decode steps to time, BATCH:CONTEXT,... ('': none)")
    p.add_argument("--prefill-rows", default="1:8192,4:2048",
                   help="prefills to time (the module's 'prefill': BATCH "
                        "prompts of TOKENS each, packed, caches written), "
                        "BATCH:TOKENS,... ('': none)")
    p.add_argument("--safetensors-dir", default=None,
                   help="where to save the weights (default: a temporary "
                        "directory, removed after loading)")
    args = p.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    torch.manual_seed(seed)

    from transformers import OlmoHybridConfig, OlmoHybridForCausalLM
    import transformers

    config = OlmoHybridConfig.from_json_file(args.config)
    # A small test config (examples/olmo-hybrid-tiny) keeps the released
    # model's special token ids, which lie outside its vocabulary; the
    # embedding's padding row only matters for training.
    if config.pad_token_id is not None and config.pad_token_id >= config.vocab_size:
        config.pad_token_id = None
    torch.set_default_dtype(torch.bfloat16)  # initialize in bf16 directly
    with torch.device("cuda"):
        model = OlmoHybridForCausalLM(config).eval()
    torch.set_default_dtype(torch.float32)
    state = model.state_dict()

    m = hyla.Module(args.module)
    meta = m.metadata
    for key in ("vocab_size", "hidden_size", "num_hidden_layers"):
        if int(meta[key]) != getattr(config, key):
            sys.exit("module %s = %s but the config has %s"
                     % (key, meta[key], getattr(config, key)))
    m.prepare(torch.cuda.current_device())
    # transformers keeps A_log and dt_bias in float32; hyla reads bf16, so
    # both use the bf16-rounded values.
    for name, tensor in state.items():
        if tensor.dtype != torch.bfloat16:
            tensor.copy_(tensor.to(torch.bfloat16))
    key_dim = config.linear_num_key_heads * config.linear_key_head_dim
    conv_parts = {"q_conv1d": (0, key_dim), "k_conv1d": (key_dim, 2 * key_dim),
                  "v_conv1d": (2 * key_dim, None)}

    def peer_weight(name):
        """transformers' tensor for hyla's weight `name`: the same name, or a
        slice of the fused q/k/v conv weight."""
        if name in state:
            return state[name].to(torch.bfloat16).contiguous()
        prefix, _, leaf = name.rpartition(".")  # ...linear_attn.q_conv1d, weight
        layer, _, part = prefix.rpartition(".")
        fused = layer + ".conv1d." + leaf
        if part in conv_parts and fused in state:
            begin, end = conv_parts[part]
            return state[fused][begin:end].contiguous()
        sys.exit("transformers' model has no weight for %r" % name)

    load_s = None
    if args.bind_weights:
        for name, _ in m.weights:
            m.bind_weight(name, peer_weight(name))
    else:
        import tempfile
        import time
        from safetensors.torch import save_file
        directory = args.safetensors_dir or tempfile.mkdtemp(prefix="hyla-st-")
        path = os.path.join(directory, "model.safetensors")
        save_file({n: t.to(torch.bfloat16).contiguous().cpu()
                   for n, t in state.items()}, path)
        start = time.perf_counter()
        m.load_safetensors(path)
        load_s = time.perf_counter() - start
        print("weights: %s (%.2f GB) loaded by name in %.2f s" % (
            path, os.path.getsize(path) / 1e9, load_s))
        if not args.safetensors_dir:
            os.remove(path)
            os.rmdir(directory)

    print("device %s, torch %s, transformers %s, seed %d" % (
        torch.cuda.get_device_name(), torch.__version__, transformers.__version__, seed))
    results = {"device": torch.cuda.get_device_name(), "seed": seed,
               "transformers": transformers.__version__, "check": None, "timing": [],
               "weights": "bound" if args.bind_weights else "safetensors",
               "load_s": load_s}

    def ids_of(tokens):
        return torch.randint(0, config.vocab_size, (args.batch, tokens),
                             dtype=torch.int32, device="cuda")

    def hyla_logits(ids):
        out = torch.full((args.batch, ids.shape[1], config.vocab_size),
                         float("nan"), dtype=torch.bfloat16, device="cuda")
        m.call("forward", ids, outputs=[out])
        return out

    torch_dtypes = {"bf16": torch.bfloat16, "f16": torch.float16,
                    "f32": torch.float32, "i32": torch.int32}

    def new_caches(batch, max_tokens):
        """Zeroed caches for `decode`, one slot a sequence."""
        specs = m.input_shapes("decode", batch=batch, tokens=1, slots=batch,
                               max_tokens=max_tokens)
        return [torch.zeros(s.shape, dtype=torch_dtypes[s.dtype], device="cuda")
                for s in specs[3:]]

    def hyla_decode(ids, lengths, caches):
        """One decode call: ids [B, T] after lengths[b] cached tokens."""
        slots = torch.arange(ids.shape[0], dtype=torch.int32, device="cuda")
        out = torch.full((ids.shape[0], ids.shape[1], config.vocab_size),
                         float("nan"), dtype=torch.bfloat16, device="cuda")
        m.call("decode", ids, slots, lengths, *caches, outputs=[out, *caches])
        return out

    has_prefill = "prefill" in m.functions

    def time_transformers(row, long_ids, use_cache):
        """transformers' forward of long_ids into `row`: median ms and its
        peak memory above what was allocated before (or the error)."""
        try:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            row["transformers_ms"] = median_ms(
                lambda: model(long_ids, use_cache=use_cache).logits, args.iters)
            row["transformers_peak_extra_bytes"] = (
                torch.cuda.max_memory_allocated() - base)
        except torch.cuda.OutOfMemoryError:
            row["transformers_error"] = "out of memory"
        torch.cuda.empty_cache()

    def hyla_prefill(prompts, slots, caches):
        """One prefill call: the 1-D id tensors `prompts` packed, into
        slots `slots`; the logits of each prompt's last token [N, vocab]."""
        ids = torch.cat(prompts).view(1, -1).contiguous()
        cu = torch.zeros(len(prompts) + 1, dtype=torch.int32, device="cuda")
        cu[1:] = torch.tensor([len(p) for p in prompts], device="cuda").cumsum(0)
        out = torch.full((len(prompts), 1, config.vocab_size), float("nan"),
                         dtype=torch.bfloat16, device="cuda")
        m.call("prefill", ids, cu, slots, *caches, outputs=[out, *caches])
        return out[:, 0]

    def forward_one(ids):
        """hyla's forward of one sequence (1-D ids): logits [T, vocab]."""
        out = torch.full((1, ids.shape[0], config.vocab_size), float("nan"),
                         dtype=torch.bfloat16, device="cuda")
        m.call("forward", ids.view(1, -1).contiguous(), outputs=[out])
        return out[0]

    with torch.inference_mode():
        if args.check_tokens > 0 and args.decode_check_steps > 0 and has_prefill:
            # Prompts of different lengths through one prefill into shuffled
            # slots, then decode steps of the whole batch (each sequence at
            # its own length), against hyla's forward of each sequence.
            P, S = args.check_tokens, args.decode_check_steps
            lengths_list = [P, P // 3 + 5, 33, 2]
            slot_list = [2, 0, 3, 1]
            seqs = [torch.randint(0, config.vocab_size, (n + S,), dtype=torch.int32,
                                  device="cuda") for n in lengths_list]
            caches = new_caches(len(seqs), P + S)
            slots = torch.tensor(slot_list, dtype=torch.int32, device="cuda")
            first = hyla_prefill([q[:n] for q, n in zip(seqs, lengths_list)],
                                 slots, caches).float()
            fulls = [forward_one(q).float() for q in seqs]
            prefill_errs = [rel_err(first[i], fulls[i][n - 1].double())
                            for i, n in enumerate(lengths_list)]
            lengths = torch.tensor(lengths_list, dtype=torch.int32, device="cuda")
            step_errs, nonfinite = [], int((~torch.isfinite(first)).sum().item())
            for s in range(S):
                ids = torch.stack([q[n + s] for q, n in zip(seqs, lengths_list)]
                                  ).view(-1, 1).contiguous()
                out = torch.full((len(seqs), 1, config.vocab_size), float("nan"),
                                 dtype=torch.bfloat16, device="cuda")
                m.call("decode", ids, slots, lengths, *caches,
                       outputs=[out, *caches])
                lengths += 1
                got = out[:, 0].float()
                nonfinite += int((~torch.isfinite(got)).sum().item())
                step_errs += [rel_err(got[i], fulls[i][n + s].double())
                              for i, n in enumerate(lengths_list)]
            pc = {"prompts": lengths_list, "slots": slot_list, "steps": S,
                  "prefill_err_max": max(prefill_errs),
                  "step_err_max": max(step_errs), "nonfinite": nonfinite}
            results["prefill_check"] = pc
            print("prefill check: prompts of %s tokens into slots %s through "
                  "prefill vs forward, worst %.3e; %d decode steps of the batch "
                  "vs forward, worst %.3e; non-finite %d" % (
                      lengths_list, slot_list, pc["prefill_err_max"], S,
                      pc["step_err_max"], nonfinite))
            del caches, fulls, first
            torch.cuda.empty_cache()

        if args.check_tokens > 0 and args.decode_check_steps > 0:
            # Prompt then decode steps against one forward pass.
            P, S = args.check_tokens, args.decode_check_steps
            ids = ids_of(P + S)
            full = hyla_logits(ids).float()
            caches = new_caches(args.batch, P + S)
            lengths = torch.zeros(args.batch, dtype=torch.int32, device="cuda")
            prompt = hyla_decode(ids[:, :P].contiguous(), lengths, caches).float()
            lengths += P
            step_errs = []
            for s in range(S):
                got = hyla_decode(ids[:, P + s:P + s + 1].contiguous(), lengths,
                                  caches).float()
                lengths += 1
                step_errs.append(rel_err(got[:, 0], full[:, P + s].double()))
            dc = {"prompt": P, "steps": S,
                  "prompt_err": rel_err(prompt, full[:, :P].double()),
                  "step_err_max": max(step_errs),
                  "nonfinite": int((~torch.isfinite(prompt)).sum().item())}
            results["decode_check"] = dc
            print("decode check B=%d: prompt of %d through decode vs forward %.3e;"
                  " %d decode steps vs forward, worst %.3e; non-finite %d" % (
                      args.batch, P, dc["prompt_err"], S, dc["step_err_max"],
                      dc["nonfinite"]))
            del caches, full, prompt
            torch.cuda.empty_cache()

        if args.check_tokens > 0:
            ids = ids_of(args.check_tokens)
            got = hyla_logits(ids).float()
            peer = model(ids.long(), use_cache=False).logits.float()
            ref_model = copy.deepcopy(model).float()
            ref = ref_model(ids.long(), use_cache=False).logits.float()
            del ref_model
            torch.cuda.empty_cache()
            check = {"tokens": args.check_tokens,
                     "hyla_err": rel_err(got, ref.double()),
                     "transformers_err": rel_err(peer, ref.double()),
                     "hyla_nonfinite": int((~torch.isfinite(got)).sum().item())}
            results["check"] = check
            print("check B=%d T=%d vs transformers float32: hyla %.3e, transformers bf16 %.3e,"
                  " hyla non-finite %d" % (args.batch, args.check_tokens, check["hyla_err"],
                                           check["transformers_err"], check["hyla_nonfinite"]))
            del got, peer, ref
            torch.cuda.empty_cache()

        if args.generate > 0:
            P, N = args.check_tokens or 512, args.generate
            prompt = ids_of(P)[:1].contiguous()
            caches = new_caches(1, P + N)
            lengths = torch.zeros(1, dtype=torch.int32, device="cuda")
            ids, ours = prompt, []
            for i in range(N):
                if i == 0 and has_prefill:
                    slot0 = torch.zeros(1, dtype=torch.int32, device="cuda")
                    logits = hyla_prefill([prompt[0]], slot0, caches)[:, None]
                else:
                    logits = hyla_decode(ids, lengths, caches)
                lengths += ids.shape[1]
                ids = logits[:, -1].float().argmax(-1, keepdim=True).int()
                ours.append(int(ids[0, 0]))
            del caches

            def greedy(peer):
                """N greedy tokens of a transformers model with its cache."""
                out = peer(prompt.long(), use_cache=True)
                tokens = []
                for _ in range(N):
                    nxt = out.logits[:, -1].float().argmax(-1, keepdim=True)
                    tokens.append(int(nxt[0, 0]))
                    out = peer(nxt, past_key_values=out.past_key_values,
                               use_cache=True)
                return tokens

            theirs = greedy(model)
            # transformers' own greedy tokens in float32: where bf16 and
            # float32 part, the model itself ties at bf16 precision.
            ref_model = copy.deepcopy(model).float()
            f32_tokens = greedy(ref_model)
            del ref_model
            torch.cuda.empty_cache()
            first = next((i for i in range(N) if ours[i] != theirs[i]), None)
            first_f32 = next((i for i in range(N) if f32_tokens[i] != theirs[i]), None)
            gen = {"prompt": P, "tokens": N, "hyla": ours, "transformers": theirs,
                   "transformers_f32": f32_tokens,
                   "identical": first is None, "first_difference": first,
                   "transformers_bf16_vs_f32_first_difference": first_f32}
            if first is not None:
                # Where they part: the float32 model's logits of both tokens
                # after the common prefix.
                ref_model = copy.deepcopy(model).float()
                prefix = torch.cat([prompt.long(), torch.tensor(
                    [ours[:first]], dtype=torch.long, device="cuda")], 1)
                ref = ref_model(prefix, use_cache=False).logits[0, -1].float()
                del ref_model
                torch.cuda.empty_cache()
                a, b = ref[ours[first]].item(), ref[theirs[first]].item()
                gen.update({"f32_logit_hyla_token": a, "f32_logit_transformers_token": b,
                            "f32_top": int(ref.argmax()),
                            "f32_logit_rms": ref.pow(2).mean().sqrt().item()})
            results["generate"] = gen
            same = sum(x == y for x, y in zip(ours, theirs))
            print("greedy %d tokens after a %d-token prompt: %s" % (
                N, P, "identical to transformers" if first is None else
                "first difference at token %d (%d of %d equal); float32 logits "
                "there: hyla's token %.4f, transformers' %.4f, float32's own "
                "choice %d (logit rms %.4f)" % (
                    first, same, N, gen["f32_logit_hyla_token"],
                    gen["f32_logit_transformers_token"], gen["f32_top"],
                    gen["f32_logit_rms"])))
            print("  transformers bf16 against its float32 model: %s" % (
                "identical" if first_f32 is None else
                "first difference at token %d" % first_f32))
            print("  hyla:              %s" % " ".join(map(str, ours)))
            print("  transformers:      %s" % " ".join(map(str, theirs)))
            print("  transformers f32:  %s" % " ".join(map(str, f32_tokens)))

        if args.decode_rows:
            results["decode_timing"] = []
            print("%6s %6s %14s %15s %18s %8s" % ("B", "ctx", "hyla step ms",
                                                  "hyla graph ms",
                                                  "transformers ms", "ratio"))
        for row_text in [r for r in args.decode_rows.split(",") if r]:
            B, ctx = (int(x) for x in row_text.split(":"))
            row = {"batch": B, "context": ctx}
            # hyla: a step after ctx cached tokens (cache contents do not
            # change the work).
            try:
                free0 = torch.cuda.mem_get_info()[0]
                caches = new_caches(B, ctx + 1)
                row["hyla_cache_bytes"] = free0 - torch.cuda.mem_get_info()[0]
                lengths = torch.full((B,), ctx, dtype=torch.int32, device="cuda")
                ids = torch.randint(0, config.vocab_size, (B, 1), dtype=torch.int32,
                                    device="cuda")
                slots = torch.arange(B, dtype=torch.int32, device="cuda")
                out = torch.empty((B, 1, config.vocab_size), dtype=torch.bfloat16,
                                  device="cuda")
                row["hyla_ms"] = median_ms(lambda: m.call(
                    "decode", ids, slots, lengths, *caches,
                    outputs=[out, *caches]), max(args.iters, 10))
                # The same step replayed as one CUDA graph.
                graph = m.capture("decode", ids, slots, lengths, *caches,
                                  outputs=[out, *caches])
                row["hyla_graph_ms"] = median_ms(graph.launch, max(args.iters, 10))
                graph.close()
                del caches
            except (hyla.HylaError, torch.cuda.OutOfMemoryError) as e:
                row["hyla_error"] = str(e)[:80]
            torch.cuda.empty_cache()
            # transformers: a step with its cache after a ctx-token prefill.
            try:
                torch.cuda.reset_peak_memory_stats()
                prompt = ids_of(ctx)[:1].expand(B, ctx).contiguous().long()
                out = model(prompt, use_cache=True)
                past = out.past_key_values
                nxt = out.logits[:, -1:].argmax(-1)
                del out
                times = []
                for _ in range(max(args.iters, 5)):
                    start = torch.cuda.Event(enable_timing=True)
                    end = torch.cuda.Event(enable_timing=True)
                    start.record()
                    step = model(nxt, past_key_values=past, use_cache=True)
                    end.record()
                    end.synchronize()
                    past = step.past_key_values
                    times.append(start.elapsed_time(end))
                row["transformers_ms"] = statistics.median(times[1:])
                row["transformers_peak_bytes"] = torch.cuda.max_memory_allocated()
                del past, step
            except torch.cuda.OutOfMemoryError:
                row["transformers_error"] = "out of memory"
            torch.cuda.empty_cache()
            h, t = row.get("hyla_graph_ms"), row.get("transformers_ms")
            print("%6d %6d %14s %15s %18s %8s" % (
                B, ctx, "%.3f" % row["hyla_ms"] if "hyla_ms" in row else
                row.get("hyla_error", "-")[:40],
                "%.3f" % h if h else "-",
                "%.2f" % t if t else row.get("transformers_error", "-"),
                "%.1fx" % (t / h) if h and t else "-"))
            results["decode_timing"].append(row)

        print("%6s %6s %12s %16s %8s %14s %18s" % (
            "B", "T", "hyla ms", "transformers ms", "ratio", "hyla temps GB",
            "transformers +GB"))
        for tokens in [int(t) for t in args.tokens.split(",")]:
            ids = ids_of(tokens)
            out = torch.empty((args.batch, tokens, config.vocab_size),
                              dtype=torch.bfloat16, device="cuda")
            row = {"batch": args.batch, "tokens": tokens}
            try:
                # Device memory the call adds (its temporaries, cached by the
                # runtime), beside the weights and the logits.
                free0 = torch.cuda.mem_get_info()[0]
                row["hyla_ms"] = median_ms(lambda: m.call("forward", ids, outputs=[out]),
                                           args.iters)
                row["hyla_temporaries_bytes"] = max(0, free0 - torch.cuda.mem_get_info()[0])
            except hyla.HylaError as e:
                row["hyla_error"] = str(e)
            time_transformers(row, ids.long(), use_cache=False)
            h, t = row.get("hyla_ms"), row.get("transformers_ms")
            print("%6d %6d %12s %16s %8s %14s %18s" % (
                args.batch, tokens, "%.2f" % h if h else row.get("hyla_error", "-")[:40],
                "%.2f" % t if t else row.get("transformers_error", "-"),
                "%.2fx" % (t / h) if h and t else "-",
                "%.2f" % (row["hyla_temporaries_bytes"] / 1e9)
                if "hyla_temporaries_bytes" in row else "-",
                "%.2f" % (row["transformers_peak_extra_bytes"] / 1e9)
                if "transformers_peak_extra_bytes" in row else "-"))
            results["timing"].append(row)
        if args.prefill_rows and has_prefill:
            # prefill of B prompts of T tokens (packed, caches written) beside
            # transformers' prefill of the same batch with its cache.
            results["prefill_timing"] = []
            print("%6s %6s %16s %16s %8s %14s" % ("B", "T", "hyla prefill ms",
                                                  "transformers ms", "ratio",
                                                  "hyla +GB"))
            for row_text in [r for r in args.prefill_rows.split(",") if r]:
                B, T = (int(x) for x in row_text.split(":"))
                row = {"batch": B, "tokens": T}
                try:
                    free0 = torch.cuda.mem_get_info()[0]
                    caches = new_caches(B, T + 1)
                    prompts = [torch.randint(0, config.vocab_size, (T,),
                                             dtype=torch.int32, device="cuda")
                               for _ in range(B)]
                    slots = torch.arange(B, dtype=torch.int32, device="cuda")
                    ids = torch.cat(prompts).view(1, -1).contiguous()
                    cu = torch.arange(0, B * T + 1, T, dtype=torch.int32,
                                      device="cuda")
                    out = torch.empty((B, 1, config.vocab_size),
                                      dtype=torch.bfloat16, device="cuda")
                    row["hyla_ms"] = median_ms(lambda: m.call(
                        "prefill", ids, cu, slots, *caches,
                        outputs=[out, *caches]), args.iters)
                    # Caches plus the call's temporaries.
                    row["hyla_extra_bytes"] = free0 - torch.cuda.mem_get_info()[0]
                    del caches
                except (hyla.HylaError, torch.cuda.OutOfMemoryError) as e:
                    row["hyla_error"] = str(e)[:80]
                torch.cuda.empty_cache()
                time_transformers(
                    row, ids_of(T)[:1].expand(B, T).contiguous().long(),
                    use_cache=True)
                h, t = row.get("hyla_ms"), row.get("transformers_ms")
                print("%6d %6d %16s %16s %8s %14s" % (
                    B, T, "%.2f" % h if h else row.get("hyla_error", "-")[:40],
                    "%.2f" % t if t else row.get("transformers_error", "-"),
                    "%.2fx" % (t / h) if h and t else "-",
                    "%.2f" % (row["hyla_extra_bytes"] / 1e9)
                    if "hyla_extra_bytes" in row else "-"))
                results["prefill_timing"].append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    ok = results["check"] is None or (results["check"]["hyla_nonfinite"] == 0 and
                                      results["check"]["hyla_err"] <= 2 * max(
                                          results["check"]["transformers_err"], 1e-3))
    dc = results.get("decode_check")
    if dc and results["check"]:
        # The decode path computes the same function with other kernels
        # (recurrent GDN, split-KV attention): within the bf16 error level.
        bound = 2 * max(results["check"]["transformers_err"], 1e-3)
        ok = ok and dc["nonfinite"] == 0 and max(dc["prompt_err"],
                                                 dc["step_err_max"]) <= bound
    pc = results.get("prefill_check")
    if pc and results["check"]:
        bound = 2 * max(results["check"]["transformers_err"], 1e-3)
        ok = ok and pc["nonfinite"] == 0 and max(pc["prefill_err_max"],
                                                 pc["step_err_max"]) <= bound
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
