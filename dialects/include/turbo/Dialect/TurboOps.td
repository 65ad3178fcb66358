//===- TurboOps.td - turbo dialect operations --------------*- tablegen -*-===//
#ifndef TURBO_OPS_TD
#define TURBO_OPS_TD

include "turbo/Dialect/TurboBase.td"
include "turbo/Dialect/TurboTypes.td"
include "turbo/Dialect/TurboAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/CommonAttrConstraints.td"

def Turbo_Tile : RankedTensorOf<[AnyType]>;
def Turbo_IntTile : RankedTensorOf<[AnySignlessInteger]>;
def Turbo_FloatTile : RankedTensorOf<[AnyFloat]>;
def Turbo_Int8Tile : RankedTensorOf<[I8]>;
def Turbo_Dim : ConfinedAttr<I32Attr, [IntMinValue<0>, IntMaxValue<2>]>;

//===----------------------------------------------------------------------===//
// Grid queries
//===----------------------------------------------------------------------===//

def Turbo_ProgramIdOp : Turbo_Op<"program_id", [Pure]> {
  let summary = "index of this program (thread block) in the grid";
  let description = [{
    The block index along grid dimension `dim` (0 = x, 1 = y, 2 = z).

    Example: `%pid = turbo.program_id 0 : i32`
  }];
  let arguments = (ins Turbo_Dim:$dim);
  let results = (outs I32:$result);
  let assemblyFormat = "$dim attr-dict `:` type($result)";
}

def Turbo_NumProgramsOp : Turbo_Op<"num_programs", [Pure]> {
  let summary = "number of programs in the grid along a dimension";
  let description = [{
    Example: `%n = turbo.num_programs 0 : i32`
  }];
  let arguments = (ins Turbo_Dim:$dim);
  let results = (outs I32:$result);
  let assemblyFormat = "$dim attr-dict `:` type($result)";
}

def Turbo_WaitPriorGridsOp : Turbo_Op<"wait_prior_grids"> {
  let summary = "wait until the kernels launched before this one have finished";
  let description = [{
    Returns once the grids this program's grid was launched behind have
    finished and their writes are visible. A kernel that contains it may be
    launched while those grids still run (programmatic stream serialization,
    which the runtime asks for whenever a kernel contains this op): what it
    does before the op (addresses, its own inputs) overlaps their tail, and
    nothing an earlier kernel writes may be read before it. Launched the
    ordinary way it returns at once. Needs sm_90 or newer.

    Example: `turbo.wait_prior_grids`
  }];
  let assemblyFormat = "attr-dict";
}

def Turbo_LaunchDependentsOp : Turbo_Op<"launch_dependents"> {
  let summary = "let the next kernel start before this grid finishes";
  let description = [{
    Once every program of the grid has executed it (or exited), a kernel
    launched behind this one with programmatic stream serialization may be
    scheduled; it still waits (turbo.wait_prior_grids) for this grid to
    finish before it reads what this grid wrote. Without the op that happens
    only as programs exit. Needs sm_90 or newer.

    Example: `turbo.launch_dependents`
  }];
  let assemblyFormat = "attr-dict";
}

//===----------------------------------------------------------------------===//
// Tile construction and shape
//===----------------------------------------------------------------------===//

def Turbo_RangeOp : Turbo_Op<"range", [Pure]> {
  let summary = "1-D tile of consecutive integers";
  let description = [{
    `[start, start + 1, ..., end - 1]`; the result has `end - start`
    elements, a power of two.

    Example: `%r = turbo.range 0, 64 : tensor<64xi32>`
  }];
  let arguments = (ins I32Attr:$start, I32Attr:$end);
  let results = (outs RankedTensorOf<[I32]>:$result);
  let assemblyFormat = "$start `,` $end attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Turbo_SplatOp : Turbo_Op<"splat", [Pure,
    TypesMatchWith<"result element type matches the scalar", "result", "value",
                   "::llvm::cast<::mlir::RankedTensorType>($_self).getElementType()">]> {
  let summary = "tile with every element equal to a scalar";
  let description = [{
    Example: `%t = turbo.splat %x : tensor<64x128xf32>`
  }];
  let arguments = (ins AnyType:$value);
  let results = (outs Turbo_Tile:$result);
  let assemblyFormat = "$value attr-dict `:` type($result)";
}

def Turbo_ExpandDimsOp : Turbo_Op<"expand_dims", [Pure]> {
  let summary = "insert a dim of size 1";
  let description = [{
    Example: `%c = turbo.expand_dims %rowmax {axis = 1 : i32} : tensor<64xf32> -> tensor<64x1xf32>`
  }];
  let arguments = (ins Turbo_Tile:$src, I32Attr:$axis);
  let results = (outs Turbo_Tile:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def Turbo_BroadcastOp : Turbo_Op<"broadcast", [Pure, SameOperandsAndResultElementType]> {
  let summary = "repeat dims of size 1 to a larger shape";
  let description = [{
    Every dim of the source either equals the result's or is 1.

    Example: `%b = turbo.broadcast %c : tensor<64x1xf32> -> tensor<64x128xf32>`
  }];
  let arguments = (ins Turbo_Tile:$src);
  let results = (outs Turbo_Tile:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Turbo_TransOp : Turbo_Op<"trans", [Pure, SameOperandsAndResultElementType]> {
  let summary = "transpose a 2-D tile";
  let description = [{
    Example: `%kt = turbo.trans %k : tensor<64x128xi8> -> tensor<128x64xi8>`
  }];
  let arguments = (ins Turbo_Tile:$src);
  let results = (outs Turbo_Tile:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def Turbo_PermuteBitsOp : Turbo_Op<"permute_bits", [Pure, SameOperandsAndResultShape,
    SameOperandsAndResultElementType]> {
  let summary = "reorder a tile along one dim by permuting the bits of the index";
  let description = [{
    `result[.., k, ..] = src[.., p(k), ..]` along `axis`, where bit `j` of
    `k` (for `j < size(bits)`) becomes bit `bits[j]` of `p(k)` and higher
    bits stay. A product over a dim is unchanged when both factors are
    permuted alike, which lets an operand stay in the registers it was
    computed in: the prefill kernel permutes P's keys so that its mma
    accumulator registers are the next dot's A operand, and quantize_kv
    stores V with its keys permuted the same way; the KV cache stores its
    codes in the order of the mma fragments, which decode's permutation
    turns back into registers of the dot operand. Where source and result
    layouts allow, the lowering only relabels registers; otherwise the
    elements move through shared memory.

    Example: `%pp = turbo.permute_bits %p {axis = 1 : i32, bits = array<i32: 0, 3, 1, 2, 4>}
        : tensor<64x64xi8> -> tensor<64x64xi8>`
  }];
  let arguments = (ins Turbo_Tile:$src, I32Attr:$axis, DenseI32ArrayAttr:$bits);
  let results = (outs Turbo_Tile:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// p(k) for an index along the axis.
    int64_t sourceIndex(int64_t k);
  }];
}

def Turbo_ConvertLayoutOp : Turbo_Op<"convert_layout", [Pure, SameOperandsAndResultShape,
    SameOperandsAndResultElementType]> {
  let summary = "move a tile to another thread distribution";
  let description = [{
    Inserted by `turbo-assign-layouts` where a tile is produced in one layout
    and used in another; lowered through shared memory. Canonicalization
    drops a conversion of a conversion, and turns the conversion of a load
    used nowhere else into a load in the target layout when that is 1-D
    (reading a few elements twice from cache is cheaper than a trip through
    shared memory) or blocked (as coalesced as any).

    Example: `%y = turbo.convert_layout %x : tensor<64xf32, #a> -> tensor<64xf32, #b>`
  }];
  let arguments = (ins Turbo_Tile:$src);
  let results = (outs Turbo_Tile:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

def Turbo_AddPtrOp : Turbo_Op<"addptr", [Pure, AllTypesMatch<["base", "result"]>]> {
  let summary = "advance a pointer by a number of elements";
  let description = [{
    Example: `%q_head = turbo.addptr %q, %offset : !turbo.ptr<f16>, i64`
  }];
  let arguments = (ins Turbo_PtrType:$base, I64:$offset);
  let results = (outs Turbo_PtrType:$result);
  let assemblyFormat = "$base `,` $offset attr-dict `:` qualified(type($base)) `,` type($offset)";
}

def Turbo_LoadOp : Turbo_Op<"load", [AttrSizedOperandSegments,
    MemoryEffects<[MemRead]>]> {
  let summary = "load a tile from global memory, masked at the bounds";
  let description = [{
    Element `(i, j)` of the result is read from
    `base + (offsets[0] + i) * strides[0] + (offsets[1] + j)`: the innermost
    dim is contiguous, so `strides` lists only the outer dims. An element
    whose coordinate `offsets[d] + i_d` is not below `bounds[d]` is not read
    and holds `padding` (default zero). With no bounds (`bounds []`) every
    element is read unchecked: the caller guarantees the tile lies in
    memory it may read (a padded buffer, such as the attention kernel's K
    and V from quantize_kv, where the checks would cost four instructions
    per 16-byte copy). Rank 1 and 2 are supported.

    Example:
    ```mlir
    %x = turbo.load %ptr[%row0, %c0] strides [%ld] bounds [%rows, %c128]
        : !turbo.ptr<f16> -> tensor<64x128xf16>
    ```
  }];
  let arguments = (ins Turbo_PtrType:$base, Variadic<I32>:$offsets,
                   Variadic<I32>:$strides, Variadic<I32>:$bounds,
                   OptionalAttr<TypedAttrInterface>:$padding);
  let results = (outs Turbo_Tile:$result);
  let assemblyFormat = [{
    $base `[` $offsets `]` `strides` `[` $strides `]` `bounds` `[` $bounds `]`
    attr-dict `:` qualified(type($base)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Turbo_StoreOp : Turbo_Op<"store", [AttrSizedOperandSegments,
    MemoryEffects<[MemWrite]>]> {
  let summary = "store a tile to global memory, masked at the bounds";
  let description = [{
    The inverse of `turbo.load`: elements whose coordinates are out of
    `bounds` are not written (with no bounds, every element is).

    Example:
    ```mlir
    turbo.store %q, %out[%row0, %c0] strides [%ld] bounds [%rows, %c128]
        : tensor<64x128xi8>, !turbo.ptr<i8>
    ```
  }];
  let arguments = (ins Turbo_Tile:$value, Turbo_PtrType:$base, Variadic<I32>:$offsets,
                   Variadic<I32>:$strides, Variadic<I32>:$bounds);
  let assemblyFormat = [{
    $value `,` $base `[` $offsets `]` `strides` `[` $strides `]` `bounds` `[` $bounds `]`
    attr-dict `:` type($value) `,` qualified(type($base))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shared-memory staging (written by turbo-pipeline-loads)
//===----------------------------------------------------------------------===//

def Turbo_SharedBuffer : MemRefRankOf<[AnyType], [3]>;

def Turbo_AllocSharedOp : Turbo_Op<"alloc_shared"> {
  let summary = "a ring of tile buffers in shared memory";
  let description = [{
    `memref<S x R x C x T, 3>`: S slots, each an R x C tile of T, for the
    whole kernel. In shared memory a slot's rows are padded by 16 bytes so
    that eight consecutive rows start in eight different banks (ldmatrix and
    16-byte cp.async stay conflict-free): the pitch is
    `roundup(C * bytes, 16) + 16`, which the memref shape does not show.
    Slots that `wgmma` reads take the hardware's K-major swizzled layout
    instead (no padding). Every buffer lies before the scratch space that
    layout conversions and reductions use.

    Example: `%kbuf = turbo.alloc_shared : memref<2x64x128xi8, 3>`
  }];
  let results = (outs Turbo_SharedBuffer:$buffer);
  let assemblyFormat = "attr-dict `:` type($buffer)";
  let hasVerifier = 1;
}

def Turbo_AsyncCopyOp : Turbo_Op<"async_copy", [AttrSizedOperandSegments,
    MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "start copying a tile from global memory into a buffer slot";
  let description = [{
    Reads the tile that `turbo.load` with the same base, offsets, strides and
    bounds would read, and writes it to slot `slot` of `buffer` without
    passing through registers (cp.async). Elements out of bounds are written
    as zero; with no bounds the copies are unchecked. `layout` distributes
    the copy over the threads (each copies the elements it would hold in
    that layout, in groups of 4, 8 or 16 bytes: `cp.async.ca` / `.cg` with
    the source size set to 0 past the bounds; narrower groups go through
    registers).
    The copy joins the current group of copies; `turbo.async_commit` closes
    the group and `turbo.async_wait` waits for groups to land.

    Example:
    ```mlir
    turbo.async_copy %k[%n0, %c0] strides [%c128] bounds [%seq, %c128],
        %kbuf[%slot] {layout = #blocked} : !turbo.ptr<i8>, memref<2x64x128xi8, 3>
    ```
  }];
  let arguments = (ins Turbo_PtrType:$base, Variadic<I32>:$offsets,
                   Variadic<I32>:$strides, Variadic<I32>:$bounds,
                   Turbo_SharedBuffer:$buffer, I32:$slot, AnyAttr:$layout);
  let assemblyFormat = [{
    $base `[` $offsets `]` `strides` `[` $strides `]` `bounds` `[` $bounds `]` `,`
    $buffer `[` $slot `]` attr-dict `:` qualified(type($base)) `,` type($buffer)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The tile one slot holds, in the copy's layout.
    ::mlir::RankedTensorType getTileType();
  }];
}

def Turbo_AsyncCommitOp : Turbo_Op<"async_commit"> {
  let summary = "close the current group of asynchronous copies";
  let description = [{
    Every thread commits, also when it issued no copy since the last commit,
    so that group counts agree across the block.
    Example: `turbo.async_commit`
  }];
  let assemblyFormat = "attr-dict";
}

def Turbo_AsyncWaitOp : Turbo_Op<"async_wait"> {
  let summary = "wait until at most `pending` copy groups are in flight";
  let description = [{
    Then synchronizes the block, so that every thread sees the copies of the
    completed groups and no thread still reads a slot that a later copy may
    overwrite.
    Example: `turbo.async_wait {pending = 1 : i32}`
  }];
  let arguments = (ins ConfinedAttr<I32Attr, [IntMinValue<0>, IntMaxValue<7>]>:$pending);
  let assemblyFormat = "attr-dict";
}

def Turbo_SharedLoadOp : Turbo_Op<"shared_load", [MemoryEffects<[MemRead]>]> {
  let summary = "read a tile from a buffer slot into registers";
  let description = [{
    The result is slot `slot` of `buffer` (an R x C tile), or with
    `transpose` its C x R transpose, or for a 1-D result of length C the
    only row of a one-row slot, in the result's layout. Operand layouts
    of `turbo.dot` whose 32-bit registers are 4 consecutive bytes of a slot
    row, with lanes 0-1 stepping along the row's 16 bytes and lanes 2-4 down
    8 rows, load with `ldmatrix.x4` (x2, x1 for smaller tiles); others with
    vector loads along the row.

    Example:
    ```mlir
    %kt = turbo.shared_load %kbuf[%slot] {transpose}
        : memref<2x64x128xi8, 3> -> tensor<128x64xi8, #dot_op1>
    ```
  }];
  let arguments = (ins Turbo_SharedBuffer:$buffer, I32:$slot, UnitAttr:$transpose);
  let results = (outs Turbo_Tile:$result);
  let assemblyFormat = "$buffer `[` $slot `]` attr-dict `:` type($buffer) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

def Turbo_ReduceOp : Turbo_Op<"reduce", [Pure]> {
  let summary = "reduce a tile along one axis";
  let description = [{
    `max`, `min` and `sum` as named; `absmax` is the maximum of absolute
    values. The result drops dim `axis`: a 2-D tile gives a 1-D tile, a 1-D
    tile a scalar. Float max/min return NaN if any input is NaN; integer
    max/min are signed. The order in which a sum adds its terms is the
    lowering's (a tree: within a thread, then a butterfly across lanes,
    then across warps), so float sums differ from a sequential sum in the
    last bits. f16, bf16 and i8 reduce in 32 bits.

    Example: `%m = turbo.reduce max %s {axis = 1 : i32} : tensor<64x64xf32> -> tensor<64xf32>`
  }];
  let arguments = (ins Turbo_ReduceKindAttr:$kind, Turbo_Tile:$src, I32Attr:$axis);
  let results = (outs AnyType:$result);
  let assemblyFormat = "$kind $src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def Turbo_QuantizeOp : Turbo_Op<"quantize", [Pure]> {
  let summary = "quantize a float tile to integers with scales";
  let description = [{
    Symmetric (default), with `qmax = 2^(bits-1) - 1` and, for each group of
    elements that shares a scale (`granularity`: the whole tile, a row, or a
    column):

        amax  = max |x|                         (in f32)
        scale = amax / qmax
        q     = amax > 0 ? clamp(roundeven(x * (qmax / amax)), -qmax, qmax) : 0

    Asymmetric (`asymmetric`), with `L = 2^bits - 1`:

        lo = min x, hi = max x
        scale = (hi - lo) / L, zero = lo
        q = hi > lo ? clamp(roundeven((x - lo) * (L / (hi - lo))), 0, L) : 0

    and `q` is an unsigned code held in the low bits of an i8 (so `bits`
    is at most 8). Symmetric codes fill an integer of at least `bits` bits
    (`bits = 16`, qmax = 32767, needs an i16 result). Scale
    arithmetic is f32, round to nearest even, with no FMA contraction. The
    scale (and zero) result is f32: a scalar for `tile`, one value per row
    (`tensor<Mxf32>`) for `row`, one per column (`tensor<Nxf32>`) for
    `column`. Symmetric codes lie in `[-qmax, qmax]` (-128 never appears).
    `turbo-expand-quantization` rewrites this op into reductions and
    elementwise arithmetic; for finite `x` the symmetric clamp never binds
    (`|x| <= amax`), so it is left out and the GPU rounds and converts in
    one `cvt.rni.s32.f32` (a NaN product codes to 0).
    `turbo::numerics::SymmetricInt8` is the CPU form of the symmetric rule.

    Example:
    ```mlir
    %q, %s = turbo.quantize %x {bits = 8 : i32, granularity = #turbo.granularity<row>}
        : tensor<64x128xf16> -> tensor<64x128xi8>, tensor<64xf32>
    ```
  }];
  let arguments = (ins Turbo_FloatTile:$src, ConfinedAttr<I32Attr, [IntMinValue<2>, IntMaxValue<16>]>:$bits,
                   Turbo_GranularityAttr:$granularity, UnitAttr:$asymmetric);
  let results = (outs Turbo_IntTile:$result, AnyType:$scale, Optional<AnyType>:$zero);
  let assemblyFormat = [{
    $src attr-dict `:` type($src) `->` type($result) `,` type($scale) (`,` type($zero)^)?
  }];
  let hasVerifier = 1;
}

def Turbo_DequantizeOp : Turbo_Op<"dequantize", [Pure]> {
  let summary = "integers and scales back to floats";
  let description = [{
    The inverse of `turbo.quantize` for the same granularity:
    `x = q * scale` (symmetric, q signed) or `x = q * scale + zero`
    (asymmetric, q an unsigned code), computed in f32 and then converted to
    the result's element type.

    Example:
    ```mlir
    %x = turbo.dequantize %q, %s {granularity = #turbo.granularity<row>}
        : tensor<64x128xi8>, tensor<64xf32> -> tensor<64x128xf32>
    ```
  }];
  let arguments = (ins Turbo_Int8Tile:$src, AnyType:$scale, Optional<AnyType>:$zero,
                   Turbo_GranularityAttr:$granularity);
  let results = (outs Turbo_FloatTile:$result);
  let assemblyFormat = [{
    $src `,` $scale (`,` $zero^)? attr-dict `:` type($src) `,` type($scale) (`,` type($zero)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Turbo_RequantizeOp : Turbo_Op<"requantize", [Pure]> {
  let summary = "progressive INT8 -> INT4/INT2 with integer scale and zero";
  let description = [{
    FlashQ's storage stage. For each column c (channel) over the tile's rows
    (a block of tokens), with `L = 2^bits - 1`, in exact integer arithmetic:

        m = min_r q[r, c], M = max_r q[r, c]
        s = max(1, ceil((M - m) / L)),  z = m
        code = min(L, (q - z + s / 2) / s)      (floor division; q - z >= 0)

    Results: codes in `[0, L]` (i8), and per-column `s` and `z` (i32).
    `turbo.dequantize_int` inverts it: `q' = clamp(code * s + z, -128, 127)`,
    with `|q' - q| <= s / 2`.

    Example:
    ```mlir
    %c, %s, %z = turbo.requantize %k8 {bits = 4 : i32}
        : tensor<64x128xi8> -> tensor<64x128xi8>, tensor<128xi32>, tensor<128xi32>
    ```
  }];
  let arguments = (ins Turbo_Int8Tile:$src, ConfinedAttr<I32Attr, [IntMinValue<1>, IntMaxValue<7>]>:$bits);
  let results = (outs Turbo_Int8Tile:$codes, RankedTensorOf<[I32]>:$scale,
                  RankedTensorOf<[I32]>:$zero);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($codes) `,` type($scale) `,` type($zero)";
  let hasVerifier = 1;
}

def Turbo_DequantizeIntOp : Turbo_Op<"dequantize_int", [Pure]> {
  let summary = "INT4/INT2 codes back to INT8 with integer arithmetic";
  let description = [{
    `q = clamp(code * scale + zero, -128, 127)` per column, in i32, so the
    result feeds an INT8 `turbo.dot` directly.

    Example:
    ```mlir
    %k8 = turbo.dequantize_int %c, %s, %z
        : tensor<64x128xi8>, tensor<128xi32>, tensor<128xi32> -> tensor<64x128xi8>
    ```
  }];
  let arguments = (ins Turbo_Int8Tile:$codes, RankedTensorOf<[I32]>:$scale,
                   RankedTensorOf<[I32]>:$zero);
  let results = (outs Turbo_Int8Tile:$result);
  let assemblyFormat = "$codes `,` $scale `,` $zero attr-dict `:` type($codes) `,` type($scale) `,` type($zero) `->` type($result)";
  let hasVerifier = 1;
}

def Turbo_PackOp : Turbo_Op<"pack", [Pure]> {
  let summary = "pack sub-byte codes along the innermost dim into bytes";
  let description = [{
    Codes of `bits` (4 or 2) bits, each in `[0, 2^bits)`, are packed
    little-endian: byte `j` of a row holds codes `j*k .. j*k + k - 1`
    (`k = 8 / bits`), code `j*k + i` in bits `[i*bits, (i+1)*bits)`; codes
    are taken modulo `2^bits`. The layout pass gives the codes `k` times the
    bytes' consecutive elements per thread, so that each thread packs the
    bytes it holds; the lowering refuses layouts where that does not hold.

    Example: `%p = turbo.pack %c {bits = 4 : i32} : tensor<64x128xi8> -> tensor<64x64xi8>`
  }];
  let arguments = (ins Turbo_Int8Tile:$src, ConfinedAttr<I32Attr, [IntMinValue<1>, IntMaxValue<4>]>:$bits);
  let results = (outs Turbo_Int8Tile:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def Turbo_SplitWordsOp : Turbo_Op<"split_words", [Pure]> {
  let summary = "32-bit elements seen as twice as many 16-bit ones along the innermost dim";
  let description = [{
    Element `2i` of a row is the low half of word `i`, element `2i + 1` its
    high half (a little-endian reinterpretation, no arithmetic). Half
    values read from memory as words are then held as pairs, the form
    f16x2 instructions take, instead of one register each. As with
    turbo.unpack, the layout pass gives the result twice the source's
    consecutive elements per thread.

    Example: `%s = turbo.split_words %w : tensor<64xi32> -> tensor<128xf16>`
  }];
  let arguments = (ins RankedTensorOf<[I32]>:$src);
  let results = (outs RankedTensorOf<[F16, BF16, I16]>:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def Turbo_UnpackOp : Turbo_Op<"unpack", [Pure]> {
  let summary = "unpack bytes into sub-byte codes (inverse of turbo.pack)";
  let description = [{
    The source holds the codes little-endian: bytes, or 32-bit words (four
    bytes read at once; with a word source `bits` may also be 8). The result holds the codes as i8, or as their f16
    values (exact: 0 .. 2^bits - 1), which the lowering makes two at a time
    from a byte's bits placed in the mantissas of an f16 pair, with no
    integer-to-float conversion.

    Example: `%c = turbo.unpack %p {bits = 4 : i32} : tensor<64x16xi32> -> tensor<64x128xf16>`
  }];
  let arguments = (ins RankedTensorOf<[I8, I32]>:$src, ConfinedAttr<I32Attr, [IntMinValue<1>, IntMaxValue<8>]>:$bits);
  let results = (outs RankedTensorOf<[I8, F16]>:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Matrix product and SAS
//===----------------------------------------------------------------------===//

def Turbo_DotOp : Turbo_Op<"dot", [Pure, AllTypesMatch<["acc", "result"]>]> {
  let summary = "tile matrix product with accumulator";
  let description = [{
    `result = a * b + acc` for `a: MxK`, `b: KxN`, `acc: MxN`. Supported:
    i8 x i8 -> i32 (with `lhs_unsigned`, `a` holds unsigned codes 0..255),
    f16 x f16 -> f32 and bf16 x bf16 -> f32. Integer products are exact.
    Lowered to `mma.sync.aligned.m16n8k32` (8-bit) or `m16n8k16` (16-bit),
    row.col. With `wgmma = 1` in the kernel's `#turbo.config` (sm_90a only),
    an 8-bit dot whose `b` is a transposed `turbo.shared_load` of a staging
    buffer that nothing else reads becomes `wgmma.mma_async.m64nNk32` (one
    per 32 of K; `a` from registers in the same fragments, `b` read by the
    tensor cores from the slot, which then takes the hardware's K-major
    swizzle); the accumulator needs 16 rows per warp in warpgroups of 4
    warps. Other dots stay on mma.sync; a qualifying `b` of an unsupported
    shape is an error, and so is `wgmma = 1` when no dot qualifies.

    Example:
    ```mlir
    %s = turbo.dot %q8, %kt8, %zero : tensor<64x128xi8>, tensor<128x64xi8> -> tensor<64x64xi32>
    ```
  }];
  let arguments = (ins Turbo_Tile:$a, Turbo_Tile:$b, Turbo_Tile:$acc, UnitAttr:$lhs_unsigned);
  let results = (outs Turbo_Tile:$result);
  let assemblyFormat = "$a `,` $b `,` $acc attr-dict `:` type($a) `,` type($b) `->` type($result)";
  let hasVerifier = 1;
}

def Turbo_ExpPolyOp : Turbo_Op<"exp_poly", [Pure, SameOperandsAndResultShape]> {
  let summary = "SAS: sparse polynomial exp of a non-positive tile";
  let description = [{
    Computes `base^x` for a tile of `x <= 0` (scores after max subtraction),
    with `x` in units of the base: `base = 2` expects `x` already multiplied
    by `log2(e)` (the kernel folds it into the score scale), `base = e`
    takes natural units. With `t = max(min(-x, threshold), 0)` rounded to
    f16 and `t = n + f`, `n` the nearest integer (ties to even) and `f` in
    `[-1/2, 1/2]`:

        result = n >= threshold ? 0 : 2^scale_log2 * LUT[n] * P(f)

    where `LUT[n] = base^-n` (a `threshold`-entry table; for base 2 an
    exponent field, so the scaling is exact) and `P` is a polynomial of
    `degree` 0..3 approximating `base^-f` on `[-1/2, 1/2]`, evaluated by
    Horner with f16 FMAs (`fma.rn.f16`), not MUFU.EX2. Inputs above 0 are
    treated as 0; -inf and NaN give the threshold. `coefficients` (lowest
    order first, `degree + 1` of them) default to the least-squares fit of
    `base^-f` on `[-1/2, 1/2]` rounded to f16
    (`turbo::numerics::fitExpPolynomial`); `turbo::numerics::sasExp` is the
    bit-exact CPU form.

    `scale_log2` (0 by default, at most 14) multiplies the result by that
    power of two, exactly: it moves the results up the f16 range, so that a
    threshold past 14 still gives normal f16 values (a consumer takes
    `2^-scale_log2` into its own scale).

    With `clamp_only`, inputs at or past the threshold are only clamped:
    the result there is `2^scale_log2 * base^-threshold * P(0)`, not 0. It is for consumers
    that round such small values away anyway (the attention kernel's u8
    codes from a threshold of 12 on: `sasZeroingIsRoundedAway`), and saves
    the zeroing.

    Two lowerings give the same values (`turbo/Dialect/ExpPoly.h`). Base 2
    from f32 to f16, threshold - scale_log2 <= 14 and a polynomial within `[1/2, 2)` (the
    default fits are) is emitted per register pair in f16x2 by the
    tiles-to-threads conversion: `cvt.rn.relu.f16x2.f32` of `-x`, `min.f16x2`
    with the threshold, `t + 1024` (its low bits hold `n`), `f` by two f16x2
    subtractions, the Horner FMAs, `n - scale_log2` subtracted from both
    exponent fields at once, and a multiply by `fma.rn.sat.f16x2(n, -1, threshold)` (1 below
    the threshold, 0 from it): about 11 instructions per two values at
    degree 2, 9 with `clamp_only`. Everything else is expanded by
    `turbo-expand-exp-poly` into the same steps in f32 tile arithmetic.

    Example:
    ```mlir
    %p = turbo.exp_poly %s {degree = 3 : i32, threshold = 8 : i32}
        : tensor<64x64xf32> -> tensor<64x64xf16>
    ```
  }];
  let arguments = (ins Turbo_FloatTile:$src,
                   ConfinedAttr<I32Attr, [IntMinValue<0>, IntMaxValue<3>]>:$degree,
                   ConfinedAttr<I32Attr, [IntMinValue<1>, IntMaxValue<64>]>:$threshold,
                   DefaultValuedAttr<Turbo_ExpBaseAttr, "::mlir::turbo::ExpBase::Two">:$base,
                   OptionalAttr<F64ArrayAttr>:$coefficients,
                   UnitAttr:$clamp_only,
                   DefaultValuedAttr<ConfinedAttr<I32Attr, [IntMinValue<0>, IntMaxValue<14>]>,
                                     "0">:$scale_log2);
  let results = (outs Turbo_FloatTile:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

#endif // TURBO_OPS_TD
