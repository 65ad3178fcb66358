//===- Pipeline.cpp - turbo IR to PTX in named stages ---------------------===//
#include "turbo/Compiler/Pipeline.h"
#include "turbo/Support/Targets.h"

#include "Target/PTXBackend.h"
#include "turbo/Compiler/Passes.h"
#include "turbo/Dialect/Passes.h"
#include "turbo/Dialect/TurboDialect.h"

#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace turbo::compiler {

namespace {
constexpr std::pair<Stage, llvm::StringLiteral> kStageNames[] = {
    {Stage::Turbo, "turbo"},         {Stage::Specialized, "specialized"},
    {Stage::Layouts, "layouts"},     {Stage::Pipelined, "pipelined"},
    {Stage::NVVM, "nvvm"},           {Stage::LLVM, "llvm"},
    {Stage::PTX, "ptx"}};

std::string print(Operation *op) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  op->print(stream);
  return text;
}

std::string targetOf(ModuleOp module) {
  if (auto attr = module->getAttrOfType<StringAttr>(mlir::turbo::TurboDialect::kTargetAttrName))
    return attr.str();
  return ::turbo::kDefaultTarget;
}

/// The passes that take the IR from the previous stage to `stage`.
void addStagePasses(PassManager &pm, Stage stage) {
  switch (stage) {
  case Stage::Specialized:
    pm.addPass(mlir::turbo::createTurboExpandQuantization());
    pm.addPass(mlir::turbo::createTurboExpandExpPoly());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    break;
  case Stage::Layouts:
    pm.addPass(mlir::turbo::createTurboAssignLayouts());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    break;
  case Stage::Pipelined:
    pm.addPass(mlir::turbo::createTurboPipelineLoads());
    break;
  case Stage::NVVM:
    pm.addPass(mlir::turbo::createConvertTurboTilesToThreads());
    // The lowering emits many duplicate constants; CSE first keeps the
    // canonicalizer's work linear.
    pm.addPass(createCSEPass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    pm.addPass(createSCFToControlFlowPass());
    pm.addPass(mlir::turbo::createConvertTurboToLLVM());
    pm.addPass(createReconcileUnrealizedCastsPass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    break;
  default:
    break;
  }
}

FailureOr<KernelInfo> kernelInfoOf(ModuleOp module) {
  KernelInfo info;
  info.target = targetOf(module);
  for (auto func : module.getOps<LLVM::LLVMFuncOp>()) {
    if (!func->hasAttr(NVVM::NVVMDialect::getKernelFuncAttrName()))
      continue;
    if (!info.name.empty())
      return module.emitError("more than one kernel in a module");
    info.name = func.getSymName().str();
    if (auto maxntid = func->getAttrOfType<DenseI32ArrayAttr>(
            NVVM::NVVMDialect::getMaxntidAttrName()))
      info.numThreads = maxntid[0];
    if (auto shared = func->getAttrOfType<IntegerAttr>(
            mlir::turbo::TurboDialect::kSharedBytesAttrName))
      info.sharedBytes = shared.getInt();
    info.programmaticLaunch =
        func->hasAttr(mlir::turbo::TurboDialect::kProgrammaticLaunchAttrName);
    for (Type type : func.getArgumentTypes()) {
      if (isa<LLVM::LLVMPointerType>(type))
        info.params.push_back(ParamKind::Pointer);
      else if (type.isInteger(32))
        info.params.push_back(ParamKind::I32);
      else if (type.isInteger(64))
        info.params.push_back(ParamKind::I64);
      else if (type.isF32())
        info.params.push_back(ParamKind::F32);
      else
        return func.emitError("kernel parameter of unsupported type ") << type;
    }
  }
  if (info.name.empty())
    return module.emitError("no kernel (func.func with turbo.kernel) in the module");
  return info;
}

/// Translates the LLVM-dialect module to LLVM IR optimized for its target.
FailureOr<std::unique_ptr<llvm::Module>> toLLVMIR(ModuleOp module, llvm::LLVMContext &context) {
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(module, context, "turbo");
  if (!llvmModule)
    return module.emitError("translation to LLVM IR failed");
  // The module attributes turbo.* are not LLVM's; nothing to carry over.
  if (llvm::Error error = optimizeForNVPTX(*llvmModule, targetOf(module)))
    return module.emitError(llvm::toString(std::move(error)));
  return llvmModule;
}
} // namespace

llvm::StringRef stageName(Stage stage) {
  for (auto &[s, name] : kStageNames)
    if (s == stage)
      return name;
  return "?";
}

std::optional<Stage> parseStage(llvm::StringRef name) {
  for (auto &[s, n] : kStageNames)
    if (n == name)
      return s;
  return std::nullopt;
}

std::string stageNames() {
  std::string names;
  for (auto &[s, name] : kStageNames)
    names += (names.empty() ? "" : ", ") + name.str();
  return names;
}

llvm::StringRef ptxVersion() { return "8.0"; }

void registerPipelineDialects(MLIRContext &context) {
  DialectRegistry registry;
  registry.insert<mlir::turbo::TurboDialect, arith::ArithDialect, math::MathDialect,
                  scf::SCFDialect, func::FuncDialect, cf::ControlFlowDialect,
                  LLVM::LLVMDialect, NVVM::NVVMDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
}

namespace {
/// Runs the stages up to `stop` on `module`, reporting each one's text; sets
/// *llvmOut (when given) to the LLVM module once the PTX stage has run.
FailureOr<std::string> runStages(ModuleOp module, Stage stop, const StageObserver &observer,
                                 std::unique_ptr<llvm::Module> *llvmOut,
                                 llvm::LLVMContext *llvmContext) {
  auto report = [&](Stage stage, const std::string &text) {
    if (observer)
      observer(stage, text);
  };
  std::string text = print(module);
  report(Stage::Turbo, text);
  if (stop == Stage::Turbo)
    return text;
  for (Stage stage : {Stage::Specialized, Stage::Layouts, Stage::Pipelined, Stage::NVVM}) {
    PassManager pm(module.getContext());
    addStagePasses(pm, stage);
    if (failed(pm.run(module)))
      return failure();
    text = print(module);
    report(stage, text);
    if (stop == stage)
      return text;
  }
  FailureOr<std::unique_ptr<llvm::Module>> llvmModule = toLLVMIR(module, *llvmContext);
  if (failed(llvmModule))
    return failure();
  {
    std::string ir;
    llvm::raw_string_ostream stream(ir);
    (*llvmModule)->print(stream, nullptr);
    text = std::move(ir);
  }
  report(Stage::LLVM, text);
  if (stop == Stage::LLVM)
    return text;
  llvm::Expected<std::string> ptx = emitPTX(**llvmModule, targetOf(module));
  if (!ptx)
    return module.emitError(llvm::toString(ptx.takeError()));
  report(Stage::PTX, *ptx);
  if (llvmOut)
    *llvmOut = std::move(*llvmModule);
  return *ptx;
}

/// Collects diagnostics emitted during a compile into `out`.
class DiagnosticCollector {
public:
  DiagnosticCollector(MLIRContext *context, std::string &out)
      : handler(context, [&out](Diagnostic &diagnostic) {
          llvm::raw_string_ostream stream(out);
          stream << diagnostic.getLocation() << ": ";
          switch (diagnostic.getSeverity()) {
          case DiagnosticSeverity::Error:
            stream << "error: ";
            break;
          case DiagnosticSeverity::Warning:
            stream << "warning: ";
            break;
          default:
            stream << "note: ";
          }
          stream << diagnostic << "\n";
          for (Diagnostic &note : diagnostic.getNotes())
            stream << "  note: " << note << "\n";
          return success();
        }) {}

private:
  ScopedDiagnosticHandler handler;
};
} // namespace

FailureOr<std::string> lowerToStage(ModuleOp module, Stage stop, std::string &diagnostics,
                                    const StageObserver &observer) {
  DiagnosticCollector collector(module.getContext(), diagnostics);
  if (failed(mlir::verify(module)))
    return failure();
  // From the NVVM stage on, the module must hold exactly one kernel.
  bool kernelChecked = true;
  StageObserver check = [&](Stage stage, llvm::StringRef text) {
    if (stage == Stage::NVVM)
      kernelChecked = succeeded(kernelInfoOf(module));
    if (observer)
      observer(stage, text);
  };
  llvm::LLVMContext llvmContext;
  FailureOr<std::string> text = runStages(module, stop, check, nullptr, &llvmContext);
  if (!kernelChecked)
    return failure();
  return text;
}

FailureOr<CompiledKernel> compileToPTX(ModuleOp module, std::string &diagnostics,
                                       const StageObserver &observer) {
  DiagnosticCollector collector(module.getContext(), diagnostics);
  if (failed(mlir::verify(module)))
    return failure();
  FailureOr<KernelInfo> info = failure();
  StageObserver capture = [&](Stage stage, llvm::StringRef text) {
    if (stage == Stage::NVVM)
      info = kernelInfoOf(module);
    if (observer)
      observer(stage, text);
  };
  llvm::LLVMContext llvmContext;
  FailureOr<std::string> ptx = runStages(module, Stage::PTX, capture, nullptr, &llvmContext);
  if (failed(ptx) || failed(info))
    return failure();
  return CompiledKernel{std::move(*ptx), std::move(*info)};
}

} // namespace turbo::compiler
