module attributes {turbo.num_warps = 4 : i32, turbo.target = "sm_90a"} {
  func.func @k(%p: !turbo.ptr<f32>) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %x = turbo.load %p[%c0] strides [] bounds [] : !turbo.ptr<f32> -> tensor<16xf32, #turbo.blocked<{sizePerThread = [1048576], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]}>>
    turbo.store %x, %p[%c0] strides [] bounds [] : tensor<16xf32, #turbo.blocked<{sizePerThread = [1048576], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]}>>, !turbo.ptr<f32>
    return
  }
}
