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

// func headsGradAVX2(h, dh *float32, n, n8 int, ts float32, nogate bool) float32
//
// Y15 ones, Y14 ts, Y13 the sum of dp*a; h's four parts n floats apart
// (R8-R11), dh at DX.
TEXT ·headsGradAVX2(SB), NOSPLIT, $0-44
	MOVQ         h+0(FP), R8
	MOVQ         dh+8(FP), DX
	MOVQ         n+16(FP), BX
	MOVQ         n8+24(FP), CX
	VBROADCASTSS ts+32(FP), Y14
	MOVBLZX      nogate+36(FP), R12
	VMOVUPS      K_ONE, Y15
	VXORPS       Y13, Y13, Y13
	SHLQ         $2, BX
	LEAQ         (R8)(BX*1), R9
	LEAQ         (R9)(BX*1), R10
	LEAQ         (R10)(BX*1), R11
	SHRQ         $3, CX
	JZ           hdone

hloop:
	VMOVUPS (R8), Y0     // t1
	VMOVUPS (R9), Y1     // t2
	VMOVUPS (R10), Y2    // g
	VMOVUPS (DX), Y4     // d
	VSUBPS  Y2, Y15, Y5  // 1-g
	VMULPS  Y2, Y4, Y7   // dt2 = d g
	TESTQ   R12, R12
	JNZ     hnogate
	VMULPS  Y5, Y4, Y6   // dt1 = d (1-g)
	VSUBPS  Y0, Y1, Y8
	VMULPS  Y8, Y4, Y8   // dg = d (t2-t1)
	JMP     hgate

hnogate:
	VMOVAPS Y4, Y6      // dt1 = d
	VMULPS  Y1, Y4, Y8  // dg = d t2

hgate:
	VMULPS      Y5, Y2, Y9   // g (1-g)
	VMULPS      Y8, Y9, Y9   // dp
	VFMADD231PS (R11), Y9, Y13
	VMULPS      Y0, Y0, Y10
	VSUBPS      Y10, Y15, Y10
	VMULPS      Y6, Y10, Y10
	VMOVUPS     Y10, (R8)    // dt1 (1-t1^2)
	VMULPS      Y1, Y1, Y11
	VSUBPS      Y11, Y15, Y11
	VMULPS      Y7, Y11, Y11
	VMOVUPS     Y11, (R9)    // dt2 (1-t2^2)
	VMULPS      Y14, Y9, Y12
	VMOVUPS     Y12, (R10)   // dp ts
	VMOVUPS     Y9, (R11)    // dp
	ADDQ        $32, R8
	ADDQ        $32, R9
	ADDQ        $32, R10
	ADDQ        $32, R11
	ADDQ        $32, DX
	DECQ        CX
	JNZ         hloop

hdone:
	VEXTRACTF128 $1, Y13, X0
	VADDPS       X13, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, ret+40(FP)
	VZEROUPPER
	RET
