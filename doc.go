// Package gemm computes single-precision general matrix products,
//
//	C = alpha·op(A)·op(B) + beta·C,
//
// on row-major matrices with leading dimensions, as the BLAS routine sgemm
// does. The product is blocked for the caches (Goto/BLIS structure: packed
// panels of A and B, register-blocked micro-kernels written in assembly for
// AVX-512 and AVX2+FMA, and a portable Go kernel elsewhere).
//
// Sgemm runs on the calling goroutine and starts no goroutines. A Tiler
// spreads products over an explicit number of long-lived workers with a
// chosen Strategy; nothing in the package reads environment variables or
// sizes itself from the number of CPUs.
//
// Argument misuse (negative sizes, leading dimensions that are too small,
// slices that are too short) panics with a message naming the argument, in
// the manner of gonum's BLAS, before anything is written.
package gemm
