//go:build !purego

#include "textflag.h"

// TAIL16(full) jumps to full while 16 or more elements are left in CX;
// otherwise it masks lanes CX … 15 off in K1 and sets CX to 16, so that the
// loop's last, masked step ends it.
#define TAIL16(full) \
	CMPQ CX, $16  \
	JAE  full     \
	MOVQ $1, AX   \
	SHLQ CX, AX   \
	DECQ AX       \
	KMOVW AX, K1  \
	MOVQ $16, CX

// The sigmoid kernels compute, lane by lane, exactly what sigmoidGo
// computes: the same operations in the same order, each rounded to
// float32, with no fused multiply-adds, so every path gives the same bits.
//
//	t = clamp(-x, -87, 88)
//	n = round(t·log2e)               (to nearest even)
//	r = (t - n·ln2Hi) - n·ln2Lo
//	p = (((((c0·r + c1)·r + c2)·r + c3)·r + c4)·r + c5)·(r·r) + r + 1
//	e = p · 2^n                      (2^n built in the exponent bits)
//	x = 1 / (1 + e)

// Each constant fills 32 bytes, so the AVX2 kernel can use it as a memory
// operand and the AVX-512 kernel can broadcast its first lane.
// 0: sign bit
DATA expConsts<>+0(SB)/8, $0x8000000080000000
DATA expConsts<>+8(SB)/8, $0x8000000080000000
DATA expConsts<>+16(SB)/8, $0x8000000080000000
DATA expConsts<>+24(SB)/8, $0x8000000080000000
// 32: 88, largest argument
DATA expConsts<>+32(SB)/8, $0x42b0000042b00000
DATA expConsts<>+40(SB)/8, $0x42b0000042b00000
DATA expConsts<>+48(SB)/8, $0x42b0000042b00000
DATA expConsts<>+56(SB)/8, $0x42b0000042b00000
// 64: -87, smallest argument
DATA expConsts<>+64(SB)/8, $0xc2ae0000c2ae0000
DATA expConsts<>+72(SB)/8, $0xc2ae0000c2ae0000
DATA expConsts<>+80(SB)/8, $0xc2ae0000c2ae0000
DATA expConsts<>+88(SB)/8, $0xc2ae0000c2ae0000
// 96: log2(e)
DATA expConsts<>+96(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expConsts<>+104(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expConsts<>+112(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expConsts<>+120(SB)/8, $0x3fb8aa3b3fb8aa3b
// 128: ln2Hi
DATA expConsts<>+128(SB)/8, $0x3f3180003f318000
DATA expConsts<>+136(SB)/8, $0x3f3180003f318000
DATA expConsts<>+144(SB)/8, $0x3f3180003f318000
DATA expConsts<>+152(SB)/8, $0x3f3180003f318000
// 160: ln2Lo
DATA expConsts<>+160(SB)/8, $0xb95e8083b95e8083
DATA expConsts<>+168(SB)/8, $0xb95e8083b95e8083
DATA expConsts<>+176(SB)/8, $0xb95e8083b95e8083
DATA expConsts<>+184(SB)/8, $0xb95e8083b95e8083
// 192: polynomial, r^5
DATA expConsts<>+192(SB)/8, $0x3950696739506967
DATA expConsts<>+200(SB)/8, $0x3950696739506967
DATA expConsts<>+208(SB)/8, $0x3950696739506967
DATA expConsts<>+216(SB)/8, $0x3950696739506967
// 224: r^4
DATA expConsts<>+224(SB)/8, $0x3ab743ce3ab743ce
DATA expConsts<>+232(SB)/8, $0x3ab743ce3ab743ce
DATA expConsts<>+240(SB)/8, $0x3ab743ce3ab743ce
DATA expConsts<>+248(SB)/8, $0x3ab743ce3ab743ce
// 256: r^3
DATA expConsts<>+256(SB)/8, $0x3c0889083c088908
DATA expConsts<>+264(SB)/8, $0x3c0889083c088908
DATA expConsts<>+272(SB)/8, $0x3c0889083c088908
DATA expConsts<>+280(SB)/8, $0x3c0889083c088908
// 288: r^2
DATA expConsts<>+288(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expConsts<>+296(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expConsts<>+304(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expConsts<>+312(SB)/8, $0x3d2aa9c13d2aa9c1
// 320: r
DATA expConsts<>+320(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expConsts<>+328(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expConsts<>+336(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expConsts<>+344(SB)/8, $0x3e2aaaaa3e2aaaaa
// 352: 1
DATA expConsts<>+352(SB)/8, $0x3f0000003f000000
DATA expConsts<>+360(SB)/8, $0x3f0000003f000000
DATA expConsts<>+368(SB)/8, $0x3f0000003f000000
DATA expConsts<>+376(SB)/8, $0x3f0000003f000000
// 384: 1.0
DATA expConsts<>+384(SB)/8, $0x3f8000003f800000
DATA expConsts<>+392(SB)/8, $0x3f8000003f800000
DATA expConsts<>+400(SB)/8, $0x3f8000003f800000
DATA expConsts<>+408(SB)/8, $0x3f8000003f800000
// 416: 127, exponent bias (int32)
DATA expConsts<>+416(SB)/8, $0x0000007f0000007f
DATA expConsts<>+424(SB)/8, $0x0000007f0000007f
DATA expConsts<>+432(SB)/8, $0x0000007f0000007f
DATA expConsts<>+440(SB)/8, $0x0000007f0000007f
GLOBL expConsts<>(SB), RODATA|NOPTR, $448

// func sigmoidAVX512(x []float32)
// Any length: the last len(x) mod 16 elements go through a lane mask.
TEXT ·sigmoidAVX512(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	TESTQ CX, CX
	JZ   done512
	VBROADCASTSS expConsts<>+0(SB), Z16
	VBROADCASTSS expConsts<>+32(SB), Z17
	VBROADCASTSS expConsts<>+64(SB), Z18
	VBROADCASTSS expConsts<>+96(SB), Z19
	VBROADCASTSS expConsts<>+128(SB), Z20
	VBROADCASTSS expConsts<>+160(SB), Z21
	VBROADCASTSS expConsts<>+192(SB), Z22
	VBROADCASTSS expConsts<>+224(SB), Z23
	VBROADCASTSS expConsts<>+256(SB), Z24
	VBROADCASTSS expConsts<>+288(SB), Z25
	VBROADCASTSS expConsts<>+320(SB), Z26
	VBROADCASTSS expConsts<>+352(SB), Z27
	VBROADCASTSS expConsts<>+384(SB), Z28
	VPBROADCASTD expConsts<>+416(SB), Z29
	MOVQ $0xffff, AX
	KMOVW AX, K1

loop512:
	TAIL16(full512)

full512:
	VMOVUPS.Z (SI), K1, Z0
	VXORPS  Z16, Z0, Z0 // t = -x
	VMINPS  Z0, Z17, Z0 // min(88, t); NaN stays NaN
	VMAXPS  Z0, Z18, Z0 // max(-87, t)
	VMULPS  Z19, Z0, Z1
	VRNDSCALEPS $0, Z1, Z1 // n
	VMULPS  Z20, Z1, Z2
	VSUBPS  Z2, Z0, Z2
	VMULPS  Z21, Z1, Z3
	VSUBPS  Z3, Z2, Z2 // r
	VMULPS  Z2, Z22, Z3
	VADDPS  Z23, Z3, Z3
	VMULPS  Z2, Z3, Z3
	VADDPS  Z24, Z3, Z3
	VMULPS  Z2, Z3, Z3
	VADDPS  Z25, Z3, Z3
	VMULPS  Z2, Z3, Z3
	VADDPS  Z26, Z3, Z3
	VMULPS  Z2, Z3, Z3
	VADDPS  Z27, Z3, Z3
	VMULPS  Z2, Z2, Z4
	VMULPS  Z4, Z3, Z3
	VADDPS  Z2, Z3, Z3
	VADDPS  Z28, Z3, Z3 // p
	VCVTPS2DQ Z1, Z5
	VPADDD  Z29, Z5, Z5
	VPSLLD  $23, Z5, Z5 // 2^n
	VMULPS  Z5, Z3, Z3  // e
	VADDPS  Z28, Z3, Z3
	VDIVPS  Z3, Z28, Z3 // 1/(1+e)
	VMOVUPS Z3, K1, (SI)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JNZ     loop512
	VZEROUPPER

done512:
	RET

// func sigmoidAVX2(x []float32)
// len(x) must be a multiple of 8.
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $3, CX
	JZ   done2
	VMOVUPS expConsts<>+96(SB), Y9
	VMOVUPS expConsts<>+384(SB), Y10
	VMOVUPS expConsts<>+192(SB), Y11

loop2:
	VMOVUPS (SI), Y0
	VXORPS  expConsts<>+0(SB), Y0, Y0
	VMOVUPS expConsts<>+32(SB), Y6
	VMINPS  Y0, Y6, Y0
	VMOVUPS expConsts<>+64(SB), Y6
	VMAXPS  Y0, Y6, Y0
	VMULPS  Y9, Y0, Y1
	VROUNDPS $0, Y1, Y1
	VMULPS  expConsts<>+128(SB), Y1, Y2
	VSUBPS  Y2, Y0, Y2
	VMULPS  expConsts<>+160(SB), Y1, Y3
	VSUBPS  Y3, Y2, Y2
	VMULPS  Y2, Y11, Y3
	VADDPS  expConsts<>+224(SB), Y3, Y3
	VMULPS  Y2, Y3, Y3
	VADDPS  expConsts<>+256(SB), Y3, Y3
	VMULPS  Y2, Y3, Y3
	VADDPS  expConsts<>+288(SB), Y3, Y3
	VMULPS  Y2, Y3, Y3
	VADDPS  expConsts<>+320(SB), Y3, Y3
	VMULPS  Y2, Y3, Y3
	VADDPS  expConsts<>+352(SB), Y3, Y3
	VMULPS  Y2, Y2, Y4
	VMULPS  Y4, Y3, Y3
	VADDPS  Y2, Y3, Y3
	VADDPS  Y10, Y3, Y3
	VCVTPS2DQ Y1, Y5
	VPADDD  expConsts<>+416(SB), Y5, Y5
	VPSLLD  $23, Y5, Y5
	VMULPS  Y5, Y3, Y3
	VADDPS  Y10, Y3, Y3
	VDIVPS  Y3, Y10, Y3
	VMOVUPS Y3, (SI)
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop2
	VZEROUPPER

done2:
	RET

// func sigmoidGradAVX512(d, y []float32)
// d[i] *= y[i]·(1-y[i]) for i < len(d); any length.
TEXT ·sigmoidGradAVX512(SB), NOSPLIT, $0-48
	MOVQ d_base+0(FP), DI
	MOVQ d_len+8(FP), CX
	MOVQ y_base+24(FP), SI
	TESTQ CX, CX
	JZ   doneGrad
	VBROADCASTSS expConsts<>+384(SB), Z28
	MOVQ $0xffff, AX
	KMOVW AX, K1

loopGrad:
	TAIL16(fullGrad)

fullGrad:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DI), K1, Z1
	VSUBPS  Z0, Z28, Z2 // 1-y
	VMULPS  Z2, Z0, Z2  // y·(1-y)
	VMULPS  Z2, Z1, Z1
	VMOVUPS Z1, K1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     loopGrad
	VZEROUPPER

doneGrad:
	RET

// func rmspropAVX512(w, g, ms []float32, lr, rho, omr, eps float32)
// For i < len(w), with omr = 1-rho:
//	ms[i] = rho·ms[i] + omr·(g[i]·g[i])
//	w[i] -= (lr·g[i]) / (sqrt(ms[i]) + eps)
TEXT ·rmspropAVX512(SB), NOSPLIT, $0-88
	MOVQ w_base+0(FP), DI
	MOVQ w_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ ms_base+48(FP), DX
	TESTQ CX, CX
	JZ   doneRMS
	VBROADCASTSS lr+72(FP), Z20
	VBROADCASTSS rho+76(FP), Z21
	VBROADCASTSS omr+80(FP), Z22
	VBROADCASTSS eps+84(FP), Z23
	MOVQ $0xffff, AX
	KMOVW AX, K1

loopRMS:
	TAIL16(fullRMS)

fullRMS:
	VMOVUPS.Z (SI), K1, Z0 // g
	VMOVUPS.Z (DX), K1, Z1 // ms
	VMULPS  Z1, Z21, Z1    // rho·ms
	VMULPS  Z0, Z0, Z2     // g·g
	VMULPS  Z2, Z22, Z2    // omr·g²
	VADDPS  Z2, Z1, Z1     // new ms
	VMOVUPS Z1, K1, (DX)
	VSQRTPS Z1, Z2
	VADDPS  Z23, Z2, Z2    // sqrt(ms) + eps
	VMULPS  Z0, Z20, Z3    // lr·g
	VDIVPS  Z2, Z3, Z3
	VMOVUPS.Z (DI), K1, Z4
	VSUBPS  Z3, Z4, Z4
	VMOVUPS Z4, K1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     loopRMS
	VZEROUPPER

doneRMS:
	RET

// func bytesToFloatAVX512(dst []float32, src []byte, div float32)
// dst[i] = float32(src[i]) / div for i < len(src); any length.
TEXT ·bytesToFloatAVX512(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	TESTQ CX, CX
	JZ   doneB2F
	VBROADCASTSS div+48(FP), Z28
	MOVQ $0xffff, AX
	KMOVW AX, K1

loopB2F:
	TAIL16(fullB2F)

fullB2F:
	VPMOVZXBD.Z (SI), K1, Z0
	VCVTDQ2PS Z0, Z0
	VDIVPS    Z28, Z0, Z0
	VMOVUPS   Z0, K1, (DI)
	ADDQ      $16, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       loopB2F
	VZEROUPPER

doneB2F:
	RET

// func bytesToFloatAVX2(dst []float32, src []byte, div float32)
// dst[i] = float32(src[i]) / div for i < len(src); len(src) a multiple
// of 8.
TEXT ·bytesToFloatAVX2(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	SHRQ $3, CX
	JZ   doneB2F2
	VBROADCASTSS div+48(FP), Y8

loopB2F2:
	VPMOVZXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VDIVPS    Y8, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $8, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       loopB2F2
	VZEROUPPER

doneB2F2:
	RET

// func prefetch(b []byte)
// Asks for every cache line of b to be brought into the caches.
TEXT ·prefetch(SB), NOSPLIT, $0-24
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	TESTQ CX, CX
	JZ   donePF
	LEAQ -1(SI)(CX*1), CX // last byte
	ANDQ $-64, CX

loopPF:
	PREFETCHT0 (SI)
	ADDQ $64, SI
	CMPQ SI, CX
	JBE  loopPF
	PREFETCHT0 (CX)

donePF:
	RET
