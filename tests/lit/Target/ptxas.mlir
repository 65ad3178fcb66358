// REQUIRES: ptxas
// RUN: turbo-compile %S/ptx.mlir -o %t.ptx
// RUN: %ptxas -arch=sm_90a %t.ptx -o %t.cubin
// RUN: turbo-compile --kernel=quantize_rows --target=sm_80 -o %t80.ptx
// RUN: %ptxas -arch=sm_80 %t80.ptx -o %t80.cubin
// RUN: turbo-compile --kernel=quantize_rows --dtype=bf16 --head-dim=64 --config=block_rows=64,num_warps=8 -o %tbf.ptx
// RUN: %ptxas -arch=sm_90a %tbf.ptx -o %tbf.cubin
// RUN: turbo-compile --kernel=quantize_rows --preset=phi3-mini -o %t96.ptx
// RUN: %ptxas -arch=sm_90a %t96.ptx -o %t96.cubin

// What the compiler emits assembles with the CUDA toolkit's ptxas.
