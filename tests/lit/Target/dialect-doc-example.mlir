// The example kernel in docs/dialect.md compiles to PTX (the docs stay true).
// RUN: sed -n '/^```mlir$/,/^```$/p' %S/../../../docs/dialect.md | sed '1d;$d' \
// RUN:   | turbo-compile - --emit=ptx | FileCheck %s

// CHECK: .entry quantize_rows(
// CHECK: cvt.rni.s32.f32
// CHECK: st.global
