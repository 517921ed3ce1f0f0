package gemm

import "sync"

// workspace holds one worker's pack buffers. It is reused from call to
// call, so steady-state products allocate nothing.
type workspace struct {
	a, b []float32 // packed block of A and panel of B
	tile []float32 // scratch for edge tiles
}

// reserve makes the buffers large enough for the kernel and blocking.
func (ws *workspace) reserve(kern *kernel, kc, mc, nc int) {
	mr, nr := kern.mr, kern.nr
	ws.a = grow(ws.a, kc*roundUp(mc, mr))
	ws.b = grow(ws.b, kc*roundUp(nc, nr))
	ws.tile = grow(ws.tile, mr*nr)
}

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

func roundUp(x, m int) int {
	return (x + m - 1) / m * m
}

// workspaces serves Sgemm, which has no Tiler to keep buffers in.
var workspaces = sync.Pool{New: func() any { return new(workspace) }}

func getWorkspace() *workspace   { return workspaces.Get().(*workspace) }
func putWorkspace(ws *workspace) { workspaces.Put(ws) }
