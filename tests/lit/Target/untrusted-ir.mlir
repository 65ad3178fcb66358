// turbo IR from outside is bounded before and after parsing: each input
// below is refused with a status and a message, never a crash or a compile
// without end (Inputs/ holds them; the nesting case is made here).
// RUN: not turbo-compile %S/Inputs/huge-tile.mlir 2>&1 | FileCheck %s --check-prefix=HUGE
// RUN: not turbo-compile %S/Inputs/bad-kernel-name.mlir 2>&1 | FileCheck %s --check-prefix=NAME
// RUN: not turbo-compile %S/Inputs/dynamic-tile.mlir 2>&1 | FileCheck %s --check-prefix=DYNAMIC
// RUN: not turbo-compile %S/Inputs/empty-tile.mlir 2>&1 | FileCheck %s --check-prefix=EMPTY
// RUN: not turbo-compile %S/Inputs/layout-registers.mlir 2>&1 | FileCheck %s --check-prefix=REGS
// RUN: not turbo-compile %S/Inputs/linear-registers.mlir 2>&1 | FileCheck %s --check-prefix=LINREGS
// RUN: not turbo-compile %S/Inputs/copy-registers.mlir 2>&1 | FileCheck %s --check-prefix=COPYREGS
// RUN: turbo-compile %S/../../fuzz/corpus/mlir/linear-layout --emit=ptx | FileCheck %s --check-prefix=LINEAR
// RUN: python3 -c "print('module {' + '(' * 100000 + ')' * 100000 + '}')" > %t.deep.mlir
// RUN: not turbo-compile %t.deep.mlir 2>&1 | FileCheck %s --check-prefix=DEEP

// HUGE: input is not acceptable turbo IR: turbo.load: 'tensor<4096x4096xf16>' at {{.*}}: more than 65536 elements in one tile
// NAME: input is not acceptable turbo IR: symbol 'bad name' {{.*}} names must be PTX identifiers
// DYNAMIC: input is not acceptable turbo IR: turbo.load: 'tensor<?x64xf16>' {{.*}} tile dims must be static and in [1, 4096]
// EMPTY: input is not acceptable turbo IR: turbo.load: 'tensor<0x64xf16>' {{.*}} tile dims must be static and in [1, 4096]
// DEEP: nesting deeper than 256 brackets or regions
// A layout written into the IR may repeat elements in a thread's registers
// (a basis that moves nothing): bounded by the registers, not the elements.
// REGS: input is not acceptable turbo IR: turbo.load: {{.*}}: its layout gives a thread 1048576 registers of the tile, more than 4096
// LINREGS: input is not acceptable turbo IR: turbo.load: {{.*}}: its layout gives a thread 1048576 registers of the tile, more than 4096
// COPYREGS: input is not acceptable turbo IR: turbo.async_copy: {{.*}}: a layout must give a thread at most 2^20 registers of a tile
// LINEAR: ld.global
// LINEAR: st.global
