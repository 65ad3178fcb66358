//===- PTXBackend.cpp - LLVM IR to PTX with LLVM's NVPTX backend ----------===//
#include "PTXBackend.h"

#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"

#include <memory>
#include <mutex>

extern "C" {
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTargetMC();
void LLVMInitializeNVPTXAsmPrinter();
}

namespace turbo::compiler {

namespace {
constexpr const char *kTriple = "nvptx64-nvidia-cuda";

/// The oldest PTX ISA that has every instruction of `module`: 8.0, the
/// first with sm_90a (CUDA 12.0+ drivers load it), unless the module uses
/// wgmma, whose unsigned-by-signed INT8 form (P times V) needs 8.4 (CUDA
/// 12.4+). wgmma comes as inline assembly (WgmmaPatterns.cpp).
const char *featuresFor(const llvm::Module &module) {
  for (const llvm::Function &function : module)
    for (const llvm::BasicBlock &block : function)
      for (const llvm::Instruction &instruction : block)
        if (auto *call = llvm::dyn_cast<llvm::CallBase>(&instruction))
          if (auto *assembly = llvm::dyn_cast<llvm::InlineAsm>(call->getCalledOperand()))
            if (llvm::StringRef(assembly->getAsmString()).contains("wgmma.mma_async"))
              return "+ptx84";
  return "+ptx80";
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>> makeTargetMachine(llvm::StringRef chip,
                                                                       const char *features) {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
  llvm::Triple triple(kTriple);
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return llvm::createStringError("NVPTX target unavailable: " + error);
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, chip, features, options, std::nullopt, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return llvm::createStringError("could not create an NVPTX target machine for " +
                                   chip.str());
  return machine;
}
} // namespace

llvm::Error optimizeForNVPTX(llvm::Module &module, llvm::StringRef chip) {
  auto machine = makeTargetMachine(chip, featuresFor(module));
  if (!machine)
    return machine.takeError();
  module.setTargetTriple(llvm::Triple(kTriple));
  module.setDataLayout((*machine)->createDataLayout());

  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager sccs;
  llvm::ModuleAnalysisManager modules;
  llvm::PassBuilder builder(machine->get());
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(sccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, sccs, modules);
  llvm::ModulePassManager pipeline =
      builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  pipeline.run(module, modules);
  return llvm::Error::success();
}

llvm::Expected<std::string> emitPTX(llvm::Module &module, llvm::StringRef chip) {
  auto machine = makeTargetMachine(chip, featuresFor(module));
  if (!machine)
    return machine.takeError();
  std::string ptx;
  {
    llvm::raw_string_ostream stream(ptx);
    llvm::buffer_ostream buffer(stream);
    llvm::legacy::PassManager passes;
    if ((*machine)->addPassesToEmitFile(passes, buffer, nullptr,
                                        llvm::CodeGenFileType::AssemblyFile))
      return llvm::createStringError("the NVPTX backend cannot emit assembly");
    passes.run(module);
  }
  return ptx;
}

} // namespace turbo::compiler
