// RUN: turbo-opt %s -split-input-file --turbo-expand-exp-poly | FileCheck %s

// Base 2, degree 2, f32 result: t = max(min(-x, T), 0) rounded to f16,
// split into n + f with n = t rounded to nearest (adding 1.5 * 2^23: the
// sum's bits hold n plus a bias, no float-to-int conversion); Horner in f16
// (two FMAs); 2^-n built as an exponent field; exact zero from the
// threshold on. No exp2 anywhere.
// CHECK-LABEL: func.func @base2
// CHECK-DAG: %[[T:.*]] = arith.constant dense<8.000000e+00> : tensor<16x64xf32>
// CHECK-DAG: %[[TI:.*]] = arith.constant dense<8> : tensor<16x64xi32>
// CHECK-DAG: %[[MAGIC:.*]] = arith.constant dense<0x4B400000> : tensor<16x64xf32>
// CHECK-DAG: %[[MAGICBITS:.*]] = arith.constant dense<1262485504> : tensor<16x64xi32>
// CHECK-DAG: %[[SHIFT:.*]] = arith.constant dense<23> : tensor<16x64xi32>
// CHECK: %[[NEG:.*]] = arith.negf %{{.*}} : tensor<16x64xf32>
// CHECK: %[[CLAMPED:.*]] = arith.minnumf %[[NEG]], %[[T]]
// CHECK: %[[POS:.*]] = arith.maxnumf %[[CLAMPED]], %{{.*}}
// CHECK: %[[T16:.*]] = arith.truncf %[[POS]] : tensor<16x64xf32> to tensor<16x64xf16>
// CHECK: %[[TR:.*]] = arith.extf %[[T16]]
// CHECK-NOT: arith.fptosi
// CHECK: %[[SUM:.*]] = arith.addf %[[TR]], %[[MAGIC]] : tensor<16x64xf32>
// CHECK: %[[WHOLE:.*]] = arith.subf %[[SUM]], %[[MAGIC]] : tensor<16x64xf32>
// CHECK: %[[BITS:.*]] = arith.bitcast %[[SUM]] : tensor<16x64xf32> to tensor<16x64xi32>
// CHECK: %[[N:.*]] = arith.subi %[[BITS]], %[[MAGICBITS]]
// CHECK: %[[FRAC:.*]] = arith.subf %[[TR]], %[[WHOLE]]
// CHECK: %[[F16:.*]] = arith.truncf %[[FRAC]] : tensor<16x64xf32> to tensor<16x64xf16>
// CHECK-NOT: math.floor
// CHECK: %[[P1:.*]] = math.fma %{{.*}}, %[[F16]], %{{.*}} : tensor<16x64xf16>
// CHECK: %[[P2:.*]] = math.fma %[[P1]], %[[F16]], %{{.*}} : tensor<16x64xf16>
// CHECK-NOT: math.fma
// CHECK: %[[P32:.*]] = arith.extf %[[P2]]
// CHECK: %[[NSHIFT:.*]] = arith.shli %[[N]], %[[SHIFT]]
// CHECK: %[[PBITS:.*]] = arith.bitcast %[[P32]] : tensor<16x64xf32> to tensor<16x64xi32>
// CHECK: %[[VBITS:.*]] = arith.subi %[[PBITS]], %[[NSHIFT]]
// CHECK: %[[V:.*]] = arith.bitcast %[[VBITS]] : tensor<16x64xi32> to tensor<16x64xf32>
// CHECK: %[[BEYOND:.*]] = arith.cmpi sge, %[[N]], %[[TI]]
// CHECK: arith.select %[[BEYOND]], %{{.*}}, %[[V]]
// CHECK-NOT: math.exp2
// CHECK-NOT: math.exp
func.func @base2(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %e = turbo.exp_poly %x {degree = 2 : i32, threshold = 8 : i32} : tensor<16x64xf32> -> tensor<16x64xf32>
  return %e : tensor<16x64xf32>
}

// -----

// Base 2 from f32 to f16 with threshold - scale_log2 <= 14: the pair form,
// left for the tiles-to-threads conversion. Threshold 15 (without a scale)
// or an f32 source is expanded.
// CHECK-LABEL: func.func @pairs
// CHECK: turbo.exp_poly %{{.*}} {degree = 3 : i32, threshold = 14 : i32}
// CHECK: turbo.exp_poly %{{.*}} {degree = 3 : i32, scale_log2 = 10 : i32, threshold = 24 : i32}
// CHECK-LABEL: func.func @not_pairs
// CHECK-NOT: turbo.exp_poly
// CHECK: math.fma
func.func @pairs(%x: tensor<16x64xf32>) -> (tensor<16x64xf16>, tensor<16x64xf16>) {
  %e = turbo.exp_poly %x {degree = 3 : i32, threshold = 14 : i32} : tensor<16x64xf32> -> tensor<16x64xf16>
  %s = turbo.exp_poly %x {degree = 3 : i32, threshold = 24 : i32, scale_log2 = 10 : i32} : tensor<16x64xf32> -> tensor<16x64xf16>
  return %e, %s : tensor<16x64xf16>, tensor<16x64xf16>
}
func.func @not_pairs(%x: tensor<16x64xf32>, %h: tensor<16x64xf16>) -> (tensor<16x64xf16>, tensor<16x64xf16>) {
  %e = turbo.exp_poly %x {degree = 3 : i32, threshold = 15 : i32} : tensor<16x64xf32> -> tensor<16x64xf16>
  %f = turbo.exp_poly %h {degree = 3 : i32, threshold = 8 : i32} : tensor<16x64xf16> -> tensor<16x64xf16>
  return %e, %f : tensor<16x64xf16>, tensor<16x64xf16>
}

// -----

// Given coefficients are used (rounded to f16); base e selects over an
// explicit table of e^-n for n < threshold.
// CHECK-LABEL: func.func @base_e
// CHECK-DAG: arith.constant dense<1.000000e+00> : tensor<16x64xf16>
// CHECK-DAG: arith.constant dense<-6.250000e-01> : tensor<16x64xf16>
// CHECK-DAG: arith.constant dense<0.36787945> : tensor<16x64xf32>
// CHECK-DAG: arith.constant dense<0.135335281> : tensor<16x64xf32>
// CHECK: math.fma
// CHECK-NOT: math.fma
// CHECK: arith.cmpi eq
// CHECK: arith.select
// CHECK: arith.cmpi eq
// CHECK: arith.select
// CHECK: arith.cmpi sge
func.func @base_e(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %e = turbo.exp_poly %x {degree = 1 : i32, threshold = 3 : i32, base = #turbo.exp_base<e>, coefficients = [1.0, -0.625]} : tensor<16x64xf32> -> tensor<16x64xf32>
  return %e : tensor<16x64xf32>
}

// -----

// Degree 0: a constant times the table entry, no FMA.
// CHECK-LABEL: func.func @degree0
// CHECK-NOT: math.fma
// CHECK: arith.bitcast
func.func @degree0(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %e = turbo.exp_poly %x {degree = 0 : i32, threshold = 4 : i32} : tensor<16x64xf32> -> tensor<16x64xf32>
  return %e : tensor<16x64xf32>
}

// -----

// Given coefficients whose polynomial comes near zero on [-1/2, 1/2]: 2^-n is
// built as a float and multiplied (the exponent-field shortcut would not be
// exact there).
// CHECK-LABEL: func.func @base2_small_polynomial
// CHECK: arith.mulf %{{.*}}, %{{.*}} : tensor<16x64xf32>
func.func @base2_small_polynomial(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %e = turbo.exp_poly %x {degree = 1 : i32, threshold = 8 : i32, coefficients = [0.5, 1.0]} : tensor<16x64xf32> -> tensor<16x64xf32>
  return %e : tensor<16x64xf32>
}

// -----

// clamp_only: no zeroing from the threshold on (no compare, no select); base
// e takes the table entry for n = threshold as well (the clamp reaches it).
// CHECK-LABEL: func.func @clamp_only
// CHECK-NOT: arith.cmpi sge
// CHECK-NOT: arith.select
// CHECK: return
// CHECK-LABEL: func.func @clamp_only_base_e
// CHECK-DAG: arith.constant dense<3> : tensor<16x64xi32>
// CHECK-DAG: arith.constant dense<0.0497870{{[0-9]*}}> : tensor<16x64xf32>
// CHECK-NOT: arith.cmpi sge
// CHECK: return
func.func @clamp_only(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %e = turbo.exp_poly %x {degree = 2 : i32, threshold = 8 : i32, clamp_only} : tensor<16x64xf32> -> tensor<16x64xf32>
  return %e : tensor<16x64xf32>
}
func.func @clamp_only_base_e(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %e = turbo.exp_poly %x {degree = 1 : i32, threshold = 3 : i32, base = #turbo.exp_base<e>, clamp_only} : tensor<16x64xf32> -> tensor<16x64xf32>
  return %e : tensor<16x64xf32>
}

// -----

// scale_log2 in the expansion: the exponent field drops by n - scale_log2
// (base 2), the table's product is multiplied by 2^scale_log2 (base e);
// the zeroing still compares n with the threshold.
// CHECK-LABEL: func.func @scaled
// CHECK-DAG: %[[S:.*]] = arith.constant dense<3> : tensor<16x64xi32>
// CHECK-DAG: %[[TI:.*]] = arith.constant dense<20> : tensor<16x64xi32>
// CHECK: %[[DROP:.*]] = arith.subi %[[N:.*]], %[[S]]
// CHECK: arith.shli %[[DROP]]
// CHECK: arith.cmpi sge, %[[N]], %[[TI]]
// CHECK-LABEL: func.func @scaled_e
// CHECK-DAG: %[[EIGHT:.*]] = arith.constant dense<8.000000e+00> : tensor<16x64xf32>
// CHECK: arith.mulf
// CHECK: arith.mulf %{{.*}}, %[[EIGHT]]
// CHECK: arith.cmpi sge
func.func @scaled(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %e = turbo.exp_poly %x {degree = 2 : i32, threshold = 20 : i32, scale_log2 = 3 : i32} : tensor<16x64xf32> -> tensor<16x64xf32>
  return %e : tensor<16x64xf32>
}
func.func @scaled_e(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %e = turbo.exp_poly %x {degree = 1 : i32, threshold = 3 : i32, base = #turbo.exp_base<e>, scale_log2 = 3 : i32} : tensor<16x64xf32> -> tensor<16x64xf32>
  return %e : tensor<16x64xf32>
}
