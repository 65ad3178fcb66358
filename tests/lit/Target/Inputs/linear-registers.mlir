module attributes {turbo.num_warps = 4 : i32, turbo.target = "sm_90a"} {
  func.func @k(%p: !turbo.ptr<f32>) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %x = turbo.load %p[%c0] strides [] bounds [] : !turbo.ptr<f32> -> tensor<16xf32, #turbo.linear<{reg = [[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0]], lane = [[0,1],[0,2],[0,4],[0,8],[0,0]], warp = [[0,0],[0,0]]}>>
    turbo.store %x, %p[%c0] strides [] bounds [] : tensor<16xf32, #turbo.linear<{reg = [[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0],[0,0]], lane = [[0,1],[0,2],[0,4],[0,8],[0,0]], warp = [[0,0],[0,0]]}>>, !turbo.ptr<f32>
    return
  }
}
