// RUN: turbo-compile %s --emit=ptx | FileCheck %s
// RUN: turbo-compile %s --emit=llvm | FileCheck %s --check-prefix=LLVM

// The whole pipeline from turbo IR: the INT8 dot is warp-level mma.sync on
// s8, SAS runs as f16 FMAs with no MUFU.EX2 (ex2.approx), loads are 16 bytes
// wide, and the kernel is an entry point with its thread count.
// CHECK: .version 8.0
// CHECK: .target sm_90a
// CHECK: .visible .entry qk_sas(
// CHECK: .maxntid 128, 1, 1
// CHECK: ld.global.v4.b32
// CHECK: mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32
// CHECK: fma.rn.f16
// CHECK-NOT: ex2.approx

// LLVM: target triple = "nvptx64-nvidia-cuda"
// LLVM: define ptx_kernel void @qk_sas(
// LLVM: call {{.*}}@llvm.nvvm.mma.m16n8k32.row.col.s8
module attributes {turbo.target = "sm_90a", turbo.num_warps = 4 : i32} {
  func.func @qk_sas(%q: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}, %k: !turbo.ptr<i8> {turbo.divisibility = 16 : i64},
                    %o: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %a = turbo.load %q[%c0, %c0] strides [%c128] bounds [%c64, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %kt = turbo.load %k[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %b = turbo.trans %kt : tensor<64x128xi8> -> tensor<128x64xi8>
    %zero = arith.constant dense<0> : tensor<64x64xi32>
    %s = turbo.dot %a, %b, %zero : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
    %f = arith.sitofp %s : tensor<64x64xi32> to tensor<64x64xf32>
    %scale = arith.constant dense<0.001> : tensor<64x64xf32>
    %x = arith.mulf %f, %scale : tensor<64x64xf32>
    %m = turbo.reduce max %x {axis = 1 : i32} : tensor<64x64xf32> -> tensor<64xf32>
    %me = turbo.expand_dims %m {axis = 1 : i32} : tensor<64xf32> -> tensor<64x1xf32>
    %mb = turbo.broadcast %me : tensor<64x1xf32> -> tensor<64x64xf32>
    %d = arith.subf %x, %mb : tensor<64x64xf32>
    %p = turbo.exp_poly %d {degree = 3 : i32, threshold = 8 : i32} : tensor<64x64xf32> -> tensor<64x64xf16>
    turbo.store %p, %o[%c0, %c0] strides [%c64] bounds [%c64, %c64] : tensor<64x64xf16>, !turbo.ptr<f16>
    return
  }
}
