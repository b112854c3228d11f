//===- Targets.h - GPU target descriptions --------------------------------===//
#ifndef HYLA_LOWERING_TARGETS_H
#define HYLA_LOWERING_TARGETS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

namespace hyla {

/// What the compiler needs to know about a GPU: the name LLVM's NVPTX
/// backend and ptxas know it by, the PTX version its features need, the
/// compute capability the runtime checks, limits, and which matrix
/// instructions exist. See Targets.def.
struct GpuTarget {
  llvm::StringRef id;
  llvm::StringRef chip;
  llvm::StringRef ptxFeatures;
  unsigned ccMajor, ccMinor;
  unsigned maxDynamicSharedBytes;
  bool hasMmaSync, hasWgmma, hasTma, hasTcgen05;
  /// griddepcontrol (programmatic dependent launch), PTX ISA 7.8, sm_90+.
  bool hasGridDependencyControl;
  /// Most CTAs a thread-block cluster may hold (0: no clusters).
  unsigned maxClusterSize;
  llvm::StringRef description;
};

llvm::ArrayRef<GpuTarget> allTargets();
/// The target called `id`, or nullptr.
const GpuTarget *lookupTarget(llvm::StringRef id);

} // namespace hyla

#endif
