// RUN: turbo-opt %s -split-input-file -verify-diagnostics

func.func @load_wrong_element(%p: !turbo.ptr<f16>, %i: i32) {
  // expected-error @+1 {{pointer element type 'f16' does not match tile element type 'f32'}}
  %t = turbo.load %p[%i, %i] strides [%i] bounds [%i, %i] : !turbo.ptr<f16> -> tensor<16x16xf32>
  return
}

// -----

func.func @load_missing_stride(%p: !turbo.ptr<f16>, %i: i32) {
  // expected-error @+1 {{needs a stride for each outer dim (1), got 0}}
  %t = turbo.load %p[%i, %i] strides [] bounds [%i, %i] : !turbo.ptr<f16> -> tensor<16x16xf16>
  return
}

// -----

func.func @load_offsets(%p: !turbo.ptr<f16>, %i: i32) {
  // expected-error @+1 {{needs one offset per tile dim and one bound per tile dim or none (2), got 1 and 2}}
  %t = turbo.load %p[%i] strides [%i] bounds [%i, %i] : !turbo.ptr<f16> -> tensor<16x16xf16>
  return
}

// -----

func.func @load_one_bound(%p: !turbo.ptr<f16>, %i: i32) {
  // expected-error @+1 {{needs one offset per tile dim and one bound per tile dim or none (2), got 2 and 1}}
  %t = turbo.load %p[%i, %i] strides [%i] bounds [%i] : !turbo.ptr<f16> -> tensor<16x16xf16>
  return
}

// -----

func.func @store_rank3(%p: !turbo.ptr<f16>, %t: tensor<2x2x2xf16>, %i: i32) {
  // expected-error @+1 {{supports tiles of rank 1 or 2, got rank 3}}
  turbo.store %t, %p[%i, %i, %i] strides [%i, %i] bounds [%i, %i, %i] : tensor<2x2x2xf16>, !turbo.ptr<f16>
  return
}

// -----

func.func @range_size() {
  // expected-error @+1 {{result must be a 1-D tile of 16 elements}}
  %r = turbo.range 0, 16 : tensor<32xi32>
  return
}

// -----

func.func @quantize_scale_shape(%x: tensor<64x128xf16>) {
  // expected-error @+1 {{scale must be tensor<64xf32> for row granularity}}
  %q, %s = turbo.quantize %x {bits = 8 : i32, granularity = #turbo.granularity<row>} : tensor<64x128xf16> -> tensor<64x128xi8>, tensor<128xf32>
  return
}

// -----

func.func @quantize_zero_point(%x: tensor<64x128xf16>) {
  // expected-error @+1 {{asymmetric quantization returns a zero point, symmetric does not}}
  %q, %s, %z = turbo.quantize %x {bits = 8 : i32, granularity = #turbo.granularity<row>} : tensor<64x128xf16> -> tensor<64x128xi8>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

func.func @quantize_bits(%x: tensor<64x128xf16>) {
  // expected-error @+1 {{attribute 'bits' failed to satisfy constraint}}
  %q, %s = turbo.quantize %x {bits = 17 : i32, granularity = #turbo.granularity<row>} : tensor<64x128xf16> -> tensor<64x128xi32>, tensor<64xf32>
  return
}

// -----

func.func @quantize_bits_wider_than_result(%x: tensor<64x128xf16>) {
  // expected-error @+1 {{9-bit symmetric codes do not fit an i8 result}}
  %q, %s = turbo.quantize %x {bits = 9 : i32, granularity = #turbo.granularity<row>} : tensor<64x128xf16> -> tensor<64x128xi8>, tensor<64xf32>
  return
}

// -----

func.func @quantize_asymmetric_wide(%x: tensor<64x128xf16>) {
  // expected-error @+1 {{16-bit asymmetric codes do not fit an i16 result (asymmetric codes are unsigned in an i8, at most 8 bits)}}
  %q, %s, %z = turbo.quantize %x {bits = 16 : i32, granularity = #turbo.granularity<row>, asymmetric} : tensor<64x128xf16> -> tensor<64x128xi16>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

func.func @requantize_channels(%x: tensor<64x128xi8>) {
  // expected-error @+1 {{scale and zero need one entry per column (128)}}
  %c, %s, %z = turbo.requantize %x {bits = 4 : i32} : tensor<64x128xi8> -> tensor<64x128xi8>, tensor<64xi32>, tensor<64xi32>
  return
}

// -----

func.func @pack_shape(%x: tensor<64x128xi8>) {
  // expected-error @+1 {{packed tile must have the innermost dim divided by 2}}
  %p = turbo.pack %x {bits = 4 : i32} : tensor<64x128xi8> -> tensor<64x32xi8>
  return
}

// -----

func.func @pack_bits(%x: tensor<64x128xi8>) {
  // expected-error @+1 {{packs 2- or 4-bit codes, got 3}}
  %p = turbo.pack %x {bits = 3 : i32} : tensor<64x128xi8> -> tensor<64x64xi8>
  return
}

// -----

func.func @unpack_bytes_8bit(%x: tensor<64x128xi8>) {
  // expected-error @+1 {{packs 2- or 4-bit codes, got 8}}
  %c = turbo.unpack %x {bits = 8 : i32} : tensor<64x128xi8> -> tensor<64x128xf16>
  return
}

// -----

func.func @unpack_words_shape(%x: tensor<64x16xi32>) {
  // expected-error @+1 {{packed tile must have the innermost dim divided by 8}}
  %c = turbo.unpack %x {bits = 4 : i32} : tensor<64x16xi32> -> tensor<64x64xf16>
  return
}

// -----

func.func @split_words_shape(%x: tensor<64xi32>) {
  // expected-error @+1 {{result must have the innermost dim doubled}}
  %h = turbo.split_words %x : tensor<64xi32> -> tensor<64xf16>
  return
}

// -----

func.func @dot_shapes(%a: tensor<64x32xi8>, %b: tensor<64x64xi8>, %c: tensor<64x64xi32>) {
  // expected-error @+1 {{shapes do not chain: 64x32 * 64x64 + 64x64}}
  %d = turbo.dot %a, %b, %c : tensor<64x32xi8>, tensor<64x64xi8> -> tensor<64x64xi32>
  return
}

// -----

func.func @dot_types(%a: tensor<64x32xi8>, %b: tensor<32x64xi8>, %c: tensor<64x64xf32>) {
  // expected-error @+1 {{supports i8 x i8 -> i32, f16 x f16 -> f32 and bf16 x bf16 -> f32}}
  %d = turbo.dot %a, %b, %c : tensor<64x32xi8>, tensor<32x64xi8> -> tensor<64x64xf32>
  return
}

// -----

func.func @dot_unsigned_f16(%a: tensor<64x32xf16>, %b: tensor<32x64xf16>, %c: tensor<64x64xf32>) {
  // expected-error @+1 {{lhs_unsigned applies to i8 products}}
  %d = turbo.dot %a, %b, %c {lhs_unsigned} : tensor<64x32xf16>, tensor<32x64xf16> -> tensor<64x64xf32>
  return
}

// -----

func.func @reduce_shape(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{result must be the source without dim 1}}
  %m = turbo.reduce max %x {axis = 1 : i32} : tensor<64x32xf32> -> tensor<32xf32>
  return
}

// -----

func.func @reduce_axis(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{axis 2 is out of range for a rank-2 tile}}
  %m = turbo.reduce max %x {axis = 2 : i32} : tensor<64x32xf32> -> tensor<64xf32>
  return
}

// -----

func.func @reduce_absmax_int(%x: tensor<64x32xi32>) {
  // expected-error @+1 {{absmax reduces float tiles}}
  %m = turbo.reduce absmax %x {axis = 1 : i32} : tensor<64x32xi32> -> tensor<64xi32>
  return
}

// -----

func.func @exp_poly_coefficients(%x: tensor<64x64xf32>) {
  // expected-error @+1 {{needs degree + 1 = 3 coefficients, got 2}}
  %e = turbo.exp_poly %x {degree = 2 : i32, threshold = 8 : i32, coefficients = [1.0, 0.5]} : tensor<64x64xf32> -> tensor<64x64xf16>
  return
}

// -----

func.func @exp_poly_degree(%x: tensor<64x64xf32>) {
  // expected-error @+1 {{attribute 'degree' failed to satisfy constraint}}
  %e = turbo.exp_poly %x {degree = 4 : i32, threshold = 8 : i32} : tensor<64x64xf32> -> tensor<64x64xf16>
  return
}

// -----

func.func @exp_poly_base_e_table(%x: tensor<64x64xf32>) {
  // expected-error @+1 {{base e keeps an explicit table of at most 16 entries}}
  %e = turbo.exp_poly %x {degree = 2 : i32, threshold = 20 : i32, base = #turbo.exp_base<e>} : tensor<64x64xf32> -> tensor<64x64xf16>
  return
}

// -----

func.func @expand_dims_shape(%x: tensor<64xf32>) {
  // expected-error @+1 {{result must be the source with a dim of 1 inserted at 0}}
  %e = turbo.expand_dims %x {axis = 0 : i32} : tensor<64xf32> -> tensor<64x1xf32>
  return
}

// -----

func.func @broadcast_shape(%x: tensor<64x2xf32>) {
  // expected-error @+1 {{each source dim must equal the result's or be 1}}
  %b = turbo.broadcast %x : tensor<64x2xf32> -> tensor<64x64xf32>
  return
}

// -----

func.func @trans_shape(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{transposes a 2-D tile: MxN -> NxM}}
  %t = turbo.trans %x : tensor<64x32xf32> -> tensor<64x32xf32>
  return
}

// -----

// expected-error @+1 {{'turbo.target' must be one of "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"}}
module attributes {turbo.target = "sm_70"} {
}

// -----

// expected-error @+1 {{'turbo.num_warps' must be an integer power of two in [1, 32]}}
module attributes {turbo.num_warps = 3 : i32} {
}

// -----

// expected-error @+1 {{'turbo.kernel' belongs on a func.func}}
module attributes {turbo.kernel} {
}

// -----

// expected-error @+1 {{'turbo.divisibility' of argument 0 must be a power of two}}
func.func @bad_divisibility(%p: !turbo.ptr<f16> {turbo.divisibility = 12 : i64}) {
  return
}

// -----

// expected-error @+1 {{#turbo.blocked threadsPerWarp must multiply to 32, got 16}}
func.func @blocked_lanes(%x: tensor<16xf32, #turbo.blocked<{sizePerThread = [1], threadsPerWarp = [16], warpsPerCTA = [4], order = [0]}>>) {
  return
}

// -----

// expected-error @+1 {{#turbo.blocked sizePerThread entries must be at most 2^20 and warpsPerCTA entries at most 32}}
func.func @blocked_warps(%x: tensor<16xf32, #turbo.blocked<{sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [2147483648], order = [0]}>>) {
  return
}

// -----

// expected-error @+1 {{#turbo.mma warpsPerCTA entries must be powers of two up to 32, got 0}}
func.func @mma_warps(%x: tensor<16x8xf32, #turbo.mma<{warpsPerCTA = [0, 1]}>>) {
  return
}

// -----

// expected-error @+1 {{#turbo.blocked needs 'order' as an array of integers}}
func.func @blocked_missing(%x: tensor<16xf32, #turbo.blocked<{sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [4]}>>) {
  return
}

// -----

// expected-error @+1 {{#turbo.linear needs exactly 5 lane bases, got 4}}
func.func @linear_lanes(%x: tensor<16xf32, #turbo.linear<{reg = [], lane = [[0, 1], [0, 2], [0, 4], [0, 8]], warp = []}>>) {
  return
}

// -----

// expected-error @+1 {{#turbo.linear basis values must be 0 or powers of two up to 2^30, got 3}}
func.func @linear_value(%x: tensor<16xf32, #turbo.linear<{reg = [[0, 3]], lane = [[0, 1], [0, 2], [0, 4], [0, 8], [0, 0]], warp = []}>>) {
  return
}

// -----

// expected-error @+1 {{#turbo.linear basis values must be 0 or powers of two up to 2^30, got 2147483648}}
func.func @linear_huge(%x: tensor<16xf32, #turbo.linear<{reg = [[0, 2147483648]], lane = [[0, 1], [0, 2], [0, 4], [0, 8], [0, 0]], warp = []}>>) {
  return
}

// -----

// expected-error @+1 {{#turbo.linear has at most 5 warp bases (32 warps), got 6}}
func.func @linear_warps(%x: tensor<16xf32, #turbo.linear<{reg = [], lane = [[0, 1], [0, 2], [0, 4], [0, 8], [0, 0]], warp = [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]]}>>) {
  return
}

// -----

// expected-error @+1 {{#turbo.linear supports rank 1 and 2, got a basis along dim 2}}
func.func @linear_rank(%x: tensor<16xf32, #turbo.linear<{reg = [[2, 1]], lane = [[0, 1], [0, 2], [0, 4], [0, 8], [0, 0]], warp = []}>>) {
  return
}

// -----

// expected-error @+1 {{#turbo.linear needs 'warp' as an array of [dim, value] pairs}}
func.func @linear_pairs(%x: tensor<16xf32, #turbo.linear<{reg = [], lane = [[0, 1], [0, 2], [0, 4], [0, 8], [0, 0]], warp = [[0, 16, 1]]}>>) {
  return
}

// -----

// expected-error @+1 {{config entry 'block_m' must be an integer}}
func.func @config_value() attributes {turbo.config = #turbo.config<{block_m = "big"}>} {
  return
}

// -----

func.func @alloc_global() {
  // expected-error @+1 {{buffer must live in shared memory (memory space 3)}}
  %b = turbo.alloc_shared : memref<2x64x128xi8>
  return
}

// -----

func.func @alloc_rank() {
  // expected-error @+1 {{must be 3D memref of any type values}}
  %b = turbo.alloc_shared : memref<64x128xi8, 3 : i32>
  return
}

// -----

func.func @copy_element(%p: !turbo.ptr<f16>, %i: i32, %b: memref<2x64x128xi8, 3 : i32>) {
  // expected-error @+1 {{pointer element type 'f16' does not match tile element type 'i8'}}
  turbo.async_copy %p[%i, %i] strides [%i] bounds [%i, %i], %b[%i] {layout = #turbo.blocked<{sizePerThread = [1, 16], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>} : !turbo.ptr<f16>, memref<2x64x128xi8, 3 : i32>
  return
}

// -----

func.func @shared_load_shape(%b: memref<2x64x128xi8, 3 : i32>, %i: i32) {
  // expected-error @+1 {{result shape must be the slot's transposed (128x64)}}
  %t = turbo.shared_load %b[%i] {transpose} : memref<2x64x128xi8, 3 : i32> -> tensor<64x128xi8>
  return
}

// -----

func.func @shared_load_element(%b: memref<2x64x128xi8, 3 : i32>, %i: i32) {
  // expected-error @+1 {{result element type 'f16' does not match buffer element type 'i8'}}
  %t = turbo.shared_load %b[%i] : memref<2x64x128xi8, 3 : i32> -> tensor<64x128xf16>
  return
}

// -----

func.func @wait_too_many() {
  // expected-error @+1 {{attribute 'pending' failed to satisfy constraint}}
  turbo.async_wait {pending = 9 : i32}
  return
}

// -----

func.func @permute_not_a_permutation(%p: tensor<64x64xi8>) {
  // expected-error @+1 {{bits must be a permutation of 0 .. 2}}
  %q = turbo.permute_bits %p {axis = 1 : i32, bits = array<i32: 0, 0, 1>} : tensor<64x64xi8> -> tensor<64x64xi8>
  return
}

// -----

func.func @permute_too_many_bits(%p: tensor<64x16xi8>) {
  // expected-error @+1 {{dim 1 (16) must be a multiple of 2^5}}
  %q = turbo.permute_bits %p {axis = 1 : i32, bits = array<i32: 0, 3, 1, 2, 4>} : tensor<64x16xi8> -> tensor<64x16xi8>
  return
}

// -----

func.func @permute_axis(%p: tensor<64xi8>) {
  // expected-error @+1 {{axis 1 is not a dim of a rank-1 tile}}
  %q = turbo.permute_bits %p {axis = 1 : i32, bits = array<i32: 0>} : tensor<64xi8> -> tensor<64xi8>
  return
}

// -----

module attributes {turbo.num_warps = 4 : i32} {
  // expected-error @+1 {{num_stages must be in [1, 8], got 0}}
  func.func @no_stages(%n: i32) attributes {turbo.config = #turbo.config<{num_stages = 0 : i64}>} {
    return
  }
}

// -----

module attributes {turbo.num_warps = 4 : i32} {
  // expected-error @+1 {{num_stages must be in [1, 8], got 9}}
  func.func @too_many_stages(%n: i32) attributes {turbo.config = #turbo.config<{num_stages = 9 : i64}>} {
    return
  }
}

// -----

module attributes {turbo.num_warps = 4 : i32} {
  // expected-error @+1 {{wgmma must be 0 or 1, got 2}}
  func.func @wgmma_two(%n: i32) attributes {turbo.config = #turbo.config<{wgmma = 2 : i64}>} {
    return
  }
}

// -----

module attributes {turbo.num_warps = 4 : i32} {
  // expected-error @+1 {{min_blocks_per_sm must be >= 0, got -1}}
  func.func @negative_blocks(%n: i32) attributes {turbo.config = #turbo.config<{min_blocks_per_sm = -1 : i64}>} {
    return
  }
}
