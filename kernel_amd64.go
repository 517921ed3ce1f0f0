//go:build !purego

package gemm

import (
	"strconv"

	"golang.org/x/sys/cpu"
)

// availableKernels lists the kernels this CPU supports, fastest first.
func availableKernels() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F {
		k := newKernel("avx512", 12, 32, avx512Tile(kernelAVX512x32, 32, 16), avx512Tile(kernelAVX512x16, 16, 16))
		k.quarter, k.mid = avx512Tile(kernelAVX512x8, 8, 8), avx512Tile(kernelAVX512x24, 24, 8)
		k.rowA, k.edges = true, true
		ks = append(ks, k)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, newKernel("avx2", 6, 16, avx2Kernel, nil))
	}
	return append(ks, genericKernel())
}

//go:noescape
func kernelAVX512x32(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, load, rows, mask int)

//go:noescape
func kernelAVX512x16(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, load, rows, mask int)

//go:noescape
func kernelAVX512x8(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, load, rows, mask int)

//go:noescape
func kernelAVX512x24(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, load, rows, mask int)

//go:noescape
func kernelAVX2x16(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, load int)

// avx512Asm is the signature of the AVX-512 kernels of gemm_amd64.s.
type avx512Asm func(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, load, rows, mask int)

// The wrappers check the extent of every operand, so that a driver bug
// panics instead of reading or writing outside the slices.

// avx512Tile wraps fn, a kernel w columns wide whose last vector holds its
// last lanes columns: it computes tiles of more than w−lanes and at most w
// columns, the last lanes of them masked.
func avx512Tile(fn avx512Asm, w, lanes int) kernelFunc {
	what := "gemm: avx512 " + strconv.Itoa(w) + "-column kernel called for a "
	return func(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
		if rows < 1 || rows > 12 || cols <= w-lanes || cols > w {
			panic(what + strconv.Itoa(rows) + "×" + strconv.Itoa(cols) + " tile")
		}
		checkExtent(k, rows, cols, a, rsA, csA, b, ldb, c, ldc)
		fn(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta, loadC(beta), rows, 1<<(cols-(w-lanes))-1)
	}
}

func avx2Kernel(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, _, _ int) {
	if rsA != 1 {
		panic("gemm: avx2 kernel reads A column by column only")
	}
	checkExtent(k, 6, 16, a, rsA, csA, b, ldb, c, ldc)
	kernelAVX2x16(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta, loadC(beta))
}

func checkExtent(k, mr, nr int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int) {
	if rsA != 1 && csA != 1 {
		panic("gemm: kernel needs rsA == 1 or csA == 1")
	}
	_ = a[(mr-1)*rsA+(k-1)*csA]
	_ = b[(k-1)*ldb+nr-1]
	_ = c[(mr-1)*ldc+nr-1]
}

func loadC(beta float32) int {
	if beta == 0 {
		return 0
	}
	return 1
}
