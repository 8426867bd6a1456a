//go:build amd64

#include "textflag.h"

// Micro-kernels of Gemm (gemm.go says how it tiles). Go operand order:
// the first operand is Intel's last source, the last the destination
// (VFMADD231PS b, a, c is c = a*b + c).
//
// Registers: Y0-Y11 the accumulators (row i in Y(2i), Y(2i+1); kern8 uses
// Y0-Y5, row i in Y(i)), Y12-Y13 a row of B, Y14 a broadcast element of
// A, Y15 kern8's lane mask. R8-R13 point at A's six rows (a row past the
// tile's last repeats the last, so that nothing outside A is read), AX is
// the offset of the current column of A in bytes, SI the current row of
// B, CX counts the terms.

// ROWPTRS sets R8-R13 from a (R8), the row stride R14 (bytes) and the
// number of rows AX.
#define ROWPTRS \
	MOVQ    R8, R9;    \
	ADDQ    R14, R9;   \
	CMPQ    AX, $2;    \
	CMOVQLT R8, R9;    \
	MOVQ    R9, R10;   \
	ADDQ    R14, R10;  \
	CMPQ    AX, $3;    \
	CMOVQLT R9, R10;   \
	MOVQ    R10, R11;  \
	ADDQ    R14, R11;  \
	CMPQ    AX, $4;    \
	CMOVQLT R10, R11;  \
	MOVQ    R11, R12;  \
	ADDQ    R14, R12;  \
	CMPQ    AX, $5;    \
	CMOVQLT R11, R12;  \
	MOVQ    R12, R13;  \
	ADDQ    R14, R13;  \
	CMPQ    AX, $6;    \
	CMOVQLT R12, R13

#define LOADARGS \
	MOVQ k+0(FP), CX;     \
	MOVQ a+8(FP), R8;     \
	MOVQ rsa+16(FP), R14; \
	MOVQ csa+24(FP), DX;  \
	MOVQ b+32(FP), SI;    \
	MOVQ ldb+40(FP), BX;  \
	MOVQ rows+64(FP), AX; \
	SHLQ $2, R14;         \
	SHLQ $2, DX;          \
	SHLQ $2, BX;          \
	ROWPTRS;              \
	XORQ AX, AX

// ROW16(base, y0, y1): y0, y1 += A(row)[p] * B[p, 0:16].
#define ROW16(base, y0, y1) \
	VBROADCASTSS (base)(AX*1), Y14; \
	VFMADD231PS  Y12, Y14, y0;      \
	VFMADD231PS  Y13, Y14, y1

// func kern16(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, rows int, acc bool)
TEXT ·kern16(SB), NOSPLIT, $0-73
	LOADARGS
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	// A tile of at most 4 or 2 rows computes only those (the repeated
	// pointers would give the right sums, at the cost of six rows).
	MOVQ   rows+64(FP), DI
	CMPQ   DI, $2
	JLE    loop16x2
	CMPQ   DI, $4
	JLE    loop16x4

loop16:
	VMOVUPS (SI), Y12
	VMOVUPS 32(SI), Y13
	ROW16(R8, Y0, Y1)
	ROW16(R9, Y2, Y3)
	ROW16(R10, Y4, Y5)
	ROW16(R11, Y6, Y7)
	ROW16(R12, Y8, Y9)
	ROW16(R13, Y10, Y11)
	ADDQ DX, AX
	ADDQ BX, SI
	DECQ CX
	JNZ  loop16
	JMP  tile16

loop16x4:
	VMOVUPS (SI), Y12
	VMOVUPS 32(SI), Y13
	ROW16(R8, Y0, Y1)
	ROW16(R9, Y2, Y3)
	ROW16(R10, Y4, Y5)
	ROW16(R11, Y6, Y7)
	ADDQ DX, AX
	ADDQ BX, SI
	DECQ CX
	JNZ  loop16x4
	JMP  tile16

loop16x2:
	VMOVUPS (SI), Y12
	VMOVUPS 32(SI), Y13
	ROW16(R8, Y0, Y1)
	ROW16(R9, Y2, Y3)
	ADDQ DX, AX
	ADDQ BX, SI
	DECQ CX
	JNZ  loop16x2

tile16:
	MOVQ    c+48(FP), DI
	MOVQ    ldc+56(FP), BX
	SHLQ    $2, BX
	MOVQ    rows+64(FP), CX
	MOVBLZX acc+72(FP), DX
	TESTQ   DX, DX
	JZ      store16

	// C rows i < rows: acc += C.
	MOVQ   DI, R8
	VADDPS (R8), Y0, Y0
	VADDPS 32(R8), Y1, Y1
	CMPQ   CX, $1
	JEQ    store16
	ADDQ   BX, R8
	VADDPS (R8), Y2, Y2
	VADDPS 32(R8), Y3, Y3
	CMPQ   CX, $2
	JEQ    store16
	ADDQ   BX, R8
	VADDPS (R8), Y4, Y4
	VADDPS 32(R8), Y5, Y5
	CMPQ   CX, $3
	JEQ    store16
	ADDQ   BX, R8
	VADDPS (R8), Y6, Y6
	VADDPS 32(R8), Y7, Y7
	CMPQ   CX, $4
	JEQ    store16
	ADDQ   BX, R8
	VADDPS (R8), Y8, Y8
	VADDPS 32(R8), Y9, Y9
	CMPQ   CX, $5
	JEQ    store16
	ADDQ   BX, R8
	VADDPS (R8), Y10, Y10
	VADDPS 32(R8), Y11, Y11

store16:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	CMPQ    CX, $1
	JEQ     done16
	ADDQ    BX, DI
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	CMPQ    CX, $2
	JEQ     done16
	ADDQ    BX, DI
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	CMPQ    CX, $3
	JEQ     done16
	ADDQ    BX, DI
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	CMPQ    CX, $4
	JEQ     done16
	ADDQ    BX, DI
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 32(DI)
	CMPQ    CX, $5
	JEQ     done16
	ADDQ    BX, DI
	VMOVUPS Y10, (DI)
	VMOVUPS Y11, 32(DI)

done16:
	VZEROUPPER
	RET

// ROW8(base, y): y += A(row)[p] * B[p, 0:8].
#define ROW8(base, y) \
	VBROADCASTSS (base)(AX*1), Y14; \
	VFMADD231PS  Y12, Y14, y

// ACC8(y): y += C row at R8 (masked).
#define ACC8(y) \
	VMASKMOVPS (R8), Y15, Y13; \
	VADDPS     Y13, y, y

// func kern8(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, rows int, acc bool, mask *int32)
TEXT ·kern8(SB), NOSPLIT, $192-88
	LOADARGS
	MOVQ    mask+80(FP), DI
	VMOVDQU (DI), Y15
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VXORPS  Y3, Y3, Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5

loop8:
	VMASKMOVPS (SI), Y15, Y12
	ROW8(R8, Y0)
	ROW8(R9, Y1)
	ROW8(R10, Y2)
	ROW8(R11, Y3)
	ROW8(R12, Y4)
	ROW8(R13, Y5)
	ADDQ DX, AX
	ADDQ BX, SI
	DECQ CX
	JNZ  loop8

	MOVQ    c+48(FP), DI
	MOVQ    ldc+56(FP), BX
	SHLQ    $2, BX
	MOVQ    rows+64(FP), CX
	MOVBLZX acc+72(FP), DX
	TESTQ   DX, DX
	JZ      store8

	MOVQ DI, R8
	ACC8(Y0)
	CMPQ CX, $1
	JEQ  store8
	ADDQ BX, R8
	ACC8(Y1)
	CMPQ CX, $2
	JEQ  store8
	ADDQ BX, R8
	ACC8(Y2)
	CMPQ CX, $3
	JEQ  store8
	ADDQ BX, R8
	ACC8(Y3)
	CMPQ CX, $4
	JEQ  store8
	ADDQ BX, R8
	ACC8(Y4)
	CMPQ CX, $5
	JEQ  store8
	ADDQ BX, R8
	ACC8(Y5)

store8:
	// Full width (the mask's last lane on): plain stores. Narrower: the
	// rows go through the stack and out in 4-, 2- and 1-lane stores, as
	// masked stores cost several times a store on AMD's cores.
	MOVQ  mask+80(FP), R8
	MOVL  28(R8), R9
	TESTL R9, R9
	JZ    part8
	VMOVUPS Y0, (DI)
	CMPQ    CX, $1
	JEQ     done8
	ADDQ    BX, DI
	VMOVUPS Y1, (DI)
	CMPQ    CX, $2
	JEQ     done8
	ADDQ    BX, DI
	VMOVUPS Y2, (DI)
	CMPQ    CX, $3
	JEQ     done8
	ADDQ    BX, DI
	VMOVUPS Y3, (DI)
	CMPQ    CX, $4
	JEQ     done8
	ADDQ    BX, DI
	VMOVUPS Y4, (DI)
	CMPQ    CX, $5
	JEQ     done8
	ADDQ    BX, DI
	VMOVUPS Y5, (DI)
	JMP     done8

part8:
	VMOVUPS   Y0, 0(SP)
	VMOVUPS   Y1, 32(SP)
	VMOVUPS   Y2, 64(SP)
	VMOVUPS   Y3, 96(SP)
	VMOVUPS   Y4, 128(SP)
	VMOVUPS   Y5, 160(SP)
	VMOVMSKPS Y15, R9
	POPCNTL   R9, R9
	LEAQ      0(SP), R10

prow8:
	VMOVUPS (R10), Y0
	MOVQ    DI, R11
	TESTL   $4, R9
	JZ      p2lanes
	VMOVUPS      X0, (R11)
	VEXTRACTF128 $1, Y0, X0
	ADDQ         $16, R11

p2lanes:
	TESTL   $2, R9
	JZ      p1lane
	VMOVLPS X0, (R11)
	VMOVHLPS X0, X0, X0
	ADDQ    $8, R11

p1lane:
	TESTL  $1, R9
	JZ     pnext8
	VMOVSS X0, (R11)

pnext8:
	ADDQ $32, R10
	ADDQ BX, DI
	DECQ CX
	JNZ  prow8

done8:
	VZEROUPPER
	RET

// func hasAVX2FMA() bool
TEXT ·hasAVX2FMA(SB), NOSPLIT, $0-1
	XORL AX, AX
	XORL CX, CX
	CPUID
	CMPL AX, $7
	JLT  no
	MOVL $1, AX
	XORL CX, CX
	CPUID
	// FMA (bit 12), OSXSAVE (27), AVX (28)
	ANDL $0x18001000, CX
	CMPL CX, $0x18001000
	JNE  no
	XORL CX, CX
	XGETBV
	// the OS saves XMM and YMM state
	ANDL $6, AX
	CMPL AX, $6
	JNE  no
	MOVL $7, AX
	XORL CX, CX
	CPUID
	// AVX2 (bit 5)
	ANDL $0x20, BX
	JZ   no
	MOVB $1, ret+0(FP)
	RET

no:
	MOVB $0, ret+0(FP)
	RET
