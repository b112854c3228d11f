//===- MmaLayout.h - how a dot's result is spread over warps --------------===//
//
// One definition of the mma.sync and wgmma strip decompositions, and of
// which dots wgmma can run, shared by the pass that chooses `#hyla_tile.mma`
// accumulators and the GPU lowering that computes in them.
//
//===----------------------------------------------------------------------===//

#ifndef HYLA_LOWERING_MMALAYOUT_H
#define HYLA_LOWERING_MMALAYOUT_H

#include "dialects/Tile/TileOps.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include <cstdint>

namespace hyla {

/// An M x N dot result cut into strips of 16 rows by 8 * `strip` columns;
/// one warp computes one strip at a time (one A fragment feeds `strip`
/// mma.sync per k step). Strip i is warp (i mod warps)'s, rows first.
struct MmaStrips {
  int64_t m = 0, n = 0;
  int64_t strip = 1;   // n tiles of 8 columns per strip
  int64_t stripsN = 0; // strips across N
  int64_t strips = 0;  // strips in the tile

  static MmaStrips get(int64_t m, int64_t n) {
    MmaStrips s;
    s.m = m;
    s.n = n;
    int64_t tilesN = n / 8;
    s.strip = tilesN % 4 == 0 ? 4 : tilesN % 2 == 0 ? 2 : 1;
    s.stripsN = tilesN / s.strip;
    s.strips = (m / 16) * s.stripsN;
    return s;
  }
  /// The wgmma accumulator: strips of 16 rows by all N columns, so that
  /// the four warps of a warpgroup hold one m64 block.
  static MmaStrips warpgroup(int64_t m, int64_t n) {
    MmaStrips s;
    s.m = m;
    s.n = n;
    s.strip = n / 8;
    s.stripsN = 1;
    s.strips = m / 16;
    return s;
  }
  /// The `#hyla_tile.mma` geometry held by `warps` warps: the widest strip
  /// (4, 2 or 1 n tiles) whose strips split evenly over the warps; narrower
  /// strips make small tiles (64x64 over 16 warps) fit.
  static MmaStrips fragments(int64_t m, int64_t n, int64_t warps) {
    MmaStrips widest = get(m, n);
    for (int64_t strip = widest.strip; strip >= 1; strip /= 2) {
      MmaStrips s = widest;
      s.strip = strip;
      s.stripsN = n / 8 / strip;
      s.strips = (m / 16) * s.stripsN;
      if (s.fitsFragments(warps))
        return s;
    }
    return widest;
  }
  static MmaStrips get(int64_t m, int64_t n, bool warpgroupLayout,
                       int64_t warps) {
    return warpgroupLayout ? warpgroup(m, n) : fragments(m, n, warps);
  }
  /// wgmma shapes: whole warpgroups, m64 blocks shared evenly among them,
  /// N a multiple of 8 up to 256.
  bool fitsWarpgroups(int64_t warps) const {
    return warps % 4 == 0 && m % 64 == 0 && n % 8 == 0 && n >= 8 &&
           n <= 256 && (m / 16) % warps == 0;
  }
  /// mma.sync shapes and an even share of strips per warp: the condition
  /// for holding the tile as `#hyla_tile.mma` fragments.
  bool fitsFragments(int64_t warps) const {
    return m % 16 == 0 && n % 8 == 0 && strips > 0 && strips % warps == 0;
  }
  int64_t stripsPerWarp(int64_t warps) const { return strips / warps; }
  /// f32 values per thread in `#hyla_tile.mma` form: 4 per 16x8 tile.
  int64_t fragmentSlots(int64_t warps) const {
    return stripsPerWarp(warps) * 4 * strip;
  }
};

/// A `#hyla_tile.mma<warpgroup>` tile: wgmma's accumulator layout.
inline bool isWarpgroupTile(mlir::Type t) {
  auto tt = mlir::dyn_cast<mlir::RankedTensorType>(t);
  auto enc = tt ? mlir::dyn_cast_or_null<tile::MmaLayoutAttr>(tt.getEncoding())
                : nullptr;
  return enc && enc.getWarpgroup();
}

/// A 1-D `#hyla_tile.mma<warpgroup>` tile: one value per row of wgmma
/// fragments (a row reduction of them, the online softmax's row max and
/// sum), held by each lane of the quad whose fragments hold that row.
inline bool isFragmentRows(mlir::Type t) {
  auto tt = mlir::dyn_cast<mlir::RankedTensorType>(t);
  return tt && tt.getRank() == 1 && isWarpgroupTile(t);
}

/// Whether `warps` warps hold `m` fragment rows: whole warpgroups, the
/// 16-row strips shared evenly (as `MmaStrips::fitsWarpgroups`).
inline bool fitsFragmentRows(int64_t m, int64_t warps) {
  return warps % 4 == 0 && m % 64 == 0 && (m / 16) % warps == 0;
}

/// Values per thread of `m` fragment rows: rows g and g + 8 of each of its
/// 16-row strips.
inline int64_t fragmentRowSlots(int64_t m, int64_t warps) {
  return 2 * (m / 16 / warps);
}

/// A `#hyla_tile.shared` tile: a buffer in shared memory (held as its
/// 32-bit shared-memory address on the GPU).
inline bool isSharedTile(mlir::Type t) {
  auto tt = mlir::dyn_cast<mlir::RankedTensorType>(t);
  return tt && mlir::isa_and_nonnull<tile::SharedLayoutAttr>(tt.getEncoding());
}

/// The M x N x K of a dot, whatever its transposes.
struct DotShape {
  int64_t m, n, k;
  static DotShape of(tile::DotOp dot) {
    auto a = dot.getA().getType(), b = dot.getB().getType();
    return {a.getDimSize(dot.getTransposeA() ? 1 : 0),
            b.getDimSize(dot.getTransposeB() ? 0 : 1),
            a.getDimSize(dot.getTransposeA() ? 0 : 1)};
  }
};

/// Elements of a dot operand in one 128-byte swizzle row of wgmma's
/// shared-memory layout: 64 of 16 bits, 32 of tf32.
inline int64_t wgmmaRowElements(mlir::Type elt) {
  return 128 * 8 / elt.getIntOrFloatBitWidth();
}

/// Whether wgmma can run `dot` into `#hyla_tile.mma<warpgroup>` fragments
/// held by `warps` warps with operands it writes to shared memory itself
/// (from registers, in either orientation): bf16/f16 operands, or f32 ones
/// rounded to tf32; K in whole 128-byte swizzle rows.
inline bool fitsWgmmaFromRegisters(tile::DotOp dot, int64_t warps) {
  mlir::Type elt = dot.getA().getType().getElementType();
  DotShape s = DotShape::of(dot);
  return (elt.isBF16() || elt.isF16() || elt.isF32()) &&
         dot.getB().getType().getElementType() == elt &&
         s.k % wgmmaRowElements(elt) == 0 &&
         MmaStrips::warpgroup(s.m, s.n).fitsWarpgroups(warps);
}

/// Whether wgmma can run `dot` with operands that copies place in
/// 128-byte-swizzled shared memory as they are in global memory: 16-bit
/// operands both contiguous along k (A [m][k], B [n][k]).
inline bool fitsWgmma(tile::DotOp dot, int64_t warps) {
  mlir::Type elt = dot.getA().getType().getElementType();
  return (elt.isBF16() || elt.isF16()) && !dot.getTransposeA() &&
         dot.getTransposeB() && fitsWgmmaFromRegisters(dot, warps);
}

/// Whether wgmma can run `dot` with operand A (`aShared`) and B
/// (`bShared`) read where copies placed them, as they lie in global memory,
/// and the others written by the lowering: a copied A contiguous along k
/// ([m][k]); a copied B contiguous along k ([n][k]) or, with 16-bit
/// elements, along n ([k][n], attention's values: wgmma reads it
/// transposed, "MN-major").
inline bool fitsWgmmaOperands(tile::DotOp dot, int64_t warps, bool aShared,
                              bool bShared) {
  bool sixteenBit =
      dot.getB().getType().getElementType().getIntOrFloatBitWidth() == 16;
  return (!aShared || !dot.getTransposeA()) &&
         (!bShared || dot.getTransposeB() || sixteenBit) &&
         fitsWgmmaFromRegisters(dot, warps);
}

/// `value` (thread layout) as an `encoded` tile: an encoded constant for a
/// splat, else a convert_layout, created at the rewriter's insertion point.
inline mlir::Value toEncoded(mlir::PatternRewriter &rw, mlir::Value value,
                             mlir::RankedTensorType encoded) {
  mlir::DenseElementsAttr splat;
  if (mlir::matchPattern(value, mlir::m_Constant(&splat)) && splat.isSplat())
    return mlir::arith::ConstantOp::create(
        rw, value.getLoc(), encoded,
        mlir::DenseElementsAttr::get(encoded,
                                     splat.getSplatValue<mlir::Attribute>()));
  return tile::ConvertLayoutOp::create(rw, value.getLoc(), encoded, value);
}

/// Makes `loop` carry its value `i` as `encoded`: the start value is
/// converted before the loop (toEncoded), and one conversion back after it
/// replaces the other uses of the result. The body's uses of the carried
/// value and its yield are the caller's to adapt.
inline void carryEncoded(mlir::PatternRewriter &rw, mlir::scf::ForOp loop,
                         unsigned i, mlir::RankedTensorType encoded) {
  auto plain = mlir::cast<mlir::RankedTensorType>(loop.getResult(i).getType());
  rw.setInsertionPoint(loop);
  mlir::Value start = toEncoded(rw, loop.getInitArgs()[i], encoded);
  rw.modifyOpInPlace(loop, [&] {
    loop.getInitArgsMutable()[i].set(start);
    loop.getRegionIterArg(i).setType(encoded);
    loop.getResult(i).setType(encoded);
  });
  rw.setInsertionPointAfter(loop);
  auto back = tile::ConvertLayoutOp::create(rw, loop.getLoc(), plain,
                                            loop.getResult(i));
  rw.replaceAllUsesExcept(loop.getResult(i), back, back);
}

} // namespace hyla

#endif // HYLA_LOWERING_MMALAYOUT_H
