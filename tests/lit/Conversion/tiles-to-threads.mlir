// RUN: turbo-opt %s -split-input-file --convert-turbo-tiles-to-threads --canonicalize --cse | FileCheck %s

// Eight f16 per thread along the contiguous dim, 16-byte aligned pointer
// and a stride divisible by 8: one vector<8xf16> access per group, guarded
// by the bounds check.
#blocked = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @vector_copy
  // CHECK-SAME: turbo.shared_bytes = 0
  // CHECK: nvvm.read.ptx.sreg.tid.x
  // CHECK: scf.if
  // CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<8xf16>
  // CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 16 : i64} : vector<8xf16>, !llvm.ptr<1>
  // CHECK-NOT: turbo.load
  // CHECK-NOT: turbo.store
  func.func @vector_copy(%p: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}, %n: i32, %ld: i32 {turbo.divisibility = 8 : i64}) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %x = turbo.load %p[%c0, %c0] strides [%ld] bounds [%n, %c128] : !turbo.ptr<f16> -> tensor<8x128xf16, #blocked>
    turbo.store %x, %p[%n, %c0] strides [%ld] bounds [%n, %c128] : tensor<8x128xf16, #blocked>, !turbo.ptr<f16>
    return
  }
}

// -----

// The same copy with a stride of unknown divisibility: element accesses.
#blocked = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @scalar_copy
  // CHECK-NOT: vector<
  // CHECK: llvm.load %{{.*}} {alignment = 2 : i64} : !llvm.ptr<1> -> f16
  func.func @scalar_copy(%p: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}, %n: i32, %ld: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %x = turbo.load %p[%c0, %c0] strides [%ld] bounds [%n, %c128] : !turbo.ptr<f16> -> tensor<8x128xf16, #blocked>
    turbo.store %x, %p[%n, %c0] strides [%ld] bounds [%n, %c128] : tensor<8x128xf16, #blocked>, !turbo.ptr<f16>
    return
  }
}

// -----

// A row sum over 16 lanes: butterfly shuffles with lane masks 1, 2, 4, 8
// (lane bits 0-3 walk the columns); warps lie along rows, so no shared
// memory.
#blocked = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @row_sum
  // CHECK-SAME: turbo.shared_bytes = 0
  // CHECK-DAG: %[[C1:.*]] = arith.constant 1 : i32
  // CHECK-DAG: %[[C2:.*]] = arith.constant 2 : i32
  // CHECK-DAG: %[[C4:.*]] = arith.constant 4 : i32
  // CHECK-DAG: %[[C8:.*]] = arith.constant 8 : i32
  // CHECK: nvvm.shfl.sync bfly %{{.*}}, %{{.*}}, %[[C1]], %{{.*}} : i32 -> i32
  // CHECK: nvvm.shfl.sync bfly %{{.*}}, %{{.*}}, %[[C2]], %{{.*}} : i32 -> i32
  // CHECK: nvvm.shfl.sync bfly %{{.*}}, %{{.*}}, %[[C4]], %{{.*}} : i32 -> i32
  // CHECK: nvvm.shfl.sync bfly %{{.*}}, %{{.*}}, %[[C8]], %{{.*}} : i32 -> i32
  // CHECK-NOT: nvvm.shfl.sync
  // CHECK-NOT: nvvm.barrier0
  func.func @row_sum(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<f32> -> tensor<8x128xf32, #blocked>
    %s = turbo.reduce sum %x {axis = 1 : i32} : tensor<8x128xf32, #blocked> -> tensor<8xf32, #turbo.slice<{dim = 1, parent = #blocked}>>
    turbo.store %s, %p[%c0] strides [] bounds [%n] : tensor<8xf32, #turbo.slice<{dim = 1, parent = #blocked}>>, !turbo.ptr<f32>
    return
  }
}

// -----

// Four warps along the reduced dim: partials meet in shared memory
// (32 rows x 4 warps x 4 bytes), fenced by barriers.
#cols = #turbo.blocked<{sizePerThread = [1, 1], threadsPerWarp = [32, 1], warpsPerCTA = [1, 4], order = [0, 1]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @across_warps
  // CHECK-SAME: turbo.shared_bytes = 512
  // CHECK-NOT: nvvm.shfl.sync
  // CHECK: nvvm.barrier0
  // CHECK: llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr<3>
  // CHECK: nvvm.barrier0
  // CHECK: llvm.load %{{.*}} : !llvm.ptr<3> -> f32
  func.func @across_warps(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<f32> -> tensor<32x128xf32, #cols>
    %s = turbo.reduce sum %x {axis = 1 : i32} : tensor<32x128xf32, #cols> -> tensor<32xf32, #turbo.slice<{dim = 1, parent = #cols}>>
    turbo.store %s, %p[%c0] strides [] bounds [%n] : tensor<32xf32, #turbo.slice<{dim = 1, parent = #cols}>>, !turbo.ptr<f32>
    return
  }
}

// -----

// A conversion between layouts that spread over threads differently goes
// through shared memory: rows of 32 f32 padded by 16 bytes (32 x 36 x 4
// bytes), written as the source holds them (4 consecutive floats per
// vector store) and read as the destination needs them (one float).
#rows = #turbo.blocked<{sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>
#cols = #turbo.blocked<{sizePerThread = [1, 1], threadsPerWarp = [32, 1], warpsPerCTA = [1, 4], order = [0, 1]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @convert
  // CHECK-SAME: turbo.shared_bytes = 4608
  // CHECK: nvvm.barrier0
  // CHECK-COUNT-2: llvm.store %{{.*}}, %{{.*}} {alignment = 16 : i64} : vector<4xf32>, !llvm.ptr<3>
  // CHECK-NOT: llvm.store %{{.*}} !llvm.ptr<3>
  // CHECK: nvvm.barrier0
  // CHECK-COUNT-8: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<3> -> f32
  func.func @convert(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c32 = arith.constant 32 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c32] bounds [%n, %c32] : !turbo.ptr<f32> -> tensor<32x32xf32, #rows>
    %y = turbo.convert_layout %x : tensor<32x32xf32, #rows> -> tensor<32x32xf32, #cols>
    turbo.store %y, %p[%c0, %c0] strides [%c32] bounds [%n, %c32] : tensor<32x32xf32, #cols>, !turbo.ptr<f32>
    return
  }
}

// -----

// A per-row vector broadcast back over its parent layout relabels registers:
// no shared memory.
#blocked = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @broadcast_rows
  // CHECK-SAME: turbo.shared_bytes = 0
  // CHECK-NOT: !llvm.ptr<3>
  func.func @broadcast_rows(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<f32> -> tensor<8x128xf32, #blocked>
    %m = turbo.reduce max %x {axis = 1 : i32} : tensor<8x128xf32, #blocked> -> tensor<8xf32, #turbo.slice<{dim = 1, parent = #blocked}>>
    %e = turbo.expand_dims %m {axis = 1 : i32} : tensor<8xf32, #turbo.slice<{dim = 1, parent = #blocked}>> -> tensor<8x1xf32, #blocked>
    %b = turbo.broadcast %e : tensor<8x1xf32, #blocked> -> tensor<8x128xf32, #blocked>
    %y = arith.subf %x, %b : tensor<8x128xf32, #blocked>
    turbo.store %y, %p[%c0, %c0] strides [%c128] bounds [%n, %c128] : tensor<8x128xf32, #blocked>, !turbo.ptr<f32>
    return
  }
}

// -----

// Converting an INT8 tile to an mma operand: 16-byte stores of the rows as
// loaded, and each 32-bit operand register read as one word (4 consecutive
// K elements), already packed for mma.sync.
#rows = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>
#mma = #turbo.mma<{warpsPerCTA = [4, 1]}>
#a = #turbo.dot_operand<{opIdx = 0, parent = #mma, kWidth = 4}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @to_operand
  // CHECK-SAME: (%{{.*}}: !llvm.ptr<1> {turbo.divisibility = 16 : i64}, %{{.*}}: i32) -> (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)
  // CHECK-SAME: turbo.shared_bytes = 9216
  // CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 16 : i64} : vector<16xi8>, !llvm.ptr<3>
  // CHECK: nvvm.barrier0
  // CHECK: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<3> -> vector<4xi8>
  // CHECK: llvm.bitcast %{{.*}} : vector<4xi8> to vector<1xi32>
  func.func @to_operand(%p: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}, %n: i32) -> tensor<64x128xi8, #a> {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8, #rows>
    %y = turbo.convert_layout %x : tensor<64x128xi8, #rows> -> tensor<64x128xi8, #a>
    return %y : tensor<64x128xi8, #a>
  }
}

// -----

// INT8 64x32 * 32x16 over 4 warps along M: each warp issues one
// m16n8k32 per 8 columns, i.e. two.
#mma = #turbo.mma<{warpsPerCTA = [4, 1]}>
#a = #turbo.dot_operand<{opIdx = 0, parent = #mma, kWidth = 4}>
#b = #turbo.dot_operand<{opIdx = 1, parent = #mma, kWidth = 4}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @dot_i8
  // CHECK-COUNT-2: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {intOverflowBehavior = #nvvm.mma_int_overflow<wrapped>, layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<u8>, multiplicandBPtxType = #nvvm.mma_type<s8>, shape = #nvvm.shape<m = 16, n = 8, k = 32>} : (i32, i32, i32) -> !llvm.struct<(i32, i32, i32, i32)>
  // CHECK-NOT: nvvm.mma.sync
  func.func @dot_i8(%a: tensor<64x32xi8, #a>, %b: tensor<32x16xi8, #b>, %c: tensor<64x16xi32, #mma>) -> tensor<64x16xi32, #mma> {
    %d = turbo.dot %a, %b, %c {lhs_unsigned} : tensor<64x32xi8, #a>, tensor<32x16xi8, #b> -> tensor<64x16xi32, #mma>
    return %d : tensor<64x16xi32, #mma>
  }
}

// -----

// f16: m16n8k16 on vector<2xf16> operand registers, f32 accumulators.
#mma = #turbo.mma<{warpsPerCTA = [4, 1]}>
#a = #turbo.dot_operand<{opIdx = 0, parent = #mma, kWidth = 2}>
#b = #turbo.dot_operand<{opIdx = 1, parent = #mma, kWidth = 2}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @dot_f16
  // CHECK-COUNT-4: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
  // CHECK-NOT: nvvm.mma.sync
  func.func @dot_f16(%a: tensor<64x32xf16, #a>, %b: tensor<32x16xf16, #b>, %c: tensor<64x16xf32, #mma>) -> tensor<64x16xf32, #mma> {
    %d = turbo.dot %a, %b, %c : tensor<64x32xf16, #a>, tensor<32x16xf16, #b> -> tensor<64x16xf32, #mma>
    return %d : tensor<64x16xf32, #mma>
  }
}

// -----

// Staging: the buffer sits at offset 0 of dynamic shared memory (2 slots of
// 64 rows x (128 + 16) bytes = 18432), the conversion's scratch after it
// (64 x (128 + 16) = 9216 more). Each thread copies
// 16-byte groups with cp.async.cg, reading 0 bytes (zero fill) for groups
// past the bounds; the wait is cp.async.wait_group + bar.sync; the dot
// operand is read with ldmatrix.x4.
#blocked = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>
#mma = #turbo.mma<{warpsPerCTA = [4, 1]}>
#b = #turbo.dot_operand<{opIdx = 1, parent = #mma, kWidth = 4}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @staged_tile
  // CHECK-SAME: turbo.shared_bytes = 27648
  // CHECK: %[[SIZE:.*]] = llvm.select %{{.*}}, %{{.*}}, %{{.*}} : i1, i32
  // CHECK: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg, %[[SIZE]] : !llvm.ptr<3>, !llvm.ptr<1>, i32
  // CHECK: nvvm.cp.async.commit.group
  // CHECK: nvvm.cp.async.wait.group 0
  // CHECK-NEXT: nvvm.barrier0
  // CHECK: nvvm.ldmatrix %{{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b16>, layout = #nvvm.mma_layout<row>, num = 4 : i32, shape = #nvvm.ld_st_matrix_shape<m = 8, n = 8>} : (!llvm.ptr<3>) -> !llvm.struct<(i32, i32, i32, i32)>
  // CHECK-NOT: turbo.{{(load|store|async|shared_load|alloc)}}
  func.func @staged_tile(%k: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}, %n: i32, %slot: i32, %o: !turbo.ptr<i8>) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %buf = turbo.alloc_shared : memref<2x64x128xi8, 3 : i32>
    turbo.async_copy %k[%c0, %c0] strides [%c128] bounds [%n, %c128], %buf[%slot] {layout = #blocked} : !turbo.ptr<i8>, memref<2x64x128xi8, 3 : i32>
    turbo.async_commit
    turbo.async_wait {pending = 0 : i32}
    %kt = turbo.shared_load %buf[%slot] {transpose} : memref<2x64x128xi8, 3 : i32> -> tensor<128x64xi8, #b>
    %back = turbo.convert_layout %kt : tensor<128x64xi8, #b> -> tensor<128x64xi8, #blocked>
    turbo.store %back, %o[%c0, %c0] strides [%c64] bounds [%c128, %c64] : tensor<128x64xi8, #blocked>, !turbo.ptr<i8>
    return
  }
}

// -----

// Two slots used one after the other share bytes: shared memory holds one
// (a row of 128 f32 and its 16 bytes of padding, 640 with alignment), and
// a barrier before the second copy keeps it from landing while a thread
// still reads the first. Slots live at the same time get bytes of their
// own.
#row = #turbo.blocked<{sizePerThread = [1, 4], threadsPerWarp = [1, 32], warpsPerCTA = [1, 4], order = [1, 0]}>
#vec = #turbo.blocked<{sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @slots_in_turn
  // CHECK-SAME: turbo.shared_bytes = 640
  // CHECK: nvvm.cp.async.shared.global
  // CHECK: nvvm.cp.async.wait.group 0
  // CHECK-NEXT: nvvm.barrier0
  // CHECK: llvm.store
  // CHECK: nvvm.barrier0
  // CHECK-NOT: llvm.store
  // CHECK: nvvm.cp.async.shared.global
  func.func @slots_in_turn(%s: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %o: !turbo.ptr<f32>) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c128 = arith.constant 128 : i32
    %first = turbo.alloc_shared : memref<1x1x128xf32, 3 : i32>
    %second = turbo.alloc_shared : memref<1x1x128xf32, 3 : i32>
    turbo.async_copy %s[%c0, %c0] strides [%c0] bounds [], %first[%c0] {layout = #row} : !turbo.ptr<f32>, memref<1x1x128xf32, 3 : i32>
    turbo.async_commit
    turbo.async_wait {pending = 0 : i32}
    %a = turbo.shared_load %first[%c0] : memref<1x1x128xf32, 3 : i32> -> tensor<128xf32, #vec>
    turbo.store %a, %o[%c0] strides [] bounds [] : tensor<128xf32, #vec>, !turbo.ptr<f32>
    turbo.async_copy %s[%c0, %c128] strides [%c0] bounds [], %second[%c0] {layout = #row} : !turbo.ptr<f32>, memref<1x1x128xf32, 3 : i32>
    turbo.async_commit
    turbo.async_wait {pending = 0 : i32}
    %b = turbo.shared_load %second[%c0] : memref<1x1x128xf32, 3 : i32> -> tensor<128xf32, #vec>
    turbo.store %b, %o[%c128] strides [] bounds [] : tensor<128xf32, #vec>, !turbo.ptr<f32>
    return
  }

  // CHECK-LABEL: func.func @slots_together
  // CHECK-SAME: turbo.shared_bytes = 1280
  // CHECK: nvvm.cp.async.shared.global
  // CHECK-NOT: nvvm.barrier0
  // CHECK: nvvm.cp.async.shared.global
  func.func @slots_together(%s: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %o: !turbo.ptr<f32>) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %first = turbo.alloc_shared : memref<1x1x128xf32, 3 : i32>
    %second = turbo.alloc_shared : memref<1x1x128xf32, 3 : i32>
    turbo.async_copy %s[%c0, %c0] strides [%c0] bounds [], %first[%c0] {layout = #row} : !turbo.ptr<f32>, memref<1x1x128xf32, 3 : i32>
    turbo.async_commit
    turbo.async_copy %s[%c0, %c128] strides [%c0] bounds [], %second[%c0] {layout = #row} : !turbo.ptr<f32>, memref<1x1x128xf32, 3 : i32>
    turbo.async_commit
    turbo.async_wait {pending = 0 : i32}
    %a = turbo.shared_load %first[%c0] : memref<1x1x128xf32, 3 : i32> -> tensor<128xf32, #vec>
    turbo.store %a, %o[%c0] strides [] bounds [] : tensor<128xf32, #vec>, !turbo.ptr<f32>
    %b = turbo.shared_load %second[%c0] : memref<1x1x128xf32, 3 : i32> -> tensor<128xf32, #vec>
    turbo.store %b, %o[%c128] strides [] bounds [] : tensor<128xf32, #vec>, !turbo.ptr<f32>
    return
  }
}

// -----

// A one-row tile of 128 f32 in a layout of 4 warps x 32 lanes x 4 elements
// is held by all four warps: warp 0 alone copies it (several threads
// writing one shared address race even with equal values).
#row = #turbo.blocked<{sizePerThread = [1, 4], threadsPerWarp = [1, 32], warpsPerCTA = [1, 4], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @replicated_row
  // CHECK: %[[WARP:.*]] = arith.shrui %{{.*}}, %c5_i32 : i32
  // CHECK: %[[BITS:.*]] = arith.andi %[[WARP]], %c3_i32 : i32
  // CHECK: %[[FIRST:.*]] = arith.cmpi eq, %{{.*}}, %c0_i32 : i32
  // CHECK: scf.if %[[FIRST]] {
  // CHECK-NEXT: nvvm.cp.async.shared.global
  // CHECK-NEXT: }
  // CHECK: nvvm.cp.async.commit.group
  func.func @replicated_row(%s: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %buf = turbo.alloc_shared : memref<1x1x128xf32, 3 : i32>
    turbo.async_copy %s[%c0, %c0] strides [%c0] bounds [], %buf[%c0] {layout = #row} : !turbo.ptr<f32>, memref<1x1x128xf32, 3 : i32>
    turbo.async_commit
    return
  }
}

// -----

// No bounds: the copy, the load and the store are unchecked (no select of a
// safe address or size, no branch around the access).
#blocked = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @unbounded
  // CHECK-NOT: llvm.select
  // CHECK-NOT: scf.if
  // CHECK: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
  // CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<16xi8>
  // CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 16 : i64} : vector<16xi8>, !llvm.ptr<1>
  // CHECK-NOT: scf.if
  // CHECK: return
  func.func @unbounded(%k: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}, %n0: i32, %o: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %buf = turbo.alloc_shared : memref<1x64x128xi8, 3 : i32>
    turbo.async_copy %k[%n0, %c0] strides [%c128] bounds [], %buf[%c0] {layout = #blocked} : !turbo.ptr<i8>, memref<1x64x128xi8, 3 : i32>
    %t = turbo.load %k[%n0, %c0] strides [%c128] bounds [] : !turbo.ptr<i8> -> tensor<64x128xi8, #blocked>
    turbo.store %t, %o[%n0, %c0] strides [%c128] bounds [] : tensor<64x128xi8, #blocked>, !turbo.ptr<i8>
    return
  }
}

// -----

// A layout whose registers are not ldmatrix fragments (B read without a
// transpose: its K runs down the slot's columns) is read with plain loads.
#blocked = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>
#mma = #turbo.mma<{warpsPerCTA = [4, 1]}>
#b = #turbo.dot_operand<{opIdx = 1, parent = #mma, kWidth = 2}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @staged_columns
  // CHECK-NOT: nvvm.ldmatrix
  // CHECK: llvm.load %{{.*}} {alignment = 2 : i64} : !llvm.ptr<3> -> f16
  func.func @staged_columns(%b: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}, %n: i32, %o: !turbo.ptr<f16>) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c64 = arith.constant 64 : i32
    %buf = turbo.alloc_shared : memref<1x32x64xf16, 3 : i32>
    turbo.async_copy %b[%c0, %c0] strides [%c64] bounds [%n, %c64], %buf[%c0] {layout = #blocked} : !turbo.ptr<f16>, memref<1x32x64xf16, 3 : i32>
    turbo.async_commit
    turbo.async_wait {pending = 0 : i32}
    %t = turbo.shared_load %buf[%c0] : memref<1x32x64xf16, 3 : i32> -> tensor<32x64xf16, #b>
    %back = turbo.convert_layout %t : tensor<32x64xf16, #b> -> tensor<32x64xf16, #blocked>
    turbo.store %back, %o[%c0, %c0] strides [%c64] bounds [%c64, %c64] : tensor<32x64xf16, #blocked>, !turbo.ptr<f16>
    return
  }
}

// -----

// 2-bit codes: four per byte, code i shifted by 2i; unpacking shifts back
// and masks. Layouts whose threads do not hold the same bytes are refused.
#codes = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
#bytes = #turbo.blocked<{sizePerThread = [1, 4], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @pack_2bit
  // CHECK: arith.andi %{{.*}}, %c3_i32 : i32
  // CHECK: arith.shli %{{.*}}, %c6_i32 : i32
  // CHECK: arith.shrui %{{.*}}, %c6_i32 : i32
  // CHECK-NOT: turbo.pack
  // CHECK-NOT: turbo.unpack
  func.func @pack_2bit(%c: tensor<64x64xi8, #codes>, %p: !turbo.ptr<i8>) {
    %c0 = arith.constant 0 : i32
    %c16 = arith.constant 16 : i32
    %c64 = arith.constant 64 : i32
    %b = turbo.pack %c {bits = 2 : i32} : tensor<64x64xi8, #codes> -> tensor<64x16xi8, #bytes>
    %u = turbo.unpack %b {bits = 2 : i32} : tensor<64x16xi8, #bytes> -> tensor<64x64xi8, #codes>
    turbo.store %u, %p[%c0, %c0] strides [%c64] bounds [%c64, %c64] : tensor<64x64xi8, #codes>, !turbo.ptr<i8>
    return
  }
}

// -----

// permute_bits within a thread (16 consecutive bytes per thread along the
// axis, the permutation moves only the low 4 bits) is a relabeling: no
// shared memory, no shuffles.
#rows = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @permute_in_thread
  // CHECK-SAME: turbo.shared_bytes = 0
  // CHECK-NOT: nvvm.shfl
  // CHECK-NOT: nvvm.barrier0
  func.func @permute_in_thread(%p: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c64 = arith.constant 64 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c64] bounds [%c64, %c64] : !turbo.ptr<i8> -> tensor<64x64xi8, #rows>
    %y = turbo.permute_bits %x {axis = 1 : i32, bits = array<i32: 0, 3, 1, 2>} : tensor<64x64xi8, #rows> -> tensor<64x64xi8, #rows>
    turbo.store %y, %p[%c0, %c0] strides [%c64] bounds [%c64, %c64] : tensor<64x64xi8, #rows>, !turbo.ptr<i8>
    return
  }
}

// -----

// A permutation that moves elements between threads (channel bits 1 and 2
// are lane bits here) goes through shared memory: elements written where the
// permutation sends them, read back in the result's layout.
#rows = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @permute_across_threads
  // CHECK-NOT: turbo.shared_bytes = 0
  // CHECK: nvvm.barrier0
  // CHECK: llvm.store {{.*}} !llvm.ptr<3>
  // CHECK: nvvm.barrier0
  // CHECK: llvm.load {{.*}} !llvm.ptr<3>
  func.func @permute_across_threads(%p: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c64 = arith.constant 64 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c64] bounds [%c64, %c64] : !turbo.ptr<i8> -> tensor<64x64xi8, #rows>
    %y = turbo.permute_bits %x {axis = 1 : i32, bits = array<i32: 0, 3, 4, 5, 1, 2>} : tensor<64x64xi8, #rows> -> tensor<64x64xi8, #rows>
    turbo.store %y, %p[%c0, %c0] strides [%c64] bounds [%c64, %c64] : tensor<64x64xi8, #rows>, !turbo.ptr<i8>
    return
  }
}

// -----

// Words unpacked to f16: per byte one prmt puts it in both 16-bit halves,
// one lop3 (mask, then or 0x6400) makes the pair (1024 + code, 1024 + 16
// code'), and one
// f16x2 fma by (1, 1/16) and (-1024, -64) leaves the two codes, exactly.
// 8-bit codes: a prmt interleaves two bytes with 0x64 bytes; one f16x2
// subtraction of 1024 leaves them.
#words = #turbo.blocked<{sizePerThread = [1, 4], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
#nibbles = #turbo.blocked<{sizePerThread = [1, 32], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
#bytes = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @unpack_words_to_halves
  // CHECK-DAG: %[[SCALE:.*]] = arith.constant dense<[1.000000e+00, 6.250000e-02]> : vector<2xf16>
  // CHECK-DAG: %[[SHIFT:.*]] = arith.constant dense<[-1.024000e+03, -6.400000e+01]> : vector<2xf16>
  // CHECK-DAG: %[[BIAS:.*]] = arith.constant 1677747200 : i32
  // CHECK-DAG: %[[MASK:.*]] = arith.constant 15728655 : i32
  // CHECK-DAG: %[[BYTE0:.*]] = arith.constant 16448 : i32
  // CHECK: %[[BOTH:.*]] = llvm.call_intrinsic "llvm.nvvm.prmt"(%{{.*}}, %{{.*}}, %[[BYTE0]]) : (i32, i32, i32) -> i32
  // CHECK: %[[BIASED:.*]] = llvm.inline_asm "lop3.b32 $0, $1, $2, $3, 0xea;", "=r,r,n,n" %[[BOTH]], %[[MASK]], %[[BIAS]]
  // CHECK: %[[PAIR:.*]] = llvm.bitcast %[[BIASED]] : i32 to vector<2xf16>
  // CHECK: math.fma %[[PAIR]], %[[SCALE]], %[[SHIFT]] : vector<2xf16>
  // CHECK-NOT: uitofp
  // CHECK-LABEL: func.func @unpack_words_8bit
  // CHECK: llvm.call_intrinsic "llvm.nvvm.prmt"({{.*}}) : (i32, i32, i32) -> i32
  // CHECK: arith.subf {{.*}} : vector<2xf16>
  // CHECK-NOT: uitofp
  func.func @unpack_words_to_halves(%p: !turbo.ptr<i32> {turbo.divisibility = 16 : i64}, %o: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c16 = arith.constant 16 : i32
    %c128 = arith.constant 128 : i32
    %w = turbo.load %p[%c0, %c0] strides [%c16] bounds [] : !turbo.ptr<i32> -> tensor<64x16xi32, #words>
    %c = turbo.unpack %w {bits = 4 : i32} : tensor<64x16xi32, #words> -> tensor<64x128xf16, #nibbles>
    turbo.store %c, %o[%c0, %c0] strides [%c128] bounds [] : tensor<64x128xf16, #nibbles>, !turbo.ptr<f16>
    return
  }
  func.func @unpack_words_8bit(%p: !turbo.ptr<i32> {turbo.divisibility = 16 : i64}, %o: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c16 = arith.constant 16 : i32
    %c64 = arith.constant 64 : i32
    %w = turbo.load %p[%c0, %c0] strides [%c16] bounds [] : !turbo.ptr<i32> -> tensor<64x16xi32, #words>
    %c = turbo.unpack %w {bits = 8 : i32} : tensor<64x16xi32, #words> -> tensor<64x64xf16, #bytes>
    turbo.store %c, %o[%c0, %c0] strides [%c64] bounds [] : tensor<64x64xf16, #bytes>, !turbo.ptr<f16>
    return
  }
}

// -----

// split_words: each word is an f16 pair as it stands (a bitcast); the
// pairs an f16x2 fma then takes are those words, with no repacking.
#words1 = #turbo.blocked<{sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]}>
#halves1 = #turbo.blocked<{sizePerThread = [8], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @split_words
  // CHECK: llvm.bitcast %{{.*}} : i32 to vector<2xf16>
  // CHECK-NOT: arith.shrui
  // CHECK-NOT: arith.trunci
  func.func @split_words(%p: !turbo.ptr<i32> {turbo.divisibility = 16 : i64}, %o: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %w = turbo.load %p[%c0] strides [] bounds [] : !turbo.ptr<i32> -> tensor<512xi32, #words1>
    %h = turbo.split_words %w : tensor<512xi32, #words1> -> tensor<1024xf16, #halves1>
    %d = arith.addf %h, %h : tensor<1024xf16, #halves1>
    turbo.store %d, %o[%c0] strides [] bounds [] : tensor<1024xf16, #halves1>, !turbo.ptr<f16>
    return
  }
}

// -----

// exp_poly's pair form (base 2, f32 -> f16, threshold <= 14): per register
// pair one relu conversion of the un-negated input (the negation folds
// away), the clamp, the split through + 1024, three f16x2 Horner FMAs, n
// into both exponent fields (r << 10 subtracted, the lower half's 1024
// added back as 0x1900000), and the threshold as a saturating FMA. A row
// max over f16 takes register pairs (f16x2 maximum) before the lanes meet
// in f32.
#blocked = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @exp_poly_pairs
  // CHECK-DAG: %[[LOW:.*]] = llvm.mlir.constant(26214400 : i32) : i32
  // CHECK-DAG: %[[BIAS:.*]] = llvm.mlir.constant(dense<1.024000e+03> : vector<2xf16>)
  // CHECK-DAG: %[[T:.*]] = llvm.mlir.constant(dense<1.200000e+01> : vector<2xf16>)
  // CHECK-NOT: arith.negf
  // CHECK-NOT: llvm.fneg
  // CHECK: %[[RELU:.*]] = llvm.call_intrinsic "llvm.nvvm.ff2f16x2.rn.relu"
  // CHECK: %[[CLAMP:.*]] = llvm.intr.minnum(%[[RELU]], %[[T]])
  // CHECK: %[[R:.*]] = llvm.fadd %[[CLAMP]], %[[BIAS]] : vector<2xf16>
  // CHECK: %[[N:.*]] = llvm.fsub %[[R]], %[[BIAS]] : vector<2xf16>
  // CHECK: %[[F:.*]] = llvm.fsub %[[CLAMP]], %[[N]] : vector<2xf16>
  // CHECK: llvm.intr.fma({{.*}}, %[[F]], {{.*}}) : (vector<2xf16>, vector<2xf16>, vector<2xf16>) -> vector<2xf16>
  // CHECK: llvm.intr.fma
  // CHECK: llvm.intr.fma
  // CHECK: %[[RBITS:.*]] = llvm.bitcast %[[R]] : vector<2xf16> to i32
  // CHECK: %[[SHIFTED:.*]] = llvm.shl %[[RBITS]]
  // CHECK: %[[PLUS:.*]] = llvm.add %{{.*}}, %[[LOW]] : i32
  // CHECK: llvm.sub %[[PLUS]], %[[SHIFTED]] : i32
  // CHECK: %[[KEEP:.*]] = llvm.call_intrinsic "llvm.nvvm.fma.rn.sat.f16x2"(%[[N]], %{{.*}}, %[[T]])
  // CHECK: llvm.fmul %{{.*}}, %[[KEEP]] : vector<2xf16>
  // CHECK-NOT: math.exp
  // CHECK: arith.maximumf {{.*}} : vector<2xf16>
  // CHECK: arith.maximumf {{.*}} : vector<2xf16>
  // CHECK: arith.maximumf {{.*}} : vector<2xf16>
  // CHECK: arith.maximumf {{.*}} : f32
  func.func @exp_poly_pairs(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %q: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %t = turbo.load %p[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<f32> -> tensor<8x128xf32, #blocked>
    %x = arith.negf %t : tensor<8x128xf32, #blocked>
    %e = turbo.exp_poly %x {degree = 3 : i32, threshold = 12 : i32} : tensor<8x128xf32, #blocked> -> tensor<8x128xf16, #blocked>
    %m = turbo.reduce max %e {axis = 1 : i32} : tensor<8x128xf16, #blocked> -> tensor<8xf16, #turbo.slice<{dim = 1, parent = #blocked}>>
    turbo.store %m, %q[%c0] strides [] bounds [%n] : tensor<8xf16, #turbo.slice<{dim = 1, parent = #blocked}>>, !turbo.ptr<f16>
    return
  }
}

// -----

// -----

// clamp_only: no zeroing past the threshold (no saturating FMA, no multiply
// after the exponent bits).
#blocked = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @exp_poly_clamp_only
  // CHECK: llvm.call_intrinsic "llvm.nvvm.ff2f16x2.rn.relu"
  // CHECK: llvm.intr.fma
  // CHECK: llvm.intr.fma
  // CHECK-NOT: llvm.intr.fma
  // CHECK: llvm.sub %{{.*}}, %{{.*}} : i32
  // CHECK-NEXT: llvm.bitcast %{{.*}} : i32 to vector<2xf16>
  // CHECK-NOT: fma.rn.sat
  // CHECK-NOT: llvm.fmul
  // CHECK: return
  func.func @exp_poly_clamp_only(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %q: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<f32> -> tensor<8x128xf32, #blocked>
    %e = turbo.exp_poly %x {degree = 2 : i32, threshold = 12 : i32, clamp_only} : tensor<8x128xf32, #blocked> -> tensor<8x128xf16, #blocked>
    turbo.store %e, %q[%c0, %c0] strides [%c128] bounds [%n, %c128] : tensor<8x128xf16, #blocked>, !turbo.ptr<f16>
    return
  }
}

// -----

// scale_log2 = 10: the exponent constant carries 10 in both f16 exponent
// fields (0x1900000 + (10 << 26) + (10 << 10) = 697313280), threshold 24
// stays the saturating FMA's limit.
#blocked = #turbo.blocked<{sizePerThread = [1, 8], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @exp_poly_scaled
  // CHECK-DAG: llvm.mlir.constant(697313280 : i32)
  // CHECK-DAG: llvm.mlir.constant(dense<2.400000e+01> : vector<2xf16>)
  // CHECK: llvm.call_intrinsic "llvm.nvvm.ff2f16x2.rn.relu"
  // CHECK: llvm.call_intrinsic "llvm.nvvm.fma.rn.sat.f16x2"
  // CHECK: return
  func.func @exp_poly_scaled(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %q: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<f32> -> tensor<8x128xf32, #blocked>
    %e = turbo.exp_poly %x {degree = 2 : i32, threshold = 24 : i32, scale_log2 = 10 : i32} : tensor<8x128xf32, #blocked> -> tensor<8x128xf16, #blocked>
    turbo.store %e, %q[%c0, %c0] strides [%c128] bounds [%n, %c128] : tensor<8x128xf16, #blocked>, !turbo.ptr<f16>
    return
  }
}

// -----

// One register per thread: the pair form pairs it with itself (not a
// negation here: the source is no negf) and keeps lane 0.
#one = #turbo.blocked<{sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @exp_poly_odd
  // CHECK: %[[NEG:.*]] = llvm.fneg %{{.*}} : f32
  // CHECK: llvm.call_intrinsic "llvm.nvvm.ff2f16x2.rn.relu"(%[[NEG]], %[[NEG]])
  // CHECK: llvm.extractelement %{{.*}}[%{{.*}} : i32] : vector<2xf16>
  // CHECK-NOT: llvm.extractelement
  func.func @exp_poly_odd(%p: !turbo.ptr<f32> {turbo.divisibility = 16 : i64}, %q: !turbo.ptr<f16> {turbo.divisibility = 16 : i64}, %n: i32) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %x = turbo.load %p[%c0] strides [] bounds [%n] : !turbo.ptr<f32> -> tensor<128xf32, #one>
    %e = turbo.exp_poly %x {degree = 3 : i32, threshold = 12 : i32} : tensor<128xf32, #one> -> tensor<128xf16, #one>
    turbo.store %e, %q[%c0] strides [] bounds [%n] : tensor<128xf16, #one>, !turbo.ptr<f16>
    return
  }
}

// -----

// Rounding to INT8 codes: fptosi(roundeven(x)) is one cvt.rni.s32.f32 per
// register (llvm.nvvm.f2i.rn) and its low byte, not cvt.rni.f32.f32 and
// then a conversion.
#codes = #turbo.blocked<{sizePerThread = [1, 4], threadsPerWarp = [1, 32], warpsPerCTA = [1, 1], order = [1, 0]}>
module attributes {turbo.num_warps = 1 : i32} {
  // CHECK-LABEL: func.func @round_to_codes
  // CHECK-COUNT-4: llvm.call_intrinsic "llvm.nvvm.f2i.rn"(%{{.*}}) : (f32) -> i32
  // CHECK-NOT: math.roundeven
  // CHECK-NOT: arith.fptosi
  func.func @round_to_codes(%x: tensor<1x128xf32, #codes>) -> tensor<1x128xi8, #codes> {
    %r = math.roundeven %x : tensor<1x128xf32, #codes>
    %q = arith.fptosi %r : tensor<1x128xf32, #codes> to tensor<1x128xi8, #codes>
    return %q : tensor<1x128xi8, #codes>
  }
}

// -----

// wgmma=1: a K tile (64 keys x 128 bytes) that the tensor cores read from
// shared memory. The kernel traps unless dynamic shared memory starts on a
// 1 KiB boundary. Its slot is swizzled: 16-byte chunk c of row r lands at
// chunk c ^ (r % 8), an XOR in the copy's address; the wait fences the
// copies for the async proxy; the dot is four m64n64k32 steps on one
// descriptor (no ldmatrix, no mma.sync), the first overwriting the zero
// accumulator, then committed and waited for.
#blocked = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>
#mma = #turbo.mma<{warpsPerCTA = [4, 1]}>
#a = #turbo.dot_operand<{opIdx = 0, parent = #mma, kWidth = 4}>
#b = #turbo.dot_operand<{opIdx = 1, parent = #mma, kWidth = 4}>
module attributes {turbo.num_warps = 4 : i32} {
  // CHECK-LABEL: func.func @wgmma_dot
  // CHECK: %[[BASE:.*]] = llvm.mlir.addressof @turbo_dynamic_shared : !llvm.ptr<3>
  // CHECK: %[[BITS:.*]] = llvm.ptrtoint %[[BASE]] : !llvm.ptr<3> to i32
  // CHECK: %[[ADDRESS:.*]] = llvm.inline_asm "mov.b32 $0, $1;", "=r,r" %[[BITS]] : (i32) -> i32
  // CHECK: %[[LOW:.*]] = arith.andi %[[ADDRESS]], %{{.*}} : i32
  // CHECK: %[[OFF:.*]] = arith.cmpi ne, %[[LOW]], %{{.*}} : i32
  // CHECK: scf.if %[[OFF]] {
  // CHECK-NEXT: llvm.intr.trap
  // CHECK: arith.xori
  // CHECK: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
  // CHECK: nvvm.cp.async.wait.group 0
  // CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
  // CHECK-NEXT: nvvm.barrier0
  // CHECK-NOT: nvvm.ldmatrix
  // CHECK-NOT: nvvm.mma.sync
  // CHECK: nvvm.wgmma.fence.aligned
  // CHECK: llvm.inline_asm has_side_effects {{.*}}wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 {$0, {{.*}}, $31}, {$32, $33, $34, $35}, $36, p;
  // CHECK-COUNT-3: llvm.inline_asm has_side_effects {{.*}}wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 {$0, {{.*}}, $31}, {$64, $65, $66, $67}, $68, p;
  // CHECK: nvvm.wgmma.commit.group.sync.aligned
  // CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
  // CHECK-NOT: nvvm.mma.sync
  func.func @wgmma_dot(%k: !turbo.ptr<i8> {turbo.divisibility = 16 : i64}, %q: tensor<64x128xi8, #a>, %slot: i32) -> tensor<64x64xi32, #mma> attributes {turbo.config = #turbo.config<{wgmma = 1 : i64}>} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %zero = arith.constant dense<0> : tensor<64x64xi32, #mma>
    %buf = turbo.alloc_shared : memref<2x64x128xi8, 3 : i32>
    turbo.async_copy %k[%c0, %c0] strides [%c128] bounds [], %buf[%slot] {layout = #blocked} : !turbo.ptr<i8>, memref<2x64x128xi8, 3 : i32>
    turbo.async_commit
    turbo.async_wait {pending = 0 : i32}
    %kt = turbo.shared_load %buf[%slot] {transpose} : memref<2x64x128xi8, 3 : i32> -> tensor<128x64xi8, #b>
    %s = turbo.dot %q, %kt, %zero : tensor<64x128xi8, #a>, tensor<128x64xi8, #b> -> tensor<64x64xi32, #mma>
    return %s : tensor<64x64xi32, #mma>
  }
}

// -----

// Waiting for the grids before this one is inline assembly that clobbers
// memory (no load of their results moves above it), and marks the kernel
// for a programmatic launch; letting the next grid start is griddepcontrol.
#blocked = #turbo.blocked<{sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]}>
module attributes {turbo.num_warps = 4 : i32, turbo.target = "sm_90a"} {
  // CHECK-LABEL: func.func @waits
  // CHECK-SAME: turbo.programmatic_launch
  // CHECK: nvvm.griddepcontrol launch_dependents
  // CHECK: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
  // CHECK: llvm.load
  func.func @waits(%p: !turbo.ptr<f32>, %q: !turbo.ptr<f32>) attributes {turbo.kernel} {
    turbo.launch_dependents
    turbo.wait_prior_grids
    %c0 = arith.constant 0 : i32
    %x = turbo.load %p[%c0] strides [] bounds [] : !turbo.ptr<f32> -> tensor<128xf32, #blocked>
    turbo.store %x, %q[%c0] strides [] bounds [] : tensor<128xf32, #blocked>, !turbo.ptr<f32>
    return
  }
  // A kernel without the wait is launched the ordinary way.
  // CHECK-LABEL: func.func @triggers
  // CHECK-NOT: turbo.programmatic_launch
  // CHECK: nvvm.griddepcontrol launch_dependents
  func.func @triggers() attributes {turbo.kernel} {
    turbo.launch_dependents
    return
  }
}
