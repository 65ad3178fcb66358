# -*- Python -*-
# lit configuration for turbo's IR tests: turbo-opt, turbo-compile, FileCheck.
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "turbo"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.turbo_obj_root, "tests", "lit")

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs"]

tool_dirs = [config.turbo_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["turbo-opt", "turbo-compile", "turbo-tune", "FileCheck", "not"],
                                   tool_dirs)

# ptxas validates emitted PTX where the CUDA toolkit is installed.
ptxas = config.turbo_ptxas if config.turbo_ptxas else shutil.which("ptxas")
if ptxas and os.path.exists(ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
