// RUN: turbo-opt %s -split-input-file --turbo-assign-layouts --canonicalize --turbo-pipeline-loads | FileCheck %s
// RUN: turbo-opt %s -split-input-file --turbo-assign-layouts --canonicalize --turbo-pipeline-loads=stages=1 | FileCheck %s --check-prefix=OFF

// Two stages (from the kernel's config): both loop loads become a ring of
// two slots. Tile 0 is copied before the loop; each iteration waits for
// its tile, copies the next one into the other slot (where that iteration
// exists), and reads its own slot straight into the dot operand layout.
// CHECK-DAG: #[[B:.*]] = #turbo.dot_operand<{opIdx = 1, parent = #{{.*}}, kWidth = 4}>
// CHECK-LABEL: func.func @two_stages
// CHECK-DAG: %[[KBUF:.*]] = turbo.alloc_shared : memref<2x64x128xi8, 3 : i32>
// CHECK-DAG: %[[VBUF:.*]] = turbo.alloc_shared : memref<2x128x64xi8, 3 : i32>
// CHECK: %[[FIRST:.*]] = arith.cmpi slt, %{{.*}}, %[[N:.*]] : i32
// CHECK: scf.if %[[FIRST]] {
// CHECK-NEXT: turbo.async_copy %{{.*}}[%{{.*}}, %{{.*}}] strides[%{{.*}}] bounds[%[[N]], %{{.*}}], %[[KBUF]][%{{.*}}]
// CHECK-NEXT: turbo.async_copy {{.*}}, %[[VBUF]][%{{.*}}]
// CHECK: turbo.async_commit
// CHECK: scf.for %[[IV:.*]] = %[[LB:.*]] to %[[N]] step %[[STEP:.*]] iter_args
// CHECK: %[[I:.*]] = arith.divsi %{{.*}}, %[[STEP]] : i32
// CHECK: %[[SLOT:.*]] = arith.remsi %[[I]], %{{.*}} : i32
// CHECK: turbo.async_wait {pending = 0 : i32}
// CHECK: %[[AHEAD:.*]] = arith.addi %[[IV]], %{{.*}} : i32
// CHECK: %[[NEXT:.*]] = arith.remsi %{{.*}} : i32
// CHECK: %[[EXISTS:.*]] = arith.cmpi slt, %[[AHEAD]], %[[N]] : i32
// CHECK: scf.if %[[EXISTS]] {
// CHECK-NEXT: turbo.async_copy %{{.*}}[%[[AHEAD]], %{{.*}}] {{.*}}, %[[KBUF]][%[[NEXT]]]
// CHECK-NEXT: turbo.async_copy %{{.*}}[%{{.*}}, %[[AHEAD]]] {{.*}}, %[[VBUF]][%[[NEXT]]]
// CHECK: turbo.async_commit
// CHECK: turbo.shared_load %[[KBUF]][%[[SLOT]]] {transpose} : memref<2x64x128xi8, 3 : i32> -> tensor<128x64xi8, #[[B]]>
// CHECK: turbo.shared_load %[[VBUF]][%[[SLOT]]] {transpose} : memref<2x128x64xi8, 3 : i32> -> tensor<64x128xi8, #[[B]]>
// CHECK-NOT: turbo.load
// CHECK: scf.yield
// CHECK: turbo.async_wait {pending = 0 : i32}
// OFF-LABEL: func.func @two_stages
// OFF-NOT: turbo.async_copy
// OFF: turbo.load
module attributes {turbo.num_warps = 4 : i32} {
  func.func @two_stages(%q: !turbo.ptr<i8>, %k: !turbo.ptr<i8>, %v: !turbo.ptr<i8>, %o: !turbo.ptr<i32>, %n: i32) attributes {turbo.config = #turbo.config<{num_stages = 2 : i64}>} {
    %c0 = arith.constant 0 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %q8 = turbo.load %q[%c0, %c0] strides [%c128] bounds [%c64, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %zero = arith.constant dense<0> : tensor<64x128xi32>
    %z64 = arith.constant dense<0> : tensor<64x64xi32>
    %acc = scf.for %n0 = %c0 to %n step %c64 iter_args(%sum = %zero) -> (tensor<64x128xi32>) : i32 {
      %k8 = turbo.load %k[%n0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
      %kt = turbo.trans %k8 : tensor<64x128xi8> -> tensor<128x64xi8>
      %s = turbo.dot %q8, %kt, %z64 : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
      %p = arith.trunci %s : tensor<64x64xi32> to tensor<64x64xi8>
      %vt = turbo.load %v[%c0, %n0] strides [%n] bounds [%c128, %n] : !turbo.ptr<i8> -> tensor<128x64xi8>
      %v8 = turbo.trans %vt : tensor<128x64xi8> -> tensor<64x128xi8>
      %pv = turbo.dot %p, %v8, %sum : tensor<64x64xi8>, tensor<64x128xi8> -> tensor<64x128xi32>
      scf.yield %pv : tensor<64x128xi32>
    }
    turbo.store %acc, %o[%c0, %c0] strides [%c128] bounds [%c64, %c128] : tensor<64x128xi32>, !turbo.ptr<i32>
    return
  }
}

// -----

// Three stages: two tiles copied ahead of the loop (each guarded by its
// own iteration existing), one group may stay in flight at each wait.
// CHECK-LABEL: func.func @three_stages
// CHECK: turbo.alloc_shared : memref<3x32x64xf16, 3 : i32>
// CHECK: scf.if
// CHECK: turbo.async_commit
// CHECK: scf.if
// CHECK: turbo.async_commit
// CHECK: scf.for
// CHECK: turbo.async_wait {pending = 1 : i32}
// CHECK: turbo.shared_load %{{.*}}[%{{.*}}] : memref<3x32x64xf16, 3 : i32> -> tensor<32x64xf16, #{{.*}}>
module attributes {turbo.num_warps = 4 : i32} {
  func.func @three_stages(%a: !turbo.ptr<f16>, %b: !turbo.ptr<f16>, %o: !turbo.ptr<f32>, %n: i32) attributes {turbo.config = #turbo.config<{num_stages = 3 : i64}>} {
    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c32 = arith.constant 32 : i32
    %c64 = arith.constant 64 : i32
    %a16 = turbo.load %a[%c0, %c0] strides [%c32] bounds [%c64, %c32] : !turbo.ptr<f16> -> tensor<64x32xf16>
    %zero = arith.constant dense<0.0> : tensor<64x64xf32>
    %acc = scf.for %i = %c0 to %n step %c1 iter_args(%sum = %zero) -> (tensor<64x64xf32>) : i32 {
      %k0 = arith.muli %i, %c32 : i32
      %b16 = turbo.load %b[%k0, %c0] strides [%c64] bounds [%n, %c64] : !turbo.ptr<f16> -> tensor<32x64xf16>
      %d = turbo.dot %a16, %b16, %sum : tensor<64x32xf16>, tensor<32x64xf16> -> tensor<64x64xf32>
      scf.yield %d : tensor<64x64xf32>
    }
    turbo.store %acc, %o[%c0, %c0] strides [%c64] bounds [%c64, %c64] : tensor<64x64xf32>, !turbo.ptr<f32>
    return
  }
}

// -----

// A load whose tile has another user than the conversion, or whose offsets
// do not follow the induction variable (here: a loop-carried row), stays a
// load.
// CHECK-LABEL: func.func @not_staged
// CHECK-NOT: turbo.async_copy
// CHECK: turbo.load
// CHECK: turbo.load
module attributes {turbo.num_warps = 4 : i32} {
  func.func @not_staged(%a: !turbo.ptr<f16>, %o: !turbo.ptr<f32>, %t: !turbo.ptr<f16>, %n: i32) attributes {turbo.config = #turbo.config<{num_stages = 2 : i64}>} {
    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c32 = arith.constant 32 : i32
    %c64 = arith.constant 64 : i32
    %a16 = turbo.load %a[%c0, %c0] strides [%c32] bounds [%c64, %c32] : !turbo.ptr<f16> -> tensor<64x32xf16>
    %zero = arith.constant dense<0.0> : tensor<64x64xf32>
    %acc:2 = scf.for %i = %c0 to %n step %c1 iter_args(%sum = %zero, %row = %c0) -> (tensor<64x64xf32>, i32) : i32 {
      %b16 = turbo.load %a[%row, %c0] strides [%c64] bounds [%n, %c64] : !turbo.ptr<f16> -> tensor<32x64xf16>
      %d = turbo.dot %a16, %b16, %sum : tensor<64x32xf16>, tensor<32x64xf16> -> tensor<64x64xf32>
      %k0 = arith.muli %i, %c32 : i32
      %c16 = turbo.load %a[%k0, %c0] strides [%c64] bounds [%n, %c64] : !turbo.ptr<f16> -> tensor<32x64xf16>
      %e = turbo.dot %a16, %c16, %d : tensor<64x32xf16>, tensor<32x64xf16> -> tensor<64x64xf32>
      turbo.store %c16, %t[%c0, %c0] strides [%c64] bounds [%c32, %c64] : tensor<32x64xf16>, !turbo.ptr<f16>
      %next = arith.addi %row, %c32 : i32
      scf.yield %e, %next : tensor<64x64xf32>, i32
    }
    turbo.store %acc#0, %o[%c0, %c0] strides [%c64] bounds [%c64, %c64] : tensor<64x64xf32>, !turbo.ptr<f32>
    return
  }
}

// -----

// A block peeled off the loop: its B operands, loaded once outside any
// loop, get a slot each. Their copies start as early as their operands and
// the memory they read allow (after the store, which might have written
// it), the first read waits for its own group only (one more is committed
// after it), and the loop's ring follows as before. The A operand stays a
// load.
// CHECK-LABEL: func.func @peeled_block
// CHECK-DAG: %[[KONE:.*]] = turbo.alloc_shared : memref<1x64x128xi8, 3 : i32>
// CHECK-DAG: %[[VONE:.*]] = turbo.alloc_shared : memref<1x128x64xi8, 3 : i32>
// CHECK: turbo.store
// CHECK-NEXT: turbo.async_copy %{{.*}}, %[[KONE]][%{{.*}}]
// CHECK-NEXT: turbo.async_commit
// CHECK-NEXT: turbo.async_copy %{{.*}}, %[[VONE]][%{{.*}}]
// CHECK-NEXT: turbo.async_commit
// CHECK: turbo.load %{{.*}} -> tensor<64x128xi8
// CHECK: turbo.async_wait {pending = 1 : i32}
// CHECK: turbo.shared_load %[[KONE]][%{{.*}}] {transpose}
// CHECK: turbo.async_wait {pending = 0 : i32}
// CHECK: turbo.shared_load %[[VONE]][%{{.*}}] {transpose}
// CHECK: turbo.alloc_shared : memref<2x64x128xi8, 3 : i32>
// CHECK: scf.for
// CHECK-NOT: turbo.load
// CHECK: turbo.shared_load
// CHECK: scf.yield
module attributes {turbo.num_warps = 4 : i32} {
  func.func @peeled_block(%q: !turbo.ptr<i8>, %k: !turbo.ptr<i8>, %v: !turbo.ptr<i8>, %o: !turbo.ptr<i32>, %n: i32) attributes {turbo.config = #turbo.config<{num_stages = 2 : i64}>} {
    %c0 = arith.constant 0 : i32
    %c64 = arith.constant 64 : i32
    %c128 = arith.constant 128 : i32
    %zero = arith.constant dense<0> : tensor<64x128xi32>
    %z64 = arith.constant dense<0> : tensor<64x64xi32>
    turbo.store %zero, %o[%c0, %c0] strides [%c128] bounds [%c64, %c128] : tensor<64x128xi32>, !turbo.ptr<i32>
    %q8 = turbo.load %q[%c0, %c0] strides [%c128] bounds [%c64, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %k0 = turbo.load %k[%c0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
    %k0t = turbo.trans %k0 : tensor<64x128xi8> -> tensor<128x64xi8>
    %s0 = turbo.dot %q8, %k0t, %z64 : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
    %p0 = arith.trunci %s0 : tensor<64x64xi32> to tensor<64x64xi8>
    %v0t = turbo.load %v[%c0, %c0] strides [%n] bounds [%c128, %n] : !turbo.ptr<i8> -> tensor<128x64xi8>
    %v0 = turbo.trans %v0t : tensor<128x64xi8> -> tensor<64x128xi8>
    %first = turbo.dot %p0, %v0, %zero : tensor<64x64xi8>, tensor<64x128xi8> -> tensor<64x128xi32>
    %acc = scf.for %n0 = %c64 to %n step %c64 iter_args(%sum = %first) -> (tensor<64x128xi32>) : i32 {
      %k8 = turbo.load %k[%n0, %c0] strides [%c128] bounds [%n, %c128] : !turbo.ptr<i8> -> tensor<64x128xi8>
      %kt = turbo.trans %k8 : tensor<64x128xi8> -> tensor<128x64xi8>
      %s = turbo.dot %q8, %kt, %z64 : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
      %p = arith.trunci %s : tensor<64x64xi32> to tensor<64x64xi8>
      %vt = turbo.load %v[%c0, %n0] strides [%n] bounds [%c128, %n] : !turbo.ptr<i8> -> tensor<128x64xi8>
      %v8 = turbo.trans %vt : tensor<128x64xi8> -> tensor<64x128xi8>
      %pv = turbo.dot %p, %v8, %sum : tensor<64x64xi8>, tensor<64x128xi8> -> tensor<64x128xi32>
      scf.yield %pv : tensor<64x128xi32>
    }
    turbo.store %acc, %o[%c0, %c0] strides [%c128] bounds [%c64, %c128] : tensor<64x128xi32>, !turbo.ptr<i32>
    return
  }
}

// -----

// Paged codes: each iteration's tile lies where a table entry says, and
// the kernel never writes the table, so the copy for iteration i+1 reads
// entry i+1 itself. The codes tile only feeds turbo.unpack: it is read
// back from its slot in its own layout (the registers the unpack reads).
// CHECK-LABEL: func.func @paged_codes
// CHECK-DAG: %[[CODES:.*]] = turbo.alloc_shared : memref<2x64x16xi32, 3 : i32>
// CHECK: scf.for %[[IV:.*]] = {{.*}} iter_args
// CHECK: %[[AHEAD:.*]] = arith.addi %[[IV]], %{{.*}} : i32
// CHECK: scf.if
// CHECK: turbo.load %[[TABLE:.*]][%{{.*}}] {{.*}} -> tensor<1xi32
// CHECK: turbo.async_copy {{.*}}, %[[CODES]][%{{.*}}]
// CHECK: turbo.shared_load %[[CODES]][%{{.*}}] : memref<2x64x16xi32, 3 : i32> -> tensor<64x16xi32, #[[L:.*]]>
// CHECK-NEXT: turbo.unpack %{{.*}} {bits = 4 : i32} : tensor<64x16xi32, #[[L]]>
module attributes {turbo.num_warps = 4 : i32} {
  func.func @paged_codes(%pool: !turbo.ptr<i32>, %table: !turbo.ptr<i32>, %o: !turbo.ptr<f16>, %n: i32) attributes {turbo.config = #turbo.config<{num_stages = 2 : i64}>} {
    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c16 = arith.constant 16 : i32
    %c128 = arith.constant 128 : i32
    %words = arith.constant 1024 : i32
    %zero = arith.constant dense<0.0> : tensor<64x128xf16>
    %acc = scf.for %i = %c0 to %n step %c1 iter_args(%sum = %zero) -> (tensor<64x128xf16>) : i32 {
      %entry = turbo.load %table[%i] strides [] bounds [] : !turbo.ptr<i32> -> tensor<1xi32>
      %page = turbo.reduce max %entry {axis = 0 : i32} : tensor<1xi32> -> i32
      %at = arith.muli %page, %words : i32
      %wide = arith.extsi %at : i32 to i64
      %base = turbo.addptr %pool, %wide : !turbo.ptr<i32>, i64
      %packed = turbo.load %base[%c0, %c0] strides [%c16] bounds [] : !turbo.ptr<i32> -> tensor<64x16xi32>
      %codes = turbo.unpack %packed {bits = 4 : i32} : tensor<64x16xi32> -> tensor<64x128xf16>
      %next = arith.addf %sum, %codes : tensor<64x128xf16>
      scf.yield %next : tensor<64x128xf16>
    }
    turbo.store %acc, %o[%c0, %c0] strides [%c128] bounds [] : tensor<64x128xf16>, !turbo.ptr<f16>
    return
  }
}

// -----

// The same with a kernel that writes the table: an entry read ahead might
// not be the one the iteration will read, so the codes stay a load.
// CHECK-LABEL: func.func @written_table
// CHECK-NOT: turbo.alloc_shared : memref<2x64x16xi32
// CHECK: turbo.load %{{.*}} -> tensor<64x16xi32
module attributes {turbo.num_warps = 4 : i32} {
  func.func @written_table(%pool: !turbo.ptr<i32>, %table: !turbo.ptr<i32>, %o: !turbo.ptr<f16>, %n: i32) attributes {turbo.config = #turbo.config<{num_stages = 2 : i64}>} {
    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c16 = arith.constant 16 : i32
    %c128 = arith.constant 128 : i32
    %words = arith.constant 1024 : i32
    %zero = arith.constant dense<0.0> : tensor<64x128xf16>
    %acc = scf.for %i = %c0 to %n step %c1 iter_args(%sum = %zero) -> (tensor<64x128xf16>) : i32 {
      %entry = turbo.load %table[%i] strides [] bounds [] : !turbo.ptr<i32> -> tensor<1xi32>
      %page = turbo.reduce max %entry {axis = 0 : i32} : tensor<1xi32> -> i32
      %at = arith.muli %page, %words : i32
      %wide = arith.extsi %at : i32 to i64
      %base = turbo.addptr %pool, %wide : !turbo.ptr<i32>, i64
      %packed = turbo.load %base[%c0, %c0] strides [%c16] bounds [] : !turbo.ptr<i32> -> tensor<64x16xi32>
      %codes = turbo.unpack %packed {bits = 4 : i32} : tensor<64x16xi32> -> tensor<64x128xf16>
      %next = arith.addf %sum, %codes : tensor<64x128xf16>
      scf.yield %next : tensor<64x128xf16>
    }
    %one = arith.constant dense<0> : tensor<1xi32>
    turbo.store %one, %table[%c0] strides [] bounds [] : tensor<1xi32>, !turbo.ptr<i32>
    turbo.store %acc, %o[%c0, %c0] strides [%c128] bounds [] : tensor<64x128xf16>, !turbo.ptr<f16>
    return
  }
}
