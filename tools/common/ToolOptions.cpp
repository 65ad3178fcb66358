//===- ToolOptions.cpp - flags every turbo tool shares --------------------===//
#include "ToolOptions.h"

#include "turbo/Templates/Template.h"

#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

namespace turbo::tools {

cl::OptionCategory headCategory("Head configuration");

namespace {
cl::opt<std::string> preset("preset",
                            cl::desc("Model preset: llama3-8b (32/8/128), llama3-70b (64/8/128), "
                                     "qwen2-7b (28/4/128), phi3-mini (32/32/96), "
                                     "mistral-7b (32/8/128)"),
                            cl::value_desc("name"), cl::cat(headCategory));
cl::opt<int> qHeads("q-heads", cl::desc("Query heads (default 32)"), cl::init(-1),
                    cl::cat(headCategory));
cl::opt<int> kvHeads("kv-heads", cl::desc("KV heads; q-heads must be a multiple (default 8)"),
                     cl::init(-1), cl::cat(headCategory));
cl::opt<int> headDim("head-dim", cl::desc("Head dimension: 64, 96, 128, 256 (default 128)"),
                     cl::init(-1), cl::cat(headCategory));
cl::opt<std::string> dtype("dtype", cl::desc("Input/output type: f16 or bf16 (default f16)"),
                           cl::init("f16"), cl::cat(headCategory));
cl::opt<bool> causal("causal", cl::desc("Causal attention"), cl::cat(headCategory));
cl::opt<std::string> kvBits("kv-bits",
                            cl::desc("KV cache storage bits: 8, 4, 2 or mixed (4 and 2 by head); "
                                     "read by the templates with a kv_bits parameter "
                                     "(attention_decode, kv_stage, kv_compress; default 8)"),
                            cl::init("8"), cl::cat(headCategory));
// cl::desc keeps a reference: the text must outlive the option.
const std::string targetHelp = "GPU target: " + turbo::supportedTargetNames() + " (default " +
                               turbo::kDefaultTarget + ", or the GPU's own when one is used)";
cl::opt<std::string> target("target", cl::desc(targetHelp), cl::init(""),
                            cl::cat(headCategory));

std::string targetStorage;
} // namespace

std::string kvBitsUnused(const std::string &templateName) {
  if (kvBits.getNumOccurrences() == 0)
    return "";
  const turbo::templates::TemplateDef *def = turbo::templates::findTemplate(templateName);
  if (!def)
    return "";
  for (const turbo::templates::ParamInfo &param : def->params())
    if (param.name == "kv_bits")
      return "";
  return "--kv-bits sets the KV cache's storage; " + templateName +
         " has no kv_bits parameter (templates that read it: attention_decode, kv_stage, "
         "kv_compress)";
}

bool readHeadConfig(turbo_head_config &head, std::string &error) {
  turbo_head_config_init(&head);
  if (!preset.empty()) {
    turbo_status status = turbo_head_config_preset(&head, preset.c_str());
    if (status != TURBO_STATUS_OK) {
      error = turbo_last_error();
      return false;
    }
  }
  if (qHeads != -1)
    head.q_heads = qHeads;
  if (kvHeads != -1)
    head.kv_heads = kvHeads;
  if (headDim != -1)
    head.head_dim = headDim;
  if (dtype == "f16")
    head.dtype = TURBO_DTYPE_F16;
  else if (dtype == "bf16")
    head.dtype = TURBO_DTYPE_BF16;
  else {
    error = "--dtype must be f16 or bf16, got '" + dtype + "'";
    return false;
  }
  head.causal = causal ? 1 : 0;
  if (kvBits == "8" || kvBits == "4" || kvBits == "2")
    head.kv_bits = std::stoi(kvBits);
  else if (kvBits == "mixed")
    head.kv_bits = 0;
  else {
    error = "--kv-bits must be 8, 4, 2 or mixed, got '" + kvBits + "'";
    return false;
  }
  targetStorage = target;
  head.target = targetStorage.empty() ? nullptr : targetStorage.c_str();
  return true;
}

turbo::HeadConfig toHeadConfig(const turbo_head_config &head, const std::string &target) {
  turbo::HeadConfig config;
  config.qHeads = head.q_heads;
  config.kvHeads = head.kv_heads;
  config.headDim = head.head_dim;
  config.dtype = head.dtype == TURBO_DTYPE_BF16 ? turbo::DType::BF16 : turbo::DType::F16;
  config.causal = head.causal != 0;
  config.kvBits = head.kv_bits == 0 ? turbo::KvBits::Mixed : turbo::KvBits(head.kv_bits);
  config.target = head.target ? head.target : target;
  return config;
}

void parseCommandLine(int argc, char **argv, const char *overview) {
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "turbo " << turbo_version() << " (LLVM " << turbo_llvm_version() << ")\n";
  });
  cl::ParseCommandLineOptions(argc, argv, overview);
}

std::string describeFailure(turbo_status status) {
  return std::string(turbo_status_string(status)) + ": " + turbo_last_error();
}

} // namespace turbo::tools
