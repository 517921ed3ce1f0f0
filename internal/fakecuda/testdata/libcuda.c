/*
 * libcuda.c - a strict fake of the CUDA driver library (libcuda.so.1).
 *
 * Built by the fakecuda test helper with
 *   cc -std=c11 -shared -fPIC -O1 -Wall -Wextra -Werror -o libcuda.so.1 libcuda.c -lpthread
 * and loaded in place of the real driver, so that the Go binding (dlopen +
 * purego, no cgo) can be exercised without a GPU.
 *
 * Every exported prototype and every enum/constant value below was taken from
 * NVIDIA's cuda.h (CUDA 12.6, CUDA_VERSION 12060), not from the Go code: the
 * point of this file is to check the Go code against the header.  Each entry
 * point carries a comment with the prototype as cuda.h spells it; where
 * cuda.h maps the plain name to a versioned symbol with a #define (e.g.
 * "#define cuMemAlloc cuMemAlloc_v2"), the symbol exported here is the
 * versioned one, exactly as a program compiled against cuda.h would link.
 *
 * The fake is a checker.  It validates the arguments the real driver
 * validates and answers with the error code the real driver documents:
 *   - two devices ("Fake GPU sm_90" and "Fake GPU sm_52"), one refcounted
 *     primary context each, the current context kept per OS thread and
 *     forgotten by every call that uses it;
 *   - device memory is host memory (256-byte aligned, filled with 0xFF
 *     bytes) and every device range must lie inside one live allocation of
 *     the current context;
 *   - stream work runs late, deterministically: work submitted to a stream
 *     (copies, memsets, kernel launches, graph launches, event records) is
 *     checked at the call and appended to that stream's queue, and runs, in
 *     order, only when something waits for it: cuStreamSynchronize (the
 *     whole queue), cuEventSynchronize (up to the event's record),
 *     cuCtxSynchronize (every queue of the context), cuStreamQuery and
 *     cuEventQuery (they run the work and answer CUDA_ERROR_NOT_READY if
 *     there was any), use of the legacy stream (the queues of the blocking
 *     streams, not the non-blocking ones), and the calls that free what
 *     queued work may use (cuMemFree, cuMemFreeHost, cuModuleUnload,
 *     cuStreamDestroy, cuGraphExecDestroy).  So a program that reads
 *     results, or reuses a host buffer, without waiting first sees stale
 *     data every time.  The legacy stream has no queue: its work runs at
 *     the call, after the blocking streams' queues.  Work submitted to a
 *     capturing stream is recorded as graph nodes instead and runs when the
 *     instantiated graph is launched.  Errors of queued work become sticky
 *     errors of the context, returned by the call that ran the work;
 *   - stream capture enforces the rules of cuda.h (unsafe calls, legacy
 *     stream implicit synchronisation, wrong-thread end, invalidation);
 *   - kernels are run by a test hook (Go code) and PTX is checked by another.
 * Errors the header describes as leaving the context unusable (illegal
 * address, launch failure, ...) are sticky: every later call that needs the
 * context returns the same error until the primary context is released to
 * zero references and retained again.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

/* ======================================================================
 * Types, as declared in cuda.h (LP64: CUdeviceptr is 64-bit).
 * ====================================================================== */

typedef unsigned long long CUdeviceptr; /* CUdeviceptr_v2 on _WIN64/__LP64__ */
typedef int CUdevice;                   /* CUdevice_v1 */
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUevent_st *CUevent;
typedef struct CUstream_st *CUstream;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;

/* cuda.h: "#define CU_STREAM_LEGACY ((CUstream)0x1)",
 *         "#define CU_STREAM_PER_THREAD ((CUstream)0x2)" */
#define CU_STREAM_LEGACY ((CUstream)0x1)
#define CU_STREAM_PER_THREAD ((CUstream)0x2)

/* cudaError_enum (CUresult): every code of the header, with the name that
 * cuGetErrorName returns and a short description for cuGetErrorString. */
#define CU_ERRORS(X)                                                                          \
	X(CUDA_SUCCESS, 0, "no error")                                                            \
	X(CUDA_ERROR_INVALID_VALUE, 1, "invalid argument")                                        \
	X(CUDA_ERROR_OUT_OF_MEMORY, 2, "out of memory")                                           \
	X(CUDA_ERROR_NOT_INITIALIZED, 3, "initialization error")                                  \
	X(CUDA_ERROR_DEINITIALIZED, 4, "driver shutting down")                                    \
	X(CUDA_ERROR_PROFILER_DISABLED, 5, "profiler disabled")                                   \
	X(CUDA_ERROR_PROFILER_NOT_INITIALIZED, 6, "profiler not initialized")                     \
	X(CUDA_ERROR_PROFILER_ALREADY_STARTED, 7, "profiler already started")                     \
	X(CUDA_ERROR_PROFILER_ALREADY_STOPPED, 8, "profiler already stopped")                     \
	X(CUDA_ERROR_STUB_LIBRARY, 34, "CUDA driver is a stub library")                           \
	X(CUDA_ERROR_DEVICE_UNAVAILABLE, 46, "device busy or unavailable")                        \
	X(CUDA_ERROR_NO_DEVICE, 100, "no CUDA-capable device is detected")                        \
	X(CUDA_ERROR_INVALID_DEVICE, 101, "invalid device ordinal")                               \
	X(CUDA_ERROR_DEVICE_NOT_LICENSED, 102, "device has no valid Grid license")                 \
	X(CUDA_ERROR_INVALID_IMAGE, 200, "device kernel image is invalid")                        \
	X(CUDA_ERROR_INVALID_CONTEXT, 201, "invalid device context")                              \
	X(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, 202, "context already current")                     \
	X(CUDA_ERROR_MAP_FAILED, 205, "mapping of buffer object failed")                          \
	X(CUDA_ERROR_UNMAP_FAILED, 206, "unmapping of buffer object failed")                      \
	X(CUDA_ERROR_ARRAY_IS_MAPPED, 207, "array is mapped")                                     \
	X(CUDA_ERROR_ALREADY_MAPPED, 208, "resource already mapped")                              \
	X(CUDA_ERROR_NO_BINARY_FOR_GPU, 209, "no kernel image is available for the device")       \
	X(CUDA_ERROR_ALREADY_ACQUIRED, 210, "resource already acquired")                          \
	X(CUDA_ERROR_NOT_MAPPED, 211, "resource not mapped")                                      \
	X(CUDA_ERROR_NOT_MAPPED_AS_ARRAY, 212, "resource not mapped as array")                    \
	X(CUDA_ERROR_NOT_MAPPED_AS_POINTER, 213, "resource not mapped as pointer")                \
	X(CUDA_ERROR_ECC_UNCORRECTABLE, 214, "uncorrectable ECC error encountered")               \
	X(CUDA_ERROR_UNSUPPORTED_LIMIT, 215, "limit is not supported on this architecture")       \
	X(CUDA_ERROR_CONTEXT_ALREADY_IN_USE, 216, "context already in use by another thread")     \
	X(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, 217, "peer access is not supported")                \
	X(CUDA_ERROR_INVALID_PTX, 218, "a PTX JIT compilation failed")                            \
	X(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, 219, "invalid OpenGL or DirectX context")          \
	X(CUDA_ERROR_NVLINK_UNCORRECTABLE, 220, "uncorrectable NVLink error")                     \
	X(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, 221, "PTX JIT compiler library not found")           \
	X(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, 222, "the PTX was compiled with an unsupported toolchain") \
	X(CUDA_ERROR_JIT_COMPILATION_DISABLED, 223, "PTX JIT compilation was disabled")           \
	X(CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY, 224, "execution affinity not supported")          \
	X(CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC, 225, "unsupported device-side synchronize in PTX") \
	X(CUDA_ERROR_INVALID_SOURCE, 300, "device kernel source is invalid")                      \
	X(CUDA_ERROR_FILE_NOT_FOUND, 301, "file not found")                                       \
	X(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND, 302, "shared object symbol not found")       \
	X(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, 303, "shared object initialization failed")       \
	X(CUDA_ERROR_OPERATING_SYSTEM, 304, "OS call failed")                                     \
	X(CUDA_ERROR_INVALID_HANDLE, 400, "invalid resource handle")                              \
	X(CUDA_ERROR_ILLEGAL_STATE, 401, "the operation cannot be performed in the present state") \
	X(CUDA_ERROR_LOSSY_QUERY, 402, "the query would lose information")                        \
	X(CUDA_ERROR_NOT_FOUND, 500, "named symbol not found")                                    \
	X(CUDA_ERROR_NOT_READY, 600, "device not ready")                                          \
	X(CUDA_ERROR_ILLEGAL_ADDRESS, 700, "an illegal memory access was encountered")            \
	X(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, 701, "too many resources requested for launch")     \
	X(CUDA_ERROR_LAUNCH_TIMEOUT, 702, "the launch timed out and was terminated")              \
	X(CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING, 703, "launch uses incompatible texturing mode") \
	X(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, 704, "peer access is already enabled")          \
	X(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, 705, "peer access has not been enabled")            \
	X(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, 708, "primary context already active")               \
	X(CUDA_ERROR_CONTEXT_IS_DESTROYED, 709, "context is destroyed")                           \
	X(CUDA_ERROR_ASSERT, 710, "device-side assert triggered")                                 \
	X(CUDA_ERROR_TOO_MANY_PEERS, 711, "peer mapping resources exhausted")                     \
	X(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, 712, "host memory already registered")       \
	X(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, 713, "host memory not registered")               \
	X(CUDA_ERROR_HARDWARE_STACK_ERROR, 714, "hardware stack error")                           \
	X(CUDA_ERROR_ILLEGAL_INSTRUCTION, 715, "an illegal instruction was encountered")          \
	X(CUDA_ERROR_MISALIGNED_ADDRESS, 716, "misaligned address")                               \
	X(CUDA_ERROR_INVALID_ADDRESS_SPACE, 717, "operation not supported on this address space") \
	X(CUDA_ERROR_INVALID_PC, 718, "invalid program counter")                                  \
	X(CUDA_ERROR_LAUNCH_FAILED, 719, "unspecified launch failure")                            \
	X(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, 720, "too many blocks in cooperative launch")  \
	X(CUDA_ERROR_NOT_PERMITTED, 800, "operation not permitted")                               \
	X(CUDA_ERROR_NOT_SUPPORTED, 801, "operation not supported")                               \
	X(CUDA_ERROR_SYSTEM_NOT_READY, 802, "system not yet initialized")                         \
	X(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, 803, "display driver and CUDA driver mismatch")      \
	X(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, 804, "forward compatibility not supported on this device") \
	X(CUDA_ERROR_MPS_CONNECTION_FAILED, 805, "MPS client failed to connect")                  \
	X(CUDA_ERROR_MPS_RPC_FAILURE, 806, "MPS remote procedure call failed")                    \
	X(CUDA_ERROR_MPS_SERVER_NOT_READY, 807, "MPS server not ready")                           \
	X(CUDA_ERROR_MPS_MAX_CLIENTS_REACHED, 808, "MPS client limit reached")                     \
	X(CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED, 809, "MPS connection limit reached")            \
	X(CUDA_ERROR_MPS_CLIENT_TERMINATED, 810, "MPS client terminated by the server")           \
	X(CUDA_ERROR_CDP_NOT_SUPPORTED, 811, "dynamic parallelism not supported here")            \
	X(CUDA_ERROR_CDP_VERSION_MISMATCH, 812, "dynamic parallelism version mismatch")           \
	X(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, 900, "operation not permitted when stream is capturing") \
	X(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, 901, "operation failed due to a previous error during capture") \
	X(CUDA_ERROR_STREAM_CAPTURE_MERGE, 902, "operation would merge two capture sequences")   \
	X(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, 903, "capture was not initiated in this stream")  \
	X(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, 904, "capturing stream has unjoined work")          \
	X(CUDA_ERROR_STREAM_CAPTURE_ISOLATION, 905, "dependency would cross the capture boundary") \
	X(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, 906, "implicit dependency of the legacy stream on a capturing stream") \
	X(CUDA_ERROR_CAPTURED_EVENT, 907, "operation not permitted on an event last recorded in a capturing stream") \
	X(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, 908, "capture sequence ended from the wrong thread") \
	X(CUDA_ERROR_TIMEOUT, 909, "wait operation timed out")                                    \
	X(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, 910, "graph update was not performed")            \
	X(CUDA_ERROR_EXTERNAL_DEVICE, 911, "error in an external device")                         \
	X(CUDA_ERROR_INVALID_CLUSTER_SIZE, 912, "invalid cluster size")                           \
	X(CUDA_ERROR_FUNCTION_NOT_LOADED, 913, "function handle is not loaded")                   \
	X(CUDA_ERROR_INVALID_RESOURCE_TYPE, 914, "invalid resource type")                         \
	X(CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION, 915, "invalid resource configuration")       \
	X(CUDA_ERROR_UNKNOWN, 999, "unknown error")

#define CU_ENUM_ENTRY(name, value, text) name = value,
typedef enum cudaError_enum { CU_ERRORS(CU_ENUM_ENTRY) } CUresult;
#undef CU_ENUM_ENTRY

/* CUdevice_attribute_enum (only the values this fake answers). */
typedef enum CUdevice_attribute_enum {
	CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
	CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X = 2,
	CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y = 3,
	CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z = 4,
	CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5,
	CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y = 6,
	CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z = 7,
	CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
	CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10,
	CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK = 12,
	CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13,
	CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
	CU_DEVICE_ATTRIBUTE_PCI_BUS_ID = 33,
	CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,
	CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,
	CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
	CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
	CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
	CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
	CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97
} CUdevice_attribute;

/* CUfunction_attribute_enum (values this fake answers). */
typedef enum CUfunction_attribute_enum {
	CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0,
	CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,
	CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES = 2,
	CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3,
	CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
	CU_FUNC_ATTRIBUTE_PTX_VERSION = 5,
	CU_FUNC_ATTRIBUTE_BINARY_VERSION = 6,
	CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8
} CUfunction_attribute;

/* CUjit_option_enum (values this fake honours or accepts). */
typedef enum CUjit_option_enum {
	CU_JIT_MAX_REGISTERS = 0,
	CU_JIT_INFO_LOG_BUFFER = 3,
	CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
	CU_JIT_ERROR_LOG_BUFFER = 5,
	CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
	CU_JIT_OPTIMIZATION_LEVEL = 7,
	CU_JIT_TARGET_FROM_CUCONTEXT = 8,
	CU_JIT_GENERATE_DEBUG_INFO = 11,
	CU_JIT_LOG_VERBOSE = 12,
	CU_JIT_GENERATE_LINE_INFO = 13
} CUjit_option;

/* CUstreamCaptureMode_enum */
typedef enum CUstreamCaptureMode_enum {
	CU_STREAM_CAPTURE_MODE_GLOBAL = 0,
	CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
	CU_STREAM_CAPTURE_MODE_RELAXED = 2
} CUstreamCaptureMode;

/* CUstream_flags_enum */
enum { CU_STREAM_DEFAULT = 0x0, CU_STREAM_NON_BLOCKING = 0x1 };

/* CUevent_flags_enum */
enum {
	CU_EVENT_DEFAULT = 0x0,
	CU_EVENT_BLOCKING_SYNC = 0x1,
	CU_EVENT_DISABLE_TIMING = 0x2,
	CU_EVENT_INTERPROCESS = 0x4
};

/* ======================================================================
 * Test hooks (layout fixed: the Go side mirrors it).
 * ====================================================================== */

struct fakecu_launch {
	const char *image;          /* the module's PTX (NUL-terminated) */
	const char *name;           /* entry name */
	uint32_t grid[3];
	uint32_t block[3];
	uint32_t shared;            /* dynamic shared bytes */
	uint32_t nparams;
	const uint32_t *sizes;      /* param sizes */
	const uint8_t *params;      /* packed param values */
	uint64_t nallocs;           /* live device allocations of the context */
	const uint64_t *alloc_addr;
	const uint64_t *alloc_size;
};

_Static_assert(offsetof(struct fakecu_launch, image) == 0, "image");
_Static_assert(offsetof(struct fakecu_launch, name) == 8, "name");
_Static_assert(offsetof(struct fakecu_launch, grid) == 16, "grid");
_Static_assert(offsetof(struct fakecu_launch, block) == 28, "block");
_Static_assert(offsetof(struct fakecu_launch, shared) == 40, "shared");
_Static_assert(offsetof(struct fakecu_launch, nparams) == 44, "nparams");
_Static_assert(offsetof(struct fakecu_launch, sizes) == 48, "sizes");
_Static_assert(offsetof(struct fakecu_launch, params) == 56, "params");
_Static_assert(offsetof(struct fakecu_launch, nallocs) == 64, "nallocs");
_Static_assert(offsetof(struct fakecu_launch, alloc_addr) == 72, "alloc_addr");
_Static_assert(offsetof(struct fakecu_launch, alloc_size) == 80, "alloc_size");
_Static_assert(sizeof(struct fakecu_launch) == 88, "size");
_Static_assert(sizeof(CUdeviceptr) == 8, "CUdeviceptr is 64-bit");
_Static_assert(sizeof(CUresult) == 4 && sizeof(CUjit_option) == 4, "enums are int-sized");

typedef int (*fakecu_check_fn)(const char *image, char *log, uint64_t logsize);
typedef int (*fakecu_params_fn)(const char *image, const char *name, uint32_t *sizes, int max);
typedef int (*fakecu_launch_fn)(const struct fakecu_launch *l);

/* ======================================================================
 * The fake devices.
 * ====================================================================== */

struct fakedev {
	const char *name;
	int major, minor;
	int sms;
	size_t total;
	int max_threads, shared, optin, warp, clock, memclock, buswidth, l2, pcibus, shared_sm, regs;
};

static const struct fakedev g_dev[2] = {
	{"Fake GPU sm_90", 9, 0, 8, (size_t)1 << 30, 1024, 49152, 232448, 32, 1980000, 2619000, 5120, 52428800,
	 0x19, 233472, 65536},
	{"Fake GPU sm_52", 5, 2, 2, (size_t)256 << 20, 1024, 49152, 49152, 32, 1100000, 3500000, 256, 2097152,
	 0x3b, 98304, 65536},
};
#define NDEV 2

enum { MAX_BLOCK_X = 1024, MAX_BLOCK_Y = 1024, MAX_BLOCK_Z = 64 };
#define MAX_GRID_X 2147483647u
#define MAX_GRID_Y 65535u
#define MAX_GRID_Z 65535u
enum { FUNC_NUM_REGS = 40, DEFAULT_DYN_SHARED = 49152 };
enum { MAX_PARAMS = 1024, CHECK_LOG_SIZE = 4096 };
#define DRIVER_VERSION 12040
#define PTX_MAX_MAJOR 8
#define PTX_MAX_MINOR 4

/* ======================================================================
 * Internal objects.  Handles handed out are opaque tagged serial numbers
 * that are never reused, so a stale or foreign handle is always caught.
 * ====================================================================== */

struct ctx;
struct hdr {
	uint64_t h;
	struct ctx *ctx;
};
struct reg {
	struct hdr **v;
	size_t n, cap;
};

struct alloc {
	uint64_t addr;
	size_t size;
};

struct ctx {
	uint64_t h;
	int dev;
	CUresult sticky;
	struct alloc *allocs;
	size_t nallocs, capallocs;
	void **hosts;
	size_t nhosts, caphosts;
};

enum { N_HTOD = 1, N_DTOH, N_DTOD, N_MEMSET, N_KERNEL, N_CHILD, N_EVENT };

struct nodelist;
struct node {
	int kind;
	uint64_t dst, src;    /* device addresses */
	void *hdst;           /* host destination (DtoH) */
	const void *hsrc;     /* host source (HtoD) */
	size_t bytes;         /* bytes of a copy or a memset */
	unsigned value, esize; /* memset value and element size */
	uint64_t func;        /* kernel: function handle */
	uint32_t grid[3], block[3], shared, nparams;
	uint32_t *sizes;
	uint8_t *params;
	size_t plen;
	struct nodelist *child;
	uint64_t ev, gen;     /* event record (stream queues only): event handle and generation */
};
struct nodelist {
	struct node *v;
	size_t n, cap;
};

struct capture {
	uint64_t id;
	int mode;
	pthread_t thr;
	int invalid;
	struct nodelist nodes;
};

struct stream {
	struct hdr hd;
	unsigned flags;
	struct capture *cap;
	/* The queue of work not run yet: nodes q.v[qhead] to q.v[q.n-1], in
	 * order.  pushed counts the nodes ever appended, done those that have
	 * run (or were dropped after a sticky error), so that node number k
	 * (1-based) has run once done >= k.  One thread at a time runs a
	 * stream's nodes (flushing); others wait on cv (with g_mu).  users
	 * counts the threads inside stream_flush; a stream destroyed meanwhile
	 * (dead, unregistered) is freed by the last of them. */
	struct nodelist q;
	size_t qhead;
	uint64_t pushed, done;
	int flushing;
	unsigned users;
	int dead;
	pthread_cond_t cv;
};

/* EV_PENDING: recorded into stream sh's queue as node number seq, which
 * has not run yet.  gen counts the records: a record node stamps the event
 * only if no later record superseded it. */
enum { EV_NONE, EV_RECORDED, EV_CAPTURED, EV_PENDING };
struct event {
	struct hdr hd;
	unsigned flags;
	int state;
	uint64_t ns;
	uint64_t cap_id;
	uint64_t sh, seq; /* EV_PENDING: its stream and the record node's number there */
	uint64_t gen;
};

struct graph {
	struct hdr hd;
	struct nodelist nodes;
};

struct gexec {
	struct hdr hd;
	struct nodelist nodes;
};

struct func;
struct module {
	struct hdr hd;
	char *image;
	int ptxver;
	int cc;
	struct func **funcs;
	size_t nfuncs, capfuncs;
	unsigned inflight;
	int dead;
};

struct func {
	struct hdr hd;
	struct module *mod;
	char *name;
	uint32_t nparams;
	uint32_t *sizes;
	int maxdyn;
};

enum {
	TAG_CTX = 0xC7,
	TAG_MOD = 0xA3,
	TAG_FUNC = 0xF5,
	TAG_STREAM = 0x57,
	TAG_EVENT = 0xE9,
	TAG_GRAPH = 0x6A,
	TAG_EXEC = 0x6E
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_init;
static uint64_t g_serial;
static uint64_t g_capserial;
static struct ctx *g_primary[NDEV];
static unsigned g_refs[NDEV];
static size_t g_used[NDEV];
static struct reg g_mods, g_funcs, g_streams, g_events, g_graphs, g_execs;
static fakecu_check_fn g_check;
static fakecu_params_fn g_params;
static fakecu_launch_fn g_launch;
static _Thread_local uint64_t tl_cur; /* handle of this OS thread's current context */

#define LOCK() pthread_mutex_lock(&g_mu)
#define UNLOCK() pthread_mutex_unlock(&g_mu)

/* ---------------------------------------------------------------------- */

static uint64_t new_handle(unsigned tag)
{
	return ((uint64_t)tag << 44) | ++g_serial;
}

static uint64_t hval(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void *hptr(uint64_t h)
{
	return (void *)(uintptr_t)h;
}

/* Makes room for element n of the array at *pv (a pointer to the array's
 * pointer, of any type) of *cap elements of size bytes, doubling it (first
 * elements the first time); returns -1, with the array unchanged, out of
 * memory.  The array's pointer is copied as bytes, not read as a void *. */
static int grow(void *pv, size_t *cap, size_t n, size_t size, size_t first)
{
	void *v;
	if (n < *cap)
		return 0;
	size_t nc = *cap ? 2 * *cap : first;
	memcpy(&v, pv, sizeof v);
	v = realloc(v, nc * size);
	if (!v)
		return -1;
	memcpy(pv, &v, sizeof v);
	*cap = nc;
	return 0;
}

static int reg_add(struct reg *r, struct hdr *o)
{
	if (grow(&r->v, &r->cap, r->n, sizeof *r->v, 16) != 0)
		return -1;
	r->v[r->n++] = o;
	return 0;
}

static void reg_del(struct reg *r, const struct hdr *o)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i] == o) {
			r->v[i] = r->v[--r->n];
			return;
		}
	}
}

static struct hdr *reg_find(const struct reg *r, const void *handle)
{
	uint64_t h = hval(handle);
	if (h == 0)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i]->h == h)
			return r->v[i];
	return NULL;
}

static struct hdr *reg_first_of(const struct reg *r, const struct ctx *c)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i]->ctx == c)
			return r->v[i];
	return NULL;
}

static void reg_release(struct reg *r)
{
	if (r->n == 0) {
		free(r->v);
		r->v = NULL;
		r->cap = 0;
	}
}

static struct ctx *ctx_by_handle(uint64_t h)
{
	if (h == 0)
		return NULL;
	for (int d = 0; d < NDEV; d++)
		if (g_primary[d] && g_primary[d]->h == h)
			return g_primary[d];
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char *dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* Errors after which the header says the context cannot be used any more. */
static int is_sticky(CUresult r)
{
	switch (r) {
	case CUDA_ERROR_ILLEGAL_ADDRESS:
	case CUDA_ERROR_LAUNCH_TIMEOUT:
	case CUDA_ERROR_ASSERT:
	case CUDA_ERROR_HARDWARE_STACK_ERROR:
	case CUDA_ERROR_ILLEGAL_INSTRUCTION:
	case CUDA_ERROR_MISALIGNED_ADDRESS:
	case CUDA_ERROR_INVALID_ADDRESS_SPACE:
	case CUDA_ERROR_INVALID_PC:
	case CUDA_ERROR_LAUNCH_FAILED:
		return 1;
	default:
		return 0;
	}
}

static void make_sticky(uint64_t ctxh, CUresult r)
{
	struct ctx *c = ctx_by_handle(ctxh);
	if (c && is_sticky(r) && c->sticky == CUDA_SUCCESS)
		c->sticky = r;
}

/* Entry check for calls that need no context (lock held). */
static CUresult enter(void)
{
	return g_init ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

/* Entry check for calls that need the calling thread's current context. */
static CUresult enter_ctx(struct ctx **out)
{
	if (!g_init)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (tl_cur == 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	struct ctx *c = ctx_by_handle(tl_cur);
	if (!c)
		return CUDA_ERROR_CONTEXT_IS_DESTROYED; /* current context was destroyed */
	if (c->sticky != CUDA_SUCCESS)
		return c->sticky;
	/* The context serves this call only: a caller that does not make it
	 * current before each call (as a Go program must, whose goroutines
	 * move between OS threads) fails the next one. */
	tl_cur = 0;
	*out = c;
	return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------------- */
/* Device memory ranges. */

static struct alloc *find_alloc_start(struct ctx *c, uint64_t p)
{
	for (size_t i = 0; i < c->nallocs; i++)
		if (c->allocs[i].addr == p)
			return &c->allocs[i];
	return NULL;
}

/* Whether [p, p+n) (n > 0) lies inside one live allocation of c. */
static int range_ok(const struct ctx *c, uint64_t p, size_t n)
{
	for (size_t i = 0; i < c->nallocs; i++) {
		const struct alloc *a = &c->allocs[i];
		if (p >= a->addr && p - a->addr < a->size && n <= a->size - (size_t)(p - a->addr))
			return 1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Graph node lists. */

static void nl_clear(struct nodelist *l);

static void node_free(struct node *nd)
{
	free(nd->sizes);
	free(nd->params);
	if (nd->child) {
		nl_clear(nd->child);
		free(nd->child);
	}
	memset(nd, 0, sizeof *nd);
}

static void nl_clear(struct nodelist *l)
{
	for (size_t i = 0; i < l->n; i++)
		node_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* Appends *nd (taking ownership of its buffers). */
static int nl_push(struct nodelist *l, const struct node *nd)
{
	if (grow(&l->v, &l->cap, l->n, sizeof *l->v, 8) != 0)
		return -1;
	l->v[l->n++] = *nd;
	return 0;
}

static int nl_copy(struct nodelist *dst, const struct nodelist *src);

static int node_copy(struct node *dst, const struct node *src)
{
	*dst = *src;
	dst->sizes = NULL;
	dst->params = NULL;
	dst->child = NULL;
	if (src->sizes && src->nparams) {
		dst->sizes = malloc(src->nparams * sizeof *dst->sizes);
		if (!dst->sizes)
			goto fail;
		memcpy(dst->sizes, src->sizes, src->nparams * sizeof *dst->sizes);
	}
	if (src->params && src->plen) {
		dst->params = malloc(src->plen);
		if (!dst->params)
			goto fail;
		memcpy(dst->params, src->params, src->plen);
	}
	if (src->child) {
		dst->child = calloc(1, sizeof *dst->child);
		if (!dst->child || nl_copy(dst->child, src->child) != 0)
			goto fail;
	}
	return 0;
fail:
	node_free(dst);
	return -1;
}

static int nl_copy(struct nodelist *dst, const struct nodelist *src)
{
	memset(dst, 0, sizeof *dst);
	for (size_t i = 0; i < src->n; i++) {
		struct node nd;
		if (node_copy(&nd, &src->v[i]) != 0 || nl_push(dst, &nd) != 0) {
			if (nd.kind)
				node_free(&nd);
			nl_clear(dst);
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Object destruction. */

static void module_free(struct module *m)
{
	for (size_t i = 0; i < m->nfuncs; i++) {
		free(m->funcs[i]->name);
		free(m->funcs[i]->sizes);
		free(m->funcs[i]);
	}
	free(m->funcs);
	free(m->image);
	free(m);
}

/* Unregisters a module and its functions; frees it once no launch uses it. */
static void module_kill(struct module *m)
{
	reg_del(&g_mods, &m->hd);
	for (size_t i = 0; i < m->nfuncs; i++)
		reg_del(&g_funcs, &m->funcs[i]->hd);
	m->dead = 1;
	m->hd.ctx = NULL;
	if (m->inflight == 0)
		module_free(m);
	reg_release(&g_mods);
	reg_release(&g_funcs);
}

static void exec_free(struct gexec *e)
{
	nl_clear(&e->nodes);
	free(e);
}

/* Launches copy the nodes of the graph exec, so none waits on it. */
static void exec_kill(struct gexec *e)
{
	reg_del(&g_execs, &e->hd);
	exec_free(e);
	reg_release(&g_execs);
}

static void stream_free(struct stream *s)
{
	if (s->cap) {
		nl_clear(&s->cap->nodes);
		free(s->cap);
	}
	nl_clear(&s->q);
	pthread_cond_destroy(&s->cv);
	free(s);
}

/* Destroys stream s, already unregistered, dropping its queue.  A thread in
 * stream_flush on s (waiting, or running a node) frees it when it leaves. */
static void stream_kill(struct stream *s)
{
	nl_clear(&s->q);
	s->qhead = 0;
	if (s->users == 0) {
		stream_free(s);
		return;
	}
	s->dead = 1;
	s->hd.ctx = NULL;
	pthread_cond_broadcast(&s->cv);
}

static void graph_free(struct graph *g)
{
	nl_clear(&g->nodes);
	free(g);
}

/* Destroys a primary context with everything it owns. */
static void ctx_destroy(struct ctx *c)
{
	struct hdr *o;
	for (size_t i = 0; i < c->nallocs; i++) {
		free(hptr(c->allocs[i].addr));
		g_used[c->dev] -= c->allocs[i].size;
	}
	free(c->allocs);
	for (size_t i = 0; i < c->nhosts; i++)
		free(c->hosts[i]);
	free(c->hosts);
	while ((o = reg_first_of(&g_mods, c)) != NULL)
		module_kill((struct module *)o);
	while ((o = reg_first_of(&g_streams, c)) != NULL) {
		reg_del(&g_streams, o);
		stream_kill((struct stream *)o); /* queued work is discarded */
	}
	while ((o = reg_first_of(&g_events, c)) != NULL) {
		reg_del(&g_events, o);
		free(o);
	}
	while ((o = reg_first_of(&g_graphs, c)) != NULL) {
		reg_del(&g_graphs, o);
		graph_free((struct graph *)o);
	}
	while ((o = reg_first_of(&g_execs, c)) != NULL)
		exec_kill((struct gexec *)o);
	reg_release(&g_streams);
	reg_release(&g_events);
	reg_release(&g_graphs);
	g_primary[c->dev] = NULL;
	free(c);
}

/* ---------------------------------------------------------------------- */
/* Streams and stream capture. */

/* Resolves a stream handle of context c; *out is NULL for the legacy stream. */
static CUresult get_stream(struct ctx *c, CUstream h, struct stream **out)
{
	*out = NULL;
	if (h == NULL || h == CU_STREAM_LEGACY)
		return CUDA_SUCCESS;
	if (h == CU_STREAM_PER_THREAD)
		return CUDA_ERROR_NOT_SUPPORTED; /* the per-thread default stream is not modelled */
	struct hdr *o = reg_find(&g_streams, h);
	if (!o || o->ctx != c)
		return CUDA_ERROR_INVALID_HANDLE;
	*out = (struct stream *)o;
	return CUDA_SUCCESS;
}

static struct capture *capture_by_id(uint64_t id)
{
	for (size_t i = 0; i < g_streams.n; i++) {
		struct stream *s = (struct stream *)g_streams.v[i];
		if (s->cap && s->cap->id == id)
			return s->cap;
	}
	return NULL;
}

/* Use of the legacy stream of c: it would wait on every blocking stream, so
 * a capturing blocking stream makes it fail and invalidates that capture. */
static CUresult legacy_use(struct ctx *c)
{
	CUresult r = CUDA_SUCCESS;
	for (size_t i = 0; i < g_streams.n; i++) {
		struct stream *s = (struct stream *)g_streams.v[i];
		if (s->hd.ctx == c && s->cap && s->flags == CU_STREAM_DEFAULT) {
			s->cap->invalid = 1;
			r = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
		}
	}
	return r;
}

/* A "potentially unsafe" call (allocation, free, module load/unload).  The
 * calling thread's capture interaction mode is the default, GLOBAL: it may
 * not make such calls while it has a non-RELAXED capture of its own, nor
 * while any thread has a GLOBAL capture.  Offending captures are invalidated. */
static CUresult unsafe_call(void)
{
	CUresult r = CUDA_SUCCESS;
	pthread_t self = pthread_self();
	for (size_t i = 0; i < g_streams.n; i++) {
		struct capture *cp = ((struct stream *)g_streams.v[i])->cap;
		if (!cp)
			continue;
		int mine = pthread_equal(cp->thr, self) && cp->mode != CU_STREAM_CAPTURE_MODE_RELAXED;
		if (mine || cp->mode == CU_STREAM_CAPTURE_MODE_GLOBAL) {
			cp->invalid = 1;
			r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
		}
	}
	return r;
}

/* A failed call on a capturing stream invalidates the capture. */
static void cap_fail(struct stream *s)
{
	if (s && s->cap)
		s->cap->invalid = 1;
}

/* Before validating arguments of work for stream s. */
static CUresult stream_pre(struct stream *s)
{
	if (s && s->cap && s->cap->invalid)
		return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	return CUDA_SUCCESS;
}

static CUresult record(struct capture *cp, struct node *nd)
{
	if (nl_push(&cp->nodes, nd) != 0) {
		node_free(nd);
		cp->invalid = 1;
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------------- */
/* Running kernels. */

/* Runs function fn through the launch hook.  Called with the lock held;
 * drops it around the hook and returns with it held.  fn must not be used by
 * the caller afterwards (its module may have been freed meanwhile). */
static CUresult run_kernel(struct ctx *c, struct func *fn, const uint32_t grid[3], const uint32_t block[3],
			   uint32_t shared, const uint32_t *sizes, uint32_t nparams, const uint8_t *params)
{
	fakecu_launch_fn hook = g_launch;
	if (!hook)
		return CUDA_ERROR_NOT_SUPPORTED;
	struct module *m = fn->mod;
	struct fakecu_launch l;
	memset(&l, 0, sizeof l);
	l.image = m->image;
	l.name = fn->name;
	memcpy(l.grid, grid, sizeof l.grid);
	memcpy(l.block, block, sizeof l.block);
	l.shared = shared;
	l.nparams = nparams;
	l.sizes = sizes;
	l.params = params;
	uint64_t *addr = NULL, *size = NULL;
	if (c->nallocs) {
		addr = malloc(c->nallocs * sizeof *addr);
		size = malloc(c->nallocs * sizeof *size);
		if (!addr || !size) {
			free(addr);
			free(size);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		for (size_t i = 0; i < c->nallocs; i++) {
			addr[i] = c->allocs[i].addr;
			size[i] = c->allocs[i].size;
		}
	}
	l.nallocs = c->nallocs;
	l.alloc_addr = addr;
	l.alloc_size = size;
	uint64_t ctxh = c->h;
	m->inflight++;

	UNLOCK();
	CUresult r = (CUresult)hook(&l);
	LOCK();

	m->inflight--;
	if (m->dead && m->inflight == 0)
		module_free(m);
	free(addr);
	free(size);
	make_sticky(ctxh, r);
	return r;
}

static CUresult replay(uint64_t ctxh, const struct nodelist *L);

/* Runs work node nd in context ctxh: a device range is checked again (it
 * may have been freed since the node was made), host memory is read or
 * written now.  A context with a sticky error runs nothing.  Lock held on
 * entry and exit; dropped while a kernel runs. */
static CUresult run_node(uint64_t ctxh, const struct node *nd)
{
	struct ctx *c = ctx_by_handle(ctxh);
	if (!c)
		return CUDA_ERROR_CONTEXT_IS_DESTROYED;
	if (c->sticky)
		return c->sticky;
	CUresult r = CUDA_SUCCESS;
	switch (nd->kind) {
	case N_HTOD:
		if (!range_ok(c, nd->dst, nd->bytes))
			r = CUDA_ERROR_ILLEGAL_ADDRESS;
		else
			memcpy(hptr(nd->dst), nd->hsrc, nd->bytes);
		break;
	case N_DTOH:
		if (!range_ok(c, nd->src, nd->bytes))
			r = CUDA_ERROR_ILLEGAL_ADDRESS;
		else
			memcpy(nd->hdst, hptr(nd->src), nd->bytes);
		break;
	case N_DTOD:
		if (!range_ok(c, nd->src, nd->bytes) || !range_ok(c, nd->dst, nd->bytes))
			r = CUDA_ERROR_ILLEGAL_ADDRESS;
		else
			memmove(hptr(nd->dst), hptr(nd->src), nd->bytes);
		break;
	case N_MEMSET:
		if (!range_ok(c, nd->dst, nd->bytes)) {
			r = CUDA_ERROR_ILLEGAL_ADDRESS;
		} else if (nd->esize == 1) {
			memset(hptr(nd->dst), (int)(nd->value & 0xFF), nd->bytes);
		} else {
			uint32_t v = nd->value;
			unsigned char *p = hptr(nd->dst);
			for (size_t k = 0; k < nd->bytes; k += 4)
				memcpy(p + k, &v, 4);
		}
		break;
	case N_KERNEL: {
		struct hdr *o = reg_find(&g_funcs, hptr(nd->func));
		if (!o || o->ctx != c)
			r = CUDA_ERROR_INVALID_HANDLE; /* module unloaded since submission */
		else
			r = run_kernel(c, (struct func *)o, nd->grid, nd->block, nd->shared, nd->sizes, nd->nparams,
				       nd->params);
		break;
	}
	case N_CHILD:
		r = replay(ctxh, nd->child);
		break;
	case N_EVENT: {
		/* Stamps the event, unless destroyed or recorded again since. */
		struct event *e = (struct event *)reg_find(&g_events, hptr(nd->ev));
		if (e && e->gen == nd->gen) {
			e->state = EV_RECORDED;
			e->ns = now_ns();
		}
		break;
	}
	default:
		r = CUDA_ERROR_UNKNOWN;
		break;
	}
	if (r != CUDA_SUCCESS)
		make_sticky(ctxh, r);
	return r;
}

/* Replays node list L in context ctxh, stopping at the first error.  Lock
 * held on entry and exit. */
static CUresult replay(uint64_t ctxh, const struct nodelist *L)
{
	for (size_t i = 0; i < L->n; i++) {
		CUresult r = run_node(ctxh, &L->v[i]);
		if (r != CUDA_SUCCESS)
			return r;
	}
	return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------------- */
/* Stream queues: deferred execution. */

#define FLUSH_ALL UINT64_MAX

/* Whether stream s has work that has not finished: queued, or running. */
static int stream_busy(const struct stream *s)
{
	return s->qhead < s->q.n || s->flushing;
}

/* Appends work node nd to the queue of stream s (taking its buffers). */
static CUresult enqueue(struct stream *s, struct node *nd)
{
	if (nl_push(&s->q, nd) != 0) {
		node_free(nd);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	s->pushed++;
	return CUDA_SUCCESS;
}

/* Runs the queue of stream s (of context ctxh) in order, one node at a
 * time, until node number upto has run (FLUSH_ALL: until the queue is
 * empty), after any other thread running s's nodes is done.  Nodes
 * appended meanwhile run too, if the target includes them.  After a sticky
 * error the remaining nodes are dropped.  Returns the first error of the
 * nodes run here, or CUDA_ERROR_CONTEXT_IS_DESTROYED if the context went
 * away.  Lock held on entry and exit, dropped while a kernel runs and while
 * waiting; s may be destroyed meanwhile: the caller must look it up again
 * by its handle. */
static CUresult stream_flush(uint64_t ctxh, struct stream *s, uint64_t upto)
{
	CUresult first = CUDA_SUCCESS;
	s->users++;
	for (;;) {
		while (s->flushing && !s->dead)
			pthread_cond_wait(&s->cv, &g_mu);
		if (s->dead || s->done >= upto || s->qhead == s->q.n)
			break;
		s->flushing = 1;
		while (!s->dead && s->done < upto && s->qhead < s->q.n) {
			/* Pop the node: the queue may grow (realloc) while it runs. */
			struct node nd = s->q.v[s->qhead];
			memset(&s->q.v[s->qhead], 0, sizeof nd);
			if (++s->qhead == s->q.n)
				s->qhead = s->q.n = 0;
			CUresult r = run_node(ctxh, &nd);
			node_free(&nd);
			s->done++;
			if (first == CUDA_SUCCESS)
				first = r;
		}
		s->flushing = 0;
		pthread_cond_broadcast(&s->cv);
	}
	if (--s->users == 0 && s->dead)
		stream_free(s);
	if (first == CUDA_SUCCESS && !ctx_by_handle(ctxh))
		first = CUDA_ERROR_CONTEXT_IS_DESTROYED;
	return first;
}

/* Runs the queues of the streams of context *pc to the end: of its
 * blocking streams only (blocking_only), which the legacy stream waits
 * for, or of all.  Returns the first error of the work run; *pc is updated
 * (the lock is dropped while work runs): CUDA_ERROR_CONTEXT_IS_DESTROYED
 * if it went away. */
static CUresult ctx_flush(struct ctx **pc, int blocking_only)
{
	uint64_t ctxh = (*pc)->h;
	CUresult first = CUDA_SUCCESS;
	for (;;) {
		struct ctx *c = ctx_by_handle(ctxh);
		*pc = c;
		if (!c)
			return CUDA_ERROR_CONTEXT_IS_DESTROYED;
		struct stream *t = NULL;
		for (size_t i = 0; i < g_streams.n && !t; i++) {
			struct stream *s = (struct stream *)g_streams.v[i];
			if (s->hd.ctx == c && (!blocking_only || s->flags == CU_STREAM_DEFAULT) && stream_busy(s))
				t = s;
		}
		if (!t)
			return first;
		CUresult r = stream_flush(ctxh, t, FLUSH_ALL);
		if (first == CUDA_SUCCESS)
			first = r;
	}
}

/* After validation: hands work node nd (NULL: no work, e.g. a copy of zero
 * bytes) to stream s of context c: records it into s's capture, or appends
 * it to s's queue, or, for the legacy stream (s NULL), first runs the
 * queues of c's blocking streams, then runs nd at once.  Takes nd's
 * buffers.  Lock held; dropped while work runs (legacy stream only), when
 * c and every object may go away. */
static CUresult submit(struct ctx *c, struct stream *s, struct node *nd)
{
	if (s && !nd)
		return CUDA_SUCCESS;
	if (s && s->cap)
		return record(s->cap, nd);
	if (s)
		return enqueue(s, nd);
	CUresult r = legacy_use(c);
	if (r == CUDA_SUCCESS)
		r = ctx_flush(&c, 1);
	if (r == CUDA_SUCCESS && nd)
		r = run_node(c->h, nd);
	if (nd)
		node_free(nd);
	return r;
}

/* ======================================================================
 * Error handling
 * ====================================================================== */

struct errinfo {
	int code;
	const char *name;
	const char *text;
};
#define CU_TABLE_ENTRY(name, value, text) {value, #name, text},
static const struct errinfo g_errors[] = {CU_ERRORS(CU_TABLE_ENTRY)};
#undef CU_TABLE_ENTRY

static const struct errinfo *errinfo_of(CUresult e)
{
	for (size_t i = 0; i < sizeof g_errors / sizeof g_errors[0]; i++)
		if (g_errors[i].code == (int)e)
			return &g_errors[i];
	return NULL;
}

/* cuda.h: CUresult CUDAAPI cuGetErrorString(CUresult error, const char **pStr); */
EXPORT CUresult cuGetErrorString(CUresult error, const char **pStr)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	const struct errinfo *e = errinfo_of(error);
	*pStr = e ? e->text : NULL;
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* cuda.h: CUresult CUDAAPI cuGetErrorName(CUresult error, const char **pStr); */
EXPORT CUresult cuGetErrorName(CUresult error, const char **pStr)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	const struct errinfo *e = errinfo_of(error);
	*pStr = e ? e->name : NULL;
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ======================================================================
 * Initialization, version, devices
 * ====================================================================== */

/* cuda.h: CUresult CUDAAPI cuInit(unsigned int Flags); */
EXPORT CUresult cuInit(unsigned int Flags)
{
	if (Flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	LOCK();
	g_init = 1;
	UNLOCK();
	return CUDA_SUCCESS;
}

/* cuda.h: CUresult CUDAAPI cuDriverGetVersion(int *driverVersion); */
EXPORT CUresult cuDriverGetVersion(int *driverVersion)
{
	if (!driverVersion)
		return CUDA_ERROR_INVALID_VALUE;
	*driverVersion = DRIVER_VERSION;
	return CUDA_SUCCESS;
}

static CUresult dev_ok(CUdevice dev)
{
	return (dev >= 0 && dev < NDEV) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

/* cuda.h: CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal); */
EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
	LOCK();
	CUresult r = enter();
	if (r == CUDA_SUCCESS && !device)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = dev_ok(ordinal);
	if (r == CUDA_SUCCESS)
		*device = ordinal;
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuDeviceGetCount(int *count); */
EXPORT CUresult cuDeviceGetCount(int *count)
{
	LOCK();
	CUresult r = enter();
	if (r == CUDA_SUCCESS && !count)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		*count = NDEV;
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice dev); */
EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	LOCK();
	CUresult r = enter();
	if (r == CUDA_SUCCESS && (!name || len <= 0))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = dev_ok(dev);
	if (r == CUDA_SUCCESS) {
		size_t n = strlen(g_dev[dev].name);
		if (n > (size_t)len - 1)
			n = (size_t)len - 1;
		memcpy(name, g_dev[dev].name, n);
		name[n] = '\0';
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuDeviceTotalMem(size_t *bytes, CUdevice dev);
 *         #define cuDeviceTotalMem cuDeviceTotalMem_v2 */
EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	LOCK();
	CUresult r = enter();
	if (r == CUDA_SUCCESS && !bytes)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = dev_ok(dev);
	if (r == CUDA_SUCCESS)
		*bytes = g_dev[dev].total;
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev); */
EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
	LOCK();
	CUresult r = enter();
	if (r == CUDA_SUCCESS && !pi)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = dev_ok(dev);
	if (r == CUDA_SUCCESS) {
		const struct fakedev *d = &g_dev[dev];
		int v;
		switch (attrib) {
		case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: v = d->max_threads; break;
		case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: v = MAX_BLOCK_X; break;
		case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: v = MAX_BLOCK_Y; break;
		case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: v = MAX_BLOCK_Z; break;
		case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: v = (int)MAX_GRID_X; break;
		case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: v = (int)MAX_GRID_Y; break;
		case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: v = (int)MAX_GRID_Z; break;
		case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: v = d->shared; break;
		case CU_DEVICE_ATTRIBUTE_WARP_SIZE: v = d->warp; break;
		case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: v = d->regs; break;
		case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: v = d->clock; break;
		case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: v = d->sms; break;
		case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: v = d->pcibus; break;
		case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: v = d->memclock; break;
		case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: v = d->buswidth; break;
		case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: v = d->l2; break;
		case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: v = d->major; break;
		case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: v = d->minor; break;
		case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: v = d->shared_sm; break;
		case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: v = d->optin; break;
		default: r = CUDA_ERROR_INVALID_VALUE; v = 0; break;
		}
		if (r == CUDA_SUCCESS)
			*pi = v;
	}
	UNLOCK();
	return r;
}

/* ======================================================================
 * Primary contexts and the current context
 * ====================================================================== */

/* cuda.h: CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev); */
EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	LOCK();
	CUresult r = enter();
	if (r == CUDA_SUCCESS && !pctx)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = dev_ok(dev);
	if (r == CUDA_SUCCESS && !g_primary[dev]) {
		struct ctx *c = calloc(1, sizeof *c);
		if (!c) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			c->h = new_handle(TAG_CTX);
			c->dev = dev;
			g_primary[dev] = c;
			g_refs[dev] = 0;
		}
	}
	if (r == CUDA_SUCCESS) {
		g_refs[dev]++;
		*pctx = hptr(g_primary[dev]->h);
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev);
 *         #define cuDevicePrimaryCtxRelease cuDevicePrimaryCtxRelease_v2 */
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	LOCK();
	CUresult r = enter();
	if (r == CUDA_SUCCESS)
		r = dev_ok(dev);
	if (r == CUDA_SUCCESS && (!g_primary[dev] || g_refs[dev] == 0))
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r == CUDA_SUCCESS && --g_refs[dev] == 0)
		ctx_destroy(g_primary[dev]); /* queued work is discarded, not run */
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx); */
EXPORT CUresult cuCtxSetCurrent(CUcontext ctx)
{
	LOCK();
	CUresult r = enter();
	if (r == CUDA_SUCCESS) {
		if (ctx == NULL)
			tl_cur = 0;
		else if (ctx_by_handle(hval(ctx)))
			tl_cur = hval(ctx);
		else
			r = CUDA_ERROR_INVALID_CONTEXT;
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuCtxSynchronize(void); */
EXPORT CUresult cuCtxSynchronize(void)
{
	struct ctx *c;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = legacy_use(c); /* waits on the legacy stream, too */
	if (r == CUDA_SUCCESS)
		r = ctx_flush(&c, 0);
	UNLOCK();
	return r;
}

/* ======================================================================
 * Modules
 * ====================================================================== */

struct jitlogs {
	char *info;
	unsigned infocap;
	int info_slot;
	char *err;
	unsigned errcap;
	int err_slot;
	int verbose;
};

static CUresult parse_jit(unsigned int n, const CUjit_option *opt, void **val, struct jitlogs *j)
{
	memset(j, 0, sizeof *j);
	j->info_slot = j->err_slot = -1;
	if (n == 0)
		return CUDA_SUCCESS;
	if (!opt || !val)
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t v = (uintptr_t)val[i];
		switch (opt[i]) {
		case CU_JIT_INFO_LOG_BUFFER:
			j->info = val[i];
			break;
		case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
			j->infocap = (unsigned int)v; /* option type: unsigned int */
			j->info_slot = (int)i;
			break;
		case CU_JIT_ERROR_LOG_BUFFER:
			j->err = val[i];
			break;
		case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
			j->errcap = (unsigned int)v;
			j->err_slot = (int)i;
			break;
		case CU_JIT_LOG_VERBOSE:
			j->verbose = (int)v;
			break;
		case CU_JIT_OPTIMIZATION_LEVEL:
			if ((unsigned int)v > 4) /* 0 - 4 */
				return CUDA_ERROR_INVALID_VALUE;
			break;
		case CU_JIT_MAX_REGISTERS:
		case CU_JIT_TARGET_FROM_CUCONTEXT:
		case CU_JIT_GENERATE_DEBUG_INFO:
		case CU_JIT_GENERATE_LINE_INFO:
			break;
		default:
			return CUDA_ERROR_INVALID_VALUE;
		}
	}
	if ((j->infocap && !j->info) || (j->errcap && !j->err))
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

/* Writes msg into a log buffer of capacity cap (NUL included); returns the
 * number of bytes written including the NUL (0 when nothing was logged). */
static unsigned put_log(char *buf, unsigned cap, const char *msg)
{
	if (!buf || cap == 0)
		return 0;
	size_t len = strlen(msg);
	if (len == 0) {
		buf[0] = '\0';
		return 0;
	}
	if (len > cap - 1)
		len = cap - 1;
	memcpy(buf, msg, len);
	buf[len] = '\0';
	return (unsigned)(len + 1);
}

static void write_logs(const struct jitlogs *j, void **val, const char *info, const char *err)
{
	unsigned ni = put_log(j->info, j->infocap, info);
	unsigned ne = put_log(j->err, j->errcap, err);
	if (j->info_slot >= 0)
		val[j->info_slot] = (void *)(uintptr_t)ni;
	if (j->err_slot >= 0)
		val[j->err_slot] = (void *)(uintptr_t)ne;
}

static int line_at(const char *s, const char *p)
{
	int line = 1;
	for (; s < p; s++)
		if (*s == '\n')
			line++;
	return line;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int read_uint(const char **pp, int *out)
{
	const char *p = *pp;
	long v = 0;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9' && v < 100000)
		v = v * 10 + (*p++ - '0');
	*out = (int)v;
	*pp = p;
	return 1;
}

/* The PTX checks of the 12.4 driver's JIT, in order.  Returns the error and
 * writes the ptxas message to err; on success *ptxver = 10*X+Y. */
static CUresult check_ptx(const char *img, int cc, int *ptxver, char *err, size_t errsize)
{
	const char *v = strstr(img, ".version");
	if (!v) {
		snprintf(err, errsize, "ptxas fatal   : Missing .version directive");
		return CUDA_ERROR_INVALID_PTX;
	}
	const char *t = strstr(img, ".target");
	if (!t) {
		snprintf(err, errsize, "ptxas fatal   : Missing .target directive");
		return CUDA_ERROR_INVALID_PTX;
	}
	int vline = line_at(img, v), tline = line_at(img, t);
	int major, minor;
	const char *p = v + strlen(".version");
	int ok = (*p == ' ' || *p == '\t');
	p = skip_ws(p);
	ok = ok && read_uint(&p, &major) && *p++ == '.' && read_uint(&p, &minor);
	if (!ok) {
		snprintf(err, errsize, "ptxas application ptx input, line %d; fatal   : Parsing error near '.version': syntax error",
			 vline);
		return CUDA_ERROR_INVALID_PTX;
	}
	if (major > PTX_MAX_MAJOR || (major == PTX_MAX_MAJOR && minor > PTX_MAX_MINOR)) {
		snprintf(err, errsize,
			 "ptxas application ptx input, line %d; fatal   : Unsupported .version %d.%d; current version is '%d.%d'",
			 vline, major, minor, PTX_MAX_MAJOR, PTX_MAX_MINOR);
		return CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
	}
	int sm;
	p = t + strlen(".target");
	ok = (*p == ' ' || *p == '\t');
	p = skip_ws(p);
	ok = ok && strncmp(p, "sm_", 3) == 0;
	if (ok) {
		p += 3;
		ok = read_uint(&p, &sm);
	}
	if (!ok) {
		snprintf(err, errsize, "ptxas application ptx input, line %d; fatal   : Unknown .target architecture", tline);
		return CUDA_ERROR_INVALID_PTX;
	}
	if (sm > cc) {
		snprintf(err, errsize, "ptxas fatal   : SM version specified by .target is higher than default SM version assumed");
		return CUDA_ERROR_INVALID_PTX;
	}
	*ptxver = major * 10 + minor;
	return CUDA_SUCCESS;
}

/* cuda.h: CUresult CUDAAPI cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
 *                                              CUjit_option *options, void **optionValues); */
EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions, CUjit_option *options,
				   void **optionValues)
{
	struct ctx *c;
	struct jitlogs j;
	char err[CHECK_LOG_SIZE], info[256];
	char *copy = NULL;
	int ptxver = 0, cc = 0;
	uint64_t ctxh = 0;
	fakecu_check_fn check = NULL;

	err[0] = info[0] = '\0';
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = unsafe_call();
	if (r == CUDA_SUCCESS && (!module || !image))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = parse_jit(numOptions, options, optionValues, &j);
	if (r == CUDA_SUCCESS) {
		copy = dupstr(image); /* the caller may free its buffer after the call */
		if (!copy)
			r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS) {
		cc = g_dev[c->dev].major * 10 + g_dev[c->dev].minor;
		ctxh = c->h;
		check = g_check;
		r = check_ptx(copy, cc, &ptxver, err, sizeof err);
		if (r != CUDA_SUCCESS)
			write_logs(&j, optionValues, "", err);
	}
	UNLOCK();
	if (r != CUDA_SUCCESS) {
		free(copy);
		return r;
	}

	if (check) {
		char log[CHECK_LOG_SIZE];
		memset(log, 0, sizeof log);
		if (check(copy, log, sizeof log) != 0) {
			log[sizeof log - 1] = '\0';
			write_logs(&j, optionValues, "", log[0] ? log : "ptxas fatal   : PTX rejected");
			free(copy);
			return CUDA_ERROR_INVALID_PTX;
		}
	}

	LOCK();
	c = ctx_by_handle(ctxh);
	struct module *m = NULL;
	if (!c) {
		r = CUDA_ERROR_CONTEXT_IS_DESTROYED;
	} else {
		m = calloc(1, sizeof *m);
		if (!m || reg_add(&g_mods, &m->hd) != 0) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			m->hd.h = new_handle(TAG_MOD);
			m->hd.ctx = c;
			m->image = copy;
			m->ptxver = ptxver;
			m->cc = cc;
			*module = hptr(m->hd.h);
		}
	}
	UNLOCK();
	if (r != CUDA_SUCCESS) {
		free(m);
		free(copy);
		write_logs(&j, optionValues, "", "");
		return r;
	}
	if (j.verbose)
		snprintf(info, sizeof info, "ptxas info    : fake JIT: %zu bytes of PTX for sm_%d", strlen(copy), cc);
	write_logs(&j, optionValues, info, "");
	return CUDA_SUCCESS;
}

/* Looks up a module of context c.  A NULL handle gives INVALID_VALUE (the
 * code cuda.h lists for the module calls), any other unknown or unloaded
 * handle, or one of another context, INVALID_HANDLE. */
static CUresult get_module(struct ctx *c, CUmodule h, struct module **out)
{
	if (h == NULL)
		return CUDA_ERROR_INVALID_VALUE;
	struct hdr *o = reg_find(&g_mods, h);
	if (!o || o->ctx != c)
		return CUDA_ERROR_INVALID_HANDLE;
	*out = (struct module *)o;
	return CUDA_SUCCESS;
}

/* cuda.h: CUresult CUDAAPI cuModuleUnload(CUmodule hmod); */
EXPORT CUresult cuModuleUnload(CUmodule hmod)
{
	struct ctx *c;
	struct module *m;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = unsafe_call();
	if (r == CUDA_SUCCESS)
		r = get_module(c, hmod, &m);
	if (r == CUDA_SUCCESS)
		r = ctx_flush(&c, 0); /* queued launches may use it */
	if (r == CUDA_SUCCESS)
		r = get_module(c, hmod, &m);
	if (r == CUDA_SUCCESS)
		module_kill(m); /* its functions become invalid handles */
	UNLOCK();
	return r;
}

static struct func *module_func(struct module *m, const char *name)
{
	for (size_t i = 0; i < m->nfuncs; i++)
		if (strcmp(m->funcs[i]->name, name) == 0)
			return m->funcs[i];
	return NULL;
}

/* cuda.h: CUresult CUDAAPI cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name); */
EXPORT CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	struct ctx *c;
	struct module *m = NULL;
	struct func *f;
	uint32_t *sizes = NULL;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && (!hfunc || !name))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = get_module(c, hmod, &m);
	if (r != CUDA_SUCCESS)
		goto out;
	if ((f = module_func(m, name)) != NULL) {
		*hfunc = hptr(f->hd.h);
		goto out;
	}
	fakecu_params_fn params = g_params;
	if (!params) {
		r = CUDA_ERROR_NOT_FOUND;
		goto out;
	}
	sizes = calloc(MAX_PARAMS, sizeof *sizes);
	if (!sizes) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	m->inflight++; /* keeps the image alive while the hook reads it */
	UNLOCK();
	int n = params(m->image, name, sizes, MAX_PARAMS);
	LOCK();
	m->inflight--;
	if (m->dead) {
		if (m->inflight == 0)
			module_free(m);
		r = CUDA_ERROR_INVALID_HANDLE;
		goto out;
	}
	if (n < 0) {
		r = CUDA_ERROR_NOT_FOUND;
		goto out;
	}
	if (n > MAX_PARAMS) {
		r = CUDA_ERROR_INVALID_IMAGE;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (sizes[i] != 1 && sizes[i] != 2 && sizes[i] != 4 && sizes[i] != 8) {
			r = CUDA_ERROR_INVALID_IMAGE;
			goto out;
		}
	}
	if ((f = module_func(m, name)) != NULL) { /* another thread got there first */
		*hfunc = hptr(f->hd.h);
		goto out;
	}
	f = calloc(1, sizeof *f);
	if (f)
		f->name = dupstr(name);
	if (!f || !f->name) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto fail;
	}
	if (grow(&m->funcs, &m->capfuncs, m->nfuncs, sizeof *m->funcs, 8) != 0 || reg_add(&g_funcs, &f->hd) != 0) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto fail;
	}
	f->hd.h = new_handle(TAG_FUNC);
	f->hd.ctx = c;
	f->mod = m;
	f->nparams = (uint32_t)n;
	f->sizes = sizes;
	sizes = NULL;
	f->maxdyn = DEFAULT_DYN_SHARED;
	m->funcs[m->nfuncs++] = f;
	*hfunc = hptr(f->hd.h);
	goto out;
fail:
	if (f)
		free(f->name);
	free(f);
out:
	UNLOCK();
	free(sizes);
	return r;
}

/* ======================================================================
 * Memory
 * ====================================================================== */

/* cuda.h: CUresult CUDAAPI cuMemGetInfo(size_t *free, size_t *total);
 *         #define cuMemGetInfo cuMemGetInfo_v2 */
EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
{
	struct ctx *c;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && (!free || !total))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		*total = g_dev[c->dev].total;
		*free = g_dev[c->dev].total - g_used[c->dev];
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuMemAlloc(CUdeviceptr *dptr, size_t bytesize);
 *         #define cuMemAlloc cuMemAlloc_v2 */
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	struct ctx *c;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = unsafe_call();
	if (r == CUDA_SUCCESS && (!dptr || bytesize == 0))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && bytesize > g_dev[c->dev].total - g_used[c->dev])
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS && grow(&c->allocs, &c->capallocs, c->nallocs, sizeof *c->allocs, 16) != 0)
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) {
		size_t rounded = (bytesize + 255) & ~(size_t)255;
		void *p = aligned_alloc(256, rounded);
		if (!p) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			memset(p, 0xFF, rounded); /* device memory is not cleared */
			c->allocs[c->nallocs].addr = hval(p);
			c->allocs[c->nallocs].size = bytesize;
			c->nallocs++;
			g_used[c->dev] += bytesize;
			*dptr = hval(p);
		}
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuMemFree(CUdeviceptr dptr);
 *         #define cuMemFree cuMemFree_v2 */
EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	struct ctx *c;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = unsafe_call();
	if (r == CUDA_SUCCESS && dptr != 0 && !find_alloc_start(c, dptr))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && dptr != 0)
		r = ctx_flush(&c, 0); /* queued work may use it: it runs first */
	if (r == CUDA_SUCCESS && dptr != 0) {
		struct alloc *a = find_alloc_start(c, dptr); /* again: the lock was dropped */
		if (!a) {
			r = CUDA_ERROR_INVALID_VALUE;
		} else {
			free(hptr(a->addr));
			g_used[c->dev] -= a->size;
			*a = c->allocs[--c->nallocs];
		}
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuMemAllocHost(void **pp, size_t bytesize);
 *         #define cuMemAllocHost cuMemAllocHost_v2 */
EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
	struct ctx *c;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = unsafe_call();
	if (r == CUDA_SUCCESS && (!pp || bytesize == 0))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && grow(&c->hosts, &c->caphosts, c->nhosts, sizeof *c->hosts, 16) != 0)
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) {
		size_t rounded = (bytesize + 4095) & ~(size_t)4095;
		void *p = rounded ? aligned_alloc(4096, rounded) : NULL;
		if (!p) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			memset(p, 0xFF, rounded);
			c->hosts[c->nhosts++] = p;
			*pp = p;
		}
	}
	UNLOCK();
	return r;
}

/* Whether p is a host allocation of c, at c->hosts[*at]. */
static int host_alloc(const struct ctx *c, const void *p, size_t *at)
{
	for (size_t i = 0; i < c->nhosts; i++) {
		if (c->hosts[i] == p) {
			if (at)
				*at = i;
			return 1;
		}
	}
	return 0;
}

/* cuda.h: CUresult CUDAAPI cuMemFreeHost(void *p); */
EXPORT CUresult cuMemFreeHost(void *p)
{
	struct ctx *c;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = unsafe_call();
	if (r == CUDA_SUCCESS && p != NULL && !host_alloc(c, p, NULL))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && p != NULL)
		r = ctx_flush(&c, 0); /* queued copies may use it: they run first */
	if (r == CUDA_SUCCESS && p != NULL) {
		size_t i;
		if (!host_alloc(c, p, &i)) { /* again: the lock was dropped */
			r = CUDA_ERROR_INVALID_VALUE;
		} else {
			free(p);
			c->hosts[i] = c->hosts[--c->nhosts];
		}
	}
	UNLOCK();
	return r;
}

/* Validation of a device range [p, p+n) for a copy or a memset. */
static CUresult dev_range(struct ctx *c, uint64_t p, size_t n)
{
	return range_ok(c, p, n) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* Common body of the six copies.  kind is N_HTOD, N_DTOH or N_DTOD; sync
 * selects the synchronous (legacy stream) variants. */
static CUresult do_copy(int kind, CUdeviceptr dst, void *hdst, CUdeviceptr src, const void *hsrc, size_t n, int sync,
			CUstream hStream)
{
	struct ctx *c;
	struct stream *s = NULL;
	struct node nd;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && !sync)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS)
		r = stream_pre(s);
	if (r != CUDA_SUCCESS)
		goto out;
	if (n > 0) {
		if ((kind == N_HTOD && !hsrc) || (kind == N_DTOH && !hdst))
			r = CUDA_ERROR_INVALID_VALUE;
		if (r == CUDA_SUCCESS && kind != N_HTOD)
			r = dev_range(c, src, n);
		if (r == CUDA_SUCCESS && kind != N_DTOH)
			r = dev_range(c, dst, n);
		if (r != CUDA_SUCCESS) {
			cap_fail(s);
			goto out;
		}
	}
	/* Host memory is read or written when the node runs. */
	memset(&nd, 0, sizeof nd);
	nd.kind = kind;
	nd.dst = dst;
	nd.hdst = hdst;
	nd.src = src;
	nd.hsrc = hsrc;
	nd.bytes = n;
	r = submit(c, s, n > 0 ? &nd : NULL);
out:
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount);
 *         #define cuMemcpyHtoD __CUDA_API_PTDS(cuMemcpyHtoD_v2) */
EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
	return do_copy(N_HTOD, dstDevice, NULL, 0, srcHost, ByteCount, 1, NULL);
}

/* cuda.h: CUresult CUDAAPI cuMemcpyDtoH(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount);
 *         #define cuMemcpyDtoH __CUDA_API_PTDS(cuMemcpyDtoH_v2) */
EXPORT CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	return do_copy(N_DTOH, 0, dstHost, srcDevice, NULL, ByteCount, 1, NULL);
}

/* cuda.h: CUresult CUDAAPI cuMemcpyDtoD(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount);
 *         #define cuMemcpyDtoD __CUDA_API_PTDS(cuMemcpyDtoD_v2) */
EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
	return do_copy(N_DTOD, dstDevice, NULL, srcDevice, NULL, ByteCount, 1, NULL);
}

/* cuda.h: CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
 *                                             CUstream hStream);
 *         #define cuMemcpyHtoDAsync __CUDA_API_PTSZ(cuMemcpyHtoDAsync_v2) */
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream)
{
	return do_copy(N_HTOD, dstDevice, NULL, 0, srcHost, ByteCount, 0, hStream);
}

/* cuda.h: CUresult CUDAAPI cuMemcpyDtoHAsync(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
 *                                             CUstream hStream);
 *         #define cuMemcpyDtoHAsync __CUDA_API_PTSZ(cuMemcpyDtoHAsync_v2) */
EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
	return do_copy(N_DTOH, 0, dstHost, srcDevice, NULL, ByteCount, 0, hStream);
}

/* cuda.h: CUresult CUDAAPI cuMemcpyDtoDAsync(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
 *                                             CUstream hStream);
 *         #define cuMemcpyDtoDAsync __CUDA_API_PTSZ(cuMemcpyDtoDAsync_v2) */
EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
	return do_copy(N_DTOD, dstDevice, NULL, srcDevice, NULL, ByteCount, 0, hStream);
}

/* Common body of the memsets (esize 1 or 4). */
static CUresult do_memset(CUdeviceptr dst, unsigned value, unsigned esize, size_t N, CUstream hStream)
{
	struct ctx *c;
	struct stream *s = NULL;
	struct node nd;
	size_t bytes = 0;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS)
		r = stream_pre(s);
	if (r != CUDA_SUCCESS)
		goto out;
	if (dst % esize != 0 || N > SIZE_MAX / esize)
		r = CUDA_ERROR_INVALID_VALUE;
	bytes = N * esize;
	if (r == CUDA_SUCCESS && bytes > 0)
		r = dev_range(c, dst, bytes);
	if (r != CUDA_SUCCESS) {
		cap_fail(s);
		goto out;
	}
	memset(&nd, 0, sizeof nd);
	nd.kind = N_MEMSET;
	nd.dst = dst;
	nd.value = value;
	nd.esize = esize;
	nd.bytes = bytes;
	r = submit(c, s, bytes > 0 ? &nd : NULL);
out:
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream); */
EXPORT CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
	return do_memset(dstDevice, ui, 4, N, hStream);
}

/* cuda.h: CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream); */
EXPORT CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
	return do_memset(dstDevice, uc, 1, N, hStream);
}

/* ======================================================================
 * Streams and capture
 * ====================================================================== */

/* cuda.h: CUresult CUDAAPI cuStreamCreate(CUstream *phStream, unsigned int Flags); */
EXPORT CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
	struct ctx *c;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && (!phStream || (Flags != CU_STREAM_DEFAULT && Flags != CU_STREAM_NON_BLOCKING)))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		struct stream *s = calloc(1, sizeof *s);
		if (s && pthread_cond_init(&s->cv, NULL) != 0) {
			free(s);
			s = NULL;
		}
		if (!s || reg_add(&g_streams, &s->hd) != 0) {
			if (s)
				pthread_cond_destroy(&s->cv);
			free(s);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			s->hd.h = new_handle(TAG_STREAM);
			s->hd.ctx = c;
			s->flags = Flags;
			*phStream = hptr(s->hd.h);
		}
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuStreamDestroy(CUstream hStream);
 *         #define cuStreamDestroy cuStreamDestroy_v2 */
EXPORT CUresult cuStreamDestroy_v2(CUstream hStream)
{
	struct ctx *c;
	struct stream *s = NULL;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS && !s)
		r = CUDA_ERROR_INVALID_HANDLE; /* the legacy stream cannot be destroyed */
	/* Its queued work runs first (the driver would let it finish); work
	 * other threads queue meanwhile, too. */
	uint64_t ctxh = r == CUDA_SUCCESS ? c->h : 0;
	while (r == CUDA_SUCCESS) {
		if (s->cap) {
			/* destroying a stream in the middle of a capture sequence */
			s->cap->invalid = 1;
			r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
			break;
		}
		if (!stream_busy(s))
			break;
		r = stream_flush(ctxh, s, FLUSH_ALL);
		if (r == CUDA_SUCCESS) {
			c = ctx_by_handle(ctxh); /* it exists: stream_flush succeeded */
			r = get_stream(c, hStream, &s); /* destroyed meanwhile by another thread? */
		}
	}
	if (r == CUDA_SUCCESS) {
		reg_del(&g_streams, &s->hd);
		stream_kill(s);
		reg_release(&g_streams);
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuStreamSynchronize(CUstream hStream); */
EXPORT CUresult cuStreamSynchronize(CUstream hStream)
{
	struct ctx *c;
	struct stream *s = NULL;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS && !s)
		r = legacy_use(c);
	if (r == CUDA_SUCCESS && s && s->cap) {
		s->cap->invalid = 1;
		r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	}
	if (r == CUDA_SUCCESS) {
		if (s)
			r = stream_flush(c->h, s, FLUSH_ALL);
		else
			r = ctx_flush(&c, 1); /* the legacy stream waits on the blocking streams */
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuStreamQuery(CUstream hStream); */
EXPORT CUresult cuStreamQuery(CUstream hStream)
{
	struct ctx *c;
	struct stream *s = NULL;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS && !s)
		r = legacy_use(c);
	if (r == CUDA_SUCCESS && s && s->cap) {
		s->cap->invalid = 1;
		r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	}
	if (r == CUDA_SUCCESS && s && stream_busy(s)) {
		/* Queued work was still running when asked: it runs now, and
		 * has finished by the next query. */
		r = stream_flush(c->h, s, FLUSH_ALL);
		if (r == CUDA_SUCCESS)
			r = CUDA_ERROR_NOT_READY;
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuStreamBeginCapture(CUstream hStream, CUstreamCaptureMode mode);
 *         #define cuStreamBeginCapture __CUDA_API_PTSZ(cuStreamBeginCapture_v2) */
EXPORT CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
{
	struct ctx *c;
	struct stream *s = NULL;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS && !s)
		r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* capture may not be initiated on the legacy stream */
	if (r == CUDA_SUCCESS && mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
	    mode != CU_STREAM_CAPTURE_MODE_RELAXED)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && s->cap)
		r = CUDA_ERROR_ILLEGAL_STATE;
	if (r == CUDA_SUCCESS) {
		s->cap = calloc(1, sizeof *s->cap);
		if (!s->cap) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			s->cap->id = ++g_capserial;
			s->cap->mode = mode;
			s->cap->thr = pthread_self();
		}
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuStreamEndCapture(CUstream hStream, CUgraph *phGraph); */
EXPORT CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
{
	struct ctx *c;
	struct stream *s = NULL;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && !phGraph)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS && (!s || !s->cap))
		r = CUDA_ERROR_ILLEGAL_STATE;
	if (r == CUDA_SUCCESS && s->cap->mode != CU_STREAM_CAPTURE_MODE_RELAXED &&
	    !pthread_equal(s->cap->thr, pthread_self()))
		r = CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD; /* the capture stays active */
	if (r != CUDA_SUCCESS)
		goto out;
	struct capture *cp = s->cap;
	s->cap = NULL;
	if (cp->invalid) {
		*phGraph = NULL;
		r = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	} else {
		struct graph *g = calloc(1, sizeof *g);
		if (!g || reg_add(&g_graphs, &g->hd) != 0) {
			free(g);
			*phGraph = NULL;
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			g->hd.h = new_handle(TAG_GRAPH);
			g->hd.ctx = c;
			g->nodes = cp->nodes;
			cp->nodes.v = NULL;
			cp->nodes.n = cp->nodes.cap = 0;
			*phGraph = hptr(g->hd.h);
		}
	}
	nl_clear(&cp->nodes);
	free(cp);
out:
	UNLOCK();
	return r;
}

/* ======================================================================
 * Events
 * ====================================================================== */

static CUresult get_event(struct ctx *c, CUevent h, struct event **out)
{
	struct hdr *o = reg_find(&g_events, h);
	if (!o || o->ctx != c)
		return CUDA_ERROR_INVALID_HANDLE;
	*out = (struct event *)o;
	return CUDA_SUCCESS;
}

/* The stream whose queue holds event e's record node, not run yet; NULL
 * if none (a record node dropped after a sticky error never runs). */
static struct stream *event_stream(const struct event *e)
{
	if (e->state != EV_PENDING)
		return NULL;
	struct stream *s = (struct stream *)reg_find(&g_streams, hptr(e->sh));
	return s && s->done < e->seq ? s : NULL;
}

/* An event last recorded in a capturing stream cannot be waited on or timed. */
static CUresult event_captured(struct event *e)
{
	if (e->state != EV_CAPTURED)
		return CUDA_SUCCESS;
	struct capture *cp = capture_by_id(e->cap_id);
	if (cp)
		cp->invalid = 1;
	return CUDA_ERROR_CAPTURED_EVENT;
}

/* cuda.h: CUresult CUDAAPI cuEventCreate(CUevent *phEvent, unsigned int Flags); */
EXPORT CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
	struct ctx *c;
	const unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && (!phEvent || (Flags & ~known) != 0 ||
				  ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING))))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		struct event *e = calloc(1, sizeof *e);
		if (!e || reg_add(&g_events, &e->hd) != 0) {
			free(e);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			e->hd.h = new_handle(TAG_EVENT);
			e->hd.ctx = c;
			e->flags = Flags;
			e->state = EV_NONE;
			*phEvent = hptr(e->hd.h);
		}
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuEventDestroy(CUevent hEvent);
 *         #define cuEventDestroy cuEventDestroy_v2 */
EXPORT CUresult cuEventDestroy_v2(CUevent hEvent)
{
	struct ctx *c;
	struct event *e;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_event(c, hEvent, &e);
	if (r == CUDA_SUCCESS) {
		reg_del(&g_events, &e->hd);
		free(e);
		reg_release(&g_events);
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuEventRecord(CUevent hEvent, CUstream hStream); */
EXPORT CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
	struct ctx *c;
	struct event *e;
	struct stream *s = NULL;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_event(c, hEvent, &e); /* event and stream must share a context */
	if (r == CUDA_SUCCESS)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS)
		r = stream_pre(s);
	if (r != CUDA_SUCCESS)
		goto out;
	if (!s) {
		/* The legacy stream: after the blocking streams' work, at once. */
		r = legacy_use(c);
		if (r == CUDA_SUCCESS)
			r = ctx_flush(&c, 1);
		if (r == CUDA_SUCCESS)
			r = get_event(c, hEvent, &e); /* destroyed meanwhile? */
		if (r == CUDA_SUCCESS) {
			e->gen++;
			e->state = EV_RECORDED;
			e->ns = now_ns();
		}
	} else if (s->cap) {
		/* Without CU_EVENT_RECORD_EXTERNAL a record in a capturing
		 * stream creates no graph node: the event only marks a point
		 * of the capture sequence and is never updated by replays. */
		e->gen++;
		e->state = EV_CAPTURED;
		e->cap_id = s->cap->id;
	} else {
		/* A node that stamps the event when it runs, unless the event
		 * was recorded again by then. */
		struct node nd;
		memset(&nd, 0, sizeof nd);
		nd.kind = N_EVENT;
		nd.ev = e->hd.h;
		nd.gen = e->gen + 1;
		r = enqueue(s, &nd);
		if (r == CUDA_SUCCESS) {
			e->gen++;
			e->state = EV_PENDING;
			e->sh = s->hd.h;
			e->seq = s->pushed;
		}
	}
out:
	UNLOCK();
	return r;
}

/* Common body of cuEventSynchronize and cuEventQuery (query != 0): runs
 * the work up to the event's record.  For a query, as for cuStreamQuery,
 * that work was still running when asked: it runs now, the answer is
 * CUDA_ERROR_NOT_READY, and it has finished by the next query. */
static CUresult event_wait(CUevent hEvent, int query)
{
	struct ctx *c;
	struct event *e;
	struct stream *s;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_event(c, hEvent, &e);
	if (r == CUDA_SUCCESS)
		r = event_captured(e);
	if (r == CUDA_SUCCESS && (s = event_stream(e)) != NULL) {
		r = stream_flush(c->h, s, e->seq);
		if (query && r == CUDA_SUCCESS)
			r = CUDA_ERROR_NOT_READY;
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuEventSynchronize(CUevent hEvent); */
EXPORT CUresult cuEventSynchronize(CUevent hEvent)
{
	return event_wait(hEvent, 0);
}

/* cuda.h: CUresult CUDAAPI cuEventQuery(CUevent hEvent); */
EXPORT CUresult cuEventQuery(CUevent hEvent)
{
	return event_wait(hEvent, 1);
}

/* cuda.h: CUresult CUDAAPI cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd); */
EXPORT CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
	struct ctx *c;
	struct event *a, *b;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && !pMilliseconds)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = get_event(c, hStart, &a);
	if (r == CUDA_SUCCESS)
		r = get_event(c, hEnd, &b);
	if (r == CUDA_SUCCESS)
		r = event_captured(a);
	if (r == CUDA_SUCCESS)
		r = event_captured(b);
	if (r == CUDA_SUCCESS && (a->state == EV_NONE || b->state == EV_NONE))
		r = CUDA_ERROR_INVALID_HANDLE; /* cuEventRecord has not been called on it */
	if (r == CUDA_SUCCESS && ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING))
		r = CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS && (a->state != EV_RECORDED || b->state != EV_RECORDED))
		r = CUDA_ERROR_NOT_READY; /* a record node has not run: nothing waits here */
	if (r == CUDA_SUCCESS)
		*pMilliseconds = (float)((double)((int64_t)(b->ns - a->ns)) / 1e6);
	UNLOCK();
	return r;
}

/* ======================================================================
 * Execution control
 * ====================================================================== */

static CUresult get_func(struct ctx *c, CUfunction h, struct func **out)
{
	struct hdr *o = reg_find(&g_funcs, h);
	if (!o || o->ctx != c)
		return CUDA_ERROR_INVALID_HANDLE;
	*out = (struct func *)o;
	return CUDA_SUCCESS;
}

/* cuda.h: CUresult CUDAAPI cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc); */
EXPORT CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
	struct ctx *c;
	struct func *f;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && !pi)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = get_func(c, hfunc, &f);
	if (r == CUDA_SUCCESS) {
		int v = 0;
		switch (attrib) {
		case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: v = 1024; break;
		case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: v = 0; break;
		case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: v = 0; break;
		case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: v = 0; break;
		case CU_FUNC_ATTRIBUTE_NUM_REGS: v = FUNC_NUM_REGS; break;
		case CU_FUNC_ATTRIBUTE_PTX_VERSION: v = f->mod->ptxver; break;
		case CU_FUNC_ATTRIBUTE_BINARY_VERSION: v = f->mod->cc; break;
		case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: v = f->maxdyn; break;
		default: r = CUDA_ERROR_INVALID_VALUE; break;
		}
		if (r == CUDA_SUCCESS)
			*pi = v;
	}
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value); */
EXPORT CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
	struct ctx *c;
	struct func *f;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_func(c, hfunc, &f);
	if (r == CUDA_SUCCESS &&
	    (attrib != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES || value < 0 || value > g_dev[c->dev].optin))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		f->maxdyn = value;
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuLaunchKernel(CUfunction f,
 *                                         unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
 *                                         unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
 *                                         unsigned int sharedMemBytes, CUstream hStream,
 *                                         void **kernelParams, void **extra); */
EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
			       unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
			       unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra)
{
	struct ctx *c;
	struct func *fn = NULL;
	struct stream *s = NULL;
	struct node nd;
	uint8_t *buf = NULL;
	size_t len = 0;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_func(c, f, &fn);
	if (r == CUDA_SUCCESS)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS)
		r = stream_pre(s);
	if (r != CUDA_SUCCESS)
		goto out;

	const uint32_t grid[3] = {gridDimX, gridDimY, gridDimZ};
	const uint32_t block[3] = {blockDimX, blockDimY, blockDimZ};
	if (gridDimX == 0 || gridDimY == 0 || gridDimZ == 0 || blockDimX == 0 || blockDimY == 0 || blockDimZ == 0 ||
	    blockDimX > MAX_BLOCK_X || blockDimY > MAX_BLOCK_Y || blockDimZ > MAX_BLOCK_Z ||
	    (uint64_t)blockDimX * blockDimY * blockDimZ > (uint64_t)g_dev[c->dev].max_threads ||
	    gridDimX > MAX_GRID_X || gridDimY > MAX_GRID_Y || gridDimZ > MAX_GRID_Z)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (sharedMemBytes > (unsigned int)fn->maxdyn)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (kernelParams && extra)
		r = CUDA_ERROR_INVALID_VALUE; /* parameters given both ways */
	else if (extra)
		r = CUDA_ERROR_NOT_SUPPORTED; /* this fake supports kernelParams only */
	else if (fn->nparams > 0 && !kernelParams)
		r = CUDA_ERROR_INVALID_VALUE;
	for (uint32_t i = 0; r == CUDA_SUCCESS && i < fn->nparams; i++) {
		if (!kernelParams[i])
			r = CUDA_ERROR_INVALID_VALUE;
		len = (len + fn->sizes[i] - 1) & ~(size_t)(fn->sizes[i] - 1);
		len += fn->sizes[i];
	}
	if (r != CUDA_SUCCESS) {
		cap_fail(s);
		goto out;
	}
	/* Copy the argument values now: the caller may reuse them at once. */
	if (len) {
		buf = calloc(1, len);
		if (!buf) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
			cap_fail(s);
			goto out;
		}
		size_t off = 0;
		for (uint32_t i = 0; i < fn->nparams; i++) {
			off = (off + fn->sizes[i] - 1) & ~(size_t)(fn->sizes[i] - 1);
			memcpy(buf + off, kernelParams[i], fn->sizes[i]);
			off += fn->sizes[i];
		}
	}
	memset(&nd, 0, sizeof nd);
	nd.kind = N_KERNEL;
	nd.func = fn->hd.h; /* looked up again when it runs */
	memcpy(nd.grid, grid, sizeof grid);
	memcpy(nd.block, block, sizeof block);
	nd.shared = sharedMemBytes;
	nd.nparams = fn->nparams;
	if (fn->nparams) {
		nd.sizes = malloc(fn->nparams * sizeof *nd.sizes);
		if (!nd.sizes) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
			cap_fail(s);
			goto out;
		}
		memcpy(nd.sizes, fn->sizes, fn->nparams * sizeof *nd.sizes);
	}
	nd.params = buf;
	nd.plen = len;
	buf = NULL;
	r = submit(c, s, &nd);
out:
	UNLOCK();
	free(buf);
	return r;
}

/* ======================================================================
 * Graphs
 * ====================================================================== */

/* cuda.h: CUresult CUDAAPI cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags);
 *         #define cuGraphInstantiate cuGraphInstantiateWithFlags */
EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags)
{
	struct ctx *c;
	struct hdr *o = NULL;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && (!phGraphExec || !hGraph))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		o = reg_find(&g_graphs, hGraph);
		if (!o || o->ctx != c)
			r = CUDA_ERROR_INVALID_HANDLE;
	}
	if (r == CUDA_SUCCESS && flags != 0)
		r = CUDA_ERROR_INVALID_VALUE; /* no instantiation flag is supported here */
	if (r == CUDA_SUCCESS) {
		struct gexec *e = calloc(1, sizeof *e);
		if (!e || nl_copy(&e->nodes, &((struct graph *)o)->nodes) != 0) {
			free(e);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else if (reg_add(&g_execs, &e->hd) != 0) {
			exec_free(e);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			e->hd.h = new_handle(TAG_EXEC);
			e->hd.ctx = c;
			*phGraphExec = hptr(e->hd.h);
		}
	}
	UNLOCK();
	return r;
}

static CUresult get_exec(struct ctx *c, CUgraphExec h, struct gexec **out)
{
	if (h == NULL)
		return CUDA_ERROR_INVALID_VALUE;
	struct hdr *o = reg_find(&g_execs, h);
	if (!o || o->ctx != c)
		return CUDA_ERROR_INVALID_HANDLE;
	*out = (struct gexec *)o;
	return CUDA_SUCCESS;
}

/* cuda.h: CUresult CUDAAPI cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream); */
EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
	struct ctx *c;
	struct gexec *e = NULL;
	struct stream *s = NULL;
	struct node nd;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_exec(c, hGraphExec, &e);
	if (r == CUDA_SUCCESS)
		r = get_stream(c, hStream, &s);
	if (r == CUDA_SUCCESS)
		r = stream_pre(s);
	if (r != CUDA_SUCCESS)
		goto out;
	/* The replay is one node (of a capture, or of the stream's queue),
	 * with a copy of the exec's nodes: the exec may be destroyed before
	 * it runs. */
	memset(&nd, 0, sizeof nd);
	nd.kind = N_CHILD;
	nd.child = calloc(1, sizeof *nd.child);
	if (!nd.child || nl_copy(nd.child, &e->nodes) != 0) {
		free(nd.child);
		cap_fail(s);
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	r = submit(c, s, &nd);
out:
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec hGraphExec); */
EXPORT CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
	struct ctx *c;
	struct gexec *e;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS)
		r = get_exec(c, hGraphExec, &e);
	if (r == CUDA_SUCCESS)
		r = ctx_flush(&c, 0); /* its launches run first */
	if (r == CUDA_SUCCESS)
		r = get_exec(c, hGraphExec, &e); /* destroyed meanwhile? */
	if (r == CUDA_SUCCESS)
		exec_kill(e);
	UNLOCK();
	return r;
}

/* cuda.h: CUresult CUDAAPI cuGraphDestroy(CUgraph hGraph); */
EXPORT CUresult cuGraphDestroy(CUgraph hGraph)
{
	struct ctx *c;
	struct hdr *o = NULL;
	LOCK();
	CUresult r = enter_ctx(&c);
	if (r == CUDA_SUCCESS && !hGraph)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		o = reg_find(&g_graphs, hGraph);
		if (!o || o->ctx != c)
			r = CUDA_ERROR_INVALID_HANDLE;
	}
	if (r == CUDA_SUCCESS) {
		reg_del(&g_graphs, o);
		graph_free((struct graph *)o);
		reg_release(&g_graphs);
	}
	UNLOCK();
	return r;
}

/* ======================================================================
 * Test hooks
 * ====================================================================== */

EXPORT void fakecu_set_hooks(fakecu_check_fn check, fakecu_params_fn params, fakecu_launch_fn launch)
{
	LOCK();
	g_check = check;
	g_params = params;
	g_launch = launch;
	UNLOCK();
}

EXPORT int fakecu_stats(uint64_t *out, int n)
{
	uint64_t v[10];
	memset(v, 0, sizeof v);
	if (!out || n <= 0)
		return 0;
	LOCK();
	for (int d = 0; d < NDEV; d++) {
		struct ctx *c = g_primary[d];
		if (!c)
			continue;
		v[0] += c->nallocs;
		v[1] += g_used[d];
		v[2] += c->nhosts;
		v[8]++;
	}
	for (int d = 0; d < NDEV; d++)
		v[9] += g_refs[d];
	v[3] = g_mods.n;
	v[4] = g_streams.n;
	v[5] = g_events.n;
	v[6] = g_graphs.n;
	v[7] = g_execs.n;
	UNLOCK();
	if (n > 10)
		n = 10;
	memcpy(out, v, (size_t)n * sizeof *out);
	return n;
}
