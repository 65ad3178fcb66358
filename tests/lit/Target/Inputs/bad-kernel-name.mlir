module attributes {turbo.num_warps = 4 : i32, turbo.target = "sm_90a"} {
  func.func @"bad name"(%p: !turbo.ptr<f16>) attributes {turbo.kernel} {
    %c0 = arith.constant 0 : i32
    %x = turbo.load %p[%c0, %c0] strides [%c0] bounds [] : !turbo.ptr<f16> -> tensor<16x64xf16>
    turbo.store %x, %p[%c0, %c0] strides [%c0] bounds [] : tensor<16x64xf16>, !turbo.ptr<f16>
    return
  }
}
