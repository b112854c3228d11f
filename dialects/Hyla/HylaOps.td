//===- HylaOps.td - hyla graph operations ------------------*- tablegen -*-===//
#ifndef HYLA_OPS_TD
#define HYLA_OPS_TD

include "dialects/Hyla/HylaDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Hyla_FloatTensor : RankedTensorOf<[BF16, F16, F32]>;
def Hyla_F32Tensor : RankedTensorOf<[F32]>;
def Hyla_IdTensor : RankedTensorOf<[I32, I64]>;

def Hyla_IsPositive : AttrConstraint<
    CPred<"::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() > 0.0">,
    "whose value is positive">;
def Hyla_PositiveF64Attr : ConfinedAttr<F64Attr, [Hyla_IsPositive]>;

// Ops whose result dims come from operand dims: used by the passes to build
// the dynamic sizes of dispatches.
class Hyla_ShapedOp<string mnemonic, list<Trait> traits = []>
    : Hyla_Op<mnemonic, !listconcat(traits, [Pure,
        DeclareOpInterfaceMethods<ReifyRankedShapedTypeOpInterface, ["reifyResultShapes"]>])> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Parameters and elementwise ops
//===----------------------------------------------------------------------===//

def Hyla_WeightOp : Hyla_Op<"weight", [Pure]> {
  let summary = "A named model parameter";
  let description = [{
    A parameter of the model, addressed by its checkpoint name (the
    Hugging Face state-dict key). The compiled module lists every weight by
    name, shape and element type; the runtime binds them at load time.

    ```mlir
    %w = hyla.weight "model.norm.weight" : tensor<3840xbf16>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Hyla_AddOp : Hyla_ShapedOp<"add", [SameOperandsAndResultType]> {
  let summary = "Elementwise sum (residual connection)";
  let arguments = (ins Hyla_FloatTensor:$lhs, Hyla_FloatTensor:$rhs);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Hyla_SiluMulOp : Hyla_ShapedOp<"silu_mul", [SameOperandsAndResultType]> {
  let summary = "SwiGLU activation: silu(gate) * up";
  let description = [{
    `silu(gate) * up`, computed in f32 and rounded to the result type.
  }];
  let arguments = (ins Hyla_FloatTensor:$gate, Hyla_FloatTensor:$up);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Embedding, norms, projections
//===----------------------------------------------------------------------===//

def Hyla_EmbeddingOp : Hyla_ShapedOp<"embedding"> {
  let summary = "Token embedding lookup";
  let description = [{
    `result[b, t, :] = table[ids[b, t], :]`. Ids outside `[0, vocab)` read
    a row of zeros.
  }];
  let arguments = (ins Hyla_FloatTensor:$table, Hyla_IdTensor:$ids);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = [{
    $table `,` $ids attr-dict `:` type($table) `,` type($ids) `->` type($result)
  }];
}

def Hyla_RMSNormOp : Hyla_ShapedOp<"rms_norm"> {
  let summary = "RMSNorm over the last dimension";
  let description = [{
    `y = weight * (x * rsqrt(mean(x^2) + epsilon))`, computed in f32 (the
    weight is applied in f32), rounded to the element type of `x`.
  }];
  let arguments = (ins Hyla_FloatTensor:$input, Hyla_FloatTensor:$weight,
                       Hyla_PositiveF64Attr:$epsilon);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
}

def Hyla_L2NormOp : Hyla_ShapedOp<"l2_norm"> {
  let summary = "L2 normalization over the last dimension";
  let description = [{
    `y = x * rsqrt(sum(x^2) + epsilon)`, computed in f32, rounded to the
    result element type. Used per head on the GDN queries and keys.
  }];
  let arguments = (ins Hyla_FloatTensor:$input, Hyla_PositiveF64Attr:$epsilon);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Hyla_LinearOp : Hyla_ShapedOp<"linear"> {
  let summary = "Linear projection without bias: y = x W^T";
  let description = [{
    `input` is `[..., K]`, `weight` is `[N, K]` (the PyTorch layout), the
    result is `[..., N]`. Products accumulate in f32.

    `few_rows` says the input is expected to have few rows (up to about
    64: a decode step's tokens), so the product is bound by reading the
    weight: kernels then stream the weight in narrow blocks, splitting K
    across programs, instead of tiling square blocks. Any row count stays
    correct.
  }];
  let arguments = (ins Hyla_FloatTensor:$input, Hyla_FloatTensor:$weight,
                       UnitAttr:$few_rows);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
}

def Hyla_CausalConv1DOp : Hyla_ShapedOp<"causal_conv1d"> {
  let summary = "Depthwise causal 1-D convolution along tokens";
  let description = [{
    `input` is `[B, T, C]`, `weight` is `[C, W]`:
    `y[b, t, c] = act(sum_j weight[c, j] * input[b, t - W + 1 + j, c])`,
    with tokens before 0 read as zero. `activation` is `"none"` or `"silu"`.

    With `cu_seqlens` (`[N + 1]` i32, non-decreasing from 0 to `T`) the
    batch dim is 1 and holds `N` sequences packed along the tokens; each
    sequence reads the tokens before its first one as zero, not its
    neighbour's.
  }];
  let arguments = (ins Hyla_FloatTensor:$input, Hyla_FloatTensor:$weight,
                       Optional<RankedTensorOf<[I32]>>:$cu_seqlens,
                       DefaultValuedStrAttr<StrAttr, "silu">:$activation);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`cu_seqlens` `(` $cu_seqlens^ `:` type($cu_seqlens) `)`)?
    attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Gated DeltaNet
//===----------------------------------------------------------------------===//

def Hyla_GdnGatesOp : Hyla_ShapedOp<"gdn_gates"> {
  let summary = "Gated DeltaNet decay and beta gates";
  let description = [{
    From the raw projections `a` and `b` (`[B, T, H]`) and the per-head
    parameters `a_log` and `dt_bias` (`[H]`):

    ```
    g    = -exp(a_log) * softplus(a + dt_bias)     (f32, log of the decay)
    beta = beta_scale * sigmoid(b)                 (f32)
    ```

    `beta_scale` is 2 when the model allows negative eigenvalues (Olmo
    Hybrid), else 1.
  }];
  let arguments = (ins Hyla_FloatTensor:$a, Hyla_FloatTensor:$b,
                       Hyla_FloatTensor:$a_log, Hyla_FloatTensor:$dt_bias,
                       Hyla_PositiveF64Attr:$beta_scale);
  let results = (outs Hyla_F32Tensor:$g, Hyla_F32Tensor:$beta);
  let assemblyFormat = [{
    $a `,` $b `,` $a_log `,` $dt_bias attr-dict `:` type($a) `,` type($b) `,`
    type($a_log) `,` type($dt_bias) `->` type($g) `,` type($beta)
  }];
}

def Hyla_GatedDeltaRuleOp : Hyla_ShapedOp<"gated_delta_rule",
                                           [AttrSizedOperandSegments]> {
  let summary = "The gated delta rule recurrence (Gated DeltaNet core)";
  let description = [{
    Per batch `b` and value head `h`, with state `S` of shape `[K, V]` in
    f32 (the initial state, or zeros), for every token `t` in order:

    ```
    S   = exp(g[t]) * S
    d   = beta[t] * (v[t] - S^T k[t])
    S   = S + k[t] d^T
    o[t] = S^T (scale * q[t])
    ```

    `q`, `k`: `[B, T, H, K]`; `v`: `[B, T, HV, V]`; `g`, `beta`:
    `[B, T, HV]` in f32; `initial_state` and `final_state`: `[B, HV, K, V]` in
    f32; `o`: `[B, T, HV, V]` in the element type of `v`. When `HV > H`
    (grouped value heads), value head `h` reads query/key head
    `h / (HV / H)`.

    With `qk_l2norm_epsilon`, q and k are L2-normalized per head first, as
    by `hyla.l2_norm` with that epsilon and without rounding
    (`hyla-fuse-qk-l2norm` moves the norms here so that the chunk kernels
    normalize each chunk's q and k as they load them).

    With `cu_seqlens` (`[N + 1]` i32, non-decreasing from 0 to `T`) the
    batch dim is 1 and holds `N` sequences packed one after another:
    sequence `n` is tokens `cu_seqlens[n]` to `cu_seqlens[n + 1] - 1`, its
    recurrence starts from `initial_state[n]` (or zeros) and ends in
    `final_state[n]`; the states are `[N, HV, K, V]`.
  }];
  let arguments = (ins Hyla_FloatTensor:$q, Hyla_FloatTensor:$k,
                       Hyla_FloatTensor:$v, Hyla_FloatTensor:$g,
                       Hyla_FloatTensor:$beta,
                       Optional<Hyla_F32Tensor>:$initial_state,
                       Optional<RankedTensorOf<[I32]>>:$cu_seqlens,
                       Optional<Hyla_FloatTensor>:$q_conv_weight,
                       Optional<Hyla_FloatTensor>:$k_conv_weight,
                       Optional<Hyla_FloatTensor>:$v_conv_weight,
                       Optional<Hyla_FloatTensor>:$a_log,
                       Optional<Hyla_FloatTensor>:$dt_bias,
                       Optional<Hyla_FloatTensor>:$output_gate,
                       Optional<Hyla_FloatTensor>:$output_norm_weight,
                       Hyla_PositiveF64Attr:$scale,
                       OptionalAttr<Hyla_PositiveF64Attr>:$qk_l2norm_epsilon,
                       OptionalAttr<Hyla_PositiveF64Attr>:$beta_scale,
                       OptionalAttr<Hyla_PositiveF64Attr>:$output_norm_epsilon);
  let results = (outs Hyla_FloatTensor:$o, Hyla_F32Tensor:$final_state);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $g `,` $beta (`initial_state` `(` $initial_state^ `:` type($initial_state) `)`)?
    (`cu_seqlens` `(` $cu_seqlens^ `:` type($cu_seqlens) `)`)?
    (`conv` `(` $q_conv_weight^ `,` $k_conv_weight `,` $v_conv_weight `:`
       type($q_conv_weight) `,` type($k_conv_weight) `,` type($v_conv_weight) `)`)?
    (`gates` `(` $a_log^ `,` $dt_bias `:` type($a_log) `,` type($dt_bias) `)`)?
    (`output_norm` `(` $output_gate^ `,` $output_norm_weight `:`
       type($output_gate) `,` type($output_norm_weight) `)`)?
    attr-dict `:` type($q) `,` type($k) `,` type($v) `,` type($g) `,` type($beta)
    `->` type($o) `,` type($final_state)
  }];
  let extraClassDeclaration = [{
    /// Whether the short convs, the gates or the output norm are folded in.
    bool hasConv() { return static_cast<bool>(getQConvWeight()); }
    bool hasGates() { return static_cast<bool>(getALog()); }
    bool hasOutputNorm() { return static_cast<bool>(getOutputGate()); }
    ::llvm::LogicalResult verifyFusedNeighbours();
  }];
}

def Hyla_GatedDeltaRuleCachedOp : Hyla_ShapedOp<"gated_delta_rule_cached"> {
  let summary = "The gated delta rule from and into a per-slot state cache";
  let description = [{
    The recurrence of `hyla.gated_delta_rule` for a batch of sequences
    whose states live in `cache` (`[slots, HV, K, V]`, f32): sequence `b`
    starts from `cache[slots[b]]` and its state after its `T` tokens is
    written back there. `new_cache` is `cache` with those slots updated;
    when lowered it is the same buffer (updated in place), so `cache` must
    not be used after this op. Meant for decode (T from 1 to a few tokens).
    `slots` entries must be distinct and within `[0, slots)`; the kernels
    write NaN outputs for a sequence whose slot is outside and leave the
    cache alone (the float64 reference rejects both cases).

    With `qk_l2norm_epsilon`, q and k are L2-normalized per head first, as
    by `hyla.l2_norm` with that epsilon (`hyla-fuse-qk-l2norm` moves the
    norms here so the decode kernel does them).
  }];
  let arguments = (ins Hyla_FloatTensor:$q, Hyla_FloatTensor:$k,
                       Hyla_FloatTensor:$v, Hyla_F32Tensor:$g,
                       Hyla_F32Tensor:$beta, Hyla_F32Tensor:$cache,
                       RankedTensorOf<[I32]>:$slots,
                       Hyla_PositiveF64Attr:$scale,
                       OptionalAttr<Hyla_PositiveF64Attr>:$qk_l2norm_epsilon);
  let results = (outs Hyla_FloatTensor:$o, Hyla_F32Tensor:$new_cache);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $g `,` $beta `,` $cache `[` $slots `]` attr-dict `:`
    type($q) `,` type($k) `,` type($v) `,` type($g) `,` type($beta) `,`
    type($cache) `,` type($slots) `->` type($o) `,` type($new_cache)
  }];
}

def Hyla_CausalConv1DCachedOp : Hyla_ShapedOp<"causal_conv1d_cached"> {
  let summary = "Causal conv1d continuing from a per-slot cache of past inputs";
  let description = [{
    `hyla.causal_conv1d` for a batch of sequences that continue earlier
    ones: `cache` (`[slots, W - 1, C]`) holds the last `W - 1` inputs of each
    slot, oldest first; sequence `b` reads `cache[slots[b]]` as the tokens
    before its first one. `new_cache` is `cache` with each used slot holding
    the last `W - 1` inputs of its sequence now; lowered, it is the same
    buffer (in place), so `cache` must not be used after this op. Slots
    follow the rules of `hyla.gated_delta_rule_cached`.
  }];
  let arguments = (ins Hyla_FloatTensor:$input, Hyla_FloatTensor:$weight,
                       Hyla_FloatTensor:$cache, RankedTensorOf<[I32]>:$slots,
                       DefaultValuedStrAttr<StrAttr, "silu">:$activation);
  let results = (outs Hyla_FloatTensor:$result, Hyla_FloatTensor:$new_cache);
  let assemblyFormat = [{
    $input `,` $weight `,` $cache `[` $slots `]` attr-dict `:` type($input) `,`
    type($weight) `,` type($cache) `,` type($slots) `->` type($result) `,`
    type($new_cache)
  }];
}

def Hyla_GatedRMSNormOp : Hyla_ShapedOp<"gated_rms_norm"> {
  let summary = "RMSNorm with an output gate (GDN output norm)";
  let description = [{
    Over the last dimension `D` (the value head dim):
    `y = weight * (x * rsqrt(mean(x^2) + epsilon)) * silu(gate)`, computed
    in f32, rounded to the element type of `x`.
  }];
  let arguments = (ins Hyla_FloatTensor:$input, Hyla_FloatTensor:$gate,
                       Hyla_FloatTensor:$weight, Hyla_PositiveF64Attr:$epsilon);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gate `,` $weight attr-dict `:` type($input) `,` type($gate) `,`
    type($weight) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def Hyla_RopeOp : Hyla_ShapedOp<"rope", [AttrSizedOperandSegments]> {
  let summary = "Rotary position embedding (rotate-half form)";
  let description = [{
    `input` is `[B, T, H, D]`, D even; token `t` of sequence `b` has
    position `p = t`, or `p = offsets[b] + t` with `offsets` (`[B]` i32: the
    tokens a sequence had before these, as in a decode step). With
    `inv_freq[i] = theta^(-2i/D)` and `a = p * inv_freq[i mod D/2]`:
    `y[i] = x[i] cos(a) - x[i + D/2] sin(a)` for `i < D/2`,
    `y[i] = x[i] cos(a) + x[i - D/2] sin(a)` otherwise.

    With `cu_seqlens` (`[N + 1]` i32, non-decreasing from 0 to `T`; not
    with `offsets`) the batch dim is 1 and holds `N` packed sequences:
    token `t` of sequence `n` has position `p = t - cu_seqlens[n]`.
  }];
  let arguments = (ins Hyla_FloatTensor:$input,
                       Optional<RankedTensorOf<[I32]>>:$offsets,
                       Optional<RankedTensorOf<[I32]>>:$cu_seqlens,
                       Hyla_PositiveF64Attr:$theta);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`offsets` `(` $offsets^ `:` type($offsets) `)`)?
    (`cu_seqlens` `(` $cu_seqlens^ `:` type($cu_seqlens) `)`)? attr-dict `:`
    type($input) `->` type($result)
  }];
}

def Hyla_AttentionOp : Hyla_ShapedOp<"attention"> {
  let summary = "Scaled dot-product attention with grouped KV heads";
  let description = [{
    `q`: `[B, T, HQ, D]`, `k`: `[B, S, HKV, D]`, `v`: `[B, S, HKV, DV]`;
    result `[B, T, HQ, DV]`. Query head `h` attends with KV head
    `h / (HQ / HKV)`. With `causal`, query `t` sees keys `s <= t` (T == S).
    Softmax in f32.

    With `cu_seqlens` (`[N + 1]` i32, non-decreasing from 0 to `T`) the
    batch dim is 1 and holds `N` sequences packed one after another along
    the tokens of q, k and v alike (S == T): sequence `n` is tokens
    `cu_seqlens[n]` to `cu_seqlens[n + 1] - 1`, and its queries see only
    its own keys (with `causal`, those up to their own position).

    ```mlir
    %o = hyla.attention %q, %k, %v cu_seqlens(%cu : tensor<?xi32>)
        {scale = 0.0883883 : f64}
        : tensor<1x?x32x128xbf16>, tensor<1x?x8x128xbf16>,
          tensor<1x?x8x128xbf16> -> tensor<1x?x32x128xbf16>
    ```
  }];
  let arguments = (ins Hyla_FloatTensor:$q, Hyla_FloatTensor:$k,
                       Hyla_FloatTensor:$v,
                       Optional<RankedTensorOf<[I32]>>:$cu_seqlens,
                       Hyla_PositiveF64Attr:$scale,
                       DefaultValuedAttr<BoolAttr, "true">:$causal);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`cu_seqlens` `(` $cu_seqlens^ `:` type($cu_seqlens) `)`)?
    attr-dict `:` type($q) `,` type($k) `,` type($v) `->` type($result)
  }];
}

def Hyla_AttentionCachedOp : Hyla_ShapedOp<"attention_cached"> {
  let summary = "Causal attention of new tokens over a per-slot KV cache";
  let description = [{
    The decode (and chunked-prefill) step of an attention layer. `q`:
    `[B, T, HQ, D]`, `k`: `[B, T, HKV, D]`, `v`: `[B, T, HKV, DV]` are the
    `T` new tokens of each of `B` sequences; `k_cache`: `[slots, L, HKV, D]`
    and `v_cache`: `[slots, L, HKV, DV]` hold up to `L` tokens a slot.
    Sequence `b` lives in slot `slots[b]`, which holds `lengths[b]` tokens
    before this op. Its new token `t` is written at position
    `lengths[b] + t` of that slot and attends to positions
    `0 .. lengths[b] + t` (causal among the new tokens), query head `h`
    with KV head `h / (HQ / HKV)`; softmax in f32.

    `new_k_cache` and `new_v_cache` are the caches with those positions
    written; lowered they are the same buffers (updated in place), so the
    caches must not be used after this op. `slots` entries must be distinct
    and within `[0, slots)`, and `0 <= lengths[b] <= L - T`; the kernels
    write NaN outputs for a sequence that breaks this and leave the caches
    alone (the float64 reference rejects it).
  }];
  let arguments = (ins Hyla_FloatTensor:$q, Hyla_FloatTensor:$k,
                       Hyla_FloatTensor:$v, Hyla_FloatTensor:$k_cache,
                       Hyla_FloatTensor:$v_cache, RankedTensorOf<[I32]>:$slots,
                       RankedTensorOf<[I32]>:$lengths,
                       Hyla_PositiveF64Attr:$scale);
  let results = (outs Hyla_FloatTensor:$result, Hyla_FloatTensor:$new_k_cache,
                      Hyla_FloatTensor:$new_v_cache);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $k_cache `,` $v_cache `[` $slots `]` `lengths`
    $lengths attr-dict `:` type($q) `,` type($k) `,` type($v) `,`
    type($k_cache) `,` type($v_cache) `,` type($slots) `,` type($lengths)
    `->` type($result) `,` type($new_k_cache) `,` type($new_v_cache)
  }];
}

//===----------------------------------------------------------------------===//
// Prefill into per-slot caches (packed sequences)
//===----------------------------------------------------------------------===//

def Hyla_SequenceTailOp : Hyla_ShapedOp<"sequence_tail"> {
  let summary = "The last tokens of each packed sequence";
  let description = [{
    `input` is `[1, T, F]` holding `N` sequences packed along the tokens
    (`cu_seqlens`, `[N + 1]` i32, non-decreasing from 0 to `T`); the
    result `[N, count, F]` holds the last `count` tokens of each, oldest
    first: `result[n, r] = input[0, cu_seqlens[n + 1] - count + r]` where
    that token belongs to sequence `n`, zero where the sequence is shorter.
    A prefill takes each sequence's last hidden state (count 1, for its
    logits) and its last `W - 1` conv inputs (for the conv cache) this way.

    ```mlir
    %last = hyla.sequence_tail %h cu_seqlens(%cu : tensor<?xi32>) {count = 1}
        : tensor<1x?x3840xbf16> -> tensor<?x1x3840xbf16>
    ```
  }];
  let arguments = (ins Hyla_FloatTensor:$input, RankedTensorOf<[I32]>:$cu_seqlens,
                       ConfinedAttr<I64Attr, [IntPositive]>:$count);
  let results = (outs Hyla_FloatTensor:$result);
  let assemblyFormat = [{
    $input `cu_seqlens` `(` $cu_seqlens `:` type($cu_seqlens) `)` attr-dict `:`
    type($input) `->` type($result)
  }];
}

def Hyla_WriteSlotsOp : Hyla_ShapedOp<"write_slots"> {
  let summary = "Whole per-slot cache entries written from a batch";
  let description = [{
    `cache` is `[slots, ...]`, `values` is `[N, ...]` with the same trailing
    dims, `slots` is `[N]` i32: `new_cache` is `cache` with
    `cache[slots[n]] = values[n]`. Lowered it is the same buffer (updated in
    place), so `cache` must not be used after this op. `slots` entries must
    be distinct and within `[0, slots)`; the kernel writes nothing for an
    entry outside (the float64 reference rejects both cases). A prefill
    stores each sequence's final recurrent state and last conv inputs so.
  }];
  let arguments = (ins Hyla_FloatTensor:$cache, RankedTensorOf<[I32]>:$slots,
                       Hyla_FloatTensor:$values);
  let results = (outs Hyla_FloatTensor:$new_cache);
  let assemblyFormat = [{
    $cache `[` $slots `]` `,` $values attr-dict `:` type($cache) `,`
    type($slots) `,` type($values) `->` type($new_cache)
  }];
}

def Hyla_WriteSequencesOp : Hyla_ShapedOp<"write_sequences"> {
  let summary = "Packed sequences written into per-slot token caches";
  let description = [{
    `cache` is `[slots, L, ...]`, `input` is `[1, T, ...]` with the same
    trailing dims holding `N` sequences packed along the tokens
    (`cu_seqlens`, `[N + 1]` i32, non-decreasing from 0 to `T`), `slots` is
    `[N]` i32: `new_cache` is `cache` with
    `cache[slots[n], i] = input[0, cu_seqlens[n] + i]` for every token `i`
    of sequence `n`. Lowered it is the same buffer (updated in place).
    `slots` follow the rules of `hyla.write_slots`, and a sequence must fit
    in `L` positions; the kernel writes nothing outside the cache (the
    float64 reference rejects a longer sequence). A prefill fills the
    attention layers' key and value caches so.
  }];
  let arguments = (ins Hyla_FloatTensor:$cache, RankedTensorOf<[I32]>:$slots,
                       Hyla_FloatTensor:$input,
                       RankedTensorOf<[I32]>:$cu_seqlens);
  let results = (outs Hyla_FloatTensor:$new_cache);
  let assemblyFormat = [{
    $cache `[` $slots `]` `,` $input `cu_seqlens` `(` $cu_seqlens `:`
    type($cu_seqlens) `)` attr-dict `:` type($cache) `,` type($slots) `,`
    type($input) `->` type($new_cache)
  }];
}

//===----------------------------------------------------------------------===//
// Dispatch of a tile kernel
//===----------------------------------------------------------------------===//

def Hyla_DispatchOp : Hyla_Op<"dispatch", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<ReifyRankedShapedTypeOpInterface, ["reifyResultShapes"]>]> {
  let summary = "Launch of a hyla_tile kernel over a grid of programs";
  let description = [{
    Runs `kernel` (a `func.func` marked `hyla_tile.kernel`) once per program
    of the 3-D `grid`. The kernel takes one memref per input and then one per
    result, of the same shapes and element types; results are fresh buffers
    the kernel writes, except a result `i` with `tied_results[i] = j >= 0`,
    which is input `j` updated in place (the kernel gets the same memory
    twice; unwritten elements keep input `j`'s values). Each input and result
    lists its dynamic dimension sizes in braces after its type: for inputs
    these are the sizes the kernel expects (the runtime checks entry
    arguments against them).

    ```mlir
    %y = hyla.dispatch @rms_norm_3840[%gx, %c1, %c1](%x, %w)
        : (tensor<?x?x3840xbf16>{%b, %t}, tensor<3840xbf16>)
        -> (tensor<?x?x3840xbf16>{%b, %t})
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$kernel,
                       Variadic<Index>:$grid,
                       Variadic<AnyRankedTensor>:$inputs,
                       Variadic<Index>:$input_dims,
                       Variadic<Index>:$result_dims,
                       OptionalAttr<DenseI64ArrayAttr>:$tied_results);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The dynamic sizes of input `i`, in dimension order.
    ::mlir::ValueRange getInputDynamicDims(unsigned i);
    /// The dynamic sizes of result `i`, in dimension order.
    ::mlir::ValueRange getResultDynamicDims(unsigned i);
    /// The input result `i` updates in place, or -1.
    int64_t getTiedInput(unsigned i);
  }];
}

#endif // HYLA_OPS_TD
