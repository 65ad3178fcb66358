# Debian's MLIR archives name LLVM's shared library (`LLVM`) as a link
# dependency. Mixing libLLVM.so with static MLIR code in one shared object
# gives two copies of LLVM's global registries, so we rewrite every imported
# MLIR target to depend on LLVM's static component archives instead. The
# result links into binaries that need only libc, libstdc++, libz and libzstd.

set(TURBO_LLVM_COMPONENTS
  Support Core IRReader IRPrinter BitReader BitWriter AsmParser Analysis
  TransformUtils ScalarOpts InstCombine ipo Vectorize Passes Linker Target
  TargetParser MC MCParser Object BinaryFormat Demangle FrontendOpenMP
  FrontendOffloading FrontendAtomic NVPTXCodeGen NVPTXDesc NVPTXInfo)

llvm_map_components_to_libnames(TURBO_LLVM_STATIC_LIBS ${TURBO_LLVM_COMPONENTS})

add_library(turbo_llvm_static INTERFACE)
target_link_libraries(turbo_llvm_static INTERFACE ${TURBO_LLVM_STATIC_LIBS})

get_property(_turbo_mlir_libs GLOBAL PROPERTY MLIR_ALL_LIBS)
foreach(_lib IN LISTS _turbo_mlir_libs)
  if(NOT TARGET ${_lib})
    continue()
  endif()
  get_target_property(_type ${_lib} TYPE)
  if(NOT _type STREQUAL "STATIC_LIBRARY")
    continue()
  endif()
  get_target_property(_deps ${_lib} INTERFACE_LINK_LIBRARIES)
  if(_deps)
    list(TRANSFORM _deps REPLACE "^LLVM$" "turbo_llvm_static")
    set_target_properties(${_lib} PROPERTIES INTERFACE_LINK_LIBRARIES "${_deps}")
  endif()
endforeach()

# LLVMSupport names libz3 for its SMT solver binding, which turbo never uses;
# keep it out so that binaries don't ask for libz3 where they run.
get_target_property(_support_deps LLVMSupport INTERFACE_LINK_LIBRARIES)
list(FILTER _support_deps EXCLUDE REGEX "libz3")
set_target_properties(LLVMSupport PROPERTIES INTERFACE_LINK_LIBRARIES "${_support_deps}")

# add_llvm_executable and add_mlir_library link the LLVM dylib when Debian's
# build says so; turn that off so they use the static components too.
set(LLVM_LINK_LLVM_DYLIB OFF)
