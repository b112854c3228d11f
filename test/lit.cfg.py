# -*- Python -*-
# lit configuration of the hyla tests.

import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "hyla"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.hyla_obj_root, "test")
config.excludes = ["Inputs", "CMakeLists.txt", "README.md", "lit.cfg.py",
                   "lit.site.cfg.py"]

llvm_config.with_system_environment(["HOME", "TMP", "TEMP", "PATH"])
# FileCheck, not, count, split-file from LLVM 22 (Debian puts them here).
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.use_default_substitutions()

tool_dirs = [config.hyla_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["hyla-opt", "hylac", "hyla-cpu-runner", "hyla-run", "mlir-opt", "not",
     "split-file"], tool_dirs)

config.substitutions.append(("%examples",
                             os.path.join(config.hyla_src_root, "examples")))
config.substitutions.append(("%inputs",
                             os.path.join(config.test_source_root, "Inputs")))
config.substitutions.append(("%hyla_src", config.hyla_src_root))
config.substitutions.append(("%hyla_obj", config.hyla_obj_root))
config.substitutions.append(("%hyla_lib", config.hyla_lib_dir))
config.substitutions.append(("%python", shutil.which("python3") or "python3"))

ptxas = config.ptxas or shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas"
if os.path.exists(ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
