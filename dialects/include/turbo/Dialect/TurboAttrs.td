//===- TurboAttrs.td - turbo dialect attributes ------------*- tablegen -*-===//
#ifndef TURBO_ATTRS_TD
#define TURBO_ATTRS_TD

include "turbo/Dialect/TurboBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class Turbo_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Turbo_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Turbo_Granularity : I32EnumAttr<"Granularity",
    "which elements share one quantization scale", [
      I32EnumAttrCase<"Tile", 0, "tile">,
      I32EnumAttrCase<"Row", 1, "row">,
      I32EnumAttrCase<"Column", 2, "column">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::turbo";
}
def Turbo_GranularityAttr : EnumAttr<Turbo_Dialect, Turbo_Granularity, "granularity"> {
  let assemblyFormat = "`<` $value `>`";
}

def Turbo_ReduceKind : I32EnumAttr<"ReduceKind", "row/column reduction", [
      I32EnumAttrCase<"Max", 0, "max">,
      I32EnumAttrCase<"Sum", 1, "sum">,
      I32EnumAttrCase<"AbsMax", 2, "absmax">,
      I32EnumAttrCase<"Min", 3, "min">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::turbo";
}
// Printed bare inside turbo.reduce's syntax: `turbo.reduce max %x ...`.
def Turbo_ReduceKindAttr : EnumAttr<Turbo_Dialect, Turbo_ReduceKind, "reduce_kind">;

def Turbo_ExpBase : I32EnumAttr<"ExpBase", "base of a SAS exponential", [
      I32EnumAttrCase<"E", 1, "e">,
      I32EnumAttrCase<"Two", 2, "two">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::turbo";
}
def Turbo_ExpBaseAttr : EnumAttr<Turbo_Dialect, Turbo_ExpBase, "exp_base"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Kernel configuration
//===----------------------------------------------------------------------===//

def Turbo_ConfigAttr : Turbo_Attr<"Config", "config"> {
  let summary = "tuning parameters of a kernel";
  let description = [{
    The values the kernel was built with (the template's defaults, the head
    config's tuning and the config string: tile sizes, warps, pipeline
    stages, bit-widths, SAS settings), as named integers: every parameter of the
    template the kernel was built from, so that a lit test can pin any
    configuration by writing it. The compiler reads three of them, typed
    (`getCodegenOptions`): `num_stages` (shared-memory slots per staged
    load, 1 to 8; absent: 1), `wgmma` (0 or 1: Hopper warpgroup MMAs for
    the dots that qualify) and `min_blocks_per_sm` (>= 0: the kernel's
    `.minnctapersm`); the verifier checks their ranges.

    Example: `#turbo.config<{block_m = 64 : i64, num_stages = 2 : i64}>`
  }];
  let parameters = (ins "::mlir::DictionaryAttr":$params);
  let assemblyFormat = "`<` $params `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The entries the compiler reads, typed; absent ones take the defaults.
    CodegenOptions getCodegenOptions() const;
    /// The options of `kernel`'s turbo.config (the defaults without one).
    static CodegenOptions codegenOptionsOf(::mlir::Operation *kernel);
  }];
}

//===----------------------------------------------------------------------===//
// Layout encodings (attached to tile types by turbo-assign-layouts)
//===----------------------------------------------------------------------===//

def Turbo_BlockedEncodingAttr : Turbo_Attr<"BlockedEncoding", "blocked"> {
  let summary = "tile distributed in blocks over threads and warps";
  let description = [{
    Each thread holds `sizePerThread[d]` consecutive elements along dim d;
    `threadsPerWarp[d]` threads and `warpsPerCTA[d]` warps tile the dim in
    that order; `order` lists the dims fastest first (the order in which a
    warp's lanes and a thread's registers walk the tile). A tile larger than
    the covered extent repeats the pattern; a smaller one wraps, so several
    threads hold copies of an element.

    Example: `#turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [4, 8],
    warpsPerCTA = [4, 1], order = [1, 0]}>`
  }];
  let parameters = (ins
    ArrayRefParameter<"unsigned">:$sizePerThread,
    ArrayRefParameter<"unsigned">:$threadsPerWarp,
    ArrayRefParameter<"unsigned">:$warpsPerCTA,
    ArrayRefParameter<"unsigned">:$order);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def Turbo_SliceEncodingAttr : Turbo_Attr<"SliceEncoding", "slice"> {
  let summary = "a tile with one dim of its parent layout removed";
  let description = [{
    The layout of a reduction's result: dim `dim` of `parent` is collapsed,
    so each thread holds the elements whose other coordinates it holds in
    the parent. `turbo.expand_dims` turns it back into `parent`.

    Example: `#turbo.slice<{dim = 1, parent = #turbo.blocked<...>}>`
  }];
  let parameters = (ins "unsigned":$dim, "::mlir::Attribute":$parent);
  let hasCustomAssemblyFormat = 1;
}

def Turbo_LinearEncodingAttr : Turbo_Attr<"LinearEncoding", "linear"> {
  let summary = "tile distributed by an explicit map from register, lane and warp bits";
  let description = [{
    The map every other layout stands for, written out: bit `i` of a
    thread's register index adds `reg[i][1]` to coordinate `reg[i][0]`,
    and likewise for the lane id (exactly five bits) and the warp id. A
    value of 0 moves nothing (the element is held in several places); a
    value past the tile's extent is masked to 0. turbo-assign-layouts
    writes one where no blocked layout spreads a tile the way a use needs:
    the cache's codes loaded in the order of an mma A operand's fragments,
    whose rows are 8 lanes, then a register step, then the warps.

    Example: `#turbo.linear<{reg = [[1, 1], [1, 2], [0, 8]],
    lane = [[1, 4], [1, 8], [0, 1], [0, 2], [0, 4]], warp = [[0, 16], [0, 32]]}>`
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t">:$reg,
    ArrayRefParameter<"int64_t">:$lane,
    ArrayRefParameter<"int64_t">:$warp);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  // reg, lane and warp hold the bases flat: dim, value, dim, value, ...
  let extraClassDeclaration = [{
    /// A warp's 32 lanes.
    static constexpr unsigned kLaneBits = 5;
  }];
}

def Turbo_MmaEncodingAttr : Turbo_Attr<"MmaEncoding", "mma"> {
  let summary = "accumulator layout of warp-level mma.sync";
  let description = [{
    The accumulator fragment of `mma.sync.m16n8kK`: a warp owns 16x8 blocks;
    `warpsPerCTA` arranges the warps over the tile. Lane l holds rows
    `l/4` and `l/4 + 8`, columns `2*(l%4)` and `2*(l%4)+1` of each block.

    Example: `#turbo.mma<{warpsPerCTA = [4, 1]}>`
  }];
  let parameters = (ins ArrayRefParameter<"unsigned">:$warpsPerCTA);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def Turbo_DotOperandEncodingAttr : Turbo_Attr<"DotOperandEncoding", "dot_operand"> {
  let summary = "A or B operand fragment of mma.sync";
  let description = [{
    Operand `opIdx` (0 = A, 1 = B) of a dot whose accumulator has layout
    `parent` (a `#turbo.mma`). `kWidth` is the number of consecutive K
    elements a thread holds in one 32-bit register (4 for 8-bit, 2 for
    16-bit elements).

    Example: `#turbo.dot_operand<{opIdx = 0, parent = #turbo.mma<...>, kWidth = 4}>`
  }];
  let parameters = (ins "unsigned":$opIdx, "::mlir::Attribute":$parent, "unsigned":$kWidth);
  let hasCustomAssemblyFormat = 1;
}

#endif // TURBO_ATTRS_TD
