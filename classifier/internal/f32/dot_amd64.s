#include "textflag.h"

// func dotAVX2(a, b []float32) float32
// Four 8-lane FMA accumulators over 32 floats a round, then 8 at a time,
// then one at a time. len(b) >= len(a) is checked by the caller.
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ a_len+8(FP), CX
	MOVQ b_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

loop32:
	CMPQ CX, $32
	JL   loop8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32

loop8:
	CMPQ CX, $8
	JL   reduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8

reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0

tail:
	TESTQ CX, CX
	JE    done
	VMOVSS (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  tail

done:
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func pw2AVX2(out0, out1, x0, x1, w *float32, in, outC int)
// Two pixels of a pointwise (1×1) convolution: out{0,1}[o] += Σi x{0,1}[i]·w[i·outC+o],
// 32 outputs at a time held in eight accumulators, each weight row loaded once
// for both pixels. outC is a multiple of 32.
TEXT ·pw2AVX2(SB), NOSPLIT, $0-56
	MOVQ out0+0(FP), R8
	MOVQ out1+8(FP), R9
	MOVQ x0+16(FP), R10
	MOVQ x1+24(FP), R11
	MOVQ w+32(FP), R12
	MOVQ in+40(FP), R13
	MOVQ outC+48(FP), R15
	SHLQ $2, R15
	XORQ BX, BX

chunk:
	CMPQ BX, R15
	JGE  pwdone
	VMOVUPS (R8)(BX*1), Y0
	VMOVUPS 32(R8)(BX*1), Y1
	VMOVUPS 64(R8)(BX*1), Y2
	VMOVUPS 96(R8)(BX*1), Y3
	VMOVUPS (R9)(BX*1), Y4
	VMOVUPS 32(R9)(BX*1), Y5
	VMOVUPS 64(R9)(BX*1), Y6
	VMOVUPS 96(R9)(BX*1), Y7
	MOVQ R12, SI
	ADDQ BX, SI
	XORQ CX, CX

inner:
	CMPQ CX, R13
	JGE  store
	VBROADCASTSS (R10)(CX*4), Y8
	VBROADCASTSS (R11)(CX*4), Y9
	VMOVUPS (SI), Y10
	VMOVUPS 32(SI), Y11
	VMOVUPS 64(SI), Y12
	VMOVUPS 96(SI), Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y13, Y8, Y3
	VFMADD231PS Y10, Y9, Y4
	VFMADD231PS Y11, Y9, Y5
	VFMADD231PS Y12, Y9, Y6
	VFMADD231PS Y13, Y9, Y7
	ADDQ R15, SI
	INCQ CX
	JMP  inner

store:
	VMOVUPS Y0, (R8)(BX*1)
	VMOVUPS Y1, 32(R8)(BX*1)
	VMOVUPS Y2, 64(R8)(BX*1)
	VMOVUPS Y3, 96(R8)(BX*1)
	VMOVUPS Y4, (R9)(BX*1)
	VMOVUPS Y5, 32(R9)(BX*1)
	VMOVUPS Y6, 64(R9)(BX*1)
	VMOVUPS Y7, 96(R9)(BX*1)
	ADDQ $128, BX
	JMP  chunk

pwdone:
	VZEROUPPER
	RET

// func mulAddAVX2(y, a, b []float32)
// y[i] += a[i]·b[i]; len(a), len(b) >= len(y) is checked by the caller.
TEXT ·mulAddAVX2(SB), NOSPLIT, $0-72
	MOVQ y_base+0(FP), DI
	MOVQ y_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX

ma8:
	CMPQ CX, $8
	JL   matail
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	VFMADD231PS (DX), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  ma8

matail:
	TESTQ CX, CX
	JE    madone
	VMOVSS (DI), X0
	VMOVSS (SI), X1
	VFMADD231SS (DX), X1, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ $4, SI
	ADDQ $4, DX
	DECQ CX
	JMP  matail

madone:
	VZEROUPPER
	RET

// func axpyAVX2(y []float32, a float32, x []float32)
// y[i] += a·x[i]; len(x) >= len(y) is checked by the caller.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	MOVQ y_base+0(FP), DI
	MOVQ y_len+8(FP), CX
	VBROADCASTSS a+24(FP), Y2
	MOVQ x_base+32(FP), SI

ax8:
	CMPQ CX, $8
	JL   axtail
	VMOVUPS (DI), Y0
	VFMADD231PS (SI), Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  ax8

axtail:
	TESTQ CX, CX
	JE    axdone
	VMOVSS (DI), X0
	VFMADD231SS (SI), X2, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ $4, SI
	DECQ CX
	JMP  axtail

axdone:
	VZEROUPPER
	RET

// func dwRowAVX2(y, x, w *float32, n, c, xstride int)
// For n pixels: y[p·c+j] += x[p·xstride+j]·w[j], j < c (c a multiple of 8):
// one tap of a depthwise convolution along an output row.
TEXT ·dwRowAVX2(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ n+24(FP), R8
	MOVQ c+32(FP), R9
	MOVQ xstride+40(FP), R10
	SHLQ $2, R9
	SHLQ $2, R10

dwpix:
	TESTQ R8, R8
	JE    dwdone
	XORQ  BX, BX

dwch:
	CMPQ BX, R9
	JGE  dwnext
	VMOVUPS (DI)(BX*1), Y0
	VMOVUPS (SI)(BX*1), Y1
	VFMADD231PS (DX)(BX*1), Y1, Y0
	VMOVUPS Y0, (DI)(BX*1)
	ADDQ $32, BX
	JMP  dwch

dwnext:
	ADDQ R9, DI
	ADDQ R10, SI
	DECQ R8
	JMP  dwpix

dwdone:
	VZEROUPPER
	RET
