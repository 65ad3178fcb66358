// RUN: turbo-opt %s | turbo-opt | FileCheck %s
// RUN: turbo-opt %s --mlir-print-op-generic | turbo-opt | FileCheck %s

// Every turbo op survives printing and parsing, in both forms; layouts
// print through aliases.
// CHECK-DAG: #blocked = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>
// CHECK-DAG: #mma = #turbo.mma<{warpsPerCTA = [4, 1]}>
// CHECK-DAG: #dot_op = #turbo.dot_operand<{opIdx = 0, parent = #mma, kWidth = 4}>
// CHECK-DAG: #slice = #turbo.slice<{dim = 1, parent = #mma}>
// CHECK-DAG: #linear = #turbo.linear<{reg = {{\[\[}}1, 1], [1, 2], [0, 8]], lane = {{\[\[}}1, 4], [1, 8], [0, 1], [0, 2], [0, 4]], warp = {{\[\[}}0, 16], [0, 32]]}>

module attributes {turbo.target = "sm_90a", turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @all_ops
  // CHECK-SAME: (%{{.*}}: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}
  // CHECK-SAME: turbo.config = #turbo.config<{block_m = 64 : i64}>
  // CHECK-SAME: turbo.kernel
  func.func @all_ops(%x: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}, %o: !turbo.ptr<i8>,
                     %n: i32, %off: i64) attributes {turbo.kernel, turbo.config = #turbo.config<{block_m = 64 : i64}>} {
    // CHECK: turbo.launch_dependents
    turbo.launch_dependents
    // CHECK: turbo.wait_prior_grids
    turbo.wait_prior_grids
    // CHECK: turbo.program_id 0 : i32
    %pid = turbo.program_id 0 : i32
    // CHECK: turbo.num_programs 1 : i32
    %np = turbo.num_programs 1 : i32
    // CHECK: turbo.range 0, 64 : tensor<64xi32>
    %r = turbo.range 0, 64 : tensor<64xi32>
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    // CHECK: turbo.addptr %{{.*}}, %{{.*}} : !turbo.ptr<f16>, i64
    %p = turbo.addptr %x, %off : !turbo.ptr<f16>, i64
    // CHECK: turbo.load %{{.*}}[%{{.*}}, %{{.*}}] strides[%{{.*}}] bounds[%{{.*}}, %{{.*}}] {padding = 0.000000e+00 : f16} : !turbo.ptr<f16> -> tensor<64x128xf16>
    %t = turbo.load %p[%c0, %c0] strides [%c128] bounds [%n, %c128] {padding = 0.0 : f16} : !turbo.ptr<f16> -> tensor<64x128xf16>
    // CHECK: turbo.load %{{.*}}[%{{.*}}, %{{.*}}] strides[%{{.*}}] bounds[] : !turbo.ptr<f16> -> tensor<64x128xf16>
    %unbounded = turbo.load %p[%c0, %c0] strides [%c128] bounds [] : !turbo.ptr<f16> -> tensor<64x128xf16>
    // CHECK: turbo.splat %{{.*}} : tensor<64x128xi32>
    %s = turbo.splat %n : tensor<64x128xi32>
    // CHECK: turbo.quantize %{{.*}} {bits = 8 : i32, granularity = #turbo.granularity<row>} : tensor<64x128xf16> -> tensor<64x128xi8>, tensor<64xf32>
    %q, %scale = turbo.quantize %t {bits = 8 : i32, granularity = #turbo.granularity<row>} : tensor<64x128xf16> -> tensor<64x128xi8>, tensor<64xf32>
    // CHECK: turbo.quantize %{{.*}} {asymmetric, bits = 4 : i32, granularity = #turbo.granularity<column>} : tensor<64x128xf16> -> tensor<64x128xi8>, tensor<128xf32>, tensor<128xf32>
    %qa, %sa, %za = turbo.quantize %t {bits = 4 : i32, granularity = #turbo.granularity<column>, asymmetric} : tensor<64x128xf16> -> tensor<64x128xi8>, tensor<128xf32>, tensor<128xf32>
    // CHECK: turbo.quantize %{{.*}} {bits = 8 : i32, granularity = #turbo.granularity<tile>} : tensor<64x128xf16> -> tensor<64x128xi8>, f32
    %qt, %st = turbo.quantize %t {bits = 8 : i32, granularity = #turbo.granularity<tile>} : tensor<64x128xf16> -> tensor<64x128xi8>, f32
    // CHECK: turbo.dequantize %{{.*}}, %{{.*}} {granularity = #turbo.granularity<row>} : tensor<64x128xi8>, tensor<64xf32> -> tensor<64x128xf32>
    %dq = turbo.dequantize %q, %scale {granularity = #turbo.granularity<row>} : tensor<64x128xi8>, tensor<64xf32> -> tensor<64x128xf32>
    // CHECK: turbo.dequantize %{{.*}}, %{{.*}}, %{{.*}} {granularity = #turbo.granularity<column>} : tensor<64x128xi8>, tensor<128xf32>, tensor<128xf32> -> tensor<64x128xf16>
    %da = turbo.dequantize %qa, %sa, %za {granularity = #turbo.granularity<column>} : tensor<64x128xi8>, tensor<128xf32>, tensor<128xf32> -> tensor<64x128xf16>
    // CHECK: turbo.requantize %{{.*}} {bits = 4 : i32} : tensor<64x128xi8> -> tensor<64x128xi8>, tensor<128xi32>, tensor<128xi32>
    %c4, %s4, %z4 = turbo.requantize %q {bits = 4 : i32} : tensor<64x128xi8> -> tensor<64x128xi8>, tensor<128xi32>, tensor<128xi32>
    // CHECK: turbo.dequantize_int %{{.*}}, %{{.*}}, %{{.*}} : tensor<64x128xi8>, tensor<128xi32>, tensor<128xi32> -> tensor<64x128xi8>
    %k8 = turbo.dequantize_int %c4, %s4, %z4 : tensor<64x128xi8>, tensor<128xi32>, tensor<128xi32> -> tensor<64x128xi8>
    // CHECK: turbo.pack %{{.*}} {bits = 4 : i32} : tensor<64x128xi8> -> tensor<64x64xi8>
    %packed = turbo.pack %c4 {bits = 4 : i32} : tensor<64x128xi8> -> tensor<64x64xi8>
    // CHECK: turbo.unpack %{{.*}} {bits = 4 : i32} : tensor<64x64xi8> -> tensor<64x128xi8>
    %unpacked = turbo.unpack %packed {bits = 4 : i32} : tensor<64x64xi8> -> tensor<64x128xi8>
    %words = arith.constant dense<0> : tensor<64x16xi32>
    // CHECK: turbo.unpack %{{.*}} {bits = 4 : i32} : tensor<64x16xi32> -> tensor<64x128xf16>
    %values = turbo.unpack %words {bits = 4 : i32} : tensor<64x16xi32> -> tensor<64x128xf16>
    // CHECK: turbo.unpack %{{.*}} {bits = 8 : i32} : tensor<64x16xi32> -> tensor<64x64xf16>
    %bytes = turbo.unpack %words {bits = 8 : i32} : tensor<64x16xi32> -> tensor<64x64xf16>
    // CHECK: turbo.split_words %{{.*}} : tensor<64x16xi32> -> tensor<64x32xf16>
    %halves = turbo.split_words %words : tensor<64x16xi32> -> tensor<64x32xf16>
    // CHECK: turbo.trans %{{.*}} : tensor<64x128xi8> -> tensor<128x64xi8>
    %kt = turbo.trans %k8 : tensor<64x128xi8> -> tensor<128x64xi8>
    %acc = arith.constant dense<0> : tensor<64x64xi32>
    // CHECK: turbo.dot %{{.*}}, %{{.*}}, %{{.*}} : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
    %d = turbo.dot %q, %kt, %acc : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
    // CHECK: turbo.dot %{{.*}}, %{{.*}}, %{{.*}} {lhs_unsigned} : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
    %du = turbo.dot %q, %kt, %acc {lhs_unsigned} : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
    %f = arith.sitofp %d : tensor<64x64xi32> to tensor<64x64xf32>
    // CHECK: turbo.reduce max %{{.*}} {axis = 1 : i32} : tensor<64x64xf32> -> tensor<64xf32>
    %m = turbo.reduce max %f {axis = 1 : i32} : tensor<64x64xf32> -> tensor<64xf32>
    // CHECK: turbo.reduce sum %{{.*}} {axis = 0 : i32} : tensor<64xf32> -> f32
    %total = turbo.reduce sum %m {axis = 0 : i32} : tensor<64xf32> -> f32
    // CHECK: turbo.expand_dims %{{.*}} {axis = 1 : i32} : tensor<64xf32> -> tensor<64x1xf32>
    %me = turbo.expand_dims %m {axis = 1 : i32} : tensor<64xf32> -> tensor<64x1xf32>
    // CHECK: turbo.broadcast %{{.*}} : tensor<64x1xf32> -> tensor<64x64xf32>
    %mb = turbo.broadcast %me : tensor<64x1xf32> -> tensor<64x64xf32>
    %x2 = arith.subf %f, %mb : tensor<64x64xf32>
    // CHECK: turbo.exp_poly %{{.*}} {degree = 3 : i32, threshold = 8 : i32} : tensor<64x64xf32> -> tensor<64x64xf16>
    %e = turbo.exp_poly %x2 {degree = 3 : i32, threshold = 8 : i32} : tensor<64x64xf32> -> tensor<64x64xf16>
    // CHECK: turbo.exp_poly %{{.*}} {base = #turbo.exp_base<e>, coefficients = [1.000000e+00, -6.000000e-01], degree = 1 : i32, threshold = 4 : i32}
    %e2 = turbo.exp_poly %x2 {degree = 1 : i32, threshold = 4 : i32, base = #turbo.exp_base<e>, coefficients = [1.0, -0.6]} : tensor<64x64xf32> -> tensor<64x64xf32>
    // CHECK: turbo.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] strides[%{{.*}}] bounds[%{{.*}}, %{{.*}}] : tensor<64x128xi8>, !turbo.ptr<i8>
    turbo.store %q, %o[%c0, %c0] strides [%c128] bounds [%n, %c128] : tensor<64x128xi8>, !turbo.ptr<i8>
    return
  }

  // CHECK-LABEL: func.func @permute
  // CHECK: turbo.permute_bits %{{.*}} {axis = 1 : i32, bits = array<i32: 0, 3, 1, 2, 4>} : tensor<64x64xi8> -> tensor<64x64xi8>
  func.func @permute(%p: tensor<64x64xi8>) -> tensor<64x64xi8> {
    %q = turbo.permute_bits %p {axis = 1 : i32, bits = array<i32: 0, 3, 1, 2, 4>} : tensor<64x64xi8> -> tensor<64x64xi8>
    return %q : tensor<64x64xi8>
  }

  // Staging through shared memory (what turbo-pipeline-loads writes).
  // CHECK-LABEL: func.func @staging
  // CHECK: %[[BUF:.*]] = turbo.alloc_shared : memref<2x64x128xi8, 3 : i32>
  // CHECK: turbo.async_copy %{{.*}}[%{{.*}}, %{{.*}}] strides[%{{.*}}] bounds[%{{.*}}, %{{.*}}], %[[BUF]][%{{.*}}] {layout = #blocked} : !turbo.ptr<i8>, memref<2x64x128xi8, 3 : i32>
  // CHECK: turbo.async_commit
  // CHECK: turbo.async_wait {pending = 1 : i32}
  // CHECK: turbo.shared_load %[[BUF]][%{{.*}}] {transpose} : memref<2x64x128xi8, 3 : i32> -> tensor<128x64xi8>
  // CHECK: turbo.shared_load %[[BUF]][%{{.*}}] : memref<2x64x128xi8, 3 : i32> -> tensor<64x128xi8>
  func.func @staging(%k: !turbo.ptr<i8>, %n: i32, %slot: i32) {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %buf = turbo.alloc_shared : memref<2x64x128xi8, 3 : i32>
    turbo.async_copy %k[%c0, %c0] strides [%c128] bounds [%n, %c128], %buf[%slot] {layout = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>} : !turbo.ptr<i8>, memref<2x64x128xi8, 3 : i32>
    turbo.async_commit
    turbo.async_wait {pending = 1 : i32}
    %kt = turbo.shared_load %buf[%slot] {transpose} : memref<2x64x128xi8, 3 : i32> -> tensor<128x64xi8>
    %k8 = turbo.shared_load %buf[%slot] : memref<2x64x128xi8, 3 : i32> -> tensor<64x128xi8>
    return
  }

  // CHECK-LABEL: func.func @layouts
  // CHECK-SAME: tensor<64x64xf32, #mma>
  // CHECK-SAME: tensor<64xf32, #slice>
  // CHECK-SAME: tensor<64x32xi8, #dot_op>
  // CHECK-SAME: tensor<64x128xf16, #blocked>
  // CHECK-SAME: tensor<64x16xi32, #linear>
  func.func @layouts(%a: tensor<64x64xf32, #turbo.mma<{warpsPerCTA = [4, 1]}>>,
                     %b: tensor<64xf32, #turbo.slice<{dim = 1, parent = #turbo.mma<{warpsPerCTA = [4, 1]}>}>>,
                     %c: tensor<64x32xi8, #turbo.dot_operand<{opIdx = 0, parent = #turbo.mma<{warpsPerCTA = [4, 1]}>, kWidth = 4}>>,
                     %d: tensor<64x128xf16, #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>>,
                     %e: tensor<64x16xi32, #turbo.linear<{reg = [[1, 1], [1, 2], [0, 8]], lane = [[1, 4], [1, 8], [0, 1], [0, 2], [0, 4]], warp = [[0, 16], [0, 32]]}>>) {
    return
  }
}
