"""Run compiled hyla modules from Python.

A thin ctypes wrapper over the hyla runtime's C API (libhyla_runtime.so): no
compiled extension. Loading and inspecting a module needs neither a GPU nor
PyTorch; calling a function takes PyTorch CUDA tensors (torch is imported
only when needed).

    import torch, hyla
    m = hyla.Module("model.hyla")
    print(m.describe())
    m.prepare()                      # torch's current device by default
    m.init_random_weights(seed=0)    # or m.bind_weight(name, tensor)
    (logits,) = m.call("forward", ids)

The library is found through the environment variable HYLA_RUNTIME_LIB (a
path to libhyla_runtime.so), else in build/lib of the source tree this file
belongs to, else by the system loader (LD_LIBRARY_PATH, ldconfig).
"""

import collections
import ctypes
import os
import pathlib

__all__ = ["HylaError", "Module", "Graph", "TensorSpec", "DTYPE_NAMES",
           "MAX_RANK"]

MAX_RANK = 8

# hyla_dtype values, in order.
DTYPE_NAMES = ("bf16", "f16", "f32", "f64", "i32", "i64", "i8")

_STATUS_NAMES = {
    0: "HYLA_OK",
    1: "HYLA_ERROR_INVALID_ARGUMENT",
    2: "HYLA_ERROR_BAD_MODULE",
    3: "HYLA_ERROR_IO",
    4: "HYLA_ERROR_NO_GPU",
    5: "HYLA_ERROR_CUDA",
    6: "HYLA_ERROR_SHAPE",
    7: "HYLA_ERROR_UNSUPPORTED",
    8: "HYLA_ERROR_VALUE",
}

#: A tensor's shape and hyla dtype name, e.g. TensorSpec((2, 128), "i32").
TensorSpec = collections.namedtuple("TensorSpec", ["shape", "dtype"])


class HylaError(RuntimeError):
    """A failed runtime call; the message is the runtime's explanation."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status
        self.status_name = _STATUS_NAMES.get(status)


class _Tensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int32),
        ("rank", ctypes.c_int32),
        ("dims", ctypes.c_int64 * MAX_RANK),
    ]


_lib = None


def _declare(lib):
    """Sets the C signatures of the functions used here."""
    c_module = ctypes.c_void_p
    i32, i64, u32 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32
    cstr, size_t = ctypes.c_char_p, ctypes.c_size_t
    status = ctypes.c_int
    tensor_p = ctypes.POINTER(_Tensor)
    signatures = {
        "hyla_last_error": (cstr, []),
        "hyla_module_load_file": (status, [cstr, ctypes.POINTER(c_module)]),
        "hyla_module_free": (None, [c_module]),
        "hyla_module_target": (cstr, [c_module]),
        "hyla_module_producer": (cstr, [c_module]),
        "hyla_module_metadata": (cstr, [c_module, cstr]),
        "hyla_module_num_metadata": (i32, [c_module]),
        "hyla_module_metadata_key": (cstr, [c_module, i32]),
        "hyla_module_num_kernels": (i32, [c_module]),
        "hyla_module_kernel_name": (cstr, [c_module, i32]),
        "hyla_module_kernel_info": (
            status,
            [c_module, i32, ctypes.POINTER(u32), ctypes.POINTER(u32),
             ctypes.POINTER(size_t)],
        ),
        "hyla_module_kernel_programmatic_launch": (i32, [c_module, i32]),
        "hyla_module_set_programmatic_launch": (status, [c_module, i32]),
        "hyla_module_num_weights": (i32, [c_module]),
        "hyla_module_weight_info": (
            status,
            [c_module, i32, ctypes.POINTER(cstr), ctypes.POINTER(i32),
             ctypes.POINTER(i32), ctypes.POINTER(i64)],
        ),
        "hyla_module_num_functions": (i32, [c_module]),
        "hyla_module_function_name": (cstr, [c_module, i32]),
        "hyla_module_find_function": (i32, [c_module, cstr]),
        "hyla_function_num_inputs": (i32, [c_module, i32]),
        "hyla_function_num_outputs": (i32, [c_module, i32]),
        "hyla_function_output_tied_input": (i32, [c_module, i32, i32]),
        "hyla_function_num_checks": (i32, [c_module, i32]),
        "hyla_function_num_value_checks": (i32, [c_module, i32]),
        "hyla_function_describe_value_check": (
            status, [c_module, i32, i32, ctypes.c_char_p, size_t]),
        "hyla_module_set_value_checks": (status, [c_module, i32]),
        "hyla_function_describe_check": (
            status, [c_module, i32, i32, ctypes.c_char_p, size_t]),
        "hyla_function_num_launches": (i32, [c_module, i32]),
        "hyla_function_num_symbols": (i32, [c_module, i32]),
        "hyla_function_symbol_name": (cstr, [c_module, i32, i32]),
        "hyla_function_describe_input": (
            status, [c_module, i32, i32, ctypes.c_char_p, size_t]),
        "hyla_function_describe_output": (
            status, [c_module, i32, i32, ctypes.c_char_p, size_t]),
        "hyla_function_input_shapes": (
            status, [c_module, i32, ctypes.POINTER(i64), i32, tensor_p]),
        "hyla_function_output_shapes": (
            status, [c_module, i32, tensor_p, i32, tensor_p, i32]),
        "hyla_module_prepare": (status, [c_module, i32]),
        "hyla_module_bind_weight": (status, [c_module, cstr, ctypes.c_void_p]),
        "hyla_module_init_random_weights": (
            status, [c_module, ctypes.c_uint64, ctypes.c_float]),
        "hyla_module_load_safetensors": (
            status, [c_module, ctypes.POINTER(ctypes.c_char_p), i32]),
        "hyla_function_call": (
            status,
            [c_module, i32, tensor_p, i32, tensor_p, i32, ctypes.c_void_p],
        ),
        "hyla_function_capture": (
            status,
            [c_module, i32, tensor_p, i32, tensor_p, i32,
             ctypes.POINTER(ctypes.c_void_p)],
        ),
        "hyla_graph_launch": (status, [ctypes.c_void_p, ctypes.c_void_p]),
        "hyla_graph_num_launches": (i32, [ctypes.c_void_p]),
        "hyla_graph_free": (None, [ctypes.c_void_p]),
        "hyla_synchronize": (status, [c_module]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


def _library():
    """Loads libhyla_runtime.so once (see the module docstring)."""
    global _lib
    if _lib is not None:
        return _lib
    from_env = os.environ.get("HYLA_RUNTIME_LIB")
    if from_env:
        candidates = [from_env]
    else:
        source_tree = pathlib.Path(__file__).resolve().parent.parent.parent
        candidates = [
            str(source_tree / "build" / "lib" / "libhyla_runtime.so"),
            "libhyla_runtime.so",
        ]
    problems = []
    for candidate in candidates:
        try:
            lib = ctypes.CDLL(candidate)
        except OSError as error:
            problems.append(str(error))
            continue
        _declare(lib)
        _lib = lib
        return lib
    raise HylaError(
        "cannot load the hyla runtime (" + "; ".join(problems) + "). Build it "
        "(cmake -DHYLA_ENABLE_COMPILER=OFF ...) and set HYLA_RUNTIME_LIB to "
        "the path of libhyla_runtime.so."
    )


def _check(status):
    if status != 0:
        message = _library().hyla_last_error().decode(errors="replace")
        raise HylaError(message, status)


def _torch():
    try:
        import torch
    except ImportError as error:
        raise HylaError(
            "calling a hyla function needs PyTorch (torch could not be "
            "imported: %s)" % error
        ) from None
    return torch


def _torch_dtypes():
    torch = _torch()
    return {
        torch.bfloat16: 0,
        torch.float16: 1,
        torch.float32: 2,
        torch.float64: 3,
        torch.int32: 4,
        torch.int64: 5,
        torch.int8: 6,
    }


def _spec_of(value, what):
    """(shape, hyla dtype index) of a torch tensor or a TensorSpec."""
    if isinstance(value, TensorSpec) or (
        isinstance(value, tuple) and len(value) == 2
        and isinstance(value[1], str)
    ):
        shape, dtype = value
        if dtype not in DTYPE_NAMES:
            raise ValueError("%s: unknown dtype %r (one of %s)"
                             % (what, dtype, ", ".join(DTYPE_NAMES)))
        return tuple(int(d) for d in shape), DTYPE_NAMES.index(dtype)
    dtypes = _torch_dtypes()
    if value.dtype not in dtypes:
        raise ValueError("%s: dtype %s is not supported by hyla" %
                         (what, value.dtype))
    return tuple(value.shape), dtypes[value.dtype]


def _fill(tensor_struct, shape, dtype, data=None):
    if len(shape) > MAX_RANK:
        raise ValueError("rank %d is above hyla's maximum of %d"
                         % (len(shape), MAX_RANK))
    tensor_struct.data = data
    tensor_struct.dtype = dtype
    tensor_struct.rank = len(shape)
    for d, extent in enumerate(shape):
        tensor_struct.dims[d] = extent


def _check_cuda_tensor(tensor, what):
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        raise TypeError("%s must be a torch.Tensor, not %s"
                        % (what, type(tensor).__name__))
    if tensor.device.type != "cuda":
        raise ValueError("%s is on %s; hyla needs CUDA tensors"
                         % (what, tensor.device))
    if not tensor.is_contiguous():
        raise ValueError("%s is not contiguous; pass tensor.contiguous()"
                         % what)


class Module:
    """A loaded hyla module. Free it with close() (or use `with`)."""

    def __init__(self, path):
        self._lib = _library()
        handle = ctypes.c_void_p()
        _check(self._lib.hyla_module_load_file(os.fsencode(str(path)),
                                               ctypes.byref(handle)))
        self._handle = handle
        self.path = str(path)
        self._device = None
        self._bound = {}  # name -> tensor, kept alive while bound

    # -- lifetime ---------------------------------------------------------

    def close(self):
        """Frees the module and everything it allocated on the GPU."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle and handle.value and self._lib is not None:
            self._lib.hyla_module_free(handle)
        self._bound = {}

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to free
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _h(self):
        if not self._handle:
            raise HylaError("the module is closed")
        return self._handle

    # -- inspection (no GPU) ------------------------------------------------

    @property
    def target(self):
        """The GPU target the module was compiled for, e.g. 'sm_90a'."""
        return self._lib.hyla_module_target(self._h()).decode()

    @property
    def producer(self):
        return self._lib.hyla_module_producer(self._h()).decode()

    @property
    def metadata(self):
        """The module's metadata as a dict of str."""
        lib, h = self._lib, self._h()
        result = {}
        for i in range(lib.hyla_module_num_metadata(h)):
            key = lib.hyla_module_metadata_key(h, i)
            result[key.decode()] = lib.hyla_module_metadata(h, key).decode()
        return result

    @property
    def functions(self):
        """Names of the module's functions, in order."""
        lib, h = self._lib, self._h()
        return [lib.hyla_module_function_name(h, f).decode()
                for f in range(lib.hyla_module_num_functions(h))]

    @property
    def weights(self):
        """[(name, TensorSpec)] of every weight."""
        lib, h = self._lib, self._h()
        result = []
        for w in range(lib.hyla_module_num_weights(h)):
            name = ctypes.c_char_p()
            dtype, rank = ctypes.c_int32(), ctypes.c_int32()
            dims = (ctypes.c_int64 * MAX_RANK)()
            _check(lib.hyla_module_weight_info(
                h, w, ctypes.byref(name), ctypes.byref(dtype),
                ctypes.byref(rank), dims))
            spec = TensorSpec(tuple(dims[:rank.value]),
                              DTYPE_NAMES[dtype.value])
            result.append((name.value.decode(), spec))
        return result

    def symbols(self, fn):
        """Names of function `fn`'s symbols (its dynamic sizes)."""
        lib, h, f = self._lib, self._h(), self._function_index(fn)
        return [lib.hyla_function_symbol_name(h, f, s).decode()
                for s in range(lib.hyla_function_num_symbols(h, f))]

    def _describe(self, f, i, is_input):
        buf = ctypes.create_string_buffer(1024)
        describe = (self._lib.hyla_function_describe_input if is_input
                    else self._lib.hyla_function_describe_output)
        _check(describe(self._h(), f, i, buf, len(buf)))
        return buf.value.decode()

    def describe(self):
        """A readable summary: target, kernels, weights, functions."""
        lib, h = self._lib, self._h()
        lines = ["hyla module %s" % self.path,
                 "  producer: %s" % self.producer,
                 "  target:   %s" % self.target]
        for key, value in self.metadata.items():
            lines.append("  %s = %s" % (key, value))
        kernels = [lib.hyla_module_kernel_name(h, k).decode()
                   for k in range(lib.hyla_module_num_kernels(h))]
        lines.append("  kernels (%d): %s" % (len(kernels), ", ".join(kernels)))
        programmatic = sum(lib.hyla_module_kernel_programmatic_launch(h, k) == 1
                           for k in range(len(kernels)))
        lines.append("  programmatic launch: %d of %d kernels" % (
            programmatic, len(kernels)))
        weights = self.weights
        total = 0
        for _, spec in weights:
            size = {"bf16": 2, "f16": 2, "f32": 4, "f64": 8, "i32": 4,
                    "i64": 8, "i8": 1}[spec.dtype]
            for extent in spec.shape:
                size *= extent
            total += size
        lines.append("  weights: %d (%d bytes)" % (len(weights), total))
        for f, name in enumerate(self.functions):
            lines.append("  %s(%s): %d launches" % (
                name, ", ".join(self.symbols(f)),
                lib.hyla_function_num_launches(h, f)))
            for i in range(lib.hyla_function_num_inputs(h, f)):
                lines.append("    input %d:  %s" % (i, self._describe(f, i, True)))
            for i in range(lib.hyla_function_num_outputs(h, f)):
                lines.append("    output %d: %s" % (i, self._describe(f, i, False)))
            for i in range(lib.hyla_function_num_checks(h, f)):
                buf = ctypes.create_string_buffer(1024)
                _check(lib.hyla_function_describe_check(h, f, i, buf, len(buf)))
                lines.append("    check %d:  %s" % (i, buf.value.decode()))
            for i in range(lib.hyla_function_num_value_checks(h, f)):
                buf = ctypes.create_string_buffer(1024)
                _check(lib.hyla_function_describe_value_check(h, f, i, buf, len(buf)))
                lines.append("    values %d: %s" % (i, buf.value.decode()))
        return "\n".join(lines)

    def __repr__(self):
        return "<hyla.Module %s target=%s functions=%s>" % (
            self.path, self.target, self.functions)

    def _function_index(self, fn):
        if isinstance(fn, int):
            if not 0 <= fn < self._lib.hyla_module_num_functions(self._h()):
                raise HylaError("function index %d is out of range "
                                "(functions: %s)" % (fn, self.functions))
            return fn
        index = self._lib.hyla_module_find_function(self._h(), fn.encode())
        if index < 0:
            raise HylaError("the module has no function %r (functions: %s)"
                            % (fn, ", ".join(self.functions)))
        return index

    def input_shapes(self, fn, **symbols):
        """TensorSpecs of fn's inputs for the given symbol values, e.g.
        m.input_shapes("prefill", batch=1, tokens=128)."""
        lib, h, f = self._lib, self._h(), self._function_index(fn)
        names = self.symbols(f)
        missing = [n for n in names if n not in symbols]
        unknown = [n for n in symbols if n not in names]
        if missing or unknown:
            raise ValueError("function %r has symbols %s; missing %s, "
                             "unknown %s" % (fn, names, missing, unknown))
        values = (ctypes.c_int64 * max(1, len(names)))(
            *[int(symbols[n]) for n in names])
        n_inputs = lib.hyla_function_num_inputs(h, f)
        inputs = (_Tensor * max(1, n_inputs))()
        _check(lib.hyla_function_input_shapes(h, f, values, len(names),
                                              inputs))
        return [TensorSpec(tuple(t.dims[:t.rank]), DTYPE_NAMES[t.dtype])
                for t in inputs[:n_inputs]]

    def output_shapes(self, fn, *inputs):
        """TensorSpecs of fn's outputs for these inputs (torch tensors or
        TensorSpecs). Raises HylaError if the inputs do not fit."""
        lib, h, f = self._lib, self._h(), self._function_index(fn)
        c_inputs = (_Tensor * max(1, len(inputs)))()
        for i, value in enumerate(inputs):
            shape, dtype = _spec_of(value, "input %d" % i)
            _fill(c_inputs[i], shape, dtype)
        n_outputs = lib.hyla_function_num_outputs(h, f)
        c_outputs = (_Tensor * max(1, n_outputs))()
        _check(lib.hyla_function_output_shapes(h, f, c_inputs, len(inputs),
                                               c_outputs, n_outputs))
        return [TensorSpec(tuple(t.dims[:t.rank]), DTYPE_NAMES[t.dtype])
                for t in c_outputs[:n_outputs]]

    # -- execution (GPU) ----------------------------------------------------

    def prepare(self, device=None):
        """Loads the kernels on `device` (default: torch's current CUDA
        device if torch is importable, else 0). Raises HylaError without a
        GPU or CUDA driver."""
        if device is None:
            device = 0
            try:
                import torch
                if torch.cuda.is_available():
                    device = torch.cuda.current_device()
            except ImportError:
                pass
        _check(self._lib.hyla_module_prepare(self._h(), int(device)))
        self._device = int(device)

    def set_programmatic_launch(self, enable):
        """Whether later calls launch the kernels that allow it with
        programmatic stream serialization (sm_90+; on by default, or as the
        environment variable HYLA_PROGRAMMATIC_LAUNCH says). Kernels then
        start while the grid before them drains."""
        _check(self._lib.hyla_module_set_programmatic_launch(
            self._h(), 1 if enable else 0))

    def set_value_checks(self, enable):
        """Whether later calls read back and check the integer inputs the
        kernels index memory with (token ids, slots, lengths, offsets)
        before they enqueue anything: a bad value raises HylaError
        (HYLA_ERROR_VALUE). On by default (HYLA_VALUE_CHECKS=0 turns the
        default off); a checked call waits for its stream first."""
        _check(self._lib.hyla_module_set_value_checks(
            self._h(), 1 if enable else 0))

    def bind_weight(self, name, tensor):
        """Uses `tensor` (CUDA, contiguous, the weight's dtype and shape) as
        weight `name`. The module keeps a reference, so it stays alive."""
        _check_cuda_tensor(tensor, "weight %r" % name)
        specs = dict(self.weights)
        if name not in specs:
            raise HylaError("the module has no weight named %r" % name)
        shape, dtype = _spec_of(tensor, "weight %r" % name)
        expected = specs[name]
        if DTYPE_NAMES[dtype] != expected.dtype or shape != expected.shape:
            raise ValueError("weight %r is %s%s, but the tensor is %s%s" % (
                name, expected.dtype, list(expected.shape), DTYPE_NAMES[dtype],
                list(shape)))
        _check(self._lib.hyla_module_bind_weight(
            self._h(), name.encode(), ctypes.c_void_p(tensor.data_ptr())))
        self._bound[name] = tensor

    def init_random_weights(self, seed=0, scale=0.02):
        """Fills every weight not bound with bind_weight with random values
        (normal * scale; 1-D weights 1 + normal * scale). Needs prepare()."""
        _check(self._lib.hyla_module_init_random_weights(
            self._h(), int(seed), float(scale)))

    def load_safetensors(self, paths):
        """Reads every weight not bound with bind_weight from Hugging Face
        safetensors files (a path or a list of shards), by name, dtype and
        shape checked; a fused "<p>.conv1d.weight" serves a module that
        wants q/k/v convs. Nothing changes when a file is bad. Needs
        prepare()."""
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        raw = [os.fsencode(p) for p in paths]
        array = (ctypes.c_char_p * max(1, len(raw)))(*raw)
        _check(self._lib.hyla_module_load_safetensors(
            self._h(), array, len(raw)))

    def synchronize(self):
        """Waits for all work on the module's device."""
        _check(self._lib.hyla_synchronize(self._h()))

    def tied_inputs(self, fn):
        """For each output of fn: the input it updates in place, or -1."""
        lib, h, f = self._lib, self._h(), self._function_index(fn)
        tied = [lib.hyla_function_output_tied_input(h, f, i)
                for i in range(lib.hyla_function_num_outputs(h, f))]
        if any(t < -1 for t in tied):
            raise HylaError("hyla_function_output_tied_input failed")
        return tied

    def call(self, fn, *inputs, outputs=None, stream=None):
        """Runs function `fn` (name or index) on CUDA tensors and returns a
        tuple of output tensors. `outputs` (optional) are tensors to write;
        by default they are allocated with torch.empty on the inputs' device,
        except an output that updates an input in place (a cache), which is
        that input tensor itself (see tied_inputs). `stream` is a torch.cuda.Stream or a raw CUstream handle (int); the
        default is torch's current stream. Does not synchronize."""
        torch = _torch()
        lib, h, f = self._lib, self._h(), self._function_index(fn)
        n_inputs = lib.hyla_function_num_inputs(h, f)
        n_outputs = lib.hyla_function_num_outputs(h, f)
        if len(inputs) != n_inputs:
            raise ValueError("function %r takes %d inputs, got %d"
                             % (fn, n_inputs, len(inputs)))
        for i, tensor in enumerate(inputs):
            _check_cuda_tensor(tensor, "input %d" % i)
        if inputs:
            device = inputs[0].device
        else:
            device = torch.device("cuda", self._device
                                  if self._device is not None
                                  else torch.cuda.current_device())
        for i, tensor in enumerate(inputs):
            if tensor.device != device:
                raise ValueError("input %d is on %s but input 0 is on %s"
                                 % (i, tensor.device, device))
        if self._device is None:
            self.prepare(device.index)
        elif device.index != self._device:
            raise ValueError("the module is prepared for cuda:%d but the "
                             "inputs are on %s" % (self._device, device))

        c_inputs = (_Tensor * max(1, n_inputs))()
        for i, tensor in enumerate(inputs):
            shape, dtype = _spec_of(tensor, "input %d" % i)
            _fill(c_inputs[i], shape, dtype, tensor.data_ptr())

        if outputs is None:
            torch_dtypes = {v: k for k, v in _torch_dtypes().items()}
            specs = self.output_shapes(f, *inputs)
            tied = self.tied_inputs(f)
            outputs = [inputs[tied[i]] if tied[i] >= 0 else
                       torch.empty(spec.shape,
                                   dtype=torch_dtypes[DTYPE_NAMES.index(spec.dtype)],
                                   device=device)
                       for i, spec in enumerate(specs)]
        else:
            outputs = list(outputs)
            if len(outputs) != n_outputs:
                raise ValueError("function %r has %d outputs, got %d"
                                 % (fn, n_outputs, len(outputs)))
            for i, tensor in enumerate(outputs):
                _check_cuda_tensor(tensor, "output %d" % i)
        c_outputs = (_Tensor * max(1, n_outputs))()
        for i, tensor in enumerate(outputs):
            shape, dtype = _spec_of(tensor, "output %d" % i)
            _fill(c_outputs[i], shape, dtype, tensor.data_ptr())

        if stream is None:
            stream = torch.cuda.current_stream(device).cuda_stream
        elif hasattr(stream, "cuda_stream"):
            stream = stream.cuda_stream
        _check(lib.hyla_function_call(h, f, c_inputs, n_inputs, c_outputs,
                                      n_outputs, ctypes.c_void_p(int(stream))))
        return tuple(outputs)

    def capture(self, fn, *inputs, outputs):
        """Records one call of `fn` on these CUDA tensors (outputs given, as
        for call) as a CUDA graph without running it; Graph.launch()
        replays it. The graph keeps the tensors' addresses: write new
        values into the same tensors between launches."""
        lib, h, f = self._lib, self._h(), self._function_index(fn)
        tensors = list(inputs) + list(outputs)
        for i, tensor in enumerate(tensors):
            _check_cuda_tensor(tensor, "tensor %d" % i)
        if self._device is None:
            self.prepare(tensors[0].device.index if tensors else None)
        c_inputs = (_Tensor * max(1, len(inputs)))()
        for i, tensor in enumerate(inputs):
            shape, dtype = _spec_of(tensor, "input %d" % i)
            _fill(c_inputs[i], shape, dtype, tensor.data_ptr())
        c_outputs = (_Tensor * max(1, len(outputs)))()
        for i, tensor in enumerate(outputs):
            shape, dtype = _spec_of(tensor, "output %d" % i)
            _fill(c_outputs[i], shape, dtype, tensor.data_ptr())
        handle = ctypes.c_void_p()
        _check(lib.hyla_function_capture(h, f, c_inputs, len(inputs),
                                         c_outputs, len(outputs),
                                         ctypes.byref(handle)))
        return Graph(self, handle, tensors)


class Graph:
    """A call captured as a CUDA graph (Module.capture). Keeps its module
    and tensors alive; close() (or garbage collection) frees it."""

    def __init__(self, module, handle, tensors):
        self._module, self._handle, self._tensors = module, handle, tensors

    @property
    def num_launches(self):
        return self._module._lib.hyla_graph_num_launches(self._handle)

    def launch(self, stream=None):
        """Enqueues the captured call on `stream` (default: torch's current
        stream). Does not synchronize."""
        if not self._handle:
            raise HylaError("the graph is closed")
        if stream is None:
            stream = _torch().cuda.current_stream().cuda_stream
        elif hasattr(stream, "cuda_stream"):
            stream = stream.cuda_stream
        _check(self._module._lib.hyla_graph_launch(
            self._handle, ctypes.c_void_p(int(stream))))

    def close(self):
        if self._handle:
            self._module._lib.hyla_graph_free(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

