//go:build amd64

#include "textflag.h"

// Elementwise kernels (act.go says what they compute), eight lanes at a
// time; operand order as in gemm_amd64.s.

#define ROW(off, bits) \
	DATA ac<>+(off+0)(SB)/4, $bits; DATA ac<>+(off+4)(SB)/4, $bits; \
	DATA ac<>+(off+8)(SB)/4, $bits; DATA ac<>+(off+12)(SB)/4, $bits; \
	DATA ac<>+(off+16)(SB)/4, $bits; DATA ac<>+(off+20)(SB)/4, $bits; \
	DATA ac<>+(off+24)(SB)/4, $bits; DATA ac<>+(off+28)(SB)/4, $bits

ROW(0, 0x4b40007f)   // MAGIC  1.5*2**23 + 127
ROW(32, 0x3fb8aa3b)  // LOG2E  log2(e)
ROW(64, 0x3f318000)  // LN2HI  0.693359375
ROW(96, 0xb95e8083)  // LN2LO  -2.12194440e-4 (LN2HI + LN2LO = ln 2)
ROW(128, 0x3f800000) // ONE
ROW(160, 0x3effffff) // C2     4.9999997020e-01
ROW(192, 0x3e2aaa3c) // C3     1.6666501760e-01
ROW(224, 0x3d2aab1f) // C4     4.1667100042e-02
ROW(256, 0x3c092538) // C5     8.3706900477e-03
ROW(288, 0x3ab61ab4) // C6     1.3893456198e-03
ROW(320, 0xc2ae999a) // ZLO    -87.3
ROW(352, 0x42b16666) // ZHI    88.7
ROW(384, 0x80000000) // SIGN
ROW(416, 0x7fffffff) // ABS
ROW(448, 0x3f200000) // TSMALL 0.625
ROW(480, 0x422c0000) // TBIG   43 (exp(-2*43) is still normal)
ROW(512, 0xc0000000) // MTWO   -2
ROW(544, 0x40800000) // FOUR
ROW(576, 0xbeaaaa9e) // T0 -0.33333295583724976
ROW(608, 0x3e088467) // T1  0.13331757485866547
ROW(640, 0xbd5c3864) // T2 -0.053764715790748596
ROW(672, 0x3ca9b88c) // T3  0.020717881619930267
ROW(704, 0xbbbdc247) // T4 -0.00579098192974925
GLOBL ac<>(SB), RODATA|NOPTR, $736

#define K_MAGIC ac<>+0(SB)
#define K_LOG2E ac<>+32(SB)
#define K_LN2HI ac<>+64(SB)
#define K_LN2LO ac<>+96(SB)
#define K_ONE ac<>+128(SB)
#define K_C2 ac<>+160(SB)
#define K_C3 ac<>+192(SB)
#define K_C4 ac<>+224(SB)
#define K_C5 ac<>+256(SB)
#define K_C6 ac<>+288(SB)
#define K_ZLO ac<>+320(SB)
#define K_ZHI ac<>+352(SB)
#define K_SIGN ac<>+384(SB)
#define K_ABS ac<>+416(SB)
#define K_TSMALL ac<>+448(SB)
#define K_TBIG ac<>+480(SB)
#define K_MTWO ac<>+512(SB)
#define K_FOUR ac<>+544(SB)
#define K_T0 ac<>+576(SB)
#define K_T1 ac<>+608(SB)
#define K_T2 ac<>+640(SB)
#define K_T3 ac<>+672(SB)
#define K_T4 ac<>+704(SB)

// EXP: Y0 = exp(Y0) for Y0 in [ZLO, ZHI], clobbering Y1, Y2: n =
// round(z*log2(e)) and 2**n from one FMA with MAGIC (whose low mantissa
// bits then hold n+127), r = z - n*ln2 in two steps, exp(r) by the
// degree-6 polynomial 1 + r + C2 r**2 + ... + C6 r**6 (core's sigmoid's).
#define EXP \
	VMOVUPS      K_MAGIC, Y1;    \
	VFMADD231PS  K_LOG2E, Y0, Y1; \
	VSUBPS       K_MAGIC, Y1, Y2; \
	VPSLLD       $23, Y1, Y1;     \
	VFNMADD231PS K_LN2HI, Y2, Y0; \
	VFNMADD231PS K_LN2LO, Y2, Y0; \
	VMOVUPS      K_C6, Y2;        \
	VFMADD213PS  K_C5, Y0, Y2;    \
	VFMADD213PS  K_C4, Y0, Y2;    \
	VFMADD213PS  K_C3, Y0, Y2;    \
	VFMADD213PS  K_C2, Y0, Y2;    \
	VFMADD213PS  K_ONE, Y0, Y2;   \
	VFMADD213PS  K_ONE, Y0, Y2;   \
	VMULPS       Y1, Y2, Y0

// func tanhAVX2(dst, src *float32, n int, a, b float32, grad bool)
TEXT ·tanhAVX2(SB), NOSPLIT, $0-33
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y13
	VBROADCASTSS b+28(FP), Y14
	VMULPS       Y13, Y14, Y15     // a*b
	MOVBLZX      grad+32(FP), DX
	VMOVUPS      K_TBIG, Y12
	VMOVUPS      K_ONE, Y11
	SHRQ         $3, CX
	JZ           tdone

tloop:
	VMULPS  (SI), Y14, Y3 // y = b*x
	VANDPS  K_ABS, Y3, Y4 // u = |y|, at most TBIG (NaN stays)
	VMINPS  Y4, Y12, Y4
	// Large u: e = exp(-2u), |t| = (1-e)/(1+e), t' = 4e/(1+e)**2.
	VMULPS  K_MTWO, Y4, Y0
	EXP
	VSUBPS  Y0, Y11, Y5    // 1-e
	VADDPS  Y0, Y11, Y6    // 1+e
	VDIVPS  Y6, Y5, Y5     // |t|
	VMULPS  K_FOUR, Y0, Y0
	VMULPS  Y6, Y6, Y6
	VDIVPS  Y6, Y0, Y6     // t'
	// Small u: |t| = u + u**3 (T0 + w T1 + ... + w**4 T4), w = u*u.
	VMULPS      Y4, Y4, Y7
	VMOVUPS     K_T4, Y8
	VFMADD213PS K_T3, Y7, Y8
	VFMADD213PS K_T2, Y7, Y8
	VFMADD213PS K_T1, Y7, Y8
	VFMADD213PS K_T0, Y7, Y8
	VMULPS      Y4, Y7, Y7
	VFMADD213PS Y4, Y7, Y8 // Y8 = u**3 P + u
	VCMPPS      $1, K_TSMALL, Y4, Y9 // u < TSMALL
	VBLENDVPS   Y9, Y8, Y5, Y5
	// sign and scale
	VANDPS  K_SIGN, Y3, Y10
	VORPS   Y10, Y5, Y10
	VMULPS  Y13, Y10, Y10
	VMOVUPS Y10, (DI)
	TESTQ   DX, DX
	JZ      tnext
	// t' for small u: (1-|t|)(1+|t|)
	VSUBPS    Y8, Y11, Y0
	VADDPS    Y8, Y11, Y1
	VMULPS    Y1, Y0, Y0
	VBLENDVPS Y9, Y0, Y6, Y6
	VMULPS    Y15, Y6, Y6
	VMOVUPS   Y6, (SI)

tnext:
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  tloop

tdone:
	VZEROUPPER
	RET

// func sigmoidAVX2(dst, src *float32, n int)
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    n+16(FP), CX
	VMOVUPS K_ZLO, Y15
	VMOVUPS K_ZHI, Y14
	VMOVUPS K_ONE, Y13
	VMOVUPS K_SIGN, Y12
	SHRQ    $3, CX
	JZ      sdone

sloop:
	// exp(-x) with -x clamped to [ZLO, ZHI] (NaN stays): 2**128 at the
	// top reads as +Inf and the sigmoid is 0.
	VXORPS  (SI), Y12, Y0
	VMAXPS  Y0, Y15, Y0
	VMINPS  Y0, Y14, Y0
	EXP
	VADDPS  Y0, Y13, Y0
	VDIVPS  Y0, Y13, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     sloop

sdone:
	VZEROUPPER
	RET

// func mulAVX2(dst, a, b *float32, n int)
TEXT ·mulAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   mdone

mloop:
	VMOVUPS (SI), Y0
	VMULPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     mloop

mdone:
	VZEROUPPER
	RET

// TANHM: Y10 = tanh(Y3), clobbering Y0-Y2, Y4-Y9: tanhAVX2's steps for
// a = b = 1 (so the same values), without the derivative.
#define TANHM \
	VANDPS      K_ABS, Y3, Y4;     \
	VMOVUPS     K_TBIG, Y5;        \
	VMINPS      Y4, Y5, Y4;        \
	VMULPS      K_MTWO, Y4, Y0;    \
	EXP;                           \
	VSUBPS      Y0, Y11, Y5;       \
	VADDPS      Y0, Y11, Y6;       \
	VDIVPS      Y6, Y5, Y5;        \
	VMULPS      Y4, Y4, Y7;        \
	VMOVUPS     K_T4, Y8;          \
	VFMADD213PS K_T3, Y7, Y8;      \
	VFMADD213PS K_T2, Y7, Y8;      \
	VFMADD213PS K_T1, Y7, Y8;      \
	VFMADD213PS K_T0, Y7, Y8;      \
	VMULPS      Y4, Y7, Y7;        \
	VFMADD213PS Y4, Y7, Y8;        \
	VCMPPS      $1, K_TSMALL, Y4, Y9; \
	VBLENDVPS   Y9, Y8, Y5, Y5;    \
	VANDPS      K_SIGN, Y3, Y10;   \
	VORPS       Y10, Y5, Y10

// SIGM: Y0 = sigmoid(Y0), clobbering Y1, Y2: sigmoidAVX2's steps.
#define SIGM \
	VXORPS  K_SIGN, Y0, Y0; \
	VMOVUPS K_ZLO, Y1;      \
	VMAXPS  Y0, Y1, Y0;     \
	VMOVUPS K_ZHI, Y1;      \
	VMINPS  Y0, Y1, Y0;     \
	EXP;                    \
	VADDPS  Y0, Y11, Y0;    \
	VDIVPS  Y0, Y11, Y0

// HMIX: Y1 = t1 (1 - (g & gm)) + g t2 with t1 in Y13, t2 in Y3, g in Y0
// and the gate mask gm in Y12 (all ones: gated; zeros: no gate).
#define HMIX \
	VANDPS      Y12, Y0, Y1; \
	VSUBPS      Y1, Y11, Y1; \
	VMULPS      Y13, Y1, Y1; \
	VFMADD231PS Y3, Y0, Y1

// func headsFwdAVX2(x *float32, ld, rows, n, hoff int, bias, ts *float32, tsld int, sg float32, flags int, mask *int32, h2, h3 int)
//
// Row i's heads at x + i*ld (BX = 4n bytes per head; R13 = 3*BX), its
// state hoff past them (and h2, h3 bytes), its time at ts + i*tsld. DI the row, SI and AX
// the chunk of the row and of the bias, R14 counts full chunks. Y11 ones,
// Y12 the gate mask, Y13 t1, Y14 sg*ts, Y15 the window's lane mask.
//
// The last n&7 units of a row go first, through an eight-unit window
// ending at each head's end, loaded whole and computed whole; their
// results wait on the stack, blended (n < 8: the lanes before the heads'
// last n&7 keep what the window loaded; mask all ones otherwise, where
// those lanes get the values the last full chunk also computes), and are
// stored after the full chunks, last field first, so that a window
// reaching back into an earlier field leaves that field's new values.
// Tails are thus neither masked stores (slow on AMD) nor loads of a
// window a recent store partly covers (a store-forwarding stall).
TEXT ·headsFwdAVX2(SB), NOSPLIT, $160-104
	MOVQ     x+0(FP), DI
	MOVQ     ld+8(FP), R8
	SHLQ     $2, R8
	MOVQ     rows+16(FP), CX
	MOVQ     n+24(FP), BX
	SHLQ     $2, BX
	LEAQ     (BX)(BX*2), R13
	MOVQ     hoff+32(FP), R9
	SHLQ     $2, R9
	MOVQ     bias+40(FP), R10
	MOVQ     ts+48(FP), R11
	MOVQ     tsld+56(FP), R12
	SHLQ     $2, R12
	MOVQ     flags+72(FP), DX
	MOVQ     mask+80(FP), AX
	VMOVUPS  (AX), Y15
	VMOVUPS  K_ONE, Y11
	VPCMPEQD Y12, Y12, Y12
	TESTQ    $2, DX
	JZ       fgate
	VXORPS   Y12, Y12, Y12

fgate:
	TESTQ CX, CX
	JZ    fdone

frow:
	VBROADCASTSS (R11), Y14
	VBROADCASTSS sg+64(FP), Y0
	VMULPS       Y0, Y14, Y14
	TESTQ        $28, BX
	JZ           ffirst
	LEAQ         -32(DI)(BX*1), SI
	LEAQ         -32(R10)(BX*1), AX
	VMOVUPS      (SI), Y3
	VMASKMOVPS   (AX), Y15, Y4
	VADDPS       Y4, Y3, Y3
	TESTQ        $1, DX
	JNZ          ft1
	TANHM
	VBLENDVPS    Y15, Y10, Y3, Y3

ft1:
	VMOVUPS    Y3, 0(SP)
	VMOVAPS    Y3, Y13
	VMOVUPS    (SI)(BX*1), Y3
	VMASKMOVPS (AX)(BX*1), Y15, Y4
	VADDPS     Y4, Y3, Y3
	TESTQ      $1, DX
	JNZ        ft2
	TANHM
	VBLENDVPS  Y15, Y10, Y3, Y3

ft2:
	VMOVUPS     Y3, 32(SP)
	VMOVUPS     (SI)(BX*2), Y4
	VMASKMOVPS  (AX)(BX*2), Y15, Y5
	VADDPS      Y5, Y4, Y4
	VMOVUPS     (SI)(R13*1), Y0
	VMASKMOVPS  (AX)(R13*1), Y15, Y5
	VADDPS      Y5, Y0, Y0
	VBLENDVPS   Y15, Y4, Y0, Y5
	VMOVUPS     Y5, 96(SP)
	VFMADD231PS Y14, Y4, Y0
	SIGM
	VBLENDVPS   Y15, Y0, Y4, Y5
	VMOVUPS     Y5, 64(SP)
	HMIX
	VMOVUPS     (SI)(R9*1), Y5
	VBLENDVPS   Y15, Y1, Y5, Y1
	VMOVUPS     Y1, 128(SP)

ffirst:
	MOVQ DI, SI
	MOVQ R10, AX
	MOVQ BX, R14
	SHRQ $5, R14
	JZ   fstail

ffull:
	VMOVUPS (SI), Y3
	VADDPS  (AX), Y3, Y3
	TESTQ   $1, DX
	JNZ     fk1
	TANHM
	VMOVAPS Y10, Y3

fk1:
	VMOVUPS Y3, (SI)
	VMOVAPS Y3, Y13
	VMOVUPS (SI)(BX*1), Y3
	VADDPS  (AX)(BX*1), Y3, Y3
	TESTQ   $1, DX
	JNZ     fk2
	TANHM
	VMOVAPS Y10, Y3

fk2:
	VMOVUPS     Y3, (SI)(BX*1)
	VMOVUPS     (SI)(BX*2), Y4
	VADDPS      (AX)(BX*2), Y4, Y4
	VMOVUPS     (SI)(R13*1), Y0
	VADDPS      (AX)(R13*1), Y0, Y0
	VFMADD231PS Y14, Y4, Y0
	VMOVUPS     Y4, (SI)(R13*1)
	SIGM
	VMOVUPS     Y0, (SI)(BX*2)
	HMIX
	VMOVUPS     Y1, (SI)(R9*1)
	ADDQ        h2+88(FP), SI
	VMOVUPS     Y1, (SI)
	SUBQ        h2+88(FP), SI
	ADDQ        h3+96(FP), SI
	VMOVUPS     Y1, (SI)
	SUBQ        h3+96(FP), SI
	ADDQ        $32, SI
	ADDQ        $32, AX
	DECQ        R14
	JNZ         ffull

fstail:
	TESTQ   $28, BX
	JZ      fnext
	LEAQ    -32(DI)(BX*1), SI
	VMOVUPS 128(SP), Y0
	VMOVUPS Y0, (SI)(R9*1)
	ADDQ    h2+88(FP), SI
	VMOVUPS Y0, (SI)
	SUBQ    h2+88(FP), SI
	ADDQ    h3+96(FP), SI
	VMOVUPS Y0, (SI)
	SUBQ    h3+96(FP), SI
	VMOVUPS 96(SP), Y0
	VMOVUPS Y0, (SI)(R13*1)
	VMOVUPS 64(SP), Y0
	VMOVUPS Y0, (SI)(BX*2)
	VMOVUPS 32(SP), Y0
	VMOVUPS Y0, (SI)(BX*1)
	VMOVUPS 0(SP), Y0
	VMOVUPS Y0, (SI)

fnext:
	ADDQ R8, DI
	ADDQ R12, R11
	DECQ CX
	JNZ  frow

fdone:
	VZEROUPPER
	RET

// GRADM: from t1 (Y0), t2 (Y1), g (Y2) and d (Y4), the gradients of the
// heads' pre-activations ff1 (Y6) and ff2 (Y7) and dp (Y9), clobbering
// Y5, Y8: dt1 = d (1 - (g & gm)), dt2 = d g, dg = d (t2 - (t1 & gm)),
// dp = dg g (1-g), ff1 = dt1 (1 - (t1^2 & tm)), ff2 = dt2 (1 - (t2^2 & tm)).
#define GRADM \
	VANDPS      Y12, Y2, Y5;  \
	VSUBPS      Y5, Y15, Y5;  \
	VMULPS      Y5, Y4, Y6;   \
	VMULPS      Y2, Y4, Y7;   \
	VANDPS      Y12, Y0, Y8;  \
	VSUBPS      Y8, Y1, Y8;   \
	VMULPS      Y8, Y4, Y8;   \
	VSUBPS      Y2, Y15, Y9;  \
	VMULPS      Y9, Y2, Y9;   \
	VMULPS      Y8, Y9, Y9;   \
	VMULPS      Y0, Y0, Y8;   \
	VANDPS      Y11, Y8, Y8;  \
	VSUBPS      Y8, Y15, Y8;  \
	VMULPS      Y8, Y6, Y6;   \
	VMULPS      Y1, Y1, Y8;   \
	VANDPS      Y11, Y8, Y8;  \
	VSUBPS      Y8, Y15, Y8;  \
	VMULPS      Y8, Y7, Y7

// func headsGradAVX2(h *float32, ld, rows int, dh *float32, ldd, n int, ts *float32, tsld int, sg float32, dts *float32, flags int, mask, tmask *int32)
//
// Row i's heads at h + i*ld (BX = 4n bytes per head, R13 = 3*BX), its
// state gradient at dh + i*ldd, its time at ts + i*tsld, its time
// gradient at dts + 4i. DI, R9 the rows, SI, R14 the chunks, DX counts
// full chunks. Y15 ones, Y14 sg*ts, Y13 the sum of dp*a, Y12 the gate
// mask (zeros: no gate), Y11 the tanh mask (zeros: heads without tanh),
// Y3 the window's lane mask (see headsFwdAVX2, whose order the tail
// follows), tmask the lanes of the last n&7 units (the others' dp*a are
// the full chunks').
TEXT ·headsGradAVX2(SB), NOSPLIT, $128-104
	MOVQ     h+0(FP), DI
	MOVQ     ld+8(FP), R8
	SHLQ     $2, R8
	MOVQ     rows+16(FP), CX
	MOVQ     dh+24(FP), R9
	MOVQ     ldd+32(FP), R10
	SHLQ     $2, R10
	MOVQ     n+40(FP), BX
	SHLQ     $2, BX
	LEAQ     (BX)(BX*2), R13
	MOVQ     ts+48(FP), R11
	MOVQ     tsld+56(FP), R12
	SHLQ     $2, R12
	MOVQ     dts+72(FP), AX
	MOVQ     flags+80(FP), DX
	VPCMPEQD Y11, Y11, Y11
	TESTQ    $1, DX
	JZ       gtanh
	VXORPS   Y11, Y11, Y11

gtanh:
	VPCMPEQD Y12, Y12, Y12
	TESTQ    $2, DX
	JZ       ggate
	VXORPS   Y12, Y12, Y12

ggate:
	MOVQ    mask+88(FP), DX
	VMOVUPS (DX), Y3
	VMOVUPS K_ONE, Y15
	TESTQ   CX, CX
	JZ      gdone

grow:
	VBROADCASTSS (R11), Y14
	VBROADCASTSS sg+64(FP), Y0
	VMULPS       Y0, Y14, Y14
	VXORPS       Y13, Y13, Y13
	TESTQ        $28, BX
	JZ           gfirst
	LEAQ         -32(DI)(BX*1), SI
	LEAQ         -32(R9)(BX*1), R14
	VMOVUPS      (SI), Y0
	VMOVUPS      (SI)(BX*1), Y1
	VMOVUPS      (SI)(BX*2), Y2
	VMASKMOVPS   (R14), Y3, Y4
	VMOVUPS      (SI)(R13*1), Y10
	GRADM
	MOVQ         tmask+96(FP), DX
	VANDPS       (DX), Y9, Y5
	VANDPS       (DX), Y10, Y8
	VFMADD231PS  Y8, Y5, Y13
	VBLENDVPS    Y3, Y9, Y10, Y5
	VMOVUPS      Y5, 96(SP)
	VMULPS       Y14, Y9, Y8
	VBLENDVPS    Y3, Y8, Y2, Y8
	VMOVUPS      Y8, 64(SP)
	VBLENDVPS    Y3, Y7, Y1, Y7
	VMOVUPS      Y7, 32(SP)
	VBLENDVPS    Y3, Y6, Y0, Y6
	VMOVUPS      Y6, 0(SP)

gfirst:
	MOVQ DI, SI
	MOVQ R9, R14
	MOVQ BX, DX
	SHRQ $5, DX
	JZ   gstail

gfull:
	VMOVUPS     (SI), Y0
	VMOVUPS     (SI)(BX*1), Y1
	VMOVUPS     (SI)(BX*2), Y2
	VMOVUPS     (R14), Y4
	VMOVUPS     (SI)(R13*1), Y10
	GRADM
	VFMADD231PS Y10, Y9, Y13
	VMULPS      Y14, Y9, Y10
	VMOVUPS     Y6, (SI)
	VMOVUPS     Y7, (SI)(BX*1)
	VMOVUPS     Y10, (SI)(BX*2)
	VMOVUPS     Y9, (SI)(R13*1)
	ADDQ        $32, SI
	ADDQ        $32, R14
	DECQ        DX
	JNZ         gfull

gstail:
	TESTQ   $28, BX
	JZ      gnext
	LEAQ    -32(DI)(BX*1), SI
	VMOVUPS 96(SP), Y0
	VMOVUPS Y0, (SI)(R13*1)
	VMOVUPS 64(SP), Y0
	VMOVUPS Y0, (SI)(BX*2)
	VMOVUPS 32(SP), Y0
	VMOVUPS Y0, (SI)(BX*1)
	VMOVUPS 0(SP), Y0
	VMOVUPS Y0, (SI)

gnext:
	VEXTRACTF128 $1, Y13, X0
	VADDPS       X13, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMULSS       sg+64(FP), X0, X0
	VADDSS       (AX), X0, X0
	VMOVSS       X0, (AX)
	ADDQ         $4, AX
	ADDQ         R8, DI
	ADDQ         R10, R9
	ADDQ         R12, R11
	DECQ         CX
	JNZ          grow

gdone:
	VZEROUPPER
	RET

// func colsumAVX2(a *float32, lda, k int, c *float32, acc bool, mask *int32)
//
// Up to 32 columns (mask: 32 lane masks, the columns' leading ones), two
// rows a step into eight accumulators (Y0-Y3 even rows, Y4-Y7 odd ones),
// so that the adds do not wait on each other and each row's cache lines
// are read once. Y8-Y11 the masks, SI the row, BX lda in bytes.
TEXT ·colsumAVX2(SB), NOSPLIT, $0-48
	MOVQ    a+0(FP), SI
	MOVQ    lda+8(FP), BX
	SHLQ    $2, BX
	MOVQ    k+16(FP), CX
	MOVQ    mask+40(FP), AX
	VMOVUPS (AX), Y8
	VMOVUPS 32(AX), Y9
	VMOVUPS 64(AX), Y10
	VMOVUPS 96(AX), Y11
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VXORPS  Y3, Y3, Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	MOVQ    CX, R8
	SHRQ    $1, R8
	JZ      cone

ctwo:
	VMASKMOVPS (SI), Y8, Y12
	VADDPS     Y12, Y0, Y0
	VMASKMOVPS 32(SI), Y9, Y13
	VADDPS     Y13, Y1, Y1
	VMASKMOVPS 64(SI), Y10, Y14
	VADDPS     Y14, Y2, Y2
	VMASKMOVPS 96(SI), Y11, Y15
	VADDPS     Y15, Y3, Y3
	VMASKMOVPS (SI)(BX*1), Y8, Y12
	VADDPS     Y12, Y4, Y4
	VMASKMOVPS 32(SI)(BX*1), Y9, Y13
	VADDPS     Y13, Y5, Y5
	VMASKMOVPS 64(SI)(BX*1), Y10, Y14
	VADDPS     Y14, Y6, Y6
	VMASKMOVPS 96(SI)(BX*1), Y11, Y15
	VADDPS     Y15, Y7, Y7
	LEAQ       (SI)(BX*2), SI
	DECQ       R8
	JNZ        ctwo

cone:
	TESTQ $1, CX
	JZ    csum
	VMASKMOVPS (SI), Y8, Y12
	VADDPS     Y12, Y0, Y0
	VMASKMOVPS 32(SI), Y9, Y13
	VADDPS     Y13, Y1, Y1
	VMASKMOVPS 64(SI), Y10, Y14
	VADDPS     Y14, Y2, Y2
	VMASKMOVPS 96(SI), Y11, Y15
	VADDPS     Y15, Y3, Y3

csum:
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	MOVQ    c+24(FP), DI
	MOVBLZX acc+32(FP), DX
	TESTQ   DX, DX
	JZ      cstore
	VMASKMOVPS (DI), Y8, Y12
	VADDPS     Y12, Y0, Y0
	VMASKMOVPS 32(DI), Y9, Y13
	VADDPS     Y13, Y1, Y1
	VMASKMOVPS 64(DI), Y10, Y14
	VADDPS     Y14, Y2, Y2
	VMASKMOVPS 96(DI), Y11, Y15
	VADDPS     Y15, Y3, Y3

cstore:
	VMASKMOVPS Y0, Y8, (DI)
	VMASKMOVPS Y1, Y9, 32(DI)
	VMASKMOVPS Y2, Y10, 64(DI)
	VMASKMOVPS Y3, Y11, 96(DI)
	VZEROUPPER
	RET
