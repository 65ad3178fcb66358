//===- CalibrateCommand.h - turbo-tune calibrate ----------------*- C++ -*-===//
#ifndef TURBO_TOOLS_CALIBRATECOMMAND_H
#define TURBO_TOOLS_CALIBRATECOMMAND_H

#include "llvm/Support/CommandLine.h"

namespace turbo::tools {

/// `turbo-tune calibrate Q.npy K.npy V.npy`: the compressed cache's
/// per-KV-head bit widths from sample attention, as JSON.
extern llvm::cl::SubCommand calibrateCommand;
int runCalibrate();

} // namespace turbo::tools

#endif // TURBO_TOOLS_CALIBRATECOMMAND_H
