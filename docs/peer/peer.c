// peer.c measures a CBLAS library on the shapes of the benchmarks, for the
// same-machine peer figures in docs/results.md: cblas_sgemm (row-major,
// NoTrans) GFLOP/s, median of 7 timed batches of about 50 ms.
//
// Build and run (Debian: apt-get install libopenblas0-pthread libblis4-pthread):
//
//	gcc -O2 -o /tmp/peer docs/peer/peer.c -ldl
//	/tmp/peer /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 THREADS M N K [M N K ...]
//
// OPENBLAS_CORETYPE, if set, forces OpenBLAS onto one kernel; unset it to let
// OpenBLAS detect the CPU.
//

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dlfcn.h>

typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
typedef void (*setthreads_t)(int);

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) { double x = *(double*)a, y = *(double*)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
	const char *lib = argv[1];
	int threads = atoi(argv[2]);
	void *h = dlopen(lib, RTLD_NOW);
	if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
	sgemm_t sgemm = (sgemm_t)dlsym(h, "cblas_sgemm");
	setthreads_t st = (setthreads_t)dlsym(h, "openblas_set_num_threads");
	if (!st) st = (setthreads_t)dlsym(h, "bli_thread_set_num_threads");
	if (st) st(threads);
	for (int i = 3; i + 2 < argc; i += 3) {
		int m = atoi(argv[i]), n = atoi(argv[i+1]), k = atoi(argv[i+2]);
		float *a = malloc(sizeof(float)*m*k), *b = malloc(sizeof(float)*k*n), *c = malloc(sizeof(float)*m*n);
		for (long j = 0; j < (long)m*k; j++) a[j] = (float)rand()/RAND_MAX - 0.5f;
		for (long j = 0; j < (long)k*n; j++) b[j] = (float)rand()/RAND_MAX - 0.5f;
		memset(c, 0, sizeof(float)*m*n);
		double flops = 2.0*m*n*k;
		int reps = (int)(0.05 / (flops / 100e9)) + 1;
		for (int r = 0; r < reps; r++) sgemm(101, 111, 111, m, n, k, 1, a, k, b, n, 0, c, n);
		double g[7];
		for (int s = 0; s < 7; s++) {
			double t0 = now();
			for (int r = 0; r < reps; r++) sgemm(101, 111, 111, m, n, k, 1, a, k, b, n, 0, c, n);
			g[s] = flops * reps / (now() - t0) / 1e9;
		}
		qsort(g, 7, sizeof(double), cmp);
		printf("%dx%dx%d threads=%d %.1f GFLOP/s\n", m, n, k, threads, g[3]);
		free(a); free(b); free(c);
	}
	return 0;
}
