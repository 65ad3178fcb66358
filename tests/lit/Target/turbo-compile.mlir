// RUN: turbo-compile --kernel=quantize_rows --emit=turbo | FileCheck %s --check-prefix=TURBO
// RUN: turbo-compile --kernel=quantize_rows --emit=specialized | FileCheck %s --check-prefix=SPECIALIZED
// RUN: turbo-compile --kernel=quantize_rows --emit=layouts | FileCheck %s --check-prefix=LAYOUTS
// RUN: turbo-compile --kernel=quantize_rows --emit=nvvm | FileCheck %s --check-prefix=NVVM
// RUN: turbo-compile --preset=phi3-mini --kernel=quantize_rows --emit=turbo 2>&1 | FileCheck %s --check-prefix=PHI3
// RUN: not turbo-compile --kernel=quantize_rows --emit=assembly 2>&1 | FileCheck %s --check-prefix=BADSTAGE
// RUN: not turbo-compile --kernel=nope 2>&1 | FileCheck %s --check-prefix=BADKERNEL
// RUN: not turbo-compile --kernel=quantize_rows --config=block_rows=3 2>&1 | FileCheck %s --check-prefix=BADCONFIG
// RUN: not turbo-compile --q-heads=30 --kv-heads=8 2>&1 | FileCheck %s --check-prefix=BADHEADS
// RUN: not turbo-compile --kernel=attention_prefill --kv-bits=2 2>&1 | FileCheck %s --check-prefix=KVBITS
// RUN: turbo-compile --kernel=attention_decode --kv-bits=2 --emit=turbo | FileCheck %s --check-prefix=DECODE2
// RUN: turbo-compile --kernel=decode_reduce | FileCheck %s --check-prefix=REDUCE90
// RUN: turbo-compile --kernel=decode_reduce --target=sm_80 | FileCheck %s --check-prefix=REDUCE80
// RUN: turbo-compile --kernel=attention_decode --target=sm_80 | FileCheck %s --check-prefix=DECODE80
// RUN: turbo-compile --kernel=attention_decode --kv-bits=4 --config=keys_in_m=1 --emit=layouts | FileCheck %s --check-prefix=KEYSINM
// RUN: not turbo-compile --kernel=attention_decode --config=keys_in_m=1,page_size=32 2>&1 | FileCheck %s --check-prefix=KEYSINM-PAGE
// RUN: turbo-compile --version | FileCheck %s --check-prefix=VERSION
// RUN: turbo-compile --list-templates | FileCheck %s --check-prefix=LIST

// Each stage of the default kernel prints; bad input gives a clear error.
// TURBO: module attributes {turbo.num_warps = 4 : i32, turbo.target = "sm_90a"}
// TURBO: func.func @quantize_rows
// TURBO-SAME: turbo.config = #turbo.config<{block_rows = 32 : i64, cols = 128 : i64, dtype = 0 : i64, num_warps = 4 : i64}>
// TURBO: turbo.quantize
// SPECIALIZED-NOT: turbo.quantize
// SPECIALIZED: turbo.reduce absmax
// LAYOUTS: #blocked = #turbo.blocked
// LAYOUTS: turbo.load {{.*}} -> tensor<32x128xf16, #blocked>
// NVVM: llvm.func @quantize_rows
// NVVM-SAME: nvvm.kernel
// PHI3: turbo.config = #turbo.config<{block_rows = 32 : i64, cols = 96 : i64
// PHI3: turbo.load {{.*}} -> tensor<32x128xf16>
// BADSTAGE: unknown stage 'assembly' (stages: turbo, specialized, layouts, pipelined, nvvm, llvm, ptx)
// BADKERNEL: unknown template 'nope' (templates: quantize_rows, attention_prefill, channel_mean, quantize_kv, quantize_q, attention_decode, decode_reduce, kv_compress, kv_stage)
// BADCONFIG: block_rows=3 is not allowed for template 'quantize_rows' (allowed: 16, 32, 64, 128)
// BADHEADS: q-heads (30) must be a multiple of kv-heads (8)
// KVBITS: --kv-bits sets the KV cache's storage; attention_prefill has no kv_bits parameter
// DECODE2: func.func @attention_decode
// DECODE2-SAME: kv_bits = 2 : i64
// DECODE2: turbo.unpack {{.*}} {bits = 2 : i32}
// VERSION: turbo 0.1.0 (LLVM 22.1.8)
// LIST: quantize_rows: per-row symmetric INT8 quantization
// LIST: block_rows default 32
// LIST: attention_prefill: FlashQ INT8 + SAS prefill attention
// LIST: num_stages default 2 1|2|3
// LIST: channel_mean:
// LIST: quantize_kv:

// decode_reduce waits for attention_decode before its first global load;
// attention_decode lets it start once all its programs run (sm_90 and up).
// REDUCE90: .target sm_90a
// REDUCE90-NOT: ld.global
// REDUCE90: griddepcontrol.wait;
// REDUCE90: ld.global
// REDUCE80-NOT: griddepcontrol
// DECODE80-NOT: griddepcontrol

// keys_in_m: the page's K and V^T are the mma's A operands, permuted back
// from #turbo.linear layouts (the loads' own, no exchange between threads),
// and the query rows pad to N = 8.
// KEYSINM-DAG: #[[A:.*]] = #turbo.dot_operand<{opIdx = 0
// KEYSINM: turbo.unpack {{.*}} : tensor<64x16xi32, #linear{{[0-9]*}}> -> tensor<64x128xf16, #linear
// KEYSINM: turbo.permute_bits {{.*}} : tensor<64x128xf16, #linear{{[0-9]*}}> -> tensor<64x128xf16, #[[A]]>
// KEYSINM: turbo.unpack {{.*}} : tensor<128x8xi32, #linear{{[0-9]*}}> -> tensor<128x64xf16, #linear
// KEYSINM: turbo.permute_bits {{.*}} : tensor<128x64xf16, #linear{{[0-9]*}}> -> tensor<128x64xf16, #[[A]]>
// KEYSINM: turbo.dot {{.*}} : tensor<64x128xf16, #[[A]]>, tensor<128x8xf16, {{.*}}> -> tensor<64x8xf32
// KEYSINM: turbo.dot {{.*}} : tensor<128x64xf16, #[[A]]>, tensor<64x8xf16, {{.*}}> -> tensor<128x8xf32
// KEYSINM-PAGE: page_size (32) must be at least 16 x num_warps (4)
