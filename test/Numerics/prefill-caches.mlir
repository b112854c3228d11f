// The packed-prompt forms of the causal conv and RoPE and the cache
// writes of a prefill, in f32 against their float64 definitions, with
// fresh random offsets every run: many sequences over few tokens (so
// some are empty or shorter than the conv's 3 cached inputs) and a few
// over more tokens than one block.
// RUN: hyla-cpu-runner %s --entry=conv_packed --dist=1=offsets:0:150 --tolerance=1e-5 | FileCheck %s --check-prefix=CONV
// RUN: hyla-cpu-runner %s --entry=conv_packed_short --dist=1=offsets:0:20 --tolerance=1e-5 | FileCheck %s --check-prefix=SHORT
// RUN: hyla-cpu-runner %s --entry=rope_packed --dist=1=offsets:0:150 --tolerance=1e-5 | FileCheck %s --check-prefix=ROPE
// RUN: hyla-cpu-runner %s --entry=tails --dist=1=offsets:0:20 --tolerance=1e-6 | FileCheck %s --check-prefix=TAILS
// RUN: hyla-cpu-runner %s --entry=write_slots --dist=1=distinct:0:6 --tolerance=1e-6 | FileCheck %s --check-prefix=SLOTS
// RUN: hyla-cpu-runner %s --entry=write_sequences --dist=1=distinct:0:5 --dist=3=offsets:0:150 --tolerance=1e-6 | FileCheck %s --check-prefix=SEQS
// A slot table that repeats a slot is rejected by the reference.
// RUN: not hyla-cpu-runner %s --entry=write_slots --dist=1=int:0:1 2>&1 | FileCheck %s --check-prefix=REPEAT
// CONV: conv_packed: output 0 {{.*}} nonfinite 0 PASS
// SHORT: conv_packed_short: output 0 {{.*}} nonfinite 0 PASS
// ROPE: rope_packed: output 0 {{.*}} nonfinite 0 PASS
// TAILS: tails: output 0 f32[9x3x96] {{.*}} nonfinite 0 PASS
// TAILS: tails: output 1 f32[9x1x96] {{.*}} nonfinite 0 PASS
// SLOTS: write_slots: output 0 f32[6x4x32x48] {{.*}} nonfinite 0 PASS
// SLOTS: write_slots: output 1 f32[6x3x80] {{.*}} nonfinite 0 PASS
// SEQS: write_sequences: output 0 f32[5x160x2x32] {{.*}} nonfinite 0 PASS
// SEQS: write_sequences: output 1 f32[5x160x80] {{.*}} nonfinite 0 PASS
// REPEAT: batch elements 0 and 1 both use slot 0

func.func @conv_packed(%x: tensor<1x150x96xf32>, %cu: tensor<9xi32>) -> tensor<1x150x96xf32> {
  %w = hyla.weight "w" : tensor<96x4xf32>
  %y = hyla.causal_conv1d %x, %w cu_seqlens(%cu : tensor<9xi32>) : tensor<1x150x96xf32>, tensor<96x4xf32> -> tensor<1x150x96xf32>
  return %y : tensor<1x150x96xf32>
}

func.func @conv_packed_short(%x: tensor<1x20x96xf32>, %cu: tensor<10xi32>) -> tensor<1x20x96xf32> {
  %w = hyla.weight "w" : tensor<96x4xf32>
  %y = hyla.causal_conv1d %x, %w cu_seqlens(%cu : tensor<10xi32>) : tensor<1x20x96xf32>, tensor<96x4xf32> -> tensor<1x20x96xf32>
  return %y : tensor<1x20x96xf32>
}

func.func @rope_packed(%x: tensor<1x150x4x32xf32>, %cu: tensor<9xi32>) -> tensor<1x150x4x32xf32> {
  %y = hyla.rope %x cu_seqlens(%cu : tensor<9xi32>) {theta = 10000.0 : f64} : tensor<1x150x4x32xf32> -> tensor<1x150x4x32xf32>
  return %y : tensor<1x150x4x32xf32>
}

func.func @tails(%x: tensor<1x20x96xf32>, %cu: tensor<10xi32>) -> (tensor<9x3x96xf32>, tensor<9x1x96xf32>) {
  %t3 = hyla.sequence_tail %x cu_seqlens(%cu : tensor<10xi32>) {count = 3} : tensor<1x20x96xf32> -> tensor<9x3x96xf32>
  %t1 = hyla.sequence_tail %x cu_seqlens(%cu : tensor<10xi32>) {count = 1} : tensor<1x20x96xf32> -> tensor<9x1x96xf32>
  return %t3, %t1 : tensor<9x3x96xf32>, tensor<9x1x96xf32>
}

// A recurrent state ([K, V] per head) and conv inputs ([W - 1, C]).
func.func @write_slots(%states: tensor<6x4x32x48xf32>, %slots: tensor<5xi32>, %new: tensor<5x4x32x48xf32>, %convs: tensor<6x3x80xf32>, %tails: tensor<5x3x80xf32>) -> (tensor<6x4x32x48xf32>, tensor<6x3x80xf32>) {
  %s = hyla.write_slots %states[%slots], %new : tensor<6x4x32x48xf32>, tensor<5xi32>, tensor<5x4x32x48xf32> -> tensor<6x4x32x48xf32>
  %c = hyla.write_slots %convs[%slots], %tails : tensor<6x3x80xf32>, tensor<5xi32>, tensor<5x3x80xf32> -> tensor<6x3x80xf32>
  return %s, %c : tensor<6x4x32x48xf32>, tensor<6x3x80xf32>
}

// Keys [slots, positions, heads, dim], and a token shape of one dim.
func.func @write_sequences(%keys: tensor<5x160x2x32xf32>, %slots: tensor<4xi32>, %k: tensor<1x150x2x32xf32>, %cu: tensor<5xi32>, %flat: tensor<5x160x80xf32>, %x: tensor<1x150x80xf32>) -> (tensor<5x160x2x32xf32>, tensor<5x160x80xf32>) {
  %a = hyla.write_sequences %keys[%slots], %k cu_seqlens(%cu : tensor<5xi32>) : tensor<5x160x2x32xf32>, tensor<4xi32>, tensor<1x150x2x32xf32> -> tensor<5x160x2x32xf32>
  %b = hyla.write_sequences %flat[%slots], %x cu_seqlens(%cu : tensor<5xi32>) : tensor<5x160x80xf32>, tensor<4xi32>, tensor<1x150x80xf32> -> tensor<5x160x80xf32>
  return %a, %b : tensor<5x160x2x32xf32>, tensor<5x160x80xf32>
}
