//===- Builders.h - templates that build turbo IR ---------------*- C++ -*-===//
#ifndef TURBO_TEMPLATES_BUILDERS_H
#define TURBO_TEMPLATES_BUILDERS_H

#include "turbo/Templates/TemplateSpec.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>
#include <string_view>

namespace turbo::templates {

/// The turbo IR of template `spec` for `config` (already validated) and
/// `target`. The module carries turbo.target, turbo.num_warps and, on the
/// kernel, turbo.config.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
buildKernel(mlir::MLIRContext &context, const TemplateSpec &spec, const KernelConfig &config,
            std::string_view target, std::string &error);

/// A kernel argument: its type and, where the host guarantees it, the power
/// of two dividing it (pointers: address in bytes; integers: value).
struct KernelArg {
  mlir::Type type;
  int64_t divisibility = 1;
};

/// Creates `module { func.func @name(args) attributes {turbo.kernel} }` with
/// the module attributes and returns the function, its builder positioned at
/// the start of the body.
mlir::func::FuncOp createKernel(mlir::OpBuilder &builder, mlir::ModuleOp module,
                                std::string_view name, llvm::ArrayRef<KernelArg> args,
                                const KernelConfig &config, std::string_view target,
                                int64_t numWarps);

/// The element type the config's `dtype` parameter names: f16 (0) or bf16 (1).
mlir::Type dtypeOf(mlir::OpBuilder &builder, const KernelConfig &config);

/// Where sequence `batch` lies along a tensor's token dim. Packed tensors
/// (`packed` != 0, the varlen form): tokens cu_seqlens[batch] ..
/// cu_seqlens[batch + 1] (i32 offsets in device memory), the length clamped
/// to [0, maxLength] so that a bad offset cannot carry a kernel past buffers
/// the host sized by maxLength; padded tensors: start 0, length maxLength.
/// Both i32.
struct SequenceSpan {
  mlir::Value start, length;
};
SequenceSpan sequenceSpan(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value cuSeqlens,
                          mlir::Value packed, mlir::Value batch, mlir::Value maxLength);

/// `base` + batch * batchStride + head * headStride: where (batch, head)
/// starts (batch and head i32, the strides i64, in elements).
mlir::Value headBase(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value base,
                     mlir::Value batch, mlir::Value batchStride, mlir::Value head,
                     mlir::Value headStride);

/// `base` advanced by `token` rows of `rowStride` elements (i64 arithmetic).
mlir::Value tokenBase(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value base,
                      mlir::Value token, mlir::Value rowStride);

// Per-template builders.
mlir::OwningOpRef<mlir::ModuleOp> buildQuantizeRows(mlir::MLIRContext &context,
                                                    const KernelConfig &config,
                                                    std::string_view target);

mlir::OwningOpRef<mlir::ModuleOp> buildAttentionPrefill(mlir::MLIRContext &context,
                                                        const KernelConfig &config,
                                                        std::string_view target);

mlir::OwningOpRef<mlir::ModuleOp> buildChannelMean(mlir::MLIRContext &context,
                                                   const KernelConfig &config,
                                                   std::string_view target);

mlir::OwningOpRef<mlir::ModuleOp> buildQuantizeQ(mlir::MLIRContext &context,
                                                 const KernelConfig &config,
                                                 std::string_view target);

mlir::OwningOpRef<mlir::ModuleOp> buildQuantizeKv(mlir::MLIRContext &context,
                                                  const KernelConfig &config,
                                                  std::string_view target);

} // namespace turbo::templates

#endif // TURBO_TEMPLATES_BUILDERS_H
