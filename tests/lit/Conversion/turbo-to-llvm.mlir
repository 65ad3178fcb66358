// RUN: turbo-opt %s -split-input-file --convert-turbo-tiles-to-threads --convert-scf-to-cf --convert-turbo-to-llvm --reconcile-unrealized-casts | FileCheck %s

// Kernels become llvm.funcs marked for NVVM with their thread count; the
// shared-memory need stays readable for the runtime; argument hints are
// dropped; nothing of arith, scf or func is left.
// CHECK: llvm.mlir.global external @turbo_dynamic_shared() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<0 x i8>
// CHECK: llvm.func @scale(%{{.*}}: !llvm.ptr<1>, %{{.*}}: i32)
// CHECK-SAME: nvvm.kernel
// CHECK-SAME: nvvm.maxntid = array<i32: 256, 1, 1>
// CHECK-SAME: turbo.shared_bytes = 0 : i64
// CHECK-NOT: turbo.divisibility
// CHECK-NOT: arith.
// CHECK-NOT: scf.
// CHECK-NOT: func.
#blocked = #turbo.blocked<{sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [8], order = [0]}>
module attributes {turbo.num_warps = 8 : i32, turbo.target = "sm_80"} {
  func.func @scale(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %pid = turbo.program_id 0 : i32
    %c1024 = arith.constant 1024 : i32
    %start = arith.muli %pid, %c1024 : i32
    %x = turbo.load %p[%start] strides [] bounds [%n] : !turbo.ptr<f32> -> tensor<1024xf32, #blocked>
    %two = arith.constant dense<2.0> : tensor<1024xf32, #blocked>
    %y = arith.mulf %x, %two : tensor<1024xf32, #blocked>
    turbo.store %y, %p[%start] strides [] bounds [%n] : tensor<1024xf32, #blocked>, !turbo.ptr<f32>
    return
  }
}

// -----

// log2 of f32 becomes PTX's lg2.approx (NVPTX has no libcall for llvm.log2).
// CHECK-LABEL: llvm.func @log_sum
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"
// CHECK-NOT: math.log2
#blocked = #turbo.blocked<{sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [1], order = [0]}>
module attributes {turbo.num_warps = 1 : i32, turbo.target = "sm_90a"} {
  func.func @log_sum(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c32 = arith.constant 32 : i32
    %x = turbo.load %p[%c0] strides [] bounds [%c32] : !turbo.ptr<f32> -> tensor<32xf32, #blocked>
    %y = math.log2 %x : tensor<32xf32, #blocked>
    turbo.store %y, %p[%c0] strides [] bounds [%c32] : tensor<32xf32, #blocked>, !turbo.ptr<f32>
    return
  }
}

// -----

// The programmatic-launch mark reaches the llvm.func, where the runtime's
// kernel info reads it.
// CHECK-LABEL: llvm.func @after_decode
// CHECK-SAME: turbo.programmatic_launch
module attributes {turbo.num_warps = 4 : i32, turbo.target = "sm_90a"} {
  func.func @after_decode() attributes {turbo.kernel} {
    turbo.wait_prior_grids
    return
  }
}
