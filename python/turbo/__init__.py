"""turbo: JIT-compiled quantized attention kernels (ctypes over libturbo.so).

No compiled extension: this package loads libturbo.so and calls its C API.
Torch is imported only by the functions that take tensors.

    import torch, turbo
    plan = turbo.Plan(q_heads=32, kv_heads=8, head_dim=128, dtype=torch.float16)
    out = plan.prefill(q, k, v)          # q: [B, 32, S, 128], k/v: [B, 8, S, 128]

libturbo.so is found through $TURBO_LIBRARY, else next to this package (a
bundle: ../../lib; an install, share/turbo/python: ../../../../lib; the
source tree: ../../build/lib, or $TURBO_BUILD_DIR/lib), else the system's
loader.
"""
import ctypes
import operator
import ctypes.util
import os

__all__ = ["TurboError", "Context", "Plan", "Kernel", "compile_template",
           "attention_prefill_reference", "kv_write_prompt_reference",
           "attention_decode_reference", "version", "llvm_version", "templates", "presets"]

_STATUS_NAMES = {0: "ok", 1: "invalid argument", 2: "no CUDA driver", 3: "no CUDA device",
                 4: "CUDA error", 5: "compile error", 6: "unsupported", 7: "not implemented",
                 8: "out of memory", 9: "cache error", 10: "internal error"}


class TurboError(RuntimeError):
    """A failed turbo call: `status` (int), `status_name`, `message`."""

    def __init__(self, status, message):
        self.status = status
        self.status_name = _STATUS_NAMES.get(status, "unknown status")
        self.message = message
        super().__init__(f"{self.status_name}: {message}")

    def __reduce__(self):
        # Raised in a worker process, it crosses back pickled.
        return (TurboError, (self.status, self.message))


class _HeadConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("q_heads", ctypes.c_int),
                ("kv_heads", ctypes.c_int), ("head_dim", ctypes.c_int), ("dtype", ctypes.c_int),
                ("causal", ctypes.c_int), ("kv_bits", ctypes.c_int), ("target", ctypes.c_char_p)]


class _ContextDesc(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("device_index", ctypes.c_int)]


class _PlanDesc(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("prefill_config", ctypes.c_char_p),
                ("decode_config", ctypes.c_char_p), ("decode_batch", ctypes.c_int64),
                ("decode_context", ctypes.c_int64), ("prefill_seq", ctypes.c_int64)]


class _PlanInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("prefill_config", ctypes.c_char_p),
                ("prefill_ptx", ctypes.c_char_p), ("prefill_registers", ctypes.c_int),
                ("prefill_local_bytes", ctypes.c_int), ("prefill_shared_bytes", ctypes.c_int64),
                ("prefill_threads", ctypes.c_uint), ("prefill_takes_int8_q", ctypes.c_int),
                ("prefill_writes_lse", ctypes.c_int), ("decode_config", ctypes.c_char_p),
                ("decode_config_source", ctypes.c_char_p),
                ("prefill_config_source", ctypes.c_char_p)]


class _KernelInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("name", ctypes.c_char_p),
                ("config", ctypes.c_char_p), ("target", ctypes.c_char_p), ("ptx", ctypes.c_char_p),
                ("num_threads", ctypes.c_uint), ("shared_bytes", ctypes.c_int64),
                ("registers", ctypes.c_int), ("local_bytes", ctypes.c_int),
                ("num_params", ctypes.c_size_t), ("cubin_bytes", ctypes.c_size_t),
                ("from_cubin", ctypes.c_int), ("param_names", ctypes.c_char_p)]


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_uint64), ("batch_stride", ctypes.c_int64),
                ("head_stride", ctypes.c_int64), ("row_stride", ctypes.c_int64)]


class _PrefillArgs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("batch", ctypes.c_int64),
                ("q_heads", ctypes.c_int64), ("kv_heads", ctypes.c_int64),
                ("seq_q", ctypes.c_int64), ("seq_k", ctypes.c_int64),
                ("softmax_scale", ctypes.c_float), ("q", _Tensor), ("k", _Tensor),
                ("v", _Tensor), ("o", _Tensor), ("lse", ctypes.c_uint64),
                ("workspace", ctypes.c_uint64), ("workspace_bytes", ctypes.c_size_t),
                ("steps", ctypes.c_uint32), ("cu_seqlens_q", ctypes.c_uint64),
                ("cu_seqlens_k", ctypes.c_uint64), ("q8", _Tensor), ("q_scale", _Tensor),
                ("total_q", ctypes.c_int64), ("total_k", ctypes.c_int64)]


# turbo_prefill_args.steps (see turbo.h).
_PREFILL_STEPS = {"all": 3, "quantize_kv": 1, "attention": 2}
_QUANTIZE_Q = 4


_lib = None


class _KvCacheDesc(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("kv_heads", ctypes.c_int),
                ("head_dim", ctypes.c_int), ("page_size", ctypes.c_int),
                ("kv_bits", ctypes.POINTER(ctypes.c_int)), ("bits", ctypes.c_int),
                ("sink_pages", ctypes.c_int), ("window_pages", ctypes.c_int)]


class _KvCacheInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("page_bytes", ctypes.c_int64),
                ("staging_slot_bytes", ctypes.c_int64), ("bytes_per_token", ctypes.c_double),
                ("staging_rows", ctypes.c_int64)]


class _KvWriteArgs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("batch", ctypes.c_int64),
                ("num_new", ctypes.c_int64), ("k", _Tensor), ("v", _Tensor),
                ("pool", ctypes.c_uint64), ("num_pages", ctypes.c_int64),
                ("staging", ctypes.c_uint64), ("block_table", ctypes.c_uint64),
                ("max_pages", ctypes.c_int64), ("block_table_stride", ctypes.c_int64),
                ("seq_lens", ctypes.c_uint64)]


class _DecodeArgs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("batch", ctypes.c_int64),
                ("num_query", ctypes.c_int64), ("softmax_scale", ctypes.c_float),
                ("q", _Tensor), ("o", _Tensor), ("pool", ctypes.c_uint64),
                ("num_pages", ctypes.c_int64), ("staging", ctypes.c_uint64),
                ("block_table", ctypes.c_uint64), ("max_pages", ctypes.c_int64),
                ("block_table_stride", ctypes.c_int64), ("seq_lens", ctypes.c_uint64),
                ("splits", ctypes.c_int64), ("workspace", ctypes.c_uint64),
                ("workspace_bytes", ctypes.c_size_t)]


def _candidates():
    if os.environ.get("TURBO_LIBRARY"):
        yield os.environ["TURBO_LIBRARY"]
    here = os.path.dirname(os.path.abspath(__file__))
    # bundle: turbo/python/turbo -> turbo/lib; install: share/turbo/python/turbo -> lib
    for up in (("..", ".."), ("..", "..", ".."), ("..", "..", "..", "..")):
        yield os.path.join(here, *up, "lib", "libturbo.so.0")
    # the source tree: python/turbo -> build/lib
    yield os.path.join(here, "..", "..", os.environ.get("TURBO_BUILD_DIR") or "build", "lib",
                       "libturbo.so.0")
    found = ctypes.util.find_library("turbo")
    if found:
        yield found


def _library():
    global _lib
    if _lib is not None:
        return _lib
    errors = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as error:
            errors.append(f"{path}: {error}")
    else:
        raise TurboError(1, "libturbo.so not found (set TURBO_LIBRARY): " + "; ".join(errors))
    c, p, u64, i64 = ctypes.c_int, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int64
    signatures = {
        "turbo_version": ([], ctypes.c_char_p), "turbo_llvm_version": ([], ctypes.c_char_p),
        "turbo_last_error": ([], ctypes.c_char_p), "turbo_free": ([p], None),
        "turbo_list_templates": ([ctypes.POINTER(p)], c),
        "turbo_list_presets": ([ctypes.POINTER(p)], c),
        "turbo_head_config_init": ([ctypes.POINTER(_HeadConfig)], None),
        "turbo_head_config_preset": ([ctypes.POINTER(_HeadConfig), ctypes.c_char_p], c),
        "turbo_compile_template": ([ctypes.c_char_p, ctypes.POINTER(_HeadConfig), ctypes.c_char_p,
                                    ctypes.c_char_p, ctypes.POINTER(p)], c),
        "turbo_context_desc_init": ([ctypes.POINTER(_ContextDesc)], None),
        "turbo_context_create": ([ctypes.POINTER(_ContextDesc), ctypes.POINTER(p)], c),
        "turbo_context_destroy": ([p], c),
        "turbo_plan_desc_init": ([ctypes.POINTER(_PlanDesc)], None),
        "turbo_plan_create": ([p, ctypes.POINTER(_HeadConfig), ctypes.POINTER(_PlanDesc),
                               ctypes.POINTER(p)], c),
        "turbo_plan_destroy": ([p], c),
        "turbo_plan_get_info": ([p, ctypes.POINTER(_PlanInfo)], c),
        "turbo_prefill_args_init": ([ctypes.POINTER(_PrefillArgs)], None),
        "turbo_plan_prefill": ([p, ctypes.POINTER(_PrefillArgs), p], c),
        "turbo_plan_prefill_workspace_size": ([p, ctypes.POINTER(_PrefillArgs),
                                               ctypes.POINTER(ctypes.c_size_t)], c),
        "turbo_kernel_create": ([p, ctypes.c_char_p, ctypes.POINTER(_HeadConfig), ctypes.c_char_p,
                                 ctypes.POINTER(p)], c),
        "turbo_kernel_destroy": ([p], c),
        "turbo_kernel_get_info": ([p, ctypes.POINTER(_KernelInfo)], c),
        "turbo_kernel_config_value": ([p, ctypes.c_char_p, ctypes.POINTER(i64)], c),
        "turbo_quantize_rows": ([p, u64, u64, u64, i64, i64, i64, p], c),
        "turbo_attention_prefill_reference": ([ctypes.POINTER(_HeadConfig), ctypes.c_char_p,
                                               ctypes.POINTER(_PrefillArgs)], c),
        "turbo_kv_cache_desc_init": ([ctypes.POINTER(_KvCacheDesc)], None),
        "turbo_kv_cache_layout": ([ctypes.POINTER(_KvCacheDesc), ctypes.POINTER(_KvCacheInfo)], c),
        "turbo_kv_cache_create": ([p, ctypes.POINTER(_KvCacheDesc), ctypes.POINTER(p)], c),
        "turbo_kv_cache_destroy": ([p], c),
        "turbo_kv_cache_read_flags": ([p, ctypes.POINTER(c), c], c),
        "turbo_kv_calibrate": ([p, p, p, c, c, i64, c, c, c, c, ctypes.c_double, ctypes.POINTER(c),
                                ctypes.POINTER(ctypes.c_double)], c),
        "turbo_kv_head_priorities": ([p, p, c, i64, c, ctypes.POINTER(ctypes.c_double)], c),
        "turbo_kv_pick_bits": ([ctypes.POINTER(ctypes.c_double), c, ctypes.c_double,
                                ctypes.POINTER(c)], c),
        "turbo_kv_head_losses": ([p, p, p, c, c, i64, c, c, c, c, c,
                                  ctypes.POINTER(ctypes.c_double)], c),
        "turbo_kv_pick_bits_within": ([ctypes.POINTER(ctypes.c_double),
                                       ctypes.POINTER(ctypes.c_double), c, ctypes.c_double,
                                       ctypes.POINTER(c), ctypes.POINTER(ctypes.c_double)], c),
        "turbo_kv_write_args_init": ([ctypes.POINTER(_KvWriteArgs)], None),
        "turbo_kv_append": ([p, p, ctypes.POINTER(_KvWriteArgs), p], c),
        "turbo_kv_write_prompt": ([p, p, ctypes.POINTER(_KvWriteArgs), p], c),
        "turbo_kv_write_prompt_reference": ([ctypes.POINTER(_HeadConfig), ctypes.c_char_p,
                                             ctypes.POINTER(_KvCacheDesc),
                                             ctypes.POINTER(_KvWriteArgs), ctypes.POINTER(c)],
                                            c),
        "turbo_decode_args_init": ([ctypes.POINTER(_DecodeArgs)], None),
        "turbo_attention_decode_workspace_size": ([p, p, ctypes.POINTER(_DecodeArgs),
                                                   ctypes.POINTER(ctypes.c_size_t),
                                                   ctypes.POINTER(i64)], c),
        "turbo_attention_decode": ([p, p, ctypes.POINTER(_DecodeArgs), p], c),
        "turbo_attention_decode_reference": ([ctypes.POINTER(_HeadConfig), ctypes.c_char_p,
                                              ctypes.POINTER(_KvCacheDesc),
                                              ctypes.POINTER(_DecodeArgs), ctypes.POINTER(c)], c),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype
    _lib = lib
    return lib


def _check(status):
    if status != 0:
        message = _library().turbo_last_error()
        raise TurboError(status, message.decode() if message else "")


def _take_text(pointer):
    lib = _library()
    try:
        return ctypes.cast(pointer, ctypes.c_char_p).value.decode()
    finally:
        lib.turbo_free(pointer)


def version():
    return _library().turbo_version().decode()


def llvm_version():
    return _library().turbo_llvm_version().decode()


def templates():
    text = ctypes.c_void_p()
    _check(_library().turbo_list_templates(ctypes.byref(text)))
    return _take_text(text).split(",")


def presets():
    text = ctypes.c_void_p()
    _check(_library().turbo_list_presets(ctypes.byref(text)))
    return _take_text(text).split(",")


def _dtype_code(dtype):
    """0 for f16, 1 for bf16; accepts torch dtypes and the strings."""
    name = str(dtype).replace("torch.", "")
    if name in ("f16", "float16", "half"):
        return 0
    if name in ("bf16", "bfloat16"):
        return 1
    raise TurboError(1, f"dtype {dtype} is not f16 or bf16")


def _head_config(q_heads=None, kv_heads=None, head_dim=None, dtype=None, causal=None,
                 kv_bits=None, target=None, preset=None):
    head = _HeadConfig()
    lib = _library()
    lib.turbo_head_config_init(ctypes.byref(head))
    if preset:
        _check(lib.turbo_head_config_preset(ctypes.byref(head), preset.encode()))
    if q_heads is not None:
        head.q_heads = int(q_heads)
    if kv_heads is not None:
        head.kv_heads = int(kv_heads)
    if head_dim is not None:
        head.head_dim = int(head_dim)
    if dtype is not None:
        head.dtype = _dtype_code(dtype)
    if causal is not None:
        head.causal = 1 if causal else 0
    if kv_bits is not None:
        head.kv_bits = 0 if kv_bits == "mixed" else int(kv_bits)
    if target is not None:
        head._target = target.encode()  # keep the bytes alive
        head.target = head._target
    return head


def compile_template(name, stage="ptx", config="", **head):
    """The text of `stage` for template `name`; no GPU needed. `head` takes
    q_heads, kv_heads, head_dim, dtype, causal, kv_bits, target, preset."""
    text = ctypes.c_void_p()
    config_head = _head_config(**head)
    _check(_library().turbo_compile_template(name.encode(), ctypes.byref(config_head),
                                             config.encode(), stage.encode(), ctypes.byref(text)))
    return _take_text(text)


def _host_array(name, x):
    """(numpy array of 16-bit codes, dtype code) for a numpy float16 array or
    a CPU torch tensor of float16/bfloat16; C-contiguous, 4 dims."""
    import numpy as np
    if type(x).__module__.startswith("torch"):
        if x.device.type != "cpu":
            raise TurboError(1, f"{name} must be on the CPU, is on {x.device}")
        code = _dtype_code(x.dtype)
        x = np.ascontiguousarray(x.contiguous().view(__import__("torch").int16).numpy())
    else:
        x = np.ascontiguousarray(x)
        if x.dtype != np.float16:
            raise TurboError(1, f"{name} has dtype {x.dtype}; the reference takes float16 numpy "
                                f"arrays (or CPU torch tensors of float16/bfloat16)")
        code = 0
    if x.ndim != 4:
        raise TurboError(1, f"{name} must have 4 dims, has shape {x.shape}")
    return x.view(np.uint16), code


def attention_prefill_reference(q, k, v, causal=False, config="", softmax_scale=0.0,
                                return_lse=False, target=None):
    """The prefill kernel's arithmetic on the CPU, element for element
    (turbo_attention_prefill_reference): what Plan.prefill computes with the
    same config, for checking results and accuracy studies without a GPU.

    q: [B, Hq, Sq, D], k, v: [B, Hkv, Sk, D], numpy float16 arrays or CPU
    torch tensors (float16 or bfloat16). `config` and `target` (default
    sm_90a, whose defaults differ from older targets') as for a plan.
    Returns out shaped and typed like q, and with return_lse also the
    log-sum-exp, float32 [B, Hq, Sq] (natural log)."""
    import numpy as np
    q16, dtype = _host_array("q", q)
    k16, k_dtype = _host_array("k", k)
    v16, v_dtype = _host_array("v", v)
    if k_dtype != dtype or v_dtype != dtype:
        raise TurboError(1, "q, k and v must have one dtype")
    b, hq, sq, d = q16.shape
    if k16.shape != v16.shape or k16.shape[0] != b or k16.shape[3] != d:
        raise TurboError(1, f"shapes do not match: q {q16.shape}, k {k16.shape}, v {v16.shape}")
    head = _head_config(hq, k16.shape[1], d, "bf16" if dtype else "f16", causal, None, target)
    if return_lse:
        config = f"{config},write_lse=1" if config else "write_lse=1"
    out = np.full(q16.shape, 0x7e00, dtype=np.uint16)  # NaN: an unwritten element shows
    lse = np.full((b, hq, sq), np.nan, dtype=np.float32)
    args = _PrefillArgs()
    _library().turbo_prefill_args_init(ctypes.byref(args))
    args.batch, args.q_heads, args.kv_heads = b, hq, k16.shape[1]
    args.seq_q, args.seq_k = sq, k16.shape[2]
    args.softmax_scale = float(softmax_scale)
    for field, x in (("q", q16), ("k", k16), ("v", v16), ("o", out)):
        setattr(args, field, _Tensor(x.ctypes.data, x.strides[0] // 2, x.strides[1] // 2,
                                     x.strides[2] // 2))
    args.lse = lse.ctypes.data
    _check(_library().turbo_attention_prefill_reference(ctypes.byref(head), config.encode(),
                                                        ctypes.byref(args)))
    if type(q).__module__.startswith("torch"):
        import torch
        out = torch.from_numpy(out.view(np.int16)).view(q.dtype)
        lse = torch.from_numpy(lse)
    else:
        out = out.view(np.float16)
    return (out, lse) if return_lse else out


class Context:
    """One GPU. With torch, the current device by default (and torch's CUDA
    context, which turbo then shares)."""

    def __init__(self, device=None):
        if device is None:
            try:
                import torch
                device = torch.cuda.current_device() if torch.cuda.is_available() else 0
                if torch.cuda.is_available():
                    torch.cuda.init()  # make torch's context current first
            except ImportError:
                device = 0
        self.device = int(device)
        desc = _ContextDesc()
        lib = _library()
        lib.turbo_context_desc_init(ctypes.byref(desc))
        desc.device_index = self.device
        handle = ctypes.c_void_p()
        _check(lib.turbo_context_create(ctypes.byref(desc), ctypes.byref(handle)))
        self._handle = handle

    def close(self):
        if getattr(self, "_handle", None):
            _library().turbo_context_destroy(self._handle)
            self._handle = None

    def __del__(self):
        self.close()


_default_context = None


def _context(context):
    global _default_context
    if context is not None:
        return context
    if _default_context is None:
        _default_context = Context()
    return _default_context


def _stream(tensor):
    import torch
    return ctypes.c_void_p(torch.cuda.current_stream(tensor.device).cuda_stream)


def _check_offsets(name, offsets, tokens, longest):
    """Varlen offsets as the kernels expect them: from 0 to the tensor's
    tokens, never decreasing, no sequence longer than `longest`."""
    if offsets[0] != 0 or offsets[-1] != tokens:
        raise TurboError(1, f"{name} must run from 0 to the tensor's {tokens} tokens, "
                            f"got {offsets[0]} .. {offsets[-1]}")
    lengths = [b - a for a, b in zip(offsets, offsets[1:])]
    if min(lengths) < 0:
        raise TurboError(1, f"{name} decreases at sequence {lengths.index(min(lengths))}")
    if max(lengths) > longest:
        raise TurboError(1, f"{name}: sequence {lengths.index(max(lengths))} holds "
                            f"{max(lengths)} tokens, more than the max_seqlen of {longest}")


def _check_tensor(name, tensor, dtype, device, ndim):
    import torch
    if not isinstance(tensor, torch.Tensor):
        raise TurboError(1, f"{name} must be a torch.Tensor")
    if not tensor.is_cuda or tensor.device.index != device:
        raise TurboError(1, f"{name} must be on cuda:{device}, is on {tensor.device}")
    if tensor.dtype != dtype:
        raise TurboError(1, f"{name} has dtype {tensor.dtype}, the kernel takes {dtype}")
    if tensor.dim() != ndim:
        raise TurboError(1, f"{name} must have {ndim} dims, has shape {tuple(tensor.shape)}")
    if tensor.stride(-1) != 1:
        raise TurboError(1, f"{name}'s innermost dim must be contiguous (stride 1)")


def _torch_dtype(code):
    import torch
    return torch.bfloat16 if code == 1 else torch.float16


class Plan:
    """The kernels of one head configuration, JIT-compiled (or found in the
    cache) on creation. `config` pins prefill tuning parameters; without it,
    `seq` (a sequence length) takes turbo-tune's settings for that length
    from the tuning database ($TURBO_TUNING_DB, else tuning.json beside the
    kernel cache), and info["prefill_config_source"] says where they came
    from."""

    def __init__(self, q_heads=None, kv_heads=None, head_dim=None, dtype=None, causal=False,
                 kv_bits=None, preset=None, config=None, context=None, seq=None):
        self.context = _context(context)
        self.head = _head_config(q_heads, kv_heads, head_dim, dtype, causal, kv_bits, None,
                                 preset)
        desc = _PlanDesc()
        lib = _library()
        lib.turbo_plan_desc_init(ctypes.byref(desc))
        self._config = (config or "").encode()
        desc.prefill_config = self._config
        if seq is not None:
            try:
                length = operator.index(seq)  # ints, numpy integers; not floats or strings
            except TypeError:
                length = None
            if length is None or isinstance(seq, bool) or length < 1:
                raise ValueError(f"seq must be a positive integer, got {seq!r}")
            desc.prefill_seq = length
        handle = ctypes.c_void_p()
        _check(lib.turbo_plan_create(self.context._handle, ctypes.byref(self.head),
                                     ctypes.byref(desc), ctypes.byref(handle)))
        self._handle = handle
        # Whether the prefill kernel takes Q in INT8 (config "q_int8=1") and
        # writes the log-sum-exp ("write_lse=1"), as the plan reports them.
        info = self.info
        self._q_int8 = info["prefill_takes_int8_q"]
        self._write_lse = info["prefill_writes_lse"]

    @property
    def info(self):
        info = _PlanInfo()
        info.struct_size = ctypes.sizeof(info)
        _check(_library().turbo_plan_get_info(self._handle, ctypes.byref(info)))
        return {"prefill_config": info.prefill_config.decode(),
                "prefill_registers": info.prefill_registers,
                "prefill_local_bytes": info.prefill_local_bytes,
                "prefill_shared_bytes": info.prefill_shared_bytes,
                "prefill_threads": info.prefill_threads,
                "prefill_takes_int8_q": bool(info.prefill_takes_int8_q),
                "prefill_writes_lse": bool(info.prefill_writes_lse),
                "prefill_config_source": info.prefill_config_source.decode(),
                "prefill_ptx": info.prefill_ptx.decode()}

    def _prefill_args(self, q, k, v, out, softmax_scale):
        import torch
        dtype = _torch_dtype(self.head.dtype)
        device = self.context.device
        for name, tensor in (("k", k), ("v", v), ("out", out)):
            _check_tensor(name, tensor, dtype, device, 4)
        # q, or q8 standing in for it (its shape) when Q comes in INT8.
        if isinstance(q, torch.Tensor) and q.dtype == torch.int8:
            if not self._q_int8:
                raise TurboError(1, 'q is int8 but the plan takes f16/bf16 Q (INT8 Q needs a '
                                    'plan made with config="q_int8=1")')
            _check_tensor("q8", q, torch.int8, device, 4)
        else:
            _check_tensor("q", q, dtype, device, 4)
        b, hq, sq, d = q.shape
        if k.shape != v.shape:
            raise TurboError(1, f"k {tuple(k.shape)} and v {tuple(v.shape)} differ")
        if k.shape[0] != b or k.shape[3] != d or out.shape != q.shape:
            raise TurboError(1, f"shapes do not match: q {tuple(q.shape)}, k {tuple(k.shape)}, "
                                f"out {tuple(out.shape)}")
        args = self._new_args(b, hq, k.shape[1], sq, k.shape[2], d, softmax_scale)
        for field, tensor in (("q", q), ("k", k), ("v", v), ("o", out)):
            setattr(args, field, _Tensor(tensor.data_ptr(), tensor.stride(0), tensor.stride(1),
                                         tensor.stride(2)))
        return args

    def _new_args(self, batch, q_heads, kv_heads, seq_q, seq_k, head_dim, softmax_scale):
        """turbo_prefill_args with the sizes set, after the checks on them
        that both forms share."""
        if head_dim != self.head.head_dim:
            raise TurboError(1, f"head dim {head_dim} is not the plan's {self.head.head_dim}")
        args = _PrefillArgs()
        _library().turbo_prefill_args_init(ctypes.byref(args))
        args.batch, args.q_heads, args.kv_heads = batch, q_heads, kv_heads
        args.seq_q, args.seq_k = int(seq_q), int(seq_k)
        args.softmax_scale = float(softmax_scale)
        return args

    def _set_int8_q(self, args, q8, q_scale, shape):
        import torch
        if not self._q_int8:
            raise TurboError(1, 'q8/q_scale need a plan made with config="q_int8=1"')
        device = self.context.device
        _check_tensor("q8", q8, torch.int8, device, 4)
        _check_tensor("q_scale", q_scale, torch.float32, device, 3)
        if tuple(q8.shape) != tuple(shape):
            raise TurboError(1, f"q8 {tuple(q8.shape)} must be shaped like q {tuple(shape)}")
        if q_scale.shape != q8.shape[:3]:
            raise TurboError(1, f"q_scale {tuple(q_scale.shape)} must be q8's shape without "
                                f"its last dim {tuple(q8.shape[:3])}")
        args.q8 = _Tensor(q8.data_ptr(), q8.stride(0), q8.stride(1), q8.stride(2))
        args.q_scale = _Tensor(q_scale.data_ptr(), q_scale.stride(0), q_scale.stride(1), 1)

    def _set_lse(self, args, lse, shape, steps):
        """lse: float32 [B, Hq, Sq] (Sq: the longest sequence when packed),
        contiguous; given exactly when the plan writes it and attention runs."""
        import torch
        attention = steps in ("all", "attention")
        if lse is None:
            if self._write_lse and attention:
                raise TurboError(1, 'the plan writes the log-sum-exp (config "write_lse=1"): '
                                    'pass lse, float32 ' + str(tuple(shape)))
            return
        if not self._write_lse:
            raise TurboError(1, 'lse needs a plan made with config="write_lse=1"')
        _check_tensor("lse", lse, torch.float32, self.context.device, 3)
        if tuple(lse.shape) != tuple(shape) or not lse.is_contiguous():
            raise TurboError(1, f"lse must be a contiguous float32 tensor of shape "
                                f"{tuple(shape)}, is {tuple(lse.shape)}")
        args.lse = lse.data_ptr()

    def quantize_q(self, q, q8=None, q_scale=None):
        """Q [B, Hq, S, D] to INT8 per token: (q8 int8 [B, Hq, S, D],
        q_scale f32 [B, Hq, S]), exactly as the attention kernel quantizes
        Q itself. Needs a plan made with config "q_int8=1"; pass the pair to
        prefill(None, k, v, q8=..., q_scale=...)."""
        import torch
        if q8 is None:
            q8 = torch.empty(q.shape, dtype=torch.int8, device=q.device)
        if q_scale is None:
            q_scale = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)
        args = self._prefill_args(q, q, q, q, 0.0)
        self._set_int8_q(args, q8, q_scale, q.shape)
        args.steps = _QUANTIZE_Q
        _check(_library().turbo_plan_prefill(self._handle, ctypes.byref(args), _stream(q)))
        return q8, q_scale

    def prefill_workspace(self, q, k, v):
        """A workspace (uint8 tensor, or None when none is needed) for
        prefill with these shapes: pass it to prefill(..., workspace=...) to
        quantize K/V once (steps="quantize_kv") and run attention on it
        later (steps="attention")."""
        import torch
        args = self._prefill_args(q, k, v, q, 0.0)
        needed = ctypes.c_size_t(0)
        _check(_library().turbo_plan_prefill_workspace_size(self._handle, ctypes.byref(args),
                                                            ctypes.byref(needed)))
        if not needed.value:
            return None
        return torch.empty(needed.value, dtype=torch.uint8, device=q.device)

    def prefill(self, q, k, v, out=None, softmax_scale=0.0, steps="all", workspace=None,
                q8=None, q_scale=None, lse=None):
        """Attention of q [B, Hq, Sq, D] over k, v [B, Hkv, Sk, D]; writes
        and returns `out` (allocated like q when None). Causality is the
        plan's; shapes, devices, dtypes and strides are checked here and
        alignment in the library, before anything is launched.

        steps="quantize_kv" only prepares `workspace` (from
        prefill_workspace) from k and v; steps="attention" then runs the
        attention kernel on it (q, out; with kv_int8, the default, k and v
        are not read). Both need the caller's workspace.

        With a plan made with config "q_int8=1", Q comes in INT8: q8 and
        q_scale (from quantize_q, or the caller's own per-token symmetric
        INT8), and q may be None.

        With a plan made with config "write_lse=1", lse (float32 [B, Hq, Sq],
        contiguous) receives each row's log-sum-exp of the scaled scores
        (natural log; -inf for a row that sees no key)."""
        import torch
        if steps not in _PREFILL_STEPS:
            raise TurboError(1, f"steps must be one of {', '.join(_PREFILL_STEPS)}, got {steps!r}")
        if (q8 is None) != (q_scale is None):
            raise TurboError(1, "q8 and q_scale go together")
        if q is None and q8 is None:
            raise TurboError(1, "q (or q8 and q_scale) must be given")
        if out is None:
            like = q if q is not None else q8
            out = torch.empty(like.shape, dtype=_torch_dtype(self.head.dtype), device=like.device)
        # Without q the shapes come from q8 (its pointer is set again below).
        args = self._prefill_args(q if q is not None else q8, k, v, out, softmax_scale)
        if q is None:
            args.q = _Tensor(0, 0, 0, 0)
        if q8 is not None:
            self._set_int8_q(args, q8, q_scale, out.shape)
        self._set_lse(args, lse, out.shape[:3], steps)
        args.steps = _PREFILL_STEPS[steps]
        self._run_prefill(args, steps, workspace, out)
        return out

    def prefill_varlen(self, q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k,
                       out=None, softmax_scale=0.0, lse=None, check=True):
        """The varlen (packed) form: q [total_q, Hq, D], k, v [total_k, Hkv,
        D] hold the sequences one after another; cu_seqlens_q/_k (int32,
        [batch + 1], on the GPU) give where each starts, max_seqlen_q/_k
        the longest (they size the grid and the workspace). Writes and
        returns `out` (like q). With "write_lse=1", lse is float32 [batch,
        Hq, max_seqlen_q]: row i of sequence b at [b, h, i].

        check=True (the default) reads the offsets back to the host first
        (a synchronisation, and not allowed under CUDA graph capture) and
        refuses offsets that decrease, that do not start at 0 and end at
        the tensor's tokens, or a sequence longer than max_seqlen_q/_k.
        With check=False nothing is read back: the kernels clamp offsets to
        the tensors, so a wrong one gives wrong sequences (rows of `out` it
        leaves out unwritten) but no access outside the tensors."""
        import torch
        dtype = _torch_dtype(self.head.dtype)
        device = self.context.device
        for name, tensor in (("q", q), ("k", k), ("v", v)):
            _check_tensor(name, tensor, dtype, device, 3)
        for name, cu in (("cu_seqlens_q", cu_seqlens_q), ("cu_seqlens_k", cu_seqlens_k)):
            _check_tensor(name, cu, torch.int32, device, 1)
        if out is None:
            out = torch.empty_like(q, memory_format=torch.contiguous_format)
        _check_tensor("out", out, dtype, device, 3)
        batch = cu_seqlens_q.shape[0] - 1
        if batch < 1 or cu_seqlens_k.shape[0] != batch + 1:
            raise TurboError(1, f"cu_seqlens_q ({cu_seqlens_q.shape[0]}) and cu_seqlens_k "
                                f"({cu_seqlens_k.shape[0]}) must both hold batch + 1 >= 2 offsets")
        if k.shape != v.shape or out.shape != q.shape or k.shape[2] != q.shape[2]:
            raise TurboError(1, f"shapes do not match: q {tuple(q.shape)}, k {tuple(k.shape)}, "
                                f"v {tuple(v.shape)}, out {tuple(out.shape)}")
        if check:
            for name, cu, tokens, longest in (
                    ("cu_seqlens_q", cu_seqlens_q, q.shape[0], max_seqlen_q),
                    ("cu_seqlens_k", cu_seqlens_k, k.shape[0], max_seqlen_k)):
                _check_offsets(name, cu.tolist(), tokens, int(longest))
        args = self._new_args(batch, q.shape[1], k.shape[1], max_seqlen_q, max_seqlen_k,
                              q.shape[2], softmax_scale)
        for field, tensor in (("q", q), ("k", k), ("v", v), ("o", out)):
            setattr(args, field, _Tensor(tensor.data_ptr(), 0, tensor.stride(1), tensor.stride(0)))
        args.cu_seqlens_q, args.cu_seqlens_k = cu_seqlens_q.data_ptr(), cu_seqlens_k.data_ptr()
        args.total_q, args.total_k = q.shape[0], k.shape[0]
        self._set_lse(args, lse, (batch, q.shape[1], int(max_seqlen_q)), "all")
        self._run_prefill(args, "all", None, q)
        return out

    def _run_prefill(self, args, steps, workspace, like):
        """Checks or allocates the workspace and launches, on the stream and
        device of `like` (a tensor of the call)."""
        import torch
        needed = ctypes.c_size_t(0)
        _check(_library().turbo_plan_prefill_workspace_size(self._handle, ctypes.byref(args),
                                                            ctypes.byref(needed)))
        if workspace is None and steps != "all" and needed.value:
            raise TurboError(1, f'steps="{steps}" needs the workspace from prefill_workspace()')
        if workspace is None and needed.value:
            # Scratch for K's means and (kv_int8) quantized K/V, on the stream's
            # allocator so it lives until the kernels that use it have run.
            workspace = torch.empty(needed.value, dtype=torch.uint8, device=like.device)
        if workspace is not None:
            if workspace.device != like.device or workspace.dtype != torch.uint8 or \
                    workspace.numel() < needed.value or not workspace.is_contiguous():
                raise TurboError(1, f"workspace must be a contiguous uint8 tensor of at least "
                                    f"{needed.value} bytes on {like.device}")
            args.workspace, args.workspace_bytes = workspace.data_ptr(), workspace.numel()
        _check(_library().turbo_plan_prefill(self._handle, ctypes.byref(args), _stream(like)))

    def close(self):
        if getattr(self, "_handle", None):
            _library().turbo_plan_destroy(self._handle)
            self._handle = None

    def __del__(self):
        self.close()


class Kernel:
    """A kernel from a template, for the row quantizer (`quantize_rows`)."""

    def __init__(self, template, config="", context=None, **head):
        self.context = _context(context)
        self.head = _head_config(**head)
        handle = ctypes.c_void_p()
        _check(_library().turbo_kernel_create(self.context._handle, template.encode(),
                                              ctypes.byref(self.head), config.encode(),
                                              ctypes.byref(handle)))
        self._handle = handle
        info = _KernelInfo()
        info.struct_size = ctypes.sizeof(info)
        _check(_library().turbo_kernel_get_info(self._handle, ctypes.byref(info)))
        self.config = info.config.decode()  # canonical "key=value,..."
        self.param_names = info.param_names.decode().split(",")
        self.registers = info.registers
        self.from_cubin = bool(info.from_cubin)  # loaded without the driver JIT

    def quantize_rows(self, x, q=None, scales=None):
        """x [rows, cols] f16/bf16 -> (q int8 [rows, cols], scales f32 [rows])."""
        import torch
        dtype = _torch_dtype(self.config_value("dtype"))
        device = self.context.device
        _check_tensor("x", x, dtype, device, 2)
        rows, cols = x.shape
        kernel_cols = self.config_value("cols")
        if cols != kernel_cols:
            raise TurboError(1, f"x has {cols} columns, the kernel {kernel_cols}")
        if q is None:
            q = torch.empty((rows, cols), dtype=torch.int8, device=x.device)
        if scales is None:
            scales = torch.empty((rows,), dtype=torch.float32, device=x.device)
        _check_tensor("q", q, torch.int8, device, 2)
        _check_tensor("scales", scales, torch.float32, device, 1)
        if q.shape != x.shape or scales.shape[0] != rows:
            raise TurboError(1, "q must be shaped like x and scales have one entry per row")
        _check(_library().turbo_quantize_rows(self._handle, x.data_ptr(), q.data_ptr(),
                                              scales.data_ptr(), rows, x.stride(0), q.stride(0),
                                              _stream(x)))
        return q, scales

    def config_value(self, name):
        """The kernel's value of config parameter `name` (an int)."""
        value = ctypes.c_int64()
        _check(_library().turbo_kernel_config_value(self._handle, name.encode(),
                                                    ctypes.byref(value)))
        return value.value

    def close(self):
        if getattr(self, "_handle", None):
            _library().turbo_kernel_destroy(self._handle)
            self._handle = None

    def __del__(self):
        self.close()


# ---- The compressed, paged KV cache and decode --------------------------------

# Pages a cache keeps staged (sink_pages, window_pages): None takes the
# C API's defaults (turbo_kv_cache_desc_init; docs/kv-cache.md).
def _cache_desc(kv_heads, head_dim, bits, page_size, sink_pages=None, window_pages=None):
    desc = _KvCacheDesc()
    _library().turbo_kv_cache_desc_init(ctypes.byref(desc))
    desc.kv_heads = int(kv_heads)
    desc.head_dim = int(head_dim)
    desc.page_size = int(page_size)
    if sink_pages is not None:
        desc.sink_pages = int(sink_pages)
    if window_pages is not None:
        desc.window_pages = int(window_pages)
    widths = [int(bits)] * int(kv_heads) if isinstance(bits, int) else [int(b) for b in bits]
    if len(widths) != int(kv_heads):
        raise TurboError(1, f"bits: {len(widths)} widths for {kv_heads} KV heads")
    array = (ctypes.c_int * len(widths))(*widths)
    desc.kv_bits = array
    return desc, array, widths


def kv_cache_layout(kv_heads, head_dim, bits=4, page_size=64, sink_pages=None,
                    window_pages=None):
    """Sizes of a cache (no GPU): {'page_bytes', 'staging_slot_bytes',
    'bytes_per_token' (per token and KV head at 4096 tokens), 'staging_rows'
    (tokens of a KV head's part of a slot), 'sink_pages', 'window_pages'}.
    sink_pages, window_pages: the pages each sequence keeps staged (None:
    turbo's defaults, 1 and 0)."""
    desc, _keep, _ = _cache_desc(kv_heads, head_dim, bits, page_size, sink_pages, window_pages)
    info = _KvCacheInfo()
    info.struct_size = ctypes.sizeof(info)
    _check(_library().turbo_kv_cache_layout(ctypes.byref(desc), ctypes.byref(info)))
    return {"page_bytes": info.page_bytes, "staging_slot_bytes": info.staging_slot_bytes,
            "bytes_per_token": info.bytes_per_token, "staging_rows": info.staging_rows,
            "sink_pages": desc.sink_pages, "window_pages": desc.window_pages}


def _samples(q, k, v):
    import numpy as np
    k = np.ascontiguousarray(k, dtype=np.float32)
    v = np.ascontiguousarray(v, dtype=np.float32)
    if k.ndim != 3 or k.shape != v.shape:
        raise TurboError(1, "k and v must both be [kv_heads, tokens, head_dim]")
    if q is not None:
        q = np.ascontiguousarray(q, dtype=np.float32)
        if q.ndim != 3 or q.shape[1:] != k.shape[1:]:
            raise TurboError(1, f"q must be [q_heads, tokens, head_dim] with k's tokens and "
                                f"head_dim {k.shape[1:]}, got {q.shape}")
    return q, k, v


def kv_calibrate(q, k, v, fraction_2bit=0.5, page_size=64, sink_pages=None, window_pages=None):
    """Per-KV-head bit widths of one layer from its sample attention (numpy:
    q [q_heads, tokens, head_dim], k and v [kv_heads, tokens, head_dim],
    softmax scale 1/sqrt(head_dim)): (bits list, losses list). Each head's
    loss: its 2-bit error over the layer's exact attention output (see
    turbo_kv_calibrate); losses of different layers compare, so a model's
    heads can be chosen together with kv_pick_bits. page_size, sink_pages and
    window_pages as the cache will be made with (None: the defaults)."""
    q, k, v = _samples(q, k, v)
    heads, tokens, dim = k.shape
    bits = (ctypes.c_int * heads)()
    losses = (ctypes.c_double * heads)()
    _check(_library().turbo_kv_calibrate(q.ctypes.data, k.ctypes.data, v.ctypes.data,
                                         q.shape[0], heads, tokens, dim, int(page_size),
                                         -1 if sink_pages is None else int(sink_pages),
                                         -1 if window_pages is None else int(window_pages),
                                         float(fraction_2bit), bits, losses))
    return list(bits), list(losses)


def kv_head_priorities(k, v):
    """The paper's per-KV-head statistic from sample K and V (numpy [kv_heads,
    tokens, head_dim] each): channel range times deviation, a list. Cheaper
    than kv_calibrate, and a worse choice on a real model (docs/accuracy.md)."""
    _, k, v = _samples(None, k, v)
    heads, tokens, dim = k.shape
    priorities = (ctypes.c_double * heads)()
    _check(_library().turbo_kv_head_priorities(k.ctypes.data, v.ctypes.data, heads, tokens, dim,
                                               priorities))
    return list(priorities)


def kv_pick_bits(scores, fraction_2bit=0.5):
    """Bit widths for scored heads (any number, e.g. every layer's losses
    together): the lowest `fraction_2bit` (rounded down) at 2 bits, the rest 4."""
    values = [float(x) for x in scores]
    if not values:
        raise TurboError(1, "kv_pick_bits: no scores")
    bits = (ctypes.c_int * len(values))()
    _check(_library().turbo_kv_pick_bits((ctypes.c_double * len(values))(*values), len(values),
                                         float(fraction_2bit), bits))
    return list(bits)


def kv_head_losses(q, k, v, bits, page_size=64, sink_pages=None, window_pages=None):
    """Each KV head's loss (as kv_calibrate's) with its pages at `bits` (2, 4
    or 8), a list: with kv_pick_bits_within, the widths under an accuracy
    budget (turbo_kv_head_losses)."""
    q, k, v = _samples(q, k, v)
    heads, tokens, dim = k.shape
    losses = (ctypes.c_double * heads)()
    _check(_library().turbo_kv_head_losses(q.ctypes.data, k.ctypes.data, v.ctypes.data,
                                           q.shape[0], heads, tokens, dim, int(page_size),
                                           -1 if sink_pages is None else int(sink_pages),
                                           -1 if window_pages is None else int(window_pages),
                                           int(bits), losses))
    return list(losses)


def kv_pick_bits_within(losses_2bit, losses_4bit, max_rel_err):
    """One layer's widths under an accuracy budget: the most heads at 2 bits
    whose predicted layer error (the root of the sum of the heads' squared
    losses at their widths) stays within max_rel_err; (bits list, predicted
    error) (turbo_kv_pick_bits_within)."""
    at2 = [float(x) for x in losses_2bit]
    at4 = [float(x) for x in losses_4bit]
    if not at2 or len(at2) != len(at4):
        raise TurboError(1, "kv_pick_bits_within: give as many 4-bit as 2-bit losses, at least one")
    bits = (ctypes.c_int * len(at2))()
    predicted = ctypes.c_double()
    _check(_library().turbo_kv_pick_bits_within((ctypes.c_double * len(at2))(*at2),
                                                (ctypes.c_double * len(at4))(*at4), len(at2),
                                                float(max_rel_err), bits, ctypes.byref(predicted)))
    return list(bits), predicted.value


def _kv_bits_name(widths):
    kinds = set(widths)
    return str(kinds.pop()) if len(kinds) == 1 else "mixed"


def kv_write_prompt_reference(k, v, bits, page_size=64, seq_lens=None, sink_pages=None,
                              window_pages=None):
    """Prompts' K/V into a new cache on the CPU, byte for byte what
    Decoder.write_prompt writes (turbo_kv_write_prompt_reference); no GPU.

    k, v: numpy float16 [batch, kv_heads, tokens, head_dim]; bits: one width,
    or one per KV head; seq_lens: each prompt's length (default: all
    tokens); sink_pages, window_pages: the pages kept staged (None: the
    defaults). Sequence b gets block-table row b naming its own pages.
    Returns numpy (pool uint8, staging uint8, block_table int32 [batch,
    max_pages], seq_lens int32 [batch]), ready for attention_decode_reference."""
    import numpy as np
    k16, k_dtype = _host_array("k", k)
    v16, v_dtype = _host_array("v", v)
    if k16.shape != v16.shape or k_dtype or v_dtype:
        raise TurboError(1, "k and v must be float16 [batch, kv_heads, tokens, head_dim] alike")
    batch, kv_heads, tokens, head_dim = k16.shape
    desc, _keep, widths = _cache_desc(kv_heads, head_dim, bits, page_size, sink_pages,
                                      window_pages)
    layout = kv_cache_layout(kv_heads, head_dim, widths, page_size, sink_pages, window_pages)
    lens = np.full(batch, tokens, dtype=np.int32) if seq_lens is None else \
        np.ascontiguousarray(seq_lens, dtype=np.int32)
    if lens.shape != (batch,):
        raise TurboError(1, f"seq_lens must have {batch} lengths")
    max_pages = max(1, tokens // int(page_size))
    table = np.arange(batch * max_pages, dtype=np.int32).reshape(batch, max_pages)
    pool = np.zeros(batch * max_pages * layout["page_bytes"], dtype=np.uint8)
    staging = np.zeros(batch * layout["staging_slot_bytes"], dtype=np.uint8)
    args = _KvWriteArgs()
    _library().turbo_kv_write_args_init(ctypes.byref(args))
    args.batch, args.num_new = batch, tokens
    args.k = _Tensor(k16.ctypes.data, k16.strides[0] // 2, k16.strides[1] // 2, k16.strides[2] // 2)
    args.v = _Tensor(v16.ctypes.data, v16.strides[0] // 2, v16.strides[1] // 2, v16.strides[2] // 2)
    args.pool, args.num_pages = pool.ctypes.data, batch * max_pages
    args.staging = staging.ctypes.data
    args.block_table, args.max_pages, args.block_table_stride = table.ctypes.data, max_pages, \
        max_pages
    args.seq_lens = lens.ctypes.data
    head = _head_config(kv_heads, kv_heads, head_dim, "f16", None, _kv_bits_name(widths))
    _check(_library().turbo_kv_write_prompt_reference(
        ctypes.byref(head), f"source=tokens,page_size={page_size}".encode(), ctypes.byref(desc),
        ctypes.byref(args), None))
    return pool, staging, table, lens


def attention_decode_reference(q, pool, staging, block_table, seq_lens, bits, page_size=64,
                               config="", softmax_scale=0.0, sink_pages=None, window_pages=None):
    """The decode kernel's arithmetic on the CPU (turbo_attention_decode_reference)
    over a host cache (kv_write_prompt_reference's, or copies of a GPU one); no GPU.

    q: numpy float16 [batch, q_heads, n, head_dim] (token t of sequence b
    sees its first seq_lens[b] - n + t + 1 cached tokens); bits, page_size,
    sink_pages and window_pages as the cache was written with. Returns out,
    float16 like q."""
    import numpy as np
    q16, q_dtype = _host_array("q", q)
    if q_dtype:
        raise TurboError(1, "q must be float16")
    batch, q_heads, n, head_dim = q16.shape
    if isinstance(bits, int):
        raise TurboError(1, "bits: give one width per KV head (the cache's, in order)")
    kv_heads = len(bits)
    desc, _keep, widths = _cache_desc(kv_heads, head_dim, bits, page_size, sink_pages,
                                      window_pages)
    layout = kv_cache_layout(kv_heads, head_dim, widths, page_size, sink_pages, window_pages)
    pool = np.ascontiguousarray(pool, dtype=np.uint8)
    staging = np.ascontiguousarray(staging, dtype=np.uint8)
    table = np.ascontiguousarray(block_table, dtype=np.int32)
    lens = np.ascontiguousarray(seq_lens, dtype=np.int32)
    if table.ndim != 2 or table.shape[0] != batch or lens.shape != (batch,):
        raise TurboError(1, f"block_table must be [{batch}, max_pages] and seq_lens [{batch}]")
    out = np.full(q16.shape, 0x7e00, dtype=np.uint16)  # NaN: an unwritten element shows
    args = _DecodeArgs()
    _library().turbo_decode_args_init(ctypes.byref(args))
    args.batch, args.num_query = batch, n
    args.softmax_scale = float(softmax_scale)
    args.q = _Tensor(q16.ctypes.data, q16.strides[0] // 2, q16.strides[1] // 2, q16.strides[2] // 2)
    args.o = _Tensor(out.ctypes.data, out.strides[0] // 2, out.strides[1] // 2, out.strides[2] // 2)
    args.pool, args.num_pages = pool.ctypes.data, pool.size // layout["page_bytes"]
    args.staging = staging.ctypes.data
    args.block_table, args.max_pages, args.block_table_stride = table.ctypes.data, \
        table.shape[1], table.shape[1]
    args.seq_lens = lens.ctypes.data
    args.splits = 1
    head = _head_config(q_heads, kv_heads, head_dim, "f16", None, _kv_bits_name(widths))
    extra = f"max_query={max(n, 1)},page_size={page_size}" + (f",{config}" if config else "")
    _check(_library().turbo_attention_decode_reference(
        ctypes.byref(head), extra.encode(), ctypes.byref(desc), ctypes.byref(args), None))
    return out.view(np.float16)


class Decoder:
    """Decode over the compressed, paged KV cache on torch tensors: the cache's
    description, and the kernels that write it (a prompt after prefill, each
    step's tokens) and read it. The memory is the caller's torch tensors:
    pool (uint8, num_pages x page_bytes), staging (uint8, batch x
    staging_slot_bytes), block_table (int32 [batch, max_pages]), seq_lens
    (int32 [batch]). sink_pages, window_pages: the pages each sequence keeps
    in INT8 in its staging slot (None: turbo's defaults, 1 and 0); their
    block-table columns are not read."""

    def __init__(self, q_heads, kv_heads, head_dim=128, dtype="f16", bits=4, page_size=64,
                 max_query=1, max_new=16, config="", context=None, sink_pages=None,
                 window_pages=None):
        import torch
        self.context = _context(context)
        self.q_heads, self.kv_heads, self.head_dim = int(q_heads), int(kv_heads), int(head_dim)
        self._kept = (sink_pages, window_pages)
        desc, keep, self.bits = _cache_desc(kv_heads, head_dim, bits, page_size, sink_pages,
                                            window_pages)
        widths = set(self.bits)
        kv_bits = widths.pop() if len(widths) == 1 else "mixed"
        if kv_bits == "mixed" and not set(self.bits) <= {2, 4}:
            raise TurboError(1, "a mix of widths must be of 2 and 4 bits")
        self.layout = kv_cache_layout(kv_heads, head_dim, self.bits, page_size, sink_pages,
                                      window_pages)
        handle = ctypes.c_void_p()
        _check(_library().turbo_kv_cache_create(self.context._handle, ctypes.byref(desc),
                                                ctypes.byref(handle)))
        self._cache = handle
        head = dict(q_heads=q_heads, kv_heads=kv_heads, head_dim=head_dim, dtype=dtype,
                    kv_bits=kv_bits, context=self.context)
        self._head = {key: value for key, value in head.items() if key != "context"}
        self._page_size = int(page_size)
        extra = f",page_size={page_size}" + (f",{config}" if config else "")
        self.decode_kernel = Kernel("attention_decode", f"max_query={max_query}" + extra, **head)
        self.stage_kernel = Kernel("kv_stage", f"max_new={max_new},page_size={page_size}", **head)
        self.prompt_kernel = Kernel("kv_compress", f"source=tokens,page_size={page_size}", **head)
        self.dtype = _torch_dtype(self.decode_kernel.config_value("dtype"))
        self.page_size = int(page_size)

    def allocate(self, batch, num_pages, device=None):
        """Zeroed pool and staging tensors for `batch` sequences and `num_pages` pages."""
        import torch
        device = device or f"cuda:{self.context.device}"
        pool = torch.zeros(num_pages * self.layout["page_bytes"], dtype=torch.uint8, device=device)
        staging = torch.zeros(batch * self.layout["staging_slot_bytes"], dtype=torch.uint8,
                              device=device)
        return pool, staging

    def _cache_args(self, args, pool, staging, block_table, seq_lens):
        import torch
        device = self.context.device
        _check_tensor("pool", pool, torch.uint8, device, 1)
        _check_tensor("staging", staging, torch.uint8, device, 1)
        _check_tensor("block_table", block_table, torch.int32, device, 2)
        _check_tensor("seq_lens", seq_lens, torch.int32, device, 1)
        if pool.numel() % self.layout["page_bytes"]:
            raise TurboError(1, "pool's size must be a whole number of pages")
        args.pool = pool.data_ptr()
        args.num_pages = pool.numel() // self.layout["page_bytes"]
        args.staging = staging.data_ptr()
        args.block_table = block_table.data_ptr()
        args.max_pages = block_table.shape[1]
        args.block_table_stride = block_table.stride(0)
        args.seq_lens = seq_lens.data_ptr()

    def _write(self, function, kernel, k, v, pool, staging, block_table, seq_lens):
        device = self.context.device
        _check_tensor("k", k, self.dtype, device, 4)
        _check_tensor("v", v, self.dtype, device, 4)
        if k.shape != v.shape or k.shape[1] != self.kv_heads or k.shape[3] != self.head_dim:
            raise TurboError(1, "k and v must be [batch, kv_heads, tokens, head_dim] alike")
        args = _KvWriteArgs()
        _library().turbo_kv_write_args_init(ctypes.byref(args))
        args.batch, args.num_new = k.shape[0], k.shape[2]
        args.k = _Tensor(k.data_ptr(), k.stride(0), k.stride(1), k.stride(2))
        args.v = _Tensor(v.data_ptr(), v.stride(0), v.stride(1), v.stride(2))
        self._cache_args(args, pool, staging, block_table, seq_lens)
        _check(function(kernel._handle, self._cache, ctypes.byref(args), _stream(k)))

    def write_prompt(self, k, v, pool, staging, block_table, seq_lens):
        """A prompt's K/V ([batch, kv_heads, tokens, head_dim]; sequence b's
        first seq_lens[b] tokens) into an empty cache."""
        self._write(_library().turbo_kv_write_prompt, self.prompt_kernel, k, v, pool, staging,
                    block_table, seq_lens)

    def append(self, k, v, pool, staging, block_table, seq_lens):
        """One step's new tokens ([batch, kv_heads, n, head_dim]) after the
        seq_lens[b] cached; the caller then adds n to seq_lens."""
        self._write(_library().turbo_kv_append, self.stage_kernel, k, v, pool, staging,
                    block_table, seq_lens)

    def _decode_args(self, q, out, pool, staging, block_table, seq_lens, splits, softmax_scale):
        device = self.context.device
        _check_tensor("q", q, self.dtype, device, 4)
        _check_tensor("out", out, self.dtype, device, 4)
        if q.shape[1] != self.q_heads or q.shape[3] != self.head_dim or out.shape != q.shape:
            raise TurboError(1, "q and out must be [batch, q_heads, n, head_dim] alike")
        args = _DecodeArgs()
        _library().turbo_decode_args_init(ctypes.byref(args))
        args.batch, args.num_query = q.shape[0], q.shape[2]
        args.softmax_scale = softmax_scale
        args.q = _Tensor(q.data_ptr(), q.stride(0), q.stride(1), q.stride(2))
        args.o = _Tensor(out.data_ptr(), out.stride(0), out.stride(1), out.stride(2))
        self._cache_args(args, pool, staging, block_table, seq_lens)
        args.splits = splits
        return args

    def workspace(self, q, pool, staging, block_table, seq_lens, splits=0):
        """A workspace tensor for decode calls shaped like these (None when
        one split suffices), and the splits they will use."""
        import torch
        args = self._decode_args(q, q, pool, staging, block_table, seq_lens, splits, 0.0)
        size, used = ctypes.c_size_t(), ctypes.c_int64()
        _check(_library().turbo_attention_decode_workspace_size(
            self.decode_kernel._handle, self._cache, ctypes.byref(args), ctypes.byref(size),
            ctypes.byref(used)))
        if size.value == 0:
            return None, used.value
        return torch.empty(size.value, dtype=torch.uint8, device=q.device), used.value

    def decode(self, q, pool, staging, block_table, seq_lens, out=None, splits=0,
               workspace=None, softmax_scale=0.0):
        """Attention of q ([batch, q_heads, n, head_dim]; token t sees the
        first seq_lens[b] - n + t + 1 cached tokens) over the cache. Pass the
        same `splits` and `workspace` to capture it in a CUDA graph."""
        import torch
        if out is None:
            out = torch.empty_like(q)
        args = self._decode_args(q, out, pool, staging, block_table, seq_lens, splits,
                                 softmax_scale)
        if workspace is None and splits != 1:
            workspace, used = self.workspace(q, pool, staging, block_table, seq_lens, splits)
            args.splits = used
        if workspace is not None:
            args.workspace, args.workspace_bytes = workspace.data_ptr(), workspace.numel()
        _check(_library().turbo_attention_decode(self.decode_kernel._handle, self._cache,
                                                 ctypes.byref(args), _stream(q)))
        return out

    def decode_reference(self, q, pool, staging, block_table, seq_lens, softmax_scale=0.0):
        """The decode kernel's arithmetic on the CPU (one split) over copies of
        the same tensors: what decode() must match to rounding."""
        import torch
        host = [x.detach().cpu().contiguous() for x in (q, pool, staging, block_table, seq_lens)]
        q_h, pool_h, staging_h, table_h, lens_h = host
        out = torch.empty_like(q_h)
        args = _DecodeArgs()
        _library().turbo_decode_args_init(ctypes.byref(args))
        args.batch, args.num_query = q_h.shape[0], q_h.shape[2]
        args.softmax_scale = softmax_scale
        args.q = _Tensor(q_h.data_ptr(), q_h.stride(0), q_h.stride(1), q_h.stride(2))
        args.o = _Tensor(out.data_ptr(), out.stride(0), out.stride(1), out.stride(2))
        args.pool = pool_h.data_ptr()
        args.num_pages = pool_h.numel() // self.layout["page_bytes"]
        args.staging = staging_h.data_ptr()
        args.block_table = table_h.data_ptr()
        args.max_pages = table_h.shape[1]
        args.block_table_stride = table_h.stride(0)
        args.seq_lens = lens_h.data_ptr()
        args.splits = 1
        desc, keep, _ = _cache_desc(self.kv_heads, self.head_dim, self.bits, self._page_size,
                                    *self._kept)
        head = _head_config(**self._head)
        flags = (ctypes.c_int * 2)()
        _check(_library().turbo_attention_decode_reference(
            ctypes.byref(head), self.decode_kernel.config.encode(), ctypes.byref(desc),
            ctypes.byref(args), flags))
        return out

    def read_flags(self, reset=True):
        """(bad block-table entry seen, length cut): what the kernels reported."""
        flags = (ctypes.c_int * 2)()
        _check(_library().turbo_kv_cache_read_flags(self._cache, flags, int(reset)))
        return bool(flags[0]), bool(flags[1])

    def close(self):
        for kernel in ("decode_kernel", "stage_kernel", "prompt_kernel"):
            if getattr(self, kernel, None) is not None:
                getattr(self, kernel).close()
        if getattr(self, "_cache", None):
            _library().turbo_kv_cache_destroy(self._cache)
            self._cache = None

    def __del__(self):
        self.close()
