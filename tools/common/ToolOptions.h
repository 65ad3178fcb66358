//===- ToolOptions.h - flags every turbo tool shares ------------*- C++ -*-===//
//
// --q-heads --kv-heads --head-dim --dtype --causal --kv-bits --target
// --preset, and --version. Each tool links this once; the flags appear in
// their own --help category.
//
//===----------------------------------------------------------------------===//
#ifndef TURBO_TOOLS_TOOLOPTIONS_H
#define TURBO_TOOLS_TOOLOPTIONS_H

#include "turbo/turbo.h"
#include "turbo/Support/HeadConfig.h"

#include "llvm/Support/CommandLine.h"

#include <string>

namespace turbo::tools {

extern llvm::cl::OptionCategory headCategory;

/// Fills `head` from the flags (a preset first, then explicit flags). Returns
/// false with a message in `error` if a value is invalid.
bool readHeadConfig(turbo_head_config &head, std::string &error);
/// The error when --kv-bits was given for a template that does not read
/// it (its schema has no kv_bits); empty otherwise.
std::string kvBitsUnused(const std::string &templateName);

/// The C++ head configuration of `head` (checked by readHeadConfig) for
/// `target`: what the C API makes of it on a device of that target.
turbo::HeadConfig toHeadConfig(const turbo_head_config &head, const std::string &target);

/// Parses the command line, with --version printing the turbo and LLVM
/// versions.
void parseCommandLine(int argc, char **argv, const char *overview);

/// The message for a failed C API call: "<status>: <last error>".
std::string describeFailure(turbo_status status);

} // namespace turbo::tools

#endif // TURBO_TOOLS_TOOLOPTIONS_H
