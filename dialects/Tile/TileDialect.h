//===- TileDialect.h - the hyla_tile kernel dialect -----------------------===//
#ifndef HYLA_DIALECTS_TILE_TILEDIALECT_H
#define HYLA_DIALECTS_TILE_TILEDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialects/Tile/TileDialect.h.inc"

#endif
