// turbo-tune without a GPU: the space, the database, and its errors.
// RUN: turbo-tune --kernel=attention_decode --kv-bits=4 --dry-run | FileCheck %s --check-prefix=DECODE
// RUN: not turbo-tune --kernel=nope --dry-run 2>&1 | FileCheck %s --check-prefix=BADKERNEL
// RUN: not turbo-tune --kernel=attention_prefill --kv-bits=2 --dry-run 2>&1 | FileCheck %s --check-prefix=KVBITS
// RUN: env TURBO_LIBCUDA=/nonexistent/libcuda.so.1 not turbo-tune --kv-bits=4 2>&1 | FileCheck %s --check-prefix=NOGPU
// RUN: not turbo-tune --kernel=attention_prefill --inputs=normal,bogus 2>&1 | FileCheck %s --check-prefix=BADINPUT
// RUN: not turbo-tune --kernel=attention_prefill --inputs=tail:6 2>&1 | FileCheck %s --check-prefix=TAIL
// RUN: not turbo-tune --kernel=attention_prefill --inputs=peaked:3 2>&1 | FileCheck %s --check-prefix=NUMBER
// RUN: not turbo-tune --kernel=attention_decode --inputs=normal 2>&1 | FileCheck %s --check-prefix=DECODEINPUT
// RUN: rm -f %t.json && turbo-tune --show --db=%t.json | FileCheck %s --check-prefix=EMPTY
// RUN: echo '{"format": "turbo-tuning", "version": 1, "records": [' > %t.bad.json
// RUN: not turbo-tune --show --db=%t.bad.json 2>&1 | FileCheck %s --check-prefix=DAMAGED
// RUN: echo '{"format": "turbo-tuning", "version": 1, "records": [{"template": "attention_decode", "head": "h", "shape": "batch=1,context=4096", "gpu": "G", "target": "sm_90a", "codegen": "c", "config": "num_warps=4,prefetch=2", "us": 30.5, "default_us": 31.0, "date": "2026-12-06"}]}' > %t.one.json
// RUN: turbo-tune --show --db=%t.one.json | FileCheck %s --check-prefix=ONE

// DECODE: attention_decode for q_heads=32,kv_heads=8,head_dim=128,dtype=f16,causal=0,kv_bits=4 (batch 1 x context 4096), sm_90a on (dry run, no GPU): 24 points
// DECODE: num_warps=4,prefetch=0,min_blocks_per_sm=0,reduce_splits_per_step=8
// DECODE-SAME: kept
// DECODE: num_warps=4,prefetch=2,min_blocks_per_sm=0,reduce_splits_per_step=8 (defaults)
// DECODE: num_warps=8,prefetch=2,min_blocks_per_sm=0,reduce_splits_per_step=8
// BADKERNEL: turbo-tune: --kernel must be attention_decode or attention_prefill
// KVBITS: --kv-bits
// NOGPU: timing needs a GPU (--dry-run lists the space)
// BADINPUT: turbo-tune: --inputs: unknown input kind 'bogus'
// TAIL: turbo-tune: --inputs: input kind 'tail:6' is measured causal: it needs --causal
// NUMBER: only sink and tail take a number
// DECODEINPUT: --inputs is for --kernel=attention_prefill
// EMPTY: 0 records
// DAMAGED: tuning database: not JSON
// ONE: 1 records
// ONE: attention_decode [h] batch=1,context=4096 on G (sm_90a): num_warps=4,prefetch=2 -> 30.5 us (defaults 31.0 us)
