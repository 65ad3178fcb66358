module attributes {turbo.num_warps = 4 : i32, turbo.target = "sm_90a"} {
  func.func @k(%k: !turbo.ptr<i8>) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %c128 = arith.constant 128 : i32
    %buf = turbo.alloc_shared : memref<2x64x128xi8, 3 : i32>
    turbo.async_copy %k[%c0, %c0] strides [%c128] bounds [], %buf[%c0] {layout = #turbo.blocked<{sizePerThread = [1, 1048576], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>} : !turbo.ptr<i8>, memref<2x64x128xi8, 3 : i32>
    return
  }
}
