// RUN: turbo-opt %s -split-input-file --turbo-pipeline-loads=stages=9 -verify-diagnostics

// The pass option is checked like the config's num_stages (ConfigAttr's
// verifier, tests/lit/Dialect/invalid.mlir).
module attributes {turbo.num_warps = 4 : i32} {
  // expected-error @+1 {{stages must be in [1, 8], got 9}}
  func.func @too_many(%n: i32) {
    return
  }
}
