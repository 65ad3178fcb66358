/*===- turbo.h - the turbo C API -------------------------------------------===
 *
 * JIT-compiled quantized attention kernels for NVIDIA GPUs.
 *
 * Conventions:
 *  - Every function returns a turbo_status; on failure turbo_last_error()
 *    gives a message for the calling thread. Nothing throws or aborts.
 *  - Handles are opaque. Structs passed in start with `struct_size`, set by
 *    the caller (the *_init functions do it) so that fields can be added
 *    later without breaking callers built against an older header.
 *  - Strings that turbo returns through `char **` are freed with turbo_free.
 *  - Device pointers are CUdeviceptr values (uint64_t); streams are CUstream
 *    values passed as `void *` (NULL: the legacy default stream).
 *===-----------------------------------------------------------------------===*/
#ifndef TURBO_H
#define TURBO_H

#include <stddef.h>
#include <stdint.h>

#if defined(TURBO_BUILDING_LIBRARY)
#define TURBO_API __attribute__((visibility("default")))
#else
#define TURBO_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum turbo_status {
  TURBO_STATUS_OK = 0,
  TURBO_STATUS_INVALID_ARGUMENT = 1,
  TURBO_STATUS_NO_DRIVER = 2,       /* libcuda.so.1 could not be loaded */
  TURBO_STATUS_NO_DEVICE = 3,       /* a driver, but no usable GPU */
  TURBO_STATUS_CUDA_ERROR = 4,      /* a driver call failed; the message names it */
  TURBO_STATUS_COMPILE_ERROR = 5,
  TURBO_STATUS_UNSUPPORTED = 6,     /* valid, but not on this GPU or configuration */
  TURBO_STATUS_NOT_IMPLEMENTED = 7,
  TURBO_STATUS_OUT_OF_MEMORY = 8,
  TURBO_STATUS_CACHE_ERROR = 9,
  TURBO_STATUS_INTERNAL_ERROR = 10
} turbo_status;

/* ---- Library ------------------------------------------------------------ */

/* "0.1.0" */
TURBO_API const char *turbo_version(void);
/* The version plus a digest of the code generator's sources
 * ("0.1.0+codegen.1a2b3c4d..."): kernel cache keys and tuning records carry
 * it, so a build that generates other code inherits neither. */
TURBO_API const char *turbo_codegen_version(void);
/* The LLVM/MLIR version the compiler inside was built with ("22.1.8"). */
TURBO_API const char *turbo_llvm_version(void);
/* A short name for a status ("invalid argument"). */
TURBO_API const char *turbo_status_string(turbo_status status);
/* The message of the last failed call on this thread ("" if none); calls
 * that succeed leave it as it is. */
TURBO_API const char *turbo_last_error(void);
/* Frees a string or buffer turbo returned. NULL is fine. */
TURBO_API void turbo_free(void *pointer);

/* ---- Head configurations ------------------------------------------------ */

typedef enum turbo_dtype { TURBO_DTYPE_F16 = 0, TURBO_DTYPE_BF16 = 1 } turbo_dtype;

typedef struct turbo_head_config {
  size_t struct_size; /* sizeof(turbo_head_config) */
  int q_heads;        /* default 32 */
  int kv_heads;       /* default 8; q_heads must be a multiple */
  int head_dim;       /* 64, 96, 128 (default) or 256 */
  turbo_dtype dtype;  /* default f16 */
  int causal;         /* 0 (default) or 1 */
  int kv_bits;        /* KV cache storage: 8 (default), 4, 2, or 0 for mixed 4/2 */
  const char *target; /* "sm_80" ... "sm_90a"; NULL: sm_90a when compiling
                         offline, the device's own on a context */
} turbo_head_config;

/* Defaults as listed above. */
TURBO_API void turbo_head_config_init(turbo_head_config *head);
/* Sets q_heads, kv_heads and head_dim from a model preset: llama3-8b,
 * llama3-70b, qwen2-7b, phi3-mini, mistral-7b. */
TURBO_API turbo_status turbo_head_config_preset(turbo_head_config *head, const char *preset);
/* The preset names, comma separated. */
TURBO_API turbo_status turbo_list_presets(char **names);

/* ---- Compiling (no GPU needed) ------------------------------------------ */

/* The kernel templates, comma separated ("quantize_rows,..."). */
TURBO_API turbo_status turbo_list_templates(char **names);

/* Builds template `template_name` for head configuration `head` (NULL:
 * defaults; it sets e.g. the head dim and dtype) with `config` overrides
 * ("key=value,...", NULL or "" for none) and returns the text of pipeline
 * stage `stage` ("turbo", "specialized", "layouts", "pipelined", "nvvm",
 * "llvm", "ptx") in *text. */
TURBO_API turbo_status turbo_compile_template(const char *template_name,
                                              const turbo_head_config *head, const char *config,
                                              const char *stage, char **text);

/* Lowers turbo IR given as MLIR text to `stage`. */
TURBO_API turbo_status turbo_compile_mlir(const char *mlir, const char *stage, char **text);

/* ---- Contexts ----------------------------------------------------------- */

typedef struct turbo_context turbo_context;

typedef struct turbo_context_desc {
  size_t struct_size; /* sizeof(turbo_context_desc) */
  int device_index;   /* CUDA device ordinal; default 0 */
} turbo_context_desc;

TURBO_API void turbo_context_desc_init(turbo_context_desc *desc);

/* The number of CUDA devices (TURBO_STATUS_NO_DRIVER without a driver). */
TURBO_API turbo_status turbo_device_count(int *count);

/* Opens a GPU. Uses the calling thread's current CUDA context when it is on
 * that device (an engine's own), else the device's primary context.
 * desc may be NULL for defaults. */
TURBO_API turbo_status turbo_context_create(const turbo_context_desc *desc,
                                            turbo_context **context);
/* Kernels and plans created on a context keep its GPU context alive (the
 * device's primary context, which the CUDA runtime and torch use, is
 * retained): they may be destroyed before or after it. A context the caller
 * created with cuCtxCreate cannot be retained through the driver API: it
 * must outlive every turbo object made on it. Device memory allocated
 * through a turbo context must be freed before it is destroyed. Each
 * kernel's module is unloaded when the last kernel or plan using it is
 * destroyed. */
TURBO_API turbo_status turbo_context_destroy(turbo_context *context);

typedef struct turbo_device_info {
  size_t struct_size; /* sizeof(turbo_device_info) */
  char name[128];
  char target[16];    /* "sm_90a" */
  int compute_major, compute_minor;
  int multiprocessors;
  int max_shared_per_block; /* bytes a kernel may opt in to */
  uint64_t total_memory;
} turbo_device_info;

TURBO_API turbo_status turbo_context_device_info(const turbo_context *context,
                                                 turbo_device_info *info);

/* ---- Kernels (low level: any template, raw arguments) ------------------- */

typedef struct turbo_kernel turbo_kernel;

/* JIT-compiles template `template_name` for `head` (NULL: defaults) with
 * `config` overrides for the context's GPU and loads it. */
TURBO_API turbo_status turbo_kernel_create(turbo_context *context, const char *template_name,
                                           const turbo_head_config *head, const char *config,
                                           turbo_kernel **kernel);
/* JIT-compiles a kernel written directly in turbo IR (MLIR text with one
 * func.func marked turbo.kernel; see docs/dialect.md) and loads it. The
 * module's turbo.target must suit the context's GPU. */
TURBO_API turbo_status turbo_kernel_create_from_mlir(turbo_context *context, const char *mlir,
                                                     turbo_kernel **kernel);
TURBO_API turbo_status turbo_kernel_destroy(turbo_kernel *kernel);

typedef struct turbo_kernel_info {
  size_t struct_size;   /* sizeof(turbo_kernel_info) */
  const char *name;     /* entry point; valid while the kernel lives */
  const char *config;   /* canonical "key=value,..." */
  const char *target;
  const char *ptx;
  unsigned num_threads; /* per block */
  int64_t shared_bytes; /* dynamic shared memory per block */
  int registers;        /* per thread, from the driver */
  int local_bytes;      /* per thread (spills), from the driver */
  size_t num_params;
  size_t cubin_bytes;   /* the cubin ptxas made beside the PTX (0: none, no ptxas) */
  int from_cubin;       /* 1: loaded from that cubin; 0: the driver JIT-compiled the PTX */
  const char *param_names; /* the kernel's arguments, comma separated, in launch order
                              ("x,q,scales,..."); "" for kernels from turbo IR */
  int programmatic_launch; /* 1: it waits in-kernel for the kernels before it on its
                              stream before it reads their results, and is launched with
                              programmatic stream serialization (it may start while they
                              finish; sm_90 and up) */
} turbo_kernel_info;

TURBO_API turbo_status turbo_kernel_get_info(const turbo_kernel *kernel,
                                             turbo_kernel_info *info);

/* The value of config parameter `name` ("block_n", "dtype", ...; see
 * turbo-compile --list-templates) of a kernel made from a template. */
TURBO_API turbo_status turbo_kernel_config_value(const turbo_kernel *kernel, const char *name,
                                                 int64_t *value);

/* Launches with args[i] pointing at the value of parameter i (num_args must
 * match the kernel's). The caller owns correctness of the values. */
TURBO_API turbo_status turbo_kernel_launch(const turbo_kernel *kernel, const unsigned grid[3],
                                           void **args, size_t num_args, void *stream);

/* ---- Row quantization (standalone INT8 quantizer) ------------------------ */

/* x: rows x cols of f16/bf16 (the kernel's dtype), x_stride elements between
 * rows; q: rows x cols int8, q_stride bytes between rows; scales: rows f32.
 * q = clamp(roundeven(x * 127 / amax_row)), scale = amax_row / 127.
 * `kernel` must come from template "quantize_rows". Checks sizes, strides
 * and alignment before launching. */
TURBO_API turbo_status turbo_quantize_rows(const turbo_kernel *kernel, uint64_t x, uint64_t q,
                                           uint64_t scales, int64_t rows, int64_t x_stride,
                                           int64_t q_stride, void *stream);

/* ---- Prefill attention ---------------------------------------------------- */

/* A [batch, heads, seq, head_dim] tensor in device memory; strides in
 * elements, the innermost dim contiguous. */
typedef struct turbo_tensor {
  uint64_t data;
  int64_t batch_stride, head_stride, row_stride;
} turbo_tensor;

typedef struct turbo_prefill_args {
  size_t struct_size; /* sizeof(turbo_prefill_args) */
  int64_t batch, q_heads, kv_heads, seq_q, seq_k;
  float softmax_scale; /* 0: 1 / sqrt(head_dim) */
  turbo_tensor q, k, v; /* q: [batch, q_heads, seq_q, d]; k, v: [batch, kv_heads, seq_k, d] */
  turbo_tensor o;       /* [batch, q_heads, seq_q, d], the input dtype */
  uint64_t lse;         /* f32 [batch, q_heads, seq_q], natural log; needed when the
                           kernel was built with write_lse=1, else ignored */
  uint64_t workspace;   /* device scratch, 16-byte aligned, of at least the bytes
                           turbo_attention_prefill_workspace_size gives (K's
                           per-channel means with k_smooth=1, the default; K and V
                           in INT8 with kv_int8=1); may be 0 when that is 0 */
  size_t workspace_bytes;
  uint32_t steps;       /* which steps to run: 0 (the default) or TURBO_PREFILL_ALL for
                           all; TURBO_PREFILL_QUANTIZE_KV alone prepares the workspace
                           from k and v (q, o, lse not read); TURBO_PREFILL_ATTENTION
                           alone runs attention on a workspace that an earlier
                           QUANTIZE_KV step filled for the same k, v and shapes (with
                           kv_int8=1, the default, k and v are then not read) */
  /* The varlen (packed) form: both set, or both 0 for the padded form above.
   * int32 device arrays of batch + 1 non-decreasing token offsets: sequence b
   * is tokens cu_seqlens_q[b] .. cu_seqlens_q[b + 1] of q and o (and
   * cu_seqlens_k[b] .. of k and v). The tensors are then packed
   * [tokens, heads, head_dim]: data + token * row_stride + head * head_stride,
   * with batch_stride 0; seq_q and seq_k give the longest sequence of each
   * (lengths above them are cut to them), which sizes the grid, the workspace
   * and lse, which stays [batch, q_heads, seq_q] (rows past a sequence's
   * length unwritten). Causal masking aligns each sequence's own ends. The
   * kernel must be built with varlen=1 (plans build one for this).
   * total_q and total_k (below) must then give the tokens the packed
   * tensors hold. The offsets are read on the device only: the kernels
   * clamp them to [0, total] (a wrong offset cannot move a read or write
   * out of the tensors, though it gives wrong sequences); checking them
   * (non-decreasing, the last equal to the total) is the caller's, or the
   * Python binding's prefill_varlen with check=True (its default). */
  uint64_t cu_seqlens_q, cu_seqlens_k;
  /* Q in INT8, for kernels built with q_int8=1: codes like q (strides in
   * bytes, multiples of 16; packed: the same token offsets) and f32 per-token
   * scales, token t of (b, h) at q_scale.data + b * q_scale.batch_stride +
   * h * q_scale.head_stride + t (tokens contiguous: q_scale.row_stride 0 or
   * 1; packed: t counts from the first token of all, cu_seqlens_q[b] + i,
   * and batch_stride is 0), q = q_scale * q8 to the rounding of symmetric
   * INT8. The attention step reads these instead of q;
   * TURBO_PREFILL_QUANTIZE_Q writes them from q. */
  turbo_tensor q8, q_scale;
  /* The varlen form: the tokens q and o hold, and those k and v hold (each
   * in [1, 2^31), at least seq_q and seq_k); ignored when padded. */
  int64_t total_q, total_k;
} turbo_prefill_args;

/* Steps of turbo_attention_prefill (turbo_prefill_args.steps). */
enum {
  TURBO_PREFILL_QUANTIZE_KV = 1, /* K's channel means (k_smooth) and K, V to INT8 (kv_int8) */
  TURBO_PREFILL_ATTENTION = 2,   /* the attention kernel (Q is quantized inside it) */
  TURBO_PREFILL_ALL = 3,
  /* Q to INT8 per token into q8 and q_scale (quantize_q), exactly as the
   * attention kernel would quantize it; only for q_int8=1 kernels and only
   * when asked (not part of 0 / ALL). */
  TURBO_PREFILL_QUANTIZE_Q = 4
};

/* Sets struct_size and zeroes the rest. */
TURBO_API void turbo_prefill_args_init(turbo_prefill_args *args);

/* The workspace bytes turbo_attention_prefill needs for these arguments
 * (their sizes; pointers are not read). The same for the same shapes, so
 * callers may allocate once per shape. */
TURBO_API turbo_status turbo_attention_prefill_workspace_size(const turbo_kernel *kernel,
                                                              const turbo_prefill_args *args,
                                                              size_t *bytes);

/* Runs FlashQ + SAS attention with a kernel from template
 * "attention_prefill" (its head_dim, dtype and causal fixed at creation), on
 * `stream`: with k_smooth=1 first K's per-channel means (channel_mean), with
 * kv_int8=1 then K and V to INT8 (quantize_kv), both into args->workspace;
 * then the attention kernel. args->steps runs the first two (QUANTIZE_KV) or
 * the last (ATTENTION) alone: an engine that keeps K/V fixed across calls
 * quantizes once. Checks shapes, strides, alignment and the workspace size
 * before launching anything. */
TURBO_API turbo_status turbo_attention_prefill(const turbo_kernel *kernel,
                                               const turbo_prefill_args *args, void *stream);

/* The kernel's arithmetic on the CPU, element for element: the reference
 * the GPU tests hold attention_prefill to bit for bit (given the same K
 * means), for checking results and for accuracy studies without a GPU.
 * `head` (NULL: defaults; its target, default sm_90a, decides the defaults
 * as for a kernel) and `config` (NULL or "": none) as for turbo_kernel_create
 * with template "attention_prefill"; `args` as for turbo_attention_prefill,
 * padded form only, but q, k, v, o and lse are HOST addresses (cast a
 * pointer to uint64_t); workspace, steps, q8 and q_scale are not read (a
 * q_int8=1 config gives what quantize_q followed by that kernel gives).
 * Needs no GPU and no context; runs on the calling thread (about 7 s for 9
 * heads of 2048 causal tokens at head dim 64 on one core). */
TURBO_API turbo_status turbo_attention_prefill_reference(const turbo_head_config *head,
                                                         const char *config,
                                                         const turbo_prefill_args *args);

/* ---- The compressed, paged KV cache ---------------------------------------- */

/* Pages of page_size tokens hold every KV head's K and V at 2, 4 or 8 bits
 * per head (K per channel over the page, V per token, asymmetric, f16
 * scales and zero points). Each sequence's staging slot keeps as integer
 * codes per token (INT8; INT16 in a cache of 8-bit heads) its first
 * sink_pages pages, its window_pages newest full pages and the newest
 * (length mod page_size) tokens; only the other pages are compressed into
 * the pool, and the block table's columns of the kept pages are not read.
 * The memory (pool, staging, block table, lengths) is the caller's; turbo
 * says how much. Layout and numerics: docs/kv-cache.md. */
typedef struct turbo_kv_cache_desc {
  size_t struct_size;  /* sizeof(turbo_kv_cache_desc) */
  int kv_heads;
  int head_dim;        /* 64, 128 or 256 (96 not yet) */
  int page_size;       /* 16, 32, 64 or 128 tokens; 0: 64 */
  const int *kv_bits;  /* kv_heads widths (2, 4 or 8), e.g. from calibration; NULL: all `bits` */
  int bits;            /* the width of every head when kv_bits is NULL; 0: 4 */
  int sink_pages;      /* first pages kept staged, 0 to 64; default 1 (docs/kv-cache.md) */
  int window_pages;    /* newest full pages kept staged, 0 to 64; default 0 */
} turbo_kv_cache_desc;

TURBO_API void turbo_kv_cache_desc_init(turbo_kv_cache_desc *desc);

typedef struct turbo_kv_cache_info {
  size_t struct_size;         /* sizeof(turbo_kv_cache_info) */
  int64_t page_bytes;         /* one page: every KV head's K and V of page_size tokens */
  int64_t staging_slot_bytes; /* one sequence's staging slot (every KV head) */
  double bytes_per_token;     /* per token and KV head at 4096 tokens, staging included
                                 (FP16 K and V: 4 * head_dim) */
  int64_t staging_rows;       /* tokens a KV head's part of a slot holds:
                                 (sink_pages + window_pages + 1) * page_size */
} turbo_kv_cache_info;

/* The sizes of a cache, without a GPU. */
TURBO_API turbo_status turbo_kv_cache_layout(const turbo_kv_cache_desc *desc,
                                             turbo_kv_cache_info *info);

/* Headwise mixed precision: which KV heads a cache stores at 2 bits.
 *
 * turbo_kv_calibrate measures it on one layer's sample attention (host
 * float32, contiguous, finite): q [q_heads, tokens, head_dim], k and v
 * [kv_heads, tokens, head_dim]; query head j reads KV head j / (q_heads /
 * kv_heads); what the model's attention saw on sample text, with the
 * softmax scale 1 / sqrt(head_dim) (for another scale s, pass q * s *
 * sqrt(head_dim)). Each KV head's loss: the L2 error of its causal
 * attention over the cache with its pages at 2 bits (the cache's own
 * arithmetic, page_size tokens a page, 0: 64; sink_pages and window_pages
 * as the cache keeps them, negative: the defaults; the kept pages and the
 * newest tokens staged in INT8, as after each query's token was appended)
 * against float64
 * attention over the unquantized K/V, on up to 512 evenly spaced query
 * positions, divided by the norm of the whole layer's exact output. The
 * `fraction_2bit` of the heads (rounded down; the paper's 0.5) with the
 * lowest losses get 2 bits, the rest 4. `bits` receives kv_heads widths,
 * `losses` (may be NULL) kv_heads values. Losses of different layers
 * compare: to choose among a model's heads together, collect every layer's
 * losses and pass them to turbo_kv_pick_bits. Head dims 64, 128, 256. Runs
 * on the host's cores, seconds per head at 4k tokens and head dim 128.
 *
 * turbo_kv_head_priorities gives the paper's statistic instead (k, v as
 * above; per head, the mean over K and V of its channels' mean range, max -
 * min, times their mean standard deviation): cheaper, and on a real model
 * it chose worse than chance (docs/accuracy.md).
 *
 * turbo_kv_pick_bits: the `fraction_2bit` of `count` scores (rounded down)
 * that are lowest get 2 bits, the rest 4; ties to the lower index.
 *
 * Under an accuracy budget instead of a fraction: turbo_kv_head_losses
 * gives each KV head's loss (as turbo_kv_calibrate's) with its pages at
 * `bits` (2, 4 or 8). A layer's heads write disjoint rows of its output, so
 * with the heads of a set S at 2 bits and the rest at 4 the layer's error
 * over its exact output's norm is sqrt(sum over S of loss_2bit^2 + sum over
 * the rest of loss_4bit^2). turbo_kv_pick_bits_within gives one layer's
 * heads the most 2-bit widths whose predicted error stays within
 * `max_rel_err` (the heads whose error grows least first; `predicted`, may
 * be NULL, receives the layer's predicted error). */
TURBO_API turbo_status turbo_kv_calibrate(const float *q, const float *k, const float *v,
                                          int q_heads, int kv_heads, int64_t tokens,
                                          int head_dim, int page_size, int sink_pages,
                                          int window_pages, double fraction_2bit, int *bits,
                                          double *losses);
TURBO_API turbo_status turbo_kv_head_priorities(const float *k, const float *v, int kv_heads,
                                                int64_t tokens, int head_dim,
                                                double *priorities);
TURBO_API turbo_status turbo_kv_pick_bits(const double *scores, int count, double fraction_2bit,
                                          int *bits);
TURBO_API turbo_status turbo_kv_head_losses(const float *q, const float *k, const float *v,
                                            int q_heads, int kv_heads, int64_t tokens,
                                            int head_dim, int page_size, int sink_pages,
                                            int window_pages, int bits, double *losses);
TURBO_API turbo_status turbo_kv_pick_bits_within(const double *losses_2bit,
                                                 const double *losses_4bit, int count,
                                                 double max_rel_err, int *bits,
                                                 double *predicted);

typedef struct turbo_kv_cache turbo_kv_cache;

/* A cache's description on a context: its per-head table and its status
 * words in device memory (a few bytes). */
TURBO_API turbo_status turbo_kv_cache_create(turbo_context *context,
                                             const turbo_kv_cache_desc *desc,
                                             turbo_kv_cache **cache);
TURBO_API turbo_status turbo_kv_cache_destroy(turbo_kv_cache *cache);
TURBO_API turbo_status turbo_kv_cache_get_info(const turbo_kv_cache *cache,
                                               turbo_kv_cache_info *info);

/* What the kernels found wrong in the cache's contents since the last reset
 * (they never read outside the pool): flags[0] != 0: a block-table entry
 * outside [0, num_pages) was skipped (its keys left out); flags[1] != 0: a
 * length beyond the block table's pages (or negative) was cut to it. Waits
 * for the context's work; `reset` clears them. */
TURBO_API turbo_status turbo_kv_cache_read_flags(turbo_kv_cache *cache, int flags[2], int reset);

/* ---- Writing the cache: a prompt after prefill, and each step's tokens ---- */

typedef struct turbo_kv_write_args {
  size_t struct_size;  /* sizeof(turbo_kv_write_args) */
  int64_t batch;       /* sequences; sequence b uses staging slot b and block table row b */
  int64_t num_new;     /* append: new tokens per sequence (1 to the kernel's max_new);
                          prompt: the longest prompt (the tensors' token extent) */
  turbo_tensor k, v;   /* [batch, kv_heads, num_new, head_dim], the head's dtype */
  uint64_t pool;       /* as turbo_decode_args */
  int64_t num_pages;
  uint64_t staging;
  uint64_t block_table;
  int64_t max_pages, block_table_stride;
  uint64_t seq_lens;   /* int32 [batch]; append: tokens cached BEFORE this step (the
                          block table must already name the page the step reaches);
                          prompt: each prompt's length (its cache empty before) */
} turbo_kv_write_args;

TURBO_API void turbo_kv_write_args_init(turbo_kv_write_args *args);

/* One step's new tokens into the cache, with a kernel from template
 * "kv_stage": staged (INT8, or INT16 for 8-bit heads) up to their page's end; when the step fills a
 * page, the page leaving the window (that page itself with window_pages 0;
 * never a sink page) is compressed into the pool (kv_compress) and the
 * tokens past the filled page's end are staged. The
 * caller then adds num_new to its lengths. No host synchronisation and no
 * allocation: capturable in a CUDA graph. A bad block-table entry is
 * skipped and reported (turbo_kv_cache_read_flags). */
TURBO_API turbo_status turbo_kv_append(const turbo_kernel *kernel, const turbo_kv_cache *cache,
                                       const turbo_kv_write_args *args, void *stream);

/* A prompt's K/V into an empty cache in one pass, with a kernel from
 * template "kv_compress" (source=tokens, the default): full pages
 * compressed, the rest staged; the pages hold the same bits as appending
 * the prompt token by token would. */
TURBO_API turbo_status turbo_kv_write_prompt(const turbo_kernel *kernel,
                                             const turbo_kv_cache *cache,
                                             const turbo_kv_write_args *args, void *stream);

/* The same on the CPU: a prompt's K/V (HOST copies, addresses cast to
 * uint64_t, as are the pool, staging area, block table and lengths) into an
 * empty host cache, byte for byte what turbo_kv_write_prompt writes; `flags`
 * (may be NULL) as turbo_kv_cache_read_flags. `head` and `config` as for
 * turbo_kernel_create with "kv_compress" (source=tokens). No GPU needed:
 * with turbo_attention_decode_reference, a model's attention can run over
 * the compressed cache on the CPU. */
TURBO_API turbo_status turbo_kv_write_prompt_reference(const turbo_head_config *head,
                                                       const char *config,
                                                       const turbo_kv_cache_desc *desc,
                                                       const turbo_kv_write_args *args,
                                                       int flags[2]);

/* ---- Decode attention over the cache ------------------------------------- */

typedef struct turbo_decode_args {
  size_t struct_size;  /* sizeof(turbo_decode_args) */
  int64_t batch;       /* sequences; sequence b uses staging slot b and block table row b */
  int64_t num_query;   /* new query tokens per sequence (1 to the kernel's max_query) */
  float softmax_scale; /* 0: 1 / sqrt(head_dim) */
  /* [batch, q_heads, num_query, head_dim] (strides in elements; row_stride
   * between tokens: with num_query > 1, head_stride = num_query *
   * row_stride); q_heads = kv_heads * the kernel's group. */
  turbo_tensor q, o;
  uint64_t pool;               /* num_pages * page_bytes, 128-byte aligned */
  int64_t num_pages;
  uint64_t staging;            /* batch * staging_slot_bytes, 16-byte aligned */
  uint64_t block_table;        /* int32 [batch, max_pages], rows block_table_stride apart */
  int64_t max_pages, block_table_stride;
  uint64_t seq_lens;           /* int32 [batch]: tokens in the cache, the new ones included */
  int64_t splits;              /* programs per (sequence, KV head); 0: chosen from the batch,
                                  the heads, max_pages, the GPU's SMs and how many blocks of
                                  the kernel fit one (whole waves; docs/kv-cache.md) */
  uint64_t workspace;          /* splits > 1: turbo_attention_decode_workspace_size bytes */
  size_t workspace_bytes;
} turbo_decode_args;

TURBO_API void turbo_decode_args_init(turbo_decode_args *args);

/* The workspace bytes (0 with one split) and the splits a call with these
 * arguments uses (`splits` may be NULL). No device access. */
TURBO_API turbo_status turbo_attention_decode_workspace_size(const turbo_kernel *kernel,
                                                             const turbo_kv_cache *cache,
                                                             const turbo_decode_args *args,
                                                             size_t *bytes, int64_t *splits);

/* Decode attention with a kernel from template "attention_decode": each
 * sequence's num_query new tokens (query token t sees positions up to
 * seq_len - num_query + t) over its pages and staged tokens, all query
 * heads of a KV head together; with several splits, decode_reduce combines
 * them. No host synchronisation and no allocation: capturable in a CUDA
 * graph (lengths and block tables are read on the device). */
TURBO_API turbo_status turbo_attention_decode(const turbo_kernel *kernel,
                                              const turbo_kv_cache *cache,
                                              const turbo_decode_args *args, void *stream);

/* The kernel's arithmetic on the CPU (one split), on HOST copies of the
 * pool, staging area, block table, lengths, q and o (addresses cast to
 * uint64_t); `flags` (may be NULL) as turbo_kv_cache_read_flags. `head`
 * and `config` as for turbo_kernel_create with "attention_decode". */
TURBO_API turbo_status turbo_attention_decode_reference(const turbo_head_config *head,
                                                        const char *config,
                                                        const turbo_kv_cache_desc *desc,
                                                        const turbo_decode_args *args,
                                                        int flags[2]);

/* ---- Plans: everything one head configuration needs ---------------------- */

typedef struct turbo_plan turbo_plan;

typedef struct turbo_plan_desc {
  size_t struct_size;         /* sizeof(turbo_plan_desc) */
  const char *prefill_config; /* overrides for the prefill kernel ("key=value,...");
                                 NULL: the head configuration's defaults */
  const char *decode_config;  /* NULL: no decode kernels; else (even "") the plan also
                                 builds attention_decode with these overrides, and
                                 kv_stage and kv_compress, for the head's kv_bits */
  int64_t decode_batch;       /* with decode_config "": the batch and context to take
                                 turbo-tune's settings for, from the tuning database */
  int64_t decode_context;     /* ($TURBO_TUNING_DB, else tuning.json beside the kernel
                                 cache; the same GPU, head and turbo build, the nearest
                                 shape); 0: the defaults */
  int64_t prefill_seq;        /* with prefill_config NULL or "": the sequence length to
                                 take turbo-tune's prefill settings for, from the same
                                 database; 0: the defaults */
} turbo_plan_desc;

TURBO_API void turbo_plan_desc_init(turbo_plan_desc *desc);

/* JIT-compiles (or finds in the memory or disk cache) the kernels for
 * `head` on the context's GPU. head and desc may be NULL for defaults. */
TURBO_API turbo_status turbo_plan_create(turbo_context *context, const turbo_head_config *head,
                                         const turbo_plan_desc *desc, turbo_plan **plan);
TURBO_API turbo_status turbo_plan_destroy(turbo_plan *plan);

typedef struct turbo_plan_info {
  size_t struct_size;         /* sizeof(turbo_plan_info) */
  const char *prefill_config; /* the prefill kernel's canonical config */
  const char *prefill_ptx;
  int prefill_registers;      /* per thread */
  int prefill_local_bytes;    /* spills per thread */
  int64_t prefill_shared_bytes;
  unsigned prefill_threads;   /* per block */
  int prefill_takes_int8_q;   /* 1: turbo_plan_prefill reads q8 and q_scale (q_int8=1) */
  int prefill_writes_lse;     /* 1: turbo_plan_prefill writes lse (write_lse=1) */
  const char *decode_config;  /* the decode kernel's canonical config (NULL: none) */
  const char *decode_config_source; /* where its settings came from: "caller",
                                 "defaults", "tuning database (batch=16,context=8192)"
                                 or, from the nearest tuned shape, "tuning database,
                                 nearest (...)"; a damaged database is named here and
                                 ignored */
  const char *prefill_config_source; /* the same for the prefill kernel (prefill_seq) */
} turbo_plan_info;

/* Strings stay valid while the plan lives. */
TURBO_API turbo_status turbo_plan_get_info(const turbo_plan *plan, turbo_plan_info *info);

/* Prefill attention with the plan's kernel (see turbo_attention_prefill). */
TURBO_API turbo_status turbo_plan_prefill_workspace_size(const turbo_plan *plan,
                                                         const turbo_prefill_args *args,
                                                         size_t *bytes);
TURBO_API turbo_status turbo_plan_prefill(const turbo_plan *plan, const turbo_prefill_args *args,
                                          void *stream);

/* The compressed cache with the plan's kernels (a plan created with
 * decode_config set): turbo_kv_write_prompt, turbo_kv_append and
 * turbo_attention_decode. */
TURBO_API turbo_status turbo_plan_write_prompt(const turbo_plan *plan, const turbo_kv_cache *cache,
                                               const turbo_kv_write_args *args, void *stream);
TURBO_API turbo_status turbo_plan_append_kv(const turbo_plan *plan, const turbo_kv_cache *cache,
                                            const turbo_kv_write_args *args, void *stream);
TURBO_API turbo_status turbo_plan_decode(const turbo_plan *plan, const turbo_kv_cache *cache,
                                         const turbo_decode_args *args, void *stream);

/* ---- Device memory (for tests, examples and callers without cudart) ------ */

TURBO_API turbo_status turbo_device_alloc(turbo_context *context, size_t bytes,
                                          uint64_t *pointer);
TURBO_API turbo_status turbo_device_free(turbo_context *context, uint64_t pointer);
TURBO_API turbo_status turbo_copy_to_device(turbo_context *context, uint64_t dst,
                                            const void *src, size_t bytes);
TURBO_API turbo_status turbo_copy_to_host(turbo_context *context, void *dst, uint64_t src,
                                          size_t bytes);
TURBO_API turbo_status turbo_device_fill(turbo_context *context, uint64_t dst,
                                         unsigned char value, size_t bytes);
/* Waits for all work in the context; reports asynchronous kernel errors. */
TURBO_API turbo_status turbo_synchronize(turbo_context *context);

/* ---- Timing --------------------------------------------------------------- */

/* Enqueues one run of the work being timed on `stream`; returns a status. */
typedef turbo_status (*turbo_launch_fn)(void *user_data, void *stream);

/* Times `launch` with CUDA events on `stream`: `warmup` untimed runs, then
 * `repeats` runs, each between two events; samples_ms[i] gets run i's time in
 * milliseconds. The first failing launch stops it and its status returns. */
TURBO_API turbo_status turbo_measure(turbo_context *context, turbo_launch_fn launch,
                                     void *user_data, void *stream, int warmup, int repeats,
                                     float *samples_ms);
/* turbo_measure with a cold L2: before each timed run, outside its events,
 * a scratch buffer of twice the device's L2 size is written on `stream`, so
 * no run finds the previous one's data in L2 (what a small problem would
 * otherwise be flattered by). The scratch is allocated and freed here. */
TURBO_API turbo_status turbo_measure_cold(turbo_context *context, turbo_launch_fn launch,
                                          void *user_data, void *stream, int warmup,
                                          int repeats, float *samples_ms);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TURBO_H */
