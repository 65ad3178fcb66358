//===- WgmmaPatterns.cpp - turbo.dot to Hopper wgmma ----------------------===//
//
// The dots planWgmma chose (KernelContext::wgmmaDots): A in registers, in
// the same fragments as mma.sync.m16n8k32 (8-bit) or m16n8k16 (16-bit; warp
// w of a warpgroup holds rows 16w .. 16w+15), B read by the tensor cores
// straight from its swizzled staging slot, K-major, through a 64-bit matrix
// descriptor; the accumulator's registers are mma.sync's too (4 per 8
// columns). So only the instructions change, not the layouts around them:
//
//   wgmma.fence                          (A and the accumulator were written)
//   wgmma.mma_async m64nNk32 x K/32      (s32 += A(s8/u8) * B(s8)), or
//   wgmma.mma_async m64nNk16 x K/16      (f32 += A(f16) * B(f16), bf16 alike)
//   wgmma.commit_group; wgmma.wait_group 0
//
// Either way one step covers 32 bytes of K.
//
// One warpgroup instruction replaces N/8 mma.sync per warp and its
// ldmatrix loads of B. The copies into the slot are fenced for the async
// proxy where they are waited for (AsyncWaitPattern).
//
//===----------------------------------------------------------------------===//
#include "TileLowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::turbo;
using namespace mlir::turbo::lowering;

namespace {

/// The operand types of one wgmma: "k32.s32.s8.s8" (8-bit integers, u8 A
/// with `unsignedA`) or "k16.f32.f16.f16" / "k16.f32.bf16.bf16".
std::string wgmmaShape(Type element, bool unsignedA) {
  if (element.isInteger(8))
    return unsignedA ? "k32.s32.u8.s8" : "k32.s32.s8.s8";
  return element.isF16() ? "k16.f32.f16.f16" : "k16.f32.bf16.bf16";
}

/// The instruction's PTX: `results` accumulator registers, accumulating
/// into them (tied inputs) unless `overwrite`. 16-bit types take the
/// immediate A and B scales (1) and B's transpose (0: K-major) too.
std::string wgmmaAsm(int64_t n, Type element, bool unsignedA, unsigned results,
                     bool overwrite) {
  std::string text = "{\n.reg .pred p;\n";
  const unsigned inputs = results * (overwrite ? 1 : 2);
  text += llvm::formatv("setp.ne.b32 p, ${0}, 0;\n", inputs + 5);
  text += llvm::formatv("wgmma.mma_async.sync.aligned.m64n{0}{1} {{", n,
                        wgmmaShape(element, unsignedA));
  for (unsigned r = 0; r < results; ++r)
    text += llvm::formatv("{0}${1}", r ? ", " : "", r);
  text += llvm::formatv("}, {{${0}, ${1}, ${2}, ${3}}, ${4}, p{5};\n}", inputs, inputs + 1,
                        inputs + 2, inputs + 3, inputs + 4,
                        element.isInteger(8) ? "" : ", 1, 1, 0");
  return text;
}

/// "=r" per accumulator register (i32) or "=f" (f32), the tied inputs, then
/// A's four registers, the descriptor and the scale-d flag.
std::string wgmmaConstraints(unsigned results, bool overwrite, bool floatAcc) {
  std::string text;
  for (unsigned r = 0; r < results; ++r)
    text += floatAcc ? (r ? ",=f" : "=f") : (r ? ",=r" : "=r");
  if (!overwrite)
    for (unsigned r = 0; r < results; ++r)
      text += llvm::formatv(",{0}", r);
  return text + ",r,r,r,r,l,r";
}

/// K-major swizzled descriptor of shared address `address` (i32): start
/// (bits 0-13, in 16 bytes), leading offset 1 (unused when a K step lies in
/// one swizzle panel), stride between 8-row groups (bits 32-45, in 16
/// bytes), swizzle mode (bits 62-63: 1 = 128, 2 = 64, 3 = 32 bytes).
Value matrixDescriptor(OpBuilder &b, Location loc, Value address, const SlotGeometry &slot) {
  Type i64 = b.getI64Type();
  const int64_t mode = slot.swizzleBytes == 128 ? 1 : slot.swizzleBytes == 64 ? 2 : 3;
  const int64_t high = (8 * slot.swizzleBytes >> 4) | (mode << 30);
  Value start = arith::ShRUIOp::create(
      b, loc, arith::AndIOp::create(b, loc, address, constI32(b, loc, 0x3ffff)),
      constI32(b, loc, 4));
  Value low = arith::OrIOp::create(b, loc, start, constI32(b, loc, 1 << 16));
  return arith::OrIOp::create(
      b, loc, arith::ExtUIOp::create(b, loc, i64, low),
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(high << 32)));
}

/// True when `acc` is a constant zero tile: the first step then overwrites
/// the registers instead of adding to them.
bool isZeroTile(Value acc) {
  DenseElementsAttr value;
  if (!matchPattern(acc, m_Constant(&value)) || !value.isSplat())
    return false;
  Attribute splat = value.getSplatValue<Attribute>();
  if (auto integer = dyn_cast<IntegerAttr>(splat))
    return integer.getValue().isZero();
  auto real = dyn_cast<FloatAttr>(splat);
  return real && real.getValue().isPosZero();
}

struct WgmmaDotPattern : TilePattern<DotOp> {
  using TilePattern::TilePattern;

  LogicalResult matchAndRewrite(DotOp op, OneToNOpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    if (!kernel.wgmmaDots.contains(op))
      return rewriter.notifyMatchFailure(op, "not a wgmma dot");
    Location loc = op.getLoc();
    RankedTensorType aType = op.getA().getType(), resultType = op.getResult().getType();
    auto load = op.getB().getDefiningOp<SharedLoadOp>();
    Operation *alloc = load.getBuffer().getDefiningOp();
    const SlotGeometry slot = slotGeometry(load.getBuffer(), kernel);
    const int64_t n = resultType.getDimSize(1), k = aType.getDimSize(1);
    const unsigned results = unsigned(n / 2); // 64 x n over 128 threads
    Type element = aType.getElementType();
    const bool floatAcc = !element.isInteger(8);
    const int64_t stepK = floatAcc ? 16 : 32; // 32 bytes of K per instruction

    // Operand registers: A packed 4 bytes per i32 (two 16-bit values or four
    // bytes), 4 per K step.
    Type i32 = rewriter.getI32Type();
    SmallVector<Value> a;
    for (Value reg : adaptor.getA())
      a.push_back(reg.getType() == i32 ? reg
                                       : LLVM::BitcastOp::create(rewriter, loc, i32, reg)
                                             .getResult());
    SmallVector<Value> acc(adaptor.getAcc().begin(), adaptor.getAcc().end());
    if (a.size() != size_t(4 * k / stepK) || acc.size() != results)
      return rewriter.notifyMatchFailure(op, "operands are not one warp's 16-row fragments");
    Type accType = floatAcc ? Type(rewriter.getF32Type()) : i32;
    Value slotBase = slotPointer(
        rewriter, loc,
        dynamicSharedPointer(rewriter, loc, kernel, kernel.bufferOffsets.lookup(alloc)),
        rewriter.getRemappedValue(load.getSlot()), slot);
    Value descriptor = matrixDescriptor(
        rewriter, loc, LLVM::PtrToIntOp::create(rewriter, loc, i32, slotBase), slot);

    bool overwrite = isZeroTile(op.getAcc());
    auto structType =
        LLVM::LLVMStructType::getLiteral(rewriter.getContext(), SmallVector<Type>(results, accType));
    NVVM::WgmmaFenceAlignedOp::create(rewriter, loc);
    for (int64_t step = 0; step < k / stepK; ++step) {
      // The step's 32 bytes of every row: within one swizzle panel; the
      // start address moves by whole 16-byte units.
      const int64_t byte = step * 32;
      const int64_t offset =
          byte / slot.swizzleBytes * slot.rows * slot.swizzleBytes + byte % slot.swizzleBytes;
      Value stepDescriptor = arith::AddIOp::create(
          rewriter, loc, descriptor,
          arith::ConstantOp::create(rewriter, loc, rewriter.getI64IntegerAttr(offset >> 4)));
      SmallVector<Value> operands;
      if (!overwrite)
        operands.append(acc);
      operands.append(a.begin() + 4 * step, a.begin() + 4 * step + 4);
      operands.push_back(stepDescriptor);
      operands.push_back(constI32(rewriter, loc, overwrite ? 0 : 1));
      auto mma = LLVM::InlineAsmOp::create(
          rewriter, loc, structType, operands,
          wgmmaAsm(n, element, op.getLhsUnsigned(), results, overwrite),
          wgmmaConstraints(results, overwrite, floatAcc), /*has_side_effects=*/true,
          /*is_align_stack=*/false, LLVM::TailCallKind::None, LLVM::AsmDialectAttr(),
          ArrayAttr());
      for (unsigned r = 0; r < results; ++r)
        acc[r] = LLVM::ExtractValueOp::create(rewriter, loc, mma.getResult(0), r);
      overwrite = false;
    }
    NVVM::WgmmaGroupSyncAlignedOp::create(rewriter, loc);
    NVVM::WgmmaWaitGroupSyncOp::create(rewriter, loc, 0);
    // The registers are written asynchronously until the wait: tie every
    // later use to a point after it (a side-effecting no-op per register).
    for (Value &value : acc)
      value = LLVM::InlineAsmOp::create(rewriter, loc, accType, ValueRange{value}, "",
                                        floatAcc ? "=f,0" : "=r,0",
                                        /*has_side_effects=*/true, /*is_align_stack=*/false,
                                        LLVM::TailCallKind::None, LLVM::AsmDialectAttr(),
                                        ArrayAttr())
                  .getResult(0);
    rewriter.replaceOpWithMultiple(op, {acc});
    return success();
  }
};
} // namespace

void lowering::populateWgmmaPatterns(TileTypeConverter &converter, RewritePatternSet &patterns,
                                     KernelContext &kernel) {
  patterns.add<WgmmaDotPattern>(converter, patterns.getContext(), kernel);
}
