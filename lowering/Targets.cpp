//===- Targets.cpp - GPU target descriptions ------------------------------===//

#include "lowering/Targets.h"

namespace hyla {

static const GpuTarget kTargets[] = {
#define HYLA_TARGET(id, chip, ptx, major, minor, smem, mma, wgmma, tma,        \
                    tcgen05, griddep, cluster, desc)                           \
  {#id,  chip,    ptx,     major,   minor, smem,                               \
   mma,  wgmma,   tma,     tcgen05, griddep, cluster, desc},
#include "lowering/Targets.def"
};

llvm::ArrayRef<GpuTarget> allTargets() { return kTargets; }

const GpuTarget *lookupTarget(llvm::StringRef id) {
  for (const GpuTarget &t : kTargets)
    if (t.id == id)
      return &t;
  return nullptr;
}

} // namespace hyla
