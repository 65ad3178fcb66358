// RUN: turbo-opt %s -split-input-file --convert-turbo-tiles-to-threads -verify-diagnostics

// griddepcontrol came with sm_90: an older target is refused, naming it.
module attributes {turbo.num_warps = 4 : i32, turbo.target = "sm_80"} {
  func.func @wait_on_ampere() attributes {turbo.kernel} {
    // expected-error @+2 {{needs sm_90 or newer (griddepcontrol); this kernel is for sm_80}}
    // expected-error @+1 {{failed to legalize operation 'turbo.wait_prior_grids'}}
    turbo.wait_prior_grids
    return
  }
}

// -----

module attributes {turbo.num_warps = 4 : i32, turbo.target = "sm_89"} {
  func.func @trigger_on_ada() attributes {turbo.kernel} {
    // expected-error @+2 {{needs sm_90 or newer (griddepcontrol); this kernel is for sm_89}}
    // expected-error @+1 {{failed to legalize operation 'turbo.launch_dependents'}}
    turbo.launch_dependents
    return
  }
}
