//===- Builders.h - templates that build turbo IR ---------------*- C++ -*-===//
#ifndef TURBO_TEMPLATES_BUILDERS_H
#define TURBO_TEMPLATES_BUILDERS_H

#include "turbo/Templates/Template.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/Support/ErrorHandling.h"

#include <string>
#include <utility>
#include <string_view>

namespace turbo::templates {

/// The turbo IR of the template `config` belongs to, for `target`. The
/// module carries turbo.target, turbo.num_warps and, on the kernel,
/// turbo.config.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
buildKernel(mlir::MLIRContext &context, const AnyConfig &config, std::string_view target,
            std::string &error);

/// Each template's builder (defined in templates/<folder>/<Struct>Kernel.cpp).
template <class T>
mlir::OwningOpRef<mlir::ModuleOp> buildKernel(mlir::MLIRContext &context,
                                              const typename T::Config &config,
                                              std::string_view target);

/// The MLIR type of a signature's scalar type; `pointer` wraps it in
/// !turbo.ptr.
mlir::Type scalarType(mlir::OpBuilder &builder, ScalarType type);
mlir::Type argumentType(mlir::OpBuilder &builder, const ArgSpec &spec);
/// f16 or bf16.
mlir::Type elementType(mlir::OpBuilder &builder, DType dtype);

/// Creates `module { func.func @name(args) attributes {turbo.kernel} }` with
/// the module attributes and `configValues` as turbo.config, and returns
/// the function, its builder positioned at the start of the body.
mlir::func::FuncOp
createKernel(mlir::OpBuilder &builder, mlir::ModuleOp module, std::string_view name,
             const std::vector<ArgSpec> &args,
             const std::vector<std::pair<std::string_view, int64_t>> &configValues,
             std::string_view target, int64_t numWarps);

/// The same for template T: its name, `signature`'s arguments, `config`.
template <class T, class Name>
mlir::func::FuncOp createKernel(mlir::OpBuilder &builder, mlir::ModuleOp module,
                                const typename T::Config &config,
                                const Signature<Name> &signature, std::string_view target) {
  return createKernel(builder, module, T::name, signature.specs(), T::schema().values(config),
                      target, config.numWarps);
}

/// A kernel's arguments by the names its signature gives them.
template <class Name> class KernelArguments {
public:
  KernelArguments(mlir::func::FuncOp kernel, Signature<Name> signature)
      : kernel_(kernel), signature_(std::move(signature)) {}
  /// The argument `name`; asking for one the config's signature leaves out
  /// is a bug in the builder, reported as such (in every build type).
  mlir::Value operator[](Name name) const {
    int index = signature_.indexOf(name);
    if (index < 0)
      llvm::report_fatal_error("kernel builder: the config's signature has no such argument");
    return kernel_.getArgument(unsigned(index));
  }
  bool has(Name name) const { return signature_.has(name); }

private:
  mutable mlir::func::FuncOp kernel_;
  Signature<Name> signature_;
};

/// Where sequence `batch` lies along a tensor's token dim. Packed tensors
/// (`packedTokens` != 0, the varlen form, holding that many tokens): tokens
/// cu_seqlens[batch] .. cu_seqlens[batch + 1] (i32 offsets in device
/// memory), clamped to 0 <= start <= end <= packedTokens and the length to
/// maxLength, so that offsets the device reads cannot carry a kernel past
/// the tensors or past buffers the host sized by maxLength; padded tensors:
/// start 0, length maxLength. Both i32.
struct SequenceSpan {
  mlir::Value start, length;
};
SequenceSpan sequenceSpan(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value cuSeqlens,
                          mlir::Value packedTokens, mlir::Value batch, mlir::Value maxLength);

/// `base` + batch * batchStride + head * headStride: where (batch, head)
/// starts (batch and head i32, the strides i64, in elements).
mlir::Value headBase(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value base,
                     mlir::Value batch, mlir::Value batchStride, mlir::Value head,
                     mlir::Value headStride);

/// `base` advanced by `token` rows of `rowStride` elements (i64 arithmetic).
mlir::Value tokenBase(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value base,
                      mlir::Value token, mlir::Value rowStride);

/// 2^max(e, -127) for a tile of integer exponents e <= 0 (f32): the f32
/// bits ((e + 127) << 23), exact; -127 gives 0 (also for e = -inf).
mlir::Value powerOfTwo(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value exponent);

/// One i32 of device memory, base[index], as a scalar.
mlir::Value loadScalar(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value base,
                       mlir::Value index);

/// `bytes` (i64, a multiple of 16) as an index of `elementBytes`-byte
/// elements (1, 2, 4 or 8), written as (bytes >> 4) << k so that the
/// vectorizer sees the 16-byte alignment (a division would hide it).
mlir::Value alignedElementIndex(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value bytes,
                                int64_t elementBytes);

/// A head's part of a sequence's staging slot as the cache kernels address
/// it, with the kept pages (kv::KeptPages) as i32 launch arguments: the IR
/// form of kv::StagingLayout and kv::CacheLayout::stagingRow.
struct StagingSlot {
  mlir::Value sink, window;     ///< i32 pages
  int64_t pageSize = 0;
  int64_t codeBytes = 1;        ///< kv::StagingLayout::codeBytes: 1 (i8) or 2 (i16)
  mlir::Type codeType;          ///< a staged code: i8 or i16
  mlir::Value rows;             ///< i64: (sink + window + 1) * pageSize
  mlir::Value vCodes, kScale, vScale; ///< i64 byte offsets of the parts (K's codes at 0)
  mlir::Value headBytes;        ///< i64: rows * kv::StagingRowLayout::rowBytes
};
/// `widths`: the page widths of the kernel's cache, which fix the codes' width.
StagingSlot stagingSlot(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value sink,
                        mlir::Value window, int64_t pageSize, int64_t headDim, KvBits widths);
/// A pointer to the staged codes at byte offset `bytes` (i64, a multiple of
/// 16) of `staging` (the slot array, of i8 or i16 as slot.codeBytes says).
mlir::Value stagingCodesAt(mlir::OpBuilder &builder, mlir::Location loc, const StagingSlot &slot,
                           mlir::Value staging, mlir::Value bytes);
/// Token rows of `x` (P x D f32, finite) as staged codes of the slot's
/// codeType (P x D) and their per-row f32 scales: kv::stageRow's arithmetic
/// (i8 square-root companded, i16 linear).
std::pair<mlir::Value, mlir::Value> stageTokenRows(mlir::OpBuilder &builder, mlir::Location loc,
                                                   const StagingSlot &slot, mlir::Value x);
/// What staged codes (P x D i8 or i16) with their per-row scales (P f32)
/// stand for, P x D f32: kv::stagedCodeValue.
mlir::Value stagedCodeValues(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value codes,
                             mlir::Value scales);
/// The staging row (i32) of page `page`'s first token: page * P for a sink
/// page, else its slot in the ring of window + 1 pages after the sinks.
mlir::Value stagingPageRow(mlir::OpBuilder &builder, mlir::Location loc,
                           const StagingSlot &slot, mlir::Value page);

/// Sets status word `word` of the i32 array `status` to 1 where `condition`
/// (i1) holds: how kernels report bad contents only the device can see.
void setStatusWord(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value status,
                   mlir::Value condition, int word);

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_BUILDERS_H
