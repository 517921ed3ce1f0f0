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
		k := newKernel("avx512", 12, 32, avx512Kernel32, avx512Kernel16)
		k.quarter, k.mid = avx512Kernel8, avx512Kernel24
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

// The wrappers check the extent of every operand, so that a driver bug
// panics instead of reading or writing outside the slices.

func avx512Kernel32(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	if rows < 1 || rows > 12 || cols <= 16 || cols > 32 {
		panic("gemm: avx512 32-column kernel called for a " + strconv.Itoa(rows) + "×" + strconv.Itoa(cols) + " tile")
	}
	checkExtent(k, rows, cols, a, rsA, csA, b, ldb, c, ldc)
	kernelAVX512x32(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta, loadC(beta), rows, 1<<(cols-16)-1)
}

func avx512Kernel16(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	if rows < 1 || rows > 12 || cols < 1 || cols > 16 {
		panic("gemm: avx512 16-column kernel called for a " + strconv.Itoa(rows) + "×" + strconv.Itoa(cols) + " tile")
	}
	checkExtent(k, rows, cols, a, rsA, csA, b, ldb, c, ldc)
	kernelAVX512x16(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta, loadC(beta), rows, 1<<cols-1)
}

func avx512Kernel8(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	if rows < 1 || rows > 12 || cols < 1 || cols > 8 {
		panic("gemm: avx512 8-column kernel called for a " + strconv.Itoa(rows) + "×" + strconv.Itoa(cols) + " tile")
	}
	checkExtent(k, rows, cols, a, rsA, csA, b, ldb, c, ldc)
	kernelAVX512x8(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta, loadC(beta), rows, 1<<cols-1)
}

func avx512Kernel24(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32, rows, cols int) {
	if rows < 1 || rows > 12 || cols <= 16 || cols > 24 {
		panic("gemm: avx512 24-column kernel called for a " + strconv.Itoa(rows) + "×" + strconv.Itoa(cols) + " tile")
	}
	checkExtent(k, rows, cols, a, rsA, csA, b, ldb, c, ldc)
	kernelAVX512x24(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta, loadC(beta), rows, 1<<(cols-16)-1)
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
