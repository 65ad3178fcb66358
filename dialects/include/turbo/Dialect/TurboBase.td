//===- TurboBase.td - the turbo dialect --------------------*- tablegen -*-===//
#ifndef TURBO_BASE_TD
#define TURBO_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Turbo_Dialect : Dialect {
  let name = "turbo";
  let cppNamespace = "::mlir::turbo";
  let summary = "Tile-level IR for quantized attention kernels";
  let description = [{
    Values are whole tiles (ranked tensors); ops act on whole tiles: load and
    store a tile, quantize it, multiply two tiles, take a polynomial exp of a
    tile, reduce its rows. Which thread holds which element is not written in
    the IR a template produces: the `turbo-assign-layouts` pass attaches a
    layout encoding (`#turbo.blocked`, `#turbo.slice`, `#turbo.mma`,
    `#turbo.dot_operand`) to every tile, and the lowering follows it.

    A kernel is a `func.func` with the unit attribute `turbo.kernel`. The
    dialect's attributes on other operations:

    | attribute | on | meaning |
    | --- | --- | --- |
    | `turbo.target = "sm_90a"` | module | `sm_80`, `sm_86`, `sm_89`, `sm_90`, `sm_90a` (absent: `sm_90a`) |
    | `turbo.num_warps = 4 : i32` | module | warps per thread block (a power of two, 1..32) |
    | `turbo.kernel` | `func.func` | the function is a kernel (no results) |
    | `turbo.config = #turbo.config<{...}>` | kernel | the parameters it was built with (see `#turbo.config`) |
    | `turbo.divisibility = 16 : i64` | kernel argument | the pointer's address (bytes) or the integer's value is a multiple of this power of two; the host checks it before a launch, the lowering vectorizes on it |
    | `turbo.shared_bytes` | kernel, after lowering | the dynamic shared memory it needs |
    | `turbo.programmatic_launch` | kernel, after lowering | it contains `turbo.wait_prior_grids`: the runtime launches it with programmatic stream serialization |
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect", "::mlir::func::FuncDialect"];
  let extraClassDeclaration = [{
    static constexpr ::llvm::StringLiteral kKernelAttrName = "turbo.kernel";
    static constexpr ::llvm::StringLiteral kTargetAttrName = "turbo.target";
    static constexpr ::llvm::StringLiteral kNumWarpsAttrName = "turbo.num_warps";
    static constexpr ::llvm::StringLiteral kConfigAttrName = "turbo.config";
    static constexpr ::llvm::StringLiteral kSharedBytesAttrName = "turbo.shared_bytes";
    static constexpr ::llvm::StringLiteral kProgrammaticLaunchAttrName =
        "turbo.programmatic_launch";
    /// On a kernel argument: the pointer's address in bytes, or the integer's
    /// value, is a multiple of this power of two (checked by the host before
    /// launch); the lowering uses it to vectorize memory accesses.
    static constexpr ::llvm::StringLiteral kDivisibilityAttrName = "turbo.divisibility";
    /// Warps of a thread block (1024 threads): the bound of `turbo.num_warps`
    /// and of every layout's warps.
    static constexpr unsigned kMaxWarps = 32;
  private:
    void registerTypes();
    void registerAttributes();
  public:
  }];
}

class Turbo_Op<string mnemonic, list<Trait> traits = []>
    : Op<Turbo_Dialect, mnemonic, traits>;

#endif // TURBO_BASE_TD
