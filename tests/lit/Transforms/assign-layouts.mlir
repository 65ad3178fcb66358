// RUN: turbo-opt %s -split-input-file --turbo-assign-layouts --canonicalize | FileCheck %s

// Loads get 16-byte blocked layouts; a row reduction gives a slice of its
// operand's layout, and expand_dims of that slice gives the parent back, so
// the broadcast needs no conversion. Constants are created in the layout
// their user needs.
// CHECK-DAG: #[[F16:.*]] = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>
// CHECK-DAG: #[[ROWS:.*]] = #turbo.slice<{dim = 1, parent = #[[F16]]}>
// CHECK-LABEL: func.func @row_scale
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<16xf32, #[[ROWS]]>
// CHECK: %[[X:.*]] = turbo.load {{.*}} -> tensor<16x128xf16, #[[F16]]>
// CHECK: %[[X32:.*]] = arith.extf %[[X]] : tensor<16x128xf16, #[[F16]]> to tensor<16x128xf32, #[[F16]]>
// CHECK: %[[M:.*]] = turbo.reduce absmax %[[X32]] {axis = 1 : i32} : tensor<16x128xf32, #[[F16]]> -> tensor<16xf32, #[[ROWS]]>
// CHECK: %[[G:.*]] = arith.maximumf %[[M]], %[[ZERO]] : tensor<16xf32, #[[ROWS]]>
// CHECK: %[[E:.*]] = turbo.expand_dims %[[G]] {axis = 1 : i32} : tensor<16xf32, #[[ROWS]]> -> tensor<16x1xf32, #[[F16]]>
// CHECK: %[[B:.*]] = turbo.broadcast %[[E]] : tensor<16x1xf32, #[[F16]]> -> tensor<16x128xf32, #[[F16]]>
// CHECK: arith.mulf %[[X32]], %[[B]] : tensor<16x128xf32, #[[F16]]>
// CHECK-NOT: turbo.convert_layout
module attributes {turbo.num_warps = 4 : i32} {
  func.func @row_scale(%p: !turbo.ptr<f16>, %o: !turbo.ptr<f32>, %n: i32) {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<f16> -> tensor<16x128xf16>
    %x32 = arith.extf %x : tensor<16x128xf16> to tensor<16x128xf32>
    %m = turbo.reduce absmax %x32 {axis = 1 : i32} : tensor<16x128xf32> -> tensor<16xf32>
    %zero = arith.constant dense<0.0> : tensor<16xf32>
    %g = arith.maximumf %m, %zero : tensor<16xf32>
    %e = turbo.expand_dims %g {axis = 1 : i32} : tensor<16xf32> -> tensor<16x1xf32>
    %b = turbo.broadcast %e : tensor<16x1xf32> -> tensor<16x128xf32>
    %y = arith.mulf %x32, %b : tensor<16x128xf32>
    turbo.store %y, %o[%c0, %c0] strides [%c128] bounds [%n, %c128] : tensor<16x128xf32>, !turbo.ptr<f32>
    return
  }
}

// -----

// A dot takes mma operands; the loop carries the accumulator and the row
// maximum in the layouts the body produces them in (mma and its slice), not
// in the blocked layout of their zero initializers, so the only conversions
// left are those of the operands.
// CHECK-DAG: #[[MMA:.*]] = #turbo.mma<{warpsPerCTA = [4, 1]}>
// CHECK-DAG: #[[A:.*]] = #turbo.dot_operand<{opIdx = 0, parent = #[[MMA]], kWidth = 4}>
// CHECK-DAG: #[[B:.*]] = #turbo.dot_operand<{opIdx = 1, parent = #[[MMA]], kWidth = 4}>
// CHECK-DAG: #[[MAX:.*]] = #turbo.slice<{dim = 1, parent = #[[MMA]]}>
// CHECK-DAG: #[[KT:.*]] = #turbo.blocked<{sizePerThread = [16, 1], threadsPerWarp = [8, 4], warpsPerCTA = [1, 4], order = [0, 1]}>
// CHECK-LABEL: func.func @loop
// CHECK: %[[QA:.*]] = turbo.convert_layout %{{.*}} -> tensor<64x128xi8, #[[A]]>
// CHECK: scf.for {{.*}} -> (tensor<64x64xi32, #[[MMA]]>, tensor<64xf32, #[[MAX]]>)
// CHECK: turbo.trans %{{.*}} -> tensor<128x64xi8, #[[KT]]>
// CHECK: %[[KB:.*]] = turbo.convert_layout %{{.*}} : tensor<128x64xi8, #[[KT]]> -> tensor<128x64xi8, #[[B]]>
// CHECK: turbo.dot %[[QA]], %[[KB]], %{{.*}} : tensor<64x128xi8, #[[A]]>, tensor<128x64xi8, #[[B]]> -> tensor<64x64xi32, #[[MMA]]>
// CHECK-NOT: turbo.convert_layout
// CHECK: scf.yield %{{.*}}, %{{.*}} : tensor<64x64xi32, #[[MMA]]>, tensor<64xf32, #[[MAX]]>
module attributes {turbo.num_warps = 4 : i32} {
  func.func @loop(%q: !turbo.ptr<i8>, %k: !turbo.ptr<i8>, %s: !turbo.ptr<f32>, %n: i32) {
    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %a = turbo.load %q[%c0, %c0] strides [%c128] bounds [%c64, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %zero = arith.constant dense<0> : tensor<64x64xi32>
    %init = arith.constant dense<0xFF800000> : tensor<64xf32>
    %r:2 = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero, %m = %init) -> (tensor<64x64xi32>, tensor<64xf32>) : i32 {
      %row = arith.muli %i, %c64 : i32
      %kt = turbo.load %k[%row, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
      %b = turbo.trans %kt : tensor<64x128xi8> -> tensor<128x64xi8>
      %d = turbo.dot %a, %b, %zero : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
      %acc2 = arith.addi %acc, %d : tensor<64x64xi32>
      %f = arith.sitofp %d : tensor<64x64xi32> to tensor<64x64xf32>
      %mx = turbo.reduce max %f {axis = 1 : i32} : tensor<64x64xf32> -> tensor<64xf32>
      %m2 = arith.maximumf %m, %mx : tensor<64xf32>
      scf.yield %acc2, %m2 : tensor<64x64xi32>, tensor<64xf32>
    }
    %out = arith.sitofp %r#0 : tensor<64x64xi32> to tensor<64x64xf32>
    turbo.store %out, %s[%c0, %c0] strides [%c64] bounds [%c64, %c64] : tensor<64x64xf32>, !turbo.ptr<f32>
    return
  }
}

// -----

// Packing: the bytes get the 16-byte blocked layout; the codes the same
// threads with 2 (4-bit) codes per byte, so each thread packs what it holds
// (and the load reads the codes in that layout directly). Unpacking gives
// the codes back in the codes' layout.
// CHECK-DAG: #[[CODES:.*]] = #turbo.blocked<{sizePerThread = [1, 32], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
// CHECK-DAG: #[[BYTES:.*]] = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
// CHECK-LABEL: func.func @pack_unpack
// CHECK: turbo.load {{.*}} -> tensor<64x128xi8, #[[CODES]]>
// CHECK-NEXT: turbo.pack {{.*}} : tensor<64x128xi8, #[[CODES]]> -> tensor<64x64xi8, #[[BYTES]]>
// CHECK: turbo.unpack {{.*}} : tensor<64x64xi8, #[[BYTES]]> -> tensor<64x128xi8, #[[CODES]]>
// CHECK-NOT: turbo.convert_layout
module attributes {turbo.num_warps = 4 : i32} {
  func.func @pack_unpack(%p: !turbo.ptr<i8>, %o: !turbo.ptr<i8>) {
    %c0 = arith.constant 0 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %c = turbo.load %p[%c0, %c0] strides [%c128] bounds [%c64, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %b = turbo.pack %c {bits = 4 : i32} : tensor<64x128xi8> -> tensor<64x64xi8>
    turbo.store %b, %o[%c0, %c0] strides [%c64] bounds [%c64, %c64] : tensor<64x64xi8>, !turbo.ptr<i8>
    %u = turbo.unpack %b {bits = 4 : i32} : tensor<64x64xi8> -> tensor<64x128xi8>
    turbo.store %u, %p[%c0, %c0] strides [%c128] bounds [%c64, %c128] : tensor<64x128xi8>, !turbo.ptr<i8>
    return
  }
}

// -----

// An mma result feeding the next dot as A through permute_bits: the dot's
// A layout for the result, the accumulator layout for the source, and no
// conversion between them (the lowering relabels registers).
// CHECK-DAG: #[[MMA:.*]] = #turbo.mma<{warpsPerCTA = [4, 1]}>
// CHECK-DAG: #[[A:.*]] = #turbo.dot_operand<{opIdx = 0, parent = #[[MMA]], kWidth = 4}>
// CHECK-LABEL: func.func @chained_dots
// CHECK: %[[S:.*]] = turbo.dot {{.*}} -> tensor<64x64xi32, #[[MMA]]>
// CHECK: %[[P:.*]] = arith.trunci %[[S]] : tensor<64x64xi32, #[[MMA]]> to tensor<64x64xi8, #[[MMA]]>
// CHECK-NEXT: turbo.permute_bits %[[P]] {{.*}} : tensor<64x64xi8, #[[MMA]]> -> tensor<64x64xi8, #[[A]]>
// CHECK-NOT: turbo.convert_layout {{.*}}#[[MMA]]> -> tensor<64x64xi8, #[[A]]>
module attributes {turbo.num_warps = 4 : i32} {
  func.func @chained_dots(%q: !turbo.ptr<i8>, %k: !turbo.ptr<i8>, %v: !turbo.ptr<i8>, %o: !turbo.ptr<i32>) {
    %c0 = arith.constant 0 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %a = turbo.load %q[%c0, %c0] strides [%c128] bounds [%c64, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %b = turbo.load %k[%c0, %c0] strides [%c64] bounds [%c128, %c64] : !turbo.ptr<i8> -> tensor<128x64xi8>
    %z = arith.constant dense<0> : tensor<64x64xi32>
    %s = turbo.dot %a, %b, %z : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
    %p = arith.trunci %s : tensor<64x64xi32> to tensor<64x64xi8>
    %pp = turbo.permute_bits %p {axis = 1 : i32, bits = array<i32: 0, 3, 1, 2, 4>} : tensor<64x64xi8> -> tensor<64x64xi8>
    %vv = turbo.load %v[%c0, %c0] strides [%c128] bounds [%c64, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %z2 = arith.constant dense<0> : tensor<64x128xi32>
    %r = turbo.dot %pp, %vv, %z2 : tensor<64x64xi8>, tensor<64x128xi8> -> tensor<64x128xi32>
    turbo.store %r, %o[%c0, %c0] strides [%c128] bounds [%c64, %c128] : tensor<64x128xi32>, !turbo.ptr<i32>
    return
  }
}

// -----

// The same P feeding two dots as A (the P.V product and the row sums
// against a column of ones): both want the same A layout, so P still takes
// it straight from the accumulator, with no conversion. A store among the
// uses would send it to the blocked layout instead.
// CHECK-DAG: #[[MMA:.*]] = #turbo.mma<{warpsPerCTA = [4, 1]}>
// CHECK-DAG: #[[A:.*]] = #turbo.dot_operand<{opIdx = 0, parent = #[[MMA]], kWidth = 4}>
// CHECK-LABEL: func.func @permuted_into_two_dots
// CHECK: turbo.permute_bits {{.*}} : tensor<64x64xi8, #[[MMA]]> -> tensor<64x64xi8, #[[A]]>
// CHECK-NOT: turbo.convert_layout {{.*}} -> tensor<64x64xi8, #[[A]]>
// CHECK: turbo.dot {{.*}} -> tensor<64x8xi32, #[[MMA]]>
// CHECK: turbo.dot {{.*}} -> tensor<64x128xi32, #[[MMA]]>
module attributes {turbo.num_warps = 4 : i32} {
  func.func @permuted_into_two_dots(%q: !turbo.ptr<i8>, %k: !turbo.ptr<i8>, %v: !turbo.ptr<i8>, %o: !turbo.ptr<i32>) {
    %c0 = arith.constant 0 : i32
    %c8 = arith.constant 8 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %a = turbo.load %q[%c0, %c0] strides [%c128] bounds [%c64, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %b = turbo.load %k[%c0, %c0] strides [%c64] bounds [%c128, %c64] : !turbo.ptr<i8> -> tensor<128x64xi8>
    %z = arith.constant dense<0> : tensor<64x64xi32>
    %s = turbo.dot %a, %b, %z : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
    %p = arith.trunci %s : tensor<64x64xi32> to tensor<64x64xi8>
    %pp = turbo.permute_bits %p {axis = 1 : i32, bits = array<i32: 0, 3, 1, 2, 4>} : tensor<64x64xi8> -> tensor<64x64xi8>
    %ones = arith.constant dense<1> : tensor<64x8xi8>
    %z8 = arith.constant dense<0> : tensor<64x8xi32>
    %sums = turbo.dot %pp, %ones, %z8 : tensor<64x64xi8>, tensor<64x8xi8> -> tensor<64x8xi32>
    turbo.store %sums, %o[%c0, %c0] strides [%c8] bounds [%c64, %c8] : tensor<64x8xi32>, !turbo.ptr<i32>
    %vv = turbo.load %v[%c0, %c0] strides [%c128] bounds [%c64, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %z2 = arith.constant dense<0> : tensor<64x128xi32>
    %r = turbo.dot %pp, %vv, %z2 : tensor<64x64xi8>, tensor<64x128xi8> -> tensor<64x128xi32>
    turbo.store %r, %o[%c0, %c0] strides [%c128] bounds [%c64, %c128] : tensor<64x128xi32>, !turbo.ptr<i32>
    return
  }
}

// -----

// Codes stored in the order a thread holds a dot's B operand (channel bits
// 0, 3, 4, 5, 6 in registers, 1 and 2 in lanes), unpacked from words to f16,
// dequantized with a per-channel scale, transposed and permuted back: seeding
// from the dot gives the loads the layouts that reach the operand with
// relabelings only. The words are 4 per thread (one 16-byte load per row),
// the scale a slice of the codes' layout, and nothing is converted.
// CHECK-DAG: #[[WORDS:.*]] = #turbo.blocked<{sizePerThread = [1, 4], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
// CHECK-DAG: #[[CODES:.*]] = #turbo.blocked<{sizePerThread = [1, 32], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
// CHECK-DAG: #[[FLIPPED:.*]] = #turbo.blocked<{sizePerThread = [32, 1], threadsPerWarp = [4, 8], warpsPerCTA = [1, 4], order = [0, 1]}>
// CHECK-DAG: #[[SCALE:.*]] = #turbo.slice<{dim = 0, parent = #[[CODES]]}>
// CHECK-DAG: #[[B:.*]] = #turbo.dot_operand<{opIdx = 1, parent = #{{.*}}, kWidth = 2}>
// CHECK-LABEL: func.func @fragment_order
// CHECK-NOT: turbo.convert_layout {{.*}}#[[B]]
// CHECK-DAG: turbo.load {{.*}} -> tensor<64x16xi32, #[[WORDS]]>
// CHECK-DAG: turbo.load {{.*}} -> tensor<128xf16, #[[SCALE]]>
// CHECK: turbo.unpack {{.*}} : tensor<64x16xi32, #[[WORDS]]> -> tensor<64x128xf16, #[[CODES]]>
// CHECK: turbo.trans {{.*}} -> tensor<128x64xf16, #[[FLIPPED]]>
// CHECK: turbo.permute_bits {{.*}} : tensor<128x64xf16, #[[FLIPPED]]> -> tensor<128x64xf16, #[[B]]>
// CHECK-NEXT: turbo.dot
module attributes {turbo.num_warps = 4 : i32} {
  func.func @fragment_order(%q: !turbo.ptr<f16>, %k: !turbo.ptr<i32>, %s: !turbo.ptr<f16>, %o: !turbo.ptr<f32>) {
    %c0 = arith.constant 0 : i32
    %c16 = arith.constant 16 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %a = turbo.load %q[%c0, %c0] strides [%c128] bounds [%c16, %c128] : !turbo.ptr<f16> -> tensor<16x128xf16>
    %words = turbo.load %k[%c0, %c0] strides [%c16] bounds [] : !turbo.ptr<i32> -> tensor<64x16xi32>
    %scale = turbo.load %s[%c0] strides [] bounds [] : !turbo.ptr<f16> -> tensor<128xf16>
    %codes = turbo.unpack %words {bits = 4 : i32} : tensor<64x16xi32> -> tensor<64x128xf16>
    %row = turbo.expand_dims %scale {axis = 0 : i32} : tensor<128xf16> -> tensor<1x128xf16>
    %spread = turbo.broadcast %row : tensor<1x128xf16> -> tensor<64x128xf16>
    %values = arith.mulf %codes, %spread : tensor<64x128xf16>
    %flipped = turbo.trans %values : tensor<64x128xf16> -> tensor<128x64xf16>
    %kt = turbo.permute_bits %flipped {axis = 0 : i32, bits = array<i32: 0, 5, 6, 1, 2, 3, 4>} : tensor<128x64xf16> -> tensor<128x64xf16>
    %z = arith.constant dense<0.0> : tensor<16x64xf32>
    %d = turbo.dot %a, %kt, %z : tensor<16x128xf16>, tensor<128x64xf16> -> tensor<16x64xf32>
    turbo.store %d, %o[%c0, %c0] strides [%c64] bounds [%c16, %c64] : tensor<16x64xf32>, !turbo.ptr<f32>
    return
  }
}

// -----

// The same codes as the A operand of a dot whose B is the queries (keys in
// the mma's M dimension), permuted back along the channels only. An A
// fragment's rows are 8 lanes, then a register step of 8, then the warps,
// which no blocked layout spreads: the loads take #turbo.linear layouts,
// still 4 words a thread per row (one 16-byte load), and nothing is
// converted on the way to the operand.
// CHECK-DAG: #[[WORDS:.*]] = #turbo.linear<{reg = {{\[\[}}1, 1], [1, 2], [0, 8]], lane = {{\[\[}}1, 4], [1, 8], [0, 1], [0, 2], [0, 4]], warp = {{\[\[}}0, 16], [0, 32]]}>
// CHECK-DAG: #[[CODES:.*]] = #turbo.linear<{reg = {{\[\[}}1, 1], [1, 2], [1, 4], [1, 8], [1, 16], [0, 8]], lane = {{\[\[}}1, 32], [1, 64], [0, 1], [0, 2], [0, 4]], warp = {{\[\[}}0, 16], [0, 32]]}>
// CHECK-DAG: #[[SCALE:.*]] = #turbo.slice<{dim = 0, parent = #[[CODES]]}>
// CHECK-DAG: #[[A:.*]] = #turbo.dot_operand<{opIdx = 0, parent = #{{.*}}, kWidth = 2}>
// CHECK-LABEL: func.func @fragment_order_as_a
// CHECK-NOT: turbo.convert_layout {{.*}}#[[A]]
// CHECK-DAG: turbo.load {{.*}} -> tensor<64x16xi32, #[[WORDS]]>
// CHECK-DAG: turbo.load {{.*}} -> tensor<128xf16, #[[SCALE]]>
// CHECK: turbo.unpack {{.*}} : tensor<64x16xi32, #[[WORDS]]> -> tensor<64x128xf16, #[[CODES]]>
// CHECK: turbo.permute_bits {{.*}} : tensor<64x128xf16, #[[CODES]]> -> tensor<64x128xf16, #[[A]]>
// CHECK-NEXT: turbo.dot
module attributes {turbo.num_warps = 4 : i32} {
  func.func @fragment_order_as_a(%q: !turbo.ptr<f16>, %k: !turbo.ptr<i32>, %s: !turbo.ptr<f16>, %o: !turbo.ptr<f32>) {
    %c0 = arith.constant 0 : i32
    %c8 = arith.constant 8 : i32
    %c16 = arith.constant 16 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %qt = turbo.load %q[%c0, %c0] strides [%c8] bounds [%c128, %c8] : !turbo.ptr<f16> -> tensor<128x8xf16>
    %words = turbo.load %k[%c0, %c0] strides [%c16] bounds [] : !turbo.ptr<i32> -> tensor<64x16xi32>
    %scale = turbo.load %s[%c0] strides [] bounds [] : !turbo.ptr<f16> -> tensor<128xf16>
    %codes = turbo.unpack %words {bits = 4 : i32} : tensor<64x16xi32> -> tensor<64x128xf16>
    %row = turbo.expand_dims %scale {axis = 0 : i32} : tensor<128xf16> -> tensor<1x128xf16>
    %spread = turbo.broadcast %row : tensor<1x128xf16> -> tensor<64x128xf16>
    %values = arith.mulf %codes, %spread : tensor<64x128xf16>
    %k_op = turbo.permute_bits %values {axis = 1 : i32, bits = array<i32: 0, 5, 6, 1, 2, 3, 4>} : tensor<64x128xf16> -> tensor<64x128xf16>
    %z = arith.constant dense<0.0> : tensor<64x8xf32>
    %d = turbo.dot %k_op, %qt, %z : tensor<64x128xf16>, tensor<128x8xf16> -> tensor<64x8xf32>
    turbo.store %d, %o[%c0, %c0] strides [%c8] bounds [%c64, %c8] : tensor<64x8xf32>, !turbo.ptr<f32>
    return
  }
}

// -----

// A per-row vector loaded as a 16x1 tile, used twice (as with split-KV's
// log-sum-exp: a running max and a weight) and broadcast to scale a loaded
// block: it is loaded in the block's layout, so nothing moves between
// threads; without the broadcast it keeps the default 16x1 layout.
// CHECK-DAG: #[[BLOCK:.*]] = #turbo.blocked<{sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>
// CHECK-DAG: #[[COLUMN:.*]] = #turbo.blocked<{sizePerThread = [1, 1], threadsPerWarp = [32, 1], warpsPerCTA = [1, 4], order = [1, 0]}>
// CHECK-LABEL: func.func @row_weights
// CHECK: turbo.load {{.*}} -> tensor<16x32xf32, #[[BLOCK]]>
// CHECK: turbo.load {{.*}} -> tensor<16x1xf32, #[[BLOCK]]>
// CHECK: turbo.broadcast {{.*}} : tensor<16x1xf32, #[[BLOCK]]> -> tensor<16x32xf32, #[[BLOCK]]>
// CHECK-NOT: turbo.convert_layout
// CHECK-LABEL: func.func @row_vector_alone
// CHECK: turbo.load {{.*}} -> tensor<16x1xf32, #[[COLUMN]]>
module attributes {turbo.num_warps = 4 : i32} {
  func.func @row_weights(%p: !turbo.ptr<f32>, %o: !turbo.ptr<f32>, %n: i32) {
    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c32 = arith.constant 32 : i32
    %c512 = arith.constant 512 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c32] bounds [%n, %c32] : !turbo.ptr<f32> -> tensor<16x32xf32>
    %l = turbo.load %p[%c512, %c0] strides [%c1] bounds [%c512, %c1] : !turbo.ptr<f32> -> tensor<16x1xf32>
    %zero = arith.constant dense<0.0> : tensor<16x1xf32>
    %top = arith.maximumf %l, %zero : tensor<16x1xf32>
    %d = arith.subf %l, %top : tensor<16x1xf32>
    %w = math.exp2 %d : tensor<16x1xf32>
    %b = turbo.broadcast %w : tensor<16x1xf32> -> tensor<16x32xf32>
    %y = arith.mulf %x, %b : tensor<16x32xf32>
    turbo.store %y, %o[%c0, %c0] strides [%c32] bounds [%n, %c32] : tensor<16x32xf32>, !turbo.ptr<f32>
    turbo.store %top, %o[%c512, %c0] strides [%c1] bounds [%c512, %c1] : tensor<16x1xf32>, !turbo.ptr<f32>
    return
  }
  func.func @row_vector_alone(%p: !turbo.ptr<f32>, %o: !turbo.ptr<f32>) {
    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c512 = arith.constant 512 : i32
    %l = turbo.load %p[%c512, %c0] strides [%c1] bounds [%c512, %c1] : !turbo.ptr<f32> -> tensor<16x1xf32>
    %w = math.exp2 %l : tensor<16x1xf32>
    turbo.store %w, %o[%c0, %c0] strides [%c1] bounds [%c512, %c1] : tensor<16x1xf32>, !turbo.ptr<f32>
    return
  }
}
