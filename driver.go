package gemm

// plan is a product together with the kernel and blocking chosen for it.
// The choices depend only on the whole product, never on how it is split
// among workers, so every element of C is summed in the same order however
// many workers share the work.
type plan struct {
	problem
	kern     *kernel
	kc       int
	mc, nc   int
	packB    bool // false: B is NoTrans and its micro-panels are read in place
	aInPlace bool // A is read in place: row by row (NoTrans) or column by column (Trans)
}

// plan chooses how to run the product with the given kernel.
func (p *problem) plan(kern *kernel) plan {
	pl := plan{problem: *p, kern: kern, kc: kern.kc, mc: kern.mc, nc: kern.nc, packB: true}
	// Reading B in place saves packing it. A micro-panel of B is deeper
	// than L1 either way, so in place it streams from L2 as well as packed,
	// unless its rows fall into too few cache sets, or each of its rows
	// lies on a page of its own (a TLB miss per row) and enough rows of A
	// reuse the panel to pay for packing it (1999³: +9 %, 1000×5000×784:
	// +8 % packed, on Zen 4; W (100×784)·A (784×10000) stays in place).
	pageRows := p.ldb >= 1024 && p.m >= 512
	if p.tB == NoTrans && (p.m <= 2*kern.mr || rowsSpread(p.ldb, 16) && !pageRows) {
		pl.packB = false
	}
	// Reading A in place saves packing it, unless the rows of a
	// micro-panel fall into too few cache sets to stay in L1.
	if p.tA == NoTrans {
		pl.aInPlace = kern.rowA && rowsSpread(p.lda, kern.mr)
	} else {
		pl.aInPlace = rowsSpread(p.lda, 16)
	}
	// When A streams through row by row (read in place, at least as many
	// rows as C has columns), a product at most two blocks deep runs its
	// whole depth as one: each row of A is then one contiguous stream and
	// C is loaded and stored once instead of twice (X (10000×784)·W
	// (784×100): +9% on Zen 4). The block of A keeps its size in bytes.
	if pl.aInPlace && p.tA == NoTrans && p.m >= p.n && p.k > pl.kc && p.k <= 2*pl.kc {
		pl.mc = max(kern.mr, pl.mc*pl.kc/p.k/kern.mr*kern.mr)
		pl.kc = p.k
	}
	// Panels of B never need to be wider than C.
	pl.nc = min(pl.nc, roundUp(max(p.n, 1), kern.nr))
	return pl
}

// rowsSpread reports whether mr rows ld floats apart map to enough distinct
// L1 sets (64-byte lines, 64 sets) that an 8-way cache holds them all.
func rowsSpread(ld, mr int) bool {
	var sets [64]uint8
	for r := range uint(mr) {
		s := r * uint(ld) * 4 / 64 % 64
		sets[s]++
		if sets[s] > 4 {
			return false
		}
	}
	return true
}

// run computes rows [i0, i1) and columns [j0, j1) of C over the whole of k.
func (pl *plan) run(ws *workspace, i0, i1, j0, j1 int) {
	pl.block(ws, i0, i1, j0, j1, 0, pl.k, pl.c, pl.ldc, pl.beta)
}

// block computes rows [i0, i1), columns [j0, j1) of
// c = alpha·op(A)[:, p0:p1]·op(B)[p0:p1, :] + beta·c, where c holds element
// (i, j) at c[i*ldc+j]. These are the Goto/BLIS loops around the kernel.
func (pl *plan) block(ws *workspace, i0, i1, j0, j1, p0, p1 int, c []float32, ldc int, beta float32) {
	kern := pl.kern
	mr, nr := kern.mr, kern.nr
	ws.reserve(kern, pl.kc, pl.mc, pl.nc)
	for jc := j0; jc < j1; jc += pl.nc {
		nc := min(pl.nc, j1-jc)
		for pc := p0; pc < p1; pc += pl.kc {
			kc := min(pl.kc, p1-pc)
			bt := beta
			if pc != p0 {
				bt = 1
			}
			if pl.packB {
				pl.packBPanel(ws.b, pc, kc, jc, nc, nr)
			} else if rem := nc % nr; rem != 0 && !kern.edges {
				// Only the ragged last micro-panel is packed: reading it in
				// place as a whole would run past the last column.
				pl.packBPanel(ws.b, pc, kc, jc+nc-rem, rem, nr)
			}
			for ic := i0; ic < i1; ic += pl.mc {
				mc := min(pl.mc, i1-ic)
				if !pl.aInPlace {
					pl.packABlock(ws.a, ic, mc, pc, kc, mr)
				} else if rem := mc % mr; rem != 0 && !kern.edges {
					// Only the ragged last micro-panel is packed.
					pl.packABlock(ws.a[(mc-rem)*kc:], ic+mc-rem, rem, pc, kc, mr)
				}
				for jr := 0; jr < nc; jr += nr {
					nrb := min(nr, nc-jr)
					var bp []float32
					ldb := nr
					switch {
					case pl.packB:
						bp = ws.b[jr*kc:]
					case nrb < nr && !kern.edges:
						bp = ws.b
					default:
						bp = pl.b[pc*pl.ldb+jc+jr:]
						ldb = pl.ldb
					}
					for j := 0; j < nrb; {
						fn, w := kern.pick(nrb - j)
						cols := min(w, nrb-j)
						for ir := 0; ir < mc; ir += mr {
							mrb := min(mr, mc-ir)
							ap, rsA, csA := ws.a[ir*kc:], 1, mr
							if pl.aInPlace && (mrb == mr || kern.edges) {
								if pl.tA == NoTrans {
									ap, rsA, csA = pl.a[(ic+ir)*pl.lda+pc:], pl.lda, 1
								} else {
									ap, csA = pl.a[pc*pl.lda+ic+ir:], pl.lda
								}
							}
							off := (ic+ir)*ldc + jc + jr + j
							if kern.edges || mrb == mr && cols == w {
								fn(kc, ap, rsA, csA, bp[j:], ldb, c[off:], ldc, pl.alpha, bt, mrb, cols)
							} else {
								edgeTile(fn, mr, w, ws.tile, kc, ap, rsA, csA, bp[j:], ldb, c[off:], ldc, mrb, cols, pl.alpha, bt)
							}
						}
						j += cols
					}
				}
			}
		}
	}
}

// edgeTile computes a partial mrb×nrb tile with an mr×w kernel that has no
// edges of its own, through a full tile of scratch, rounding exactly as the
// kernel does on a full tile.
func edgeTile(fn kernelFunc, mr, w int, tile []float32, k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc, mrb, nrb int, alpha, beta float32) {
	fn(k, a, rsA, csA, b, ldb, tile, w, alpha, 0, mr, w)
	for i := range mrb {
		t := tile[i*w : i*w+nrb]
		row := c[i*ldc : i*ldc+nrb]
		if beta == 0 {
			copy(row, t)
			continue
		}
		for j, x := range t {
			row[j] = x + float32(beta*row[j])
		}
	}
}

// packABlock packs rows [ic, ic+mc) and columns [pc, pc+kc) of op(A) into
// dst as MR-row micro-panels, each kc×mr, column by column; rows past mc are
// zero.
func (pl *plan) packABlock(dst []float32, ic, mc, pc, kc, mr int) {
	if pl.tA == Trans {
		// A(i, p) = a[p*lda+i]: rows of the stored matrix are columns of
		// the panels.
		packRows(dst, mr, pl.a, pl.lda, pc, ic, kc, mc)
		return
	}
	// A(i, p) = a[i*lda+p]: rows of the stored matrix are columns of the
	// panels.
	packColumns(dst, mr, pl.a, pl.lda, ic, pc, mc, kc)
}

// packBPanel packs rows [pc, pc+kc) and columns [jc, jc+nc) of op(B) into
// dst as NR-column micro-panels, each kc×nr, row by row; columns past nc are
// zero.
func (pl *plan) packBPanel(dst []float32, pc, kc, jc, nc, nr int) {
	if pl.tB == NoTrans {
		// B(p, j) = b[p*ldb+j]: rows of the stored matrix are rows of the
		// panels.
		packRows(dst, nr, pl.b, pl.ldb, pc, jc, kc, nc)
		return
	}
	// B(p, j) = b[j*ldb+p]: rows of the stored matrix are columns of the
	// panels.
	packColumns(dst, nr, pl.b, pl.ldb, jc, pc, nc, kc)
}

// packRows packs rows [r0, r0+rows) and columns [c0, c0+cols) of the
// row-major src into panels w columns wide: panel q holds columns
// [q*w, q*w+w) as rows×w, at dst[q*w*rows:], zero past the last column.
// Each source row is read once, front to back, so that the hardware
// prefetcher streams it.
func packRows(dst []float32, w int, src []float32, ld, r0, c0, rows, cols int) {
	full := cols / w * w
	for p := range rows {
		s := src[(r0+p)*ld+c0:][:cols]
		q := 0
		for ; q < full; q += w {
			d := dst[q*rows+p*w:][:w]
			copy(d, s[q:q+w])
		}
		if q < cols {
			d := dst[q*rows+p*w:][:w]
			n := copy(d, s[q:])
			clear(d[n:])
		}
	}
}

// packColumns packs rows [r0, r0+rows) and columns [c0, c0+cols) of the
// row-major src, transposed, into panels w wide: panel q holds rows
// [q*w, q*w+w) of src as its columns, cols×w, at dst[q*cols:], zero past the
// last row.
func packColumns(dst []float32, w int, src []float32, ld, r0, c0, rows, cols int) {
	for q := 0; q < rows; q += w {
		n := min(w, rows-q)
		d := dst[q*cols : q*cols+cols*w]
		transposeInto(d, w, src, ld, r0+q, c0, n, cols)
		if n < w {
			for p := range cols {
				clear(d[p*w+n : p*w+w])
			}
		}
	}
}

// transposeGo sets d[p*ld+i] = src[(r0+i)*lds+c0+p] for i < rows and
// p < cols: rows of src become columns of d. Four rows go together so that
// each step writes four adjacent elements. transposeInto is the same, with
// assembly where there is some.
func transposeGo(d []float32, ld int, src []float32, lds, r0, c0, rows, cols int) {
	i := 0
	for ; i+4 <= rows; i += 4 {
		s0 := src[(r0+i)*lds+c0:][:cols]
		s1 := src[(r0+i+1)*lds+c0:][:cols]
		s2 := src[(r0+i+2)*lds+c0:][:cols]
		s3 := src[(r0+i+3)*lds+c0:][:cols]
		dd := d[i:]
		for p := range cols {
			q := dd[p*ld : p*ld+4 : p*ld+4]
			q[0], q[1], q[2], q[3] = s0[p], s1[p], s2[p], s3[p]
		}
	}
	for ; i < rows; i++ {
		s0 := src[(r0+i)*lds+c0:][:cols]
		for p, x := range s0 {
			d[p*ld+i] = x
		}
	}
}
