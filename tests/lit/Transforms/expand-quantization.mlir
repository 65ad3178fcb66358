// RUN: turbo-opt %s -split-input-file --turbo-expand-quantization | FileCheck %s

// Symmetric per-row INT8: amax per row, scale = amax / 127, multiply by the
// guarded reciprocal, round to even, convert (no clamp: |x| <= amax keeps
// the product within 127 + 1/2).
// CHECK-LABEL: func.func @symmetric_row
// CHECK-DAG: %[[QMAX:.*]] = arith.constant dense<1.270000e+02> : tensor<16xf32>
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<16xf32>
// CHECK: %[[X:.*]] = arith.extf %{{.*}} : tensor<16x64xf16> to tensor<16x64xf32>
// CHECK: %[[AMAX:.*]] = turbo.reduce absmax %[[X]] {axis = 1 : i32} : tensor<16x64xf32> -> tensor<16xf32>
// CHECK: %[[SCALE:.*]] = arith.divf %[[AMAX]], %[[QMAX]]
// CHECK: %[[POS:.*]] = arith.cmpf ogt, %[[AMAX]], %[[ZERO]]
// CHECK: %[[RCP:.*]] = arith.divf %[[QMAX]], %[[AMAX]]
// CHECK: %[[INV:.*]] = arith.select %[[POS]], %[[RCP]], %[[ZERO]]
// CHECK: %[[COL:.*]] = turbo.expand_dims %[[INV]] {axis = 1 : i32}
// CHECK: %[[B:.*]] = turbo.broadcast %[[COL]] : tensor<16x1xf32> -> tensor<16x64xf32>
// CHECK: %[[Y:.*]] = arith.mulf %[[X]], %[[B]]
// CHECK: %[[R:.*]] = math.roundeven %[[Y]]
// CHECK-NOT: arith.minimumf
// CHECK: %[[Q:.*]] = arith.fptosi %[[R]] : tensor<16x64xf32> to tensor<16x64xi8>
// CHECK: return %[[Q]], %[[SCALE]]
// CHECK-NOT: turbo.quantize
func.func @symmetric_row(%x: tensor<16x64xf16>) -> (tensor<16x64xi8>, tensor<16xf32>) {
  %q, %s = turbo.quantize %x {bits = 8 : i32, granularity = #turbo.granularity<row>} : tensor<16x64xf16> -> tensor<16x64xi8>, tensor<16xf32>
  return %q, %s : tensor<16x64xi8>, tensor<16xf32>
}

// -----

// Sixteen bits into an i16 (the KV cache's staging of 8-bit heads): qmax
// 32767, the same rule, converted to the result's width.
// CHECK-LABEL: func.func @symmetric_row_16bit
// CHECK-DAG: arith.constant dense<3.276700e+04> : tensor<16xf32>
// CHECK: math.roundeven
// CHECK: arith.fptosi %{{.*}} : tensor<16x64xf32> to tensor<16x64xi16>
func.func @symmetric_row_16bit(%x: tensor<16x64xf16>) -> (tensor<16x64xi16>, tensor<16xf32>) {
  %q, %s = turbo.quantize %x {bits = 16 : i32, granularity = #turbo.granularity<row>} : tensor<16x64xf16> -> tensor<16x64xi16>, tensor<16xf32>
  return %q, %s : tensor<16x64xi16>, tensor<16xf32>
}

// -----

// Four bits per column: qmax 7, reduction along the rows.
// CHECK-LABEL: func.func @symmetric_column_4bit
// CHECK-DAG: arith.constant dense<7.000000e+00> : tensor<64xf32>
// CHECK: turbo.reduce absmax %{{.*}} {axis = 0 : i32} : tensor<16x64xf32> -> tensor<64xf32>
// CHECK: turbo.expand_dims %{{.*}} {axis = 0 : i32} : tensor<64xf32> -> tensor<1x64xf32>
func.func @symmetric_column_4bit(%x: tensor<16x64xf32>) -> (tensor<16x64xi8>, tensor<64xf32>) {
  %q, %s = turbo.quantize %x {bits = 4 : i32, granularity = #turbo.granularity<column>} : tensor<16x64xf32> -> tensor<16x64xi8>, tensor<64xf32>
  return %q, %s : tensor<16x64xi8>, tensor<64xf32>
}

// -----

// One scale for the tile: rows first, then a 1-D max to a scalar; the
// reciprocal is splat over the tile.
// CHECK-LABEL: func.func @symmetric_tile
// CHECK: %[[ROWS:.*]] = turbo.reduce absmax %{{.*}} {axis = 1 : i32} : tensor<16x64xf32> -> tensor<16xf32>
// CHECK: %[[AMAX:.*]] = turbo.reduce max %[[ROWS]] {axis = 0 : i32} : tensor<16xf32> -> f32
// CHECK: %[[INV:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: turbo.splat %[[INV]] : tensor<16x64xf32>
func.func @symmetric_tile(%x: tensor<16x64xf32>) -> (tensor<16x64xi8>, f32) {
  %q, %s = turbo.quantize %x {bits = 8 : i32, granularity = #turbo.granularity<tile>} : tensor<16x64xf32> -> tensor<16x64xi8>, f32
  return %q, %s : tensor<16x64xi8>, f32
}

// -----

// Asymmetric: min/max, shift by the minimum, unsigned codes.
// CHECK-LABEL: func.func @asymmetric_row
// CHECK-DAG: arith.constant dense<1.500000e+01> : tensor<16xf32>
// CHECK: %[[LO:.*]] = turbo.reduce min %{{.*}} {axis = 1 : i32}
// CHECK: %[[HI:.*]] = turbo.reduce max %{{.*}} {axis = 1 : i32}
// CHECK: %[[RANGE:.*]] = arith.subf %[[HI]], %[[LO]]
// CHECK: arith.subf %{{.*}}, %{{.*}} : tensor<16x64xf32>
// CHECK: math.roundeven
// CHECK: arith.fptoui %{{.*}} : tensor<16x64xf32> to tensor<16x64xi8>
// CHECK: return %{{.*}}, %{{.*}}, %[[LO]]
func.func @asymmetric_row(%x: tensor<16x64xf32>) -> (tensor<16x64xi8>, tensor<16xf32>, tensor<16xf32>) {
  %q, %s, %z = turbo.quantize %x {bits = 4 : i32, granularity = #turbo.granularity<row>, asymmetric} : tensor<16x64xf32> -> tensor<16x64xi8>, tensor<16xf32>, tensor<16xf32>
  return %q, %s, %z : tensor<16x64xi8>, tensor<16xf32>, tensor<16xf32>
}

// -----

// CHECK-LABEL: func.func @dequantize_asymmetric
// CHECK: %[[F:.*]] = arith.uitofp %{{.*}} : tensor<16x64xi8> to tensor<16x64xf32>
// CHECK: %[[M:.*]] = arith.mulf %[[F]], %{{.*}}
// CHECK: %[[A:.*]] = arith.addf %[[M]], %{{.*}}
// CHECK: arith.truncf %[[A]] : tensor<16x64xf32> to tensor<16x64xf16>
func.func @dequantize_asymmetric(%q: tensor<16x64xi8>, %s: tensor<16xf32>, %z: tensor<16xf32>) -> tensor<16x64xf16> {
  %x = turbo.dequantize %q, %s, %z {granularity = #turbo.granularity<row>} : tensor<16x64xi8>, tensor<16xf32>, tensor<16xf32> -> tensor<16x64xf16>
  return %x : tensor<16x64xf16>
}

// -----

// Progressive INT8 -> INT2 in integers: s = max(1, (hi - lo + 2) / 3),
// code = min(3, (q - lo + s / 2) / s); back: clamp(code * s + lo).
// CHECK-LABEL: func.func @requantize_int2
// CHECK-DAG: %[[L:.*]] = arith.constant dense<3> : tensor<64xi32>
// CHECK-DAG: %[[LM1:.*]] = arith.constant dense<2> : tensor<64xi32>
// CHECK-DAG: %[[ONE:.*]] = arith.constant dense<1> : tensor<64xi32>
// CHECK: %[[Q:.*]] = arith.extsi %{{.*}} : tensor<16x64xi8> to tensor<16x64xi32>
// CHECK: %[[LO:.*]] = turbo.reduce min %[[Q]] {axis = 0 : i32}
// CHECK: %[[HI:.*]] = turbo.reduce max %[[Q]] {axis = 0 : i32}
// CHECK: %[[SPAN:.*]] = arith.subi %[[HI]], %[[LO]]
// CHECK: %[[UP:.*]] = arith.addi %[[SPAN]], %[[LM1]]
// CHECK: %[[DIV:.*]] = arith.divsi %[[UP]], %[[L]]
// CHECK: %[[S:.*]] = arith.maxsi %[[DIV]], %[[ONE]]
// CHECK: arith.divsi
// CHECK: arith.minsi
// CHECK: arith.trunci %{{.*}} : tensor<16x64xi32> to tensor<16x64xi8>
// CHECK: arith.extui %{{.*}} : tensor<16x64xi8> to tensor<16x64xi32>
// CHECK: arith.muli
// CHECK: arith.addi
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK-NOT: turbo.requantize
// CHECK-NOT: turbo.dequantize_int
func.func @requantize_int2(%x: tensor<16x64xi8>) -> tensor<16x64xi8> {
  %c, %s, %z = turbo.requantize %x {bits = 2 : i32} : tensor<16x64xi8> -> tensor<16x64xi8>, tensor<64xi32>, tensor<64xi32>
  %back = turbo.dequantize_int %c, %s, %z : tensor<16x64xi8>, tensor<64xi32>, tensor<64xi32> -> tensor<16x64xi8>
  return %back : tensor<16x64xi8>
}
