//go:build !purego

#include "textflag.h"

// func transposeQuadsAVX(dst, src *float32, ld, lds, cols, quads int)
//
// dst[p·ld + i] = src[i·lds + p] for i < 4·quads and p < cols, where cols
// is a multiple of 8: the rows of src become the columns of dst, as
// transposeGo does for 4·quads rows. Each step transposes a 4×8 block
// (four rows, eight columns) with eight shuffles into eight 4-float pieces
// of eight records.
//
// Registers: SI the block's first column, AX its quad's first row, DI the
// block's first record, BX its quad's piece of it, R12 and R13 the pieces
// of records j and j+4; R8 the row stride and R10 the record length, in
// bytes.
TEXT ·transposeQuadsAVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R10
	SHLQ $2, R10
	MOVQ lds+24(FP), R8
	SHLQ $2, R8
	MOVQ cols+32(FP), CX
	SHRQ $3, CX
	JZ   done
	MOVQ quads+40(FP), R9
	LEAQ (R8)(R8*2), R11

block:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R9, DX

quad:
	VMOVUPS (AX), Y0          // a0 … a7
	VMOVUPS (AX)(R8*1), Y1    // b
	VMOVUPS (AX)(R8*2), Y2    // c
	VMOVUPS (AX)(R11*1), Y3   // d
	VUNPCKLPS Y1, Y0, Y4      // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS Y1, Y0, Y5      // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS Y3, Y2, Y6      // c0 d0 c1 d1 | c4 d4 c5 d5
	VUNPCKHPS Y3, Y2, Y7      // c2 d2 c3 d3 | c6 d6 c7 d7
	VUNPCKLPD Y6, Y4, Y8      // a0 b0 c0 d0 | a4 b4 c4 d4
	VUNPCKHPD Y6, Y4, Y9      // column 1 | column 5
	VUNPCKLPD Y7, Y5, Y10     // column 2 | column 6
	VUNPCKHPD Y7, Y5, Y11     // column 3 | column 7
	MOVQ BX, R12
	LEAQ (BX)(R10*4), R13
	VMOVUPS X8, (R12)
	VEXTRACTF128 $1, Y8, (R13)
	ADDQ R10, R12
	ADDQ R10, R13
	VMOVUPS X9, (R12)
	VEXTRACTF128 $1, Y9, (R13)
	ADDQ R10, R12
	ADDQ R10, R13
	VMOVUPS X10, (R12)
	VEXTRACTF128 $1, Y10, (R13)
	ADDQ R10, R12
	ADDQ R10, R13
	VMOVUPS X11, (R12)
	VEXTRACTF128 $1, Y11, (R13)
	LEAQ (AX)(R8*4), AX
	ADDQ $16, BX
	DECQ DX
	JNZ  quad

	ADDQ $32, SI
	LEAQ (DI)(R10*8), DI
	DECQ CX
	JNZ  block
	VZEROUPPER

done:
	RET
