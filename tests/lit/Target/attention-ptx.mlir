// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 --emit=pipelined | FileCheck %s --check-prefix=PIPELINED
// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 --config=num_stages=1 --emit=pipelined | FileCheck %s --check-prefix=UNSTAGED
// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 --config=pv=int8 -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: FileCheck %s --check-prefix=PTXNOT < %t.ptx
// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 --config=kv_int8=0 | FileCheck %s --check-prefix=DIRECT
// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 --config=block_m=128,num_warps=8 | FileCheck %s --check-prefix=WARPS8
// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 --head-dim=64 | FileCheck %s --check-prefix=D64
// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 --config=sas_threshold=8,pv=int8 | FileCheck %s --check-prefix=ZEROED
// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 | FileCheck %s --check-prefix=MIXED
// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 --emit=turbo | FileCheck %s --check-prefix=PADDED
// RUN: turbo-compile --kernel=attention_prefill --target=sm_80 --config=varlen=1,q_int8=1 --emit=turbo | FileCheck %s --check-prefix=VARLEN
// RUN: turbo-compile --kernel=attention_prefill --config=pv=int8 -o %t.wgmma.ptx
// RUN: FileCheck %s --check-prefix=WGMMA < %t.wgmma.ptx
// RUN: FileCheck %s --check-prefix=WGMMANOT < %t.wgmma.ptx
// RUN: not turbo-compile --kernel=attention_prefill --config=wgmma=1 --target=sm_80 2>&1 | FileCheck %s --check-prefix=WGMMA80

// The prefill kernel on mma.sync as the pipeline leaves it (the default
// config before Hopper, d128, sm_80; sm_90a defaults to wgmma, below; the
// PTX checks pin pv=int8, the loop every pv but half runs): K, V and their scales staged two deep through shared memory, P
// permuted into the next mma's operand, and in the PTX the instructions
// that make it fast. Guards against regressions that still compute the
// right numbers (the GPU tests would not notice a byte-wise load).

// PIPELINED: turbo.alloc_shared : memref<2x64x128xi8, 3 : i32>
// PIPELINED: turbo.alloc_shared : memref<2x1x64xf32, 3 : i32>
// PIPELINED: turbo.alloc_shared : memref<2x128x64xi8, 3 : i32>
// PIPELINED: turbo.alloc_shared : memref<2x1x128xf32, 3 : i32>
// PIPELINED: scf.for
// PIPELINED: turbo.async_wait {pending = 0 : i32}
// PIPELINED: turbo.shared_load {{.*}} {transpose} : memref<2x64x128xi8, 3 : i32> -> tensor<128x64xi8, #dot_op{{[0-9]*}}>
// PIPELINED: turbo.permute_bits {{.*}} : tensor<64x64xi8, #mma> -> tensor<64x64xi8, #dot_op{{[0-9]*}}>
// PIPELINED: turbo.shared_load {{.*}} {transpose} : memref<2x128x64xi8, 3 : i32> -> tensor<64x128xi8, #dot_op{{[0-9]*}}>
// UNSTAGED-NOT: turbo.async_copy
// UNSTAGED-NOT: turbo.shared_load

// 16-byte copies, ldmatrix for both B operands, both mma kinds, SAS in
// f16 pairs (exp_poly's pair form: relu conversion; at the default
// threshold, 12, the codes round away what the threshold would zero, so
// there is no saturating FMA), P's codes from f16 pairs packed four to a register with
// one prmt each, and the loop runs at most three blocks per SM's worth of
// registers.
// (LLVM rotates the loop, so the order in the text is not the program's.)
// PTX: .minnctapersm 3
// PTX-DAG: cp.async.cg.shared.global {{.*}}, 16
// PTX-DAG: cp.async.wait_group 0
// PTX-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX-DAG: mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32
// PTX-DAG: fma.rn.f16x2
// PTX-DAG: mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32
// PTX-DAG: cvt.rn.relu.f16x2.f32
// PTX-DAG: max.NaN.f16x2
// PTX-DAG: prmt.b32 {{.*}}, 0x6420U;
// No byte-wise global loads (V's tile was once read so), no exp2.
// PTXNOT-NOT: ld.global.u8
// PTXNOT-NOT: ld.global.b8
// PTXNOT-NOT: ex2.approx
// PTXNOT-NOT: fma.rn.sat.f16x2

// Below threshold 12 the codes could keep a clamped value: zeroed there.
// ZEROED: fma.rn.sat.f16x2

// The default pv=mixed: the first block of keys before the loop, P and V
// in f16 on the f16 mma, its SAS zeroing past threshold 24 and computed
// 2^10 larger (the pair form's exponent constant 0x1900000 plus 10 in both
// f16 exponent fields: 697313280); the loop's blocks in u8 x INT8.
// MIXED-DAG: add.s32 {{.*}}, 697313280;
// MIXED-DAG: fma.rn.sat.f16x2
// MIXED-DAG: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// MIXED: mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32

// With K and V quantized inside the kernel (kv_int8=0) V is not stored
// permuted, so P takes the general route (no permute_bits).
// DIRECT-NOT: turbo.permute_bits
// DIRECT: mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32

// The head config's three blocks per SM are meant for 4-warp blocks: an
// 8-warp block asks for two (128 registers a thread), not three (80).
// WARPS8: .maxntid 256, 1, 1
// WARPS8: .minnctapersm 2

// Head dim 64 holds half the accumulator: four blocks per SM.
// D64: .maxntid 128, 1, 1
// D64: .minnctapersm 4

// The padded kernel reads no sequence offsets (its lengths stay kernel
// parameters) and quantizes Q itself; the varlen one reads each sequence's
// start and end, Q's and K's, under the runtime `packed` flag; with q_int8
// it loads Q as INT8 codes and does not quantize it.
// PADDED-NOT: tensor<2xi32>
// PADDED: turbo.quantize {{.*}} : tensor<64x128xf16> -> tensor<64x128xi8>, tensor<64xf32>
// VARLEN: scf.if {{.*}} -> (i32, i32)
// VARLEN: turbo.load {{.*}} : !turbo.ptr<i32> -> tensor<2xi32>
// VARLEN: turbo.reduce min
// VARLEN: turbo.reduce max
// VARLEN: scf.if {{.*}} -> (i32, i32)
// VARLEN: turbo.load {{.*}} : !turbo.ptr<i32> -> tensor<2xi32>
// VARLEN-NOT: tensor<64x128xf16> -> tensor<64x128xi8>
// VARLEN: turbo.load {{.*}} : !turbo.ptr<i8> -> tensor<64x128xi8>

// The sm_90a default (wgmma=1, 128 keys a step, two blocks per SM): both
// INT8 products on warpgroup MMAs reading K (128 keys of 128 bytes) and
// V^T (128 channels of 128 keys), both in 128-byte swizzle, from shared
// memory, so no ldmatrix and no mma.sync for
// them (the code sums keep their 8-wide mma.sync); the copies are fenced
// for the async proxy; P (u8) times V (s8) needs PTX ISA 8.4; the staging
// buffers start on a 1 KiB boundary, the swizzle atom (the kernel traps if
// dynamic shared memory does not).
// WGMMA: .version 8.4
// WGMMA: .target sm_90a
// WGMMA: .extern .shared .align 1024 .b8 turbo_dynamic_shared[];
// WGMMA-DAG: fence.proxy.async.shared::cta;
// WGMMA-DAG: trap;
// WGMMA-DAG: wgmma.fence.sync.aligned;
// WGMMA-DAG: .minnctapersm 2
// WGMMA-DAG: wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8
// WGMMA-DAG: wgmma.mma_async.sync.aligned.m64n128k32.s32.u8.s8
// WGMMA-DAG: wgmma.commit_group.sync.aligned;
// WGMMA-DAG: wgmma.wait_group.sync.aligned 0;
// WGMMA-DAG: mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32
// (pinned to pv=int8: the default pv=mixed peels its first block of keys
// off the loop, and that block runs on mma.sync with ldmatrix.)
// WGMMANOT-NOT: ldmatrix
// WGMMANOT-NOT: mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32
// WGMMA80: wgmma=1 needs the sm_90a target
