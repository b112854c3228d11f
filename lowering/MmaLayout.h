//===- MmaLayout.h - how a dot's result is spread over warps --------------===//
//
// One definition of the mma.sync strip decomposition, shared by the pass
// that chooses `#hyla_tile.mma` accumulators and the GPU lowering that
// computes in them.
//
//===----------------------------------------------------------------------===//

#ifndef HYLA_LOWERING_MMALAYOUT_H
#define HYLA_LOWERING_MMALAYOUT_H

#include <cstdint>

namespace hyla {

/// An M x N dot result cut into strips of 16 rows by 8 * `strip` columns;
/// one warp computes one strip at a time (one A fragment feeds `strip`
/// mma.sync per k step).
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

} // namespace hyla

#endif // HYLA_LOWERING_MMALAYOUT_H
