// RUN: turbo-opt %s -split-input-file --turbo-pipeline-loads -verify-diagnostics

module attributes {turbo.num_warps = 4 : i32} {
  // expected-error @+1 {{num_stages must be in [1, 8], got 0}}
  func.func @no_stages(%n: i32) attributes {turbo.config = #turbo.config<{num_stages = 0 : i64}>} {
    return
  }
}

// -----

module attributes {turbo.num_warps = 4 : i32} {
  // expected-error @+1 {{num_stages must be in [1, 8], got 9}}
  func.func @too_many(%n: i32) attributes {turbo.config = #turbo.config<{num_stages = 9 : i64}>} {
    return
  }
}
