/*===- hyla/runtime.h - the hyla runtime C API -----------------------------===
 *
 * Loads a compiled hyla module (FlatBuffers, runtime/schema/hyla_module.fbs),
 * checks it, and runs its functions on an NVIDIA GPU through the CUDA driver
 * API. libcuda is opened at run time (dlopen), so this library links against
 * nothing but libc/libstdc++, and loading or inspecting a module works on a
 * machine without a GPU.
 *
 * Errors: every call that can fail returns a hyla_status; hyla_last_error()
 * then returns a message for the calling thread that says what went wrong
 * and where (file, function, input, dim, kernel...).
 *===----------------------------------------------------------------------===*/
#ifndef HYLA_RUNTIME_H
#define HYLA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HYLA_MODULE_FORMAT_VERSION 2
#define HYLA_MAX_RANK 8

typedef enum hyla_status {
  HYLA_OK = 0,
  HYLA_ERROR_INVALID_ARGUMENT = 1, /* bad pointer, name, count or index */
  HYLA_ERROR_BAD_MODULE = 2,       /* truncated, corrupted, wrong version */
  HYLA_ERROR_IO = 3,               /* cannot read or write a file */
  HYLA_ERROR_NO_GPU = 4,           /* no CUDA driver or no device */
  HYLA_ERROR_CUDA = 5,             /* a CUDA driver call failed */
  HYLA_ERROR_SHAPE = 6,            /* inputs do not fit the function */
  HYLA_ERROR_UNSUPPORTED = 7,      /* e.g. module target != device arch */
  HYLA_ERROR_VALUE = 8             /* an input's values are out of range */
} hyla_status;

/* Element types, same numbering as hyla.fb.DType. */
typedef enum hyla_dtype {
  HYLA_BF16 = 0, HYLA_F16 = 1, HYLA_F32 = 2, HYLA_F64 = 3,
  HYLA_I32 = 4, HYLA_I64 = 5, HYLA_I8 = 6
} hyla_dtype;

/* A dense row-major tensor in device memory (or, for shape queries, only
 * its dtype/rank/dims). */
typedef struct hyla_tensor {
  void *data;
  int32_t dtype; /* hyla_dtype */
  int32_t rank;
  int64_t dims[HYLA_MAX_RANK];
} hyla_tensor;

typedef struct hyla_module hyla_module;

/* The message of the last failed call on this thread ("" if none). */
const char *hyla_last_error(void);
const char *hyla_status_string(hyla_status status);
size_t hyla_dtype_size(int32_t dtype); /* 0 for an unknown dtype */

/*--- Loading and inspection (no GPU needed) ------------------------------*/

/* Reads and verifies a module file. */
hyla_status hyla_module_load_file(const char *path, hyla_module **out);
/* Verifies a module in memory; the bytes are copied. */
hyla_status hyla_module_load_memory(const void *data, size_t size,
                                    hyla_module **out);
void hyla_module_free(hyla_module *module);

const char *hyla_module_target(const hyla_module *module);
const char *hyla_module_producer(const hyla_module *module);
/* Metadata value for `key`, or NULL. */
const char *hyla_module_metadata(const hyla_module *module, const char *key);
/* Number of metadata entries and the key of entry i (for listing them). */
int32_t hyla_module_num_metadata(const hyla_module *module);
const char *hyla_module_metadata_key(const hyla_module *module, int32_t i);

int32_t hyla_module_num_kernels(const hyla_module *module);
const char *hyla_module_kernel_name(const hyla_module *module, int32_t i);
/* Threads per CTA, dynamic shared memory bytes, PTX size in bytes. */
hyla_status hyla_module_kernel_info(const hyla_module *module, int32_t i,
                                    uint32_t *block_dim,
                                    uint32_t *shared_mem_bytes,
                                    size_t *ptx_bytes);

/* 1 if kernel i starts with griddepcontrol.wait and so may be launched with
 * programmatic stream serialization (its CTAs start while the grid before
 * it drains); 0 if not; -1 for a bad index. */
int32_t hyla_module_kernel_programmatic_launch(const hyla_module *module,
                                               int32_t i);

int32_t hyla_module_num_weights(const hyla_module *module);
/* Name and shape of weight i; `dims` has room for HYLA_MAX_RANK. */
hyla_status hyla_module_weight_info(const hyla_module *module, int32_t i,
                                    const char **name, int32_t *dtype,
                                    int32_t *rank, int64_t *dims);

int32_t hyla_module_num_functions(const hyla_module *module);
const char *hyla_module_function_name(const hyla_module *module, int32_t i);
/* Index of the function called `name`, or -1. */
int32_t hyla_module_find_function(const hyla_module *module, const char *name);
int32_t hyla_function_num_inputs(const hyla_module *module, int32_t fn);
int32_t hyla_function_num_outputs(const hyla_module *module, int32_t fn);
/* The input that output i updates in place (the caller passes the same
 * tensor for both), -1 when output i is a tensor of its own, -2 on error. */
int32_t hyla_function_output_tied_input(const hyla_module *module, int32_t fn,
                                        int32_t i);
int32_t hyla_function_num_launches(const hyla_module *module, int32_t fn);
int32_t hyla_function_num_symbols(const hyla_module *module, int32_t fn);
const char *hyla_function_symbol_name(const hyla_module *module, int32_t fn,
                                      int32_t sym);
/* Where symbol `sym` is read at call time: dim `dim` of input `input`. */
hyla_status hyla_function_symbol_source(const hyla_module *module, int32_t fn,
                                        int32_t sym, int32_t *input,
                                        int32_t *dim);
/* Writes a readable shape of input/output i, e.g. "bf16[batch, tokens, 3840]". */
hyla_status hyla_function_describe_input(const hyla_module *module, int32_t fn,
                                         int32_t i, char *buf, size_t size);
hyla_status hyla_function_describe_output(const hyla_module *module,
                                          int32_t fn, int32_t i, char *buf,
                                          size_t size);

/* Sizes the function requires to agree at call time (e.g. the batch dims of
 * two inputs), checked before anything runs: how many, and check i as text,
 * e.g. "arg1.0 == batch (dim 0 of input 1 of launch 3, kernel k)". */
int32_t hyla_function_num_checks(const hyla_module *module, int32_t fn);
hyla_status hyla_function_describe_check(const hyla_module *module,
                                         int32_t fn, int32_t i, char *buf,
                                         size_t size);

/* Values of integer inputs that the kernels index memory with (token ids,
 * cache slots, lengths, sequence offsets), which hyla_function_call reads
 * back and checks before it enqueues anything (HYLA_ERROR_VALUE naming the
 * first bad value): how many, and check i as text, e.g. "input 2: values
 * in [0, slots), distinct (cache slots, one sequence each)". */
int32_t hyla_function_num_value_checks(const hyla_module *module, int32_t fn);
hyla_status hyla_function_describe_value_check(const hyla_module *module,
                                               int32_t fn, int32_t i,
                                               char *buf, size_t size);
/* Shapes of all inputs for given symbol values (in symbol order). `inputs`
 * has room for num_inputs tensors; data pointers are left NULL. */
hyla_status hyla_function_input_shapes(const hyla_module *module, int32_t fn,
                                       const int64_t *symbol_values,
                                       int32_t num_symbols,
                                       hyla_tensor *inputs);
/* Binds the symbols from `inputs` (dtype/rank/dims; data may be NULL),
 * checks every input against the function, and fills the dtype/rank/dims
 * of each of the function's outputs. */
hyla_status hyla_function_output_shapes(const hyla_module *module, int32_t fn,
                                        const hyla_tensor *inputs,
                                        int32_t num_inputs,
                                        hyla_tensor *outputs,
                                        int32_t num_outputs);

/*--- Execution -----------------------------------------------------------*/

/* Opens libcuda, makes the device's primary context current (the one
 * PyTorch uses), checks the module target against the device and loads
 * every kernel. HYLA_ERROR_NO_GPU when there is no driver or device. */
hyla_status hyla_module_prepare(hyla_module *module, int32_t device);

/* Whether calls launch the kernels that allow it (see
 * hyla_module_kernel_programmatic_launch) with programmatic stream
 * serialization, on devices of compute capability 9.0 and up, when the
 * launch's grid fits in one wave of the device. On by default;
 * the environment variable HYLA_PROGRAMMATIC_LAUNCH=0 makes it off by
 * default. Applies to later calls (and to CUDA graphs captured from them). */
hyla_status hyla_module_set_programmatic_launch(hyla_module *module,
                                                int32_t enable);

/* Whether hyla_function_call checks the values of the inputs that have
 * value checks (hyla_function_num_value_checks) before it enqueues: it
 * waits for the stream (the inputs may be written by work queued on it)
 * and copies those inputs to the host, so a call with checks does not
 * overlap the work queued before it. On by default; the environment
 * variable HYLA_VALUE_CHECKS=0 makes it off by default. Calls on a stream
 * being captured and replays of hyla_function_capture's graphs are not
 * checked (there the kernels' own bounds keep every write inside its
 * buffer). */
hyla_status hyla_module_set_value_checks(hyla_module *module, int32_t enable);
/* Uses device memory at `data` for weight `name` (not copied; must stay
 * valid and hold the weight's full size). */
hyla_status hyla_module_bind_weight(hyla_module *module, const char *name,
                                    void *data);
/* Reads the weights from Hugging Face safetensors files (the shards of one
 * checkpoint, tensors by the module's weight names): every weight the
 * caller has not bound must be in exactly one file with the module's dtype
 * and shape. A module that wants three convs "<p>.q_conv1d.weight",
 * "<p>.k_conv1d.weight", "<p>.v_conv1d.weight" also takes one fused
 * "<p>.conv1d.weight" (rows q, then k, then v). All headers are checked
 * before any memory is allocated or copied: a missing or misshapen tensor
 * (HYLA_ERROR_SHAPE) or a truncated or malformed file (HYLA_ERROR_BAD_MODULE,
 * HYLA_ERROR_IO) leaves the module as it was. Tensors the module does not
 * use are ignored. Replaces random weights (hyla_module_init_random_weights)
 * where there were some. */
hyla_status hyla_module_load_safetensors(hyla_module *module,
                                         const char *const *paths,
                                         int32_t num_paths);
/* Allocates every unbound weight and fills it with normal(0, 1) * scale
 * values from `seed` (deterministic); 1-D weights (norm gains) are filled
 * with 1 + normal * scale instead. */
hyla_status hyla_module_init_random_weights(hyla_module *module,
                                            uint64_t seed, float scale);

/* Runs function `fn` on `stream` (a CUstream; NULL = the legacy default
 * stream): checks the inputs, allocates temporaries (cached across calls),
 * and enqueues every launch. Outputs are caller-provided tensors whose
 * shapes must match hyla_function_output_shapes. Returns after enqueuing;
 * it does not synchronize, except to read back the inputs that have value
 * checks (hyla_module_set_value_checks). */
hyla_status hyla_function_call(hyla_module *module, int32_t fn,
                               const hyla_tensor *inputs, int32_t num_inputs,
                               const hyla_tensor *outputs, int32_t num_outputs,
                               void *stream);

/* Like hyla_function_call, but records a CUDA event around each launch,
 * synchronizes, and writes the milliseconds of launch i to times_ms[i]
 * (num_launches entries). For per-kernel profiles. */
hyla_status hyla_function_call_timed(hyla_module *module, int32_t fn,
                                     const hyla_tensor *inputs,
                                     int32_t num_inputs,
                                     const hyla_tensor *outputs,
                                     int32_t num_outputs, void *stream,
                                     float *times_ms, int32_t num_launches);
/* A CUDA graph of one call (hyla_function_capture). */
typedef struct hyla_graph hyla_graph;

/* Records every launch of one call of function `fn` on these tensors as a
 * CUDA graph, without running it: hyla_graph_launch then replays the whole
 * call with one launch (a decode step captured once). The graph keeps the
 * tensors' addresses and shapes: replay it only while they hold, writing
 * new input values into the same buffers. Its temporaries get their own
 * memory, so other calls of the module do not disturb them. Free graphs
 * before their module. HYLA_ERROR_UNSUPPORTED if the driver has no graph
 * API. */
hyla_status hyla_function_capture(hyla_module *module, int32_t fn,
                                  const hyla_tensor *inputs,
                                  int32_t num_inputs,
                                  const hyla_tensor *outputs,
                                  int32_t num_outputs, hyla_graph **graph);
/* Enqueues the captured call on `stream` (NULL: the legacy default). */
hyla_status hyla_graph_launch(hyla_graph *graph, void *stream);
/* The launches the graph replays. */
int32_t hyla_graph_num_launches(const hyla_graph *graph);
/* Waits for the device, then releases the graph and its temporaries. */
void hyla_graph_free(hyla_graph *graph);

/* The kernel index that launch i of function fn runs. */
int32_t hyla_function_launch_kernel(const hyla_module *module, int32_t fn,
                                    int32_t launch);

/*--- Small device helpers, so tools need no CUDA headers -----------------*/
hyla_status hyla_device_alloc(hyla_module *module, size_t bytes, void **ptr);
hyla_status hyla_device_free(hyla_module *module, void *ptr);
hyla_status hyla_copy_to_device(hyla_module *module, void *dst,
                                const void *src, size_t bytes);
hyla_status hyla_copy_to_host(hyla_module *module, void *dst, const void *src,
                              size_t bytes);
hyla_status hyla_synchronize(hyla_module *module);
/* Device name and compute capability, after prepare. */
hyla_status hyla_device_info(hyla_module *module, char *name, size_t size,
                             int32_t *cc_major, int32_t *cc_minor);
/* CUDA events (CUevent), for timing whole calls on a stream. Events still
 * alive when the module is freed are destroyed with it. elapsed_ms waits for
 * `end` to complete. */
hyla_status hyla_event_create(hyla_module *module, void **event);
hyla_status hyla_event_record(hyla_module *module, void *event, void *stream);
hyla_status hyla_event_elapsed_ms(hyla_module *module, void *start, void *end,
                                  float *ms);
hyla_status hyla_event_destroy(hyla_module *module, void *event);

#ifdef __cplusplus
}
#endif

#endif /* HYLA_RUNTIME_H */
