//go:build amd64

#include "textflag.h"
#include "go_asm.h"

// AVX2+FMA kernels for float32 cells; kernels_amd64.go says what they
// compute and why they are written this way, kernels.go has the generic
// versions they mirror. Go operand order: the first operand is Intel's
// last source (the one that may be in memory), the last the destination:
// VFMADD231PS m, b, a is a = b*m + a, VFMADD213PS m, b, a is a = b*a + m,
// VFMADD132PS m, b, a is a = a*m + b, VSUBPS b, a, c is c = a - b.

// Constant rows of eight equal float32s, so that they can be full-width
// memory operands.
#define ROW(off, bits) \
	DATA kc<>+(off+0)(SB)/4, $bits; DATA kc<>+(off+4)(SB)/4, $bits; \
	DATA kc<>+(off+8)(SB)/4, $bits; DATA kc<>+(off+12)(SB)/4, $bits; \
	DATA kc<>+(off+16)(SB)/4, $bits; DATA kc<>+(off+20)(SB)/4, $bits; \
	DATA kc<>+(off+24)(SB)/4, $bits; DATA kc<>+(off+28)(SB)/4, $bits

ROW(0, 0x4b40007f)   // MAGIC  1.5*2**23 + 127
ROW(32, 0xbfb8aa3b)  // NLOG2E -log2(e)
ROW(64, 0x3f318000)  // LN2HI  0.693359375
ROW(96, 0xb95e8083)  // LN2LO  -2.12194440e-4 (LN2HI + LN2LO = ln 2)
ROW(128, 0x3f800000) // ONE
ROW(160, 0x3effffff) // C2     4.9999997020e-01
ROW(192, 0x3e2aaa3c) // C3     1.6666501760e-01
ROW(224, 0x3d2aab1f) // C4     4.1667100042e-02
ROW(256, 0x3c092538) // C5     8.3706900477e-03
ROW(288, 0x3ab61ab4) // C6     1.3893456198e-03
ROW(320, 0xc2b16666) // ZLO    -88.7
ROW(352, 0x42ae999a) // ZHI    87.3
ROW(384, 0x80000000) // SIGN   the sign bit
GLOBL kc<>(SB), RODATA|NOPTR, $416

#define K_MAGIC kc<>+0(SB)
#define K_NLOG2E kc<>+32(SB)
#define K_LN2HI kc<>+64(SB)
#define K_LN2LO kc<>+96(SB)
#define K_ONE kc<>+128(SB)
#define K_C2 kc<>+160(SB)
#define K_C3 kc<>+192(SB)
#define K_C4 kc<>+224(SB)
#define K_C5 kc<>+256(SB)
#define K_C6 kc<>+288(SB)
#define K_ZLO kc<>+320(SB)
#define K_ZHI kc<>+352(SB)
#define K_SIGN kc<>+384(SB)

// The sigmoid (see kernels_amd64.go) comes in two halves, so that the
// pipelined loops below can run them in different iterations.
//
// SIGREDUCE takes z in Y0 and leaves r in Y0 and 2**n in Y1, clobbering
// Y2: clamp z to [ZLO, ZHI] (Y15, Y14); t = MAGIC - z*log2(e) (Y1; Y6 =
// MAGIC, nlog2e a register or K_NLOG2E); n = t - MAGIC (Y2); 2**n = t<<23
// (Y1); r = -z - n*LN2HI - n*LN2LO (Y0). The clamps take the constant as
// the first source of VMAXPS and VMINPS, which return the second source
// when either is NaN: NaN stays NaN.
#define SIGREDUCE(nlog2e) \
	VMAXPS       Y0, Y15, Y0;     \
	VMINPS       Y0, Y14, Y0;     \
	VMOVUPS      Y6, Y1;          \
	VFMADD231PS  nlog2e, Y0, Y1;  \
	VSUBPS       Y6, Y1, Y2;      \
	VPSLLD       $23, Y1, Y1;     \
	VFNMSUB231PS K_LN2HI, Y2, Y0; \
	VFNMADD231PS K_LN2LO, Y2, Y0

// SIGPOLY takes r in Y0 and 2**n in the operand scale and leaves d = 1 +
// exp(-z) = 1 + 2**n*p(r) in Y2, with p(r) = 1 + r*(1 + r*(C2 + r*(C3 +
// r*(C4 + r*(C5 + r*C6))))); Y5 = ONE, Y10 = C5, Y11 = C6, and c2-c4
// registers or memory rows.
#define SIGPOLY(scale, c2, c3, c4) \
	VMOVUPS     Y11, Y2;     \
	VFMADD213PS Y10, Y0, Y2; \
	VFMADD213PS c4, Y0, Y2;  \
	VFMADD213PS c3, Y0, Y2;  \
	VFMADD213PS c2, Y0, Y2;  \
	VFMADD213PS Y5, Y0, Y2;  \
	VFMADD213PS Y5, Y0, Y2;  \
	VFMADD132PS scale, Y5, Y2

// LOADK loads the register constants: Y5 ONE, Y6 MAGIC, Y7-Y11 C2-C6,
// Y14 ZHI, Y15 ZLO.
#define LOADK \
	VMOVUPS K_ZLO, Y15;  \
	VMOVUPS K_ZHI, Y14;  \
	VMOVUPS K_MAGIC, Y6; \
	VMOVUPS K_ONE, Y5;   \
	VMOVUPS K_C2, Y7;    \
	VMOVUPS K_C3, Y8;    \
	VMOVUPS K_C4, Y9;    \
	VMOVUPS K_C5, Y10;   \
	VMOVUPS K_C6, Y11

// RINGOFF sets reg to the byte offset of synapse e's slot (e a register)
// in a ring of 2**bits slots of 2**shift bytes.
#define RINGOFF(e, reg, bits, shift) \
	MOVQ e, reg;              \
	ANDQ $((1<<bits)-1), reg; \
	SHLQ $shift, reg

// Pipelining. Each synapse's sigmoid is one chain of some 25 dependent
// instructions, about 70 cycles long. Taken one synapse after the other,
// the out-of-order scheduler filled up with instructions waiting on their
// chains and the loop ran at 12-13 cycles a synapse where the arithmetic
// needs about 7. So the kernels run the synapse list as a software
// pipeline of three stages, A for synapse e+2K, B for e+K and C for e in
// the same iteration, handing over through a ring of slots in the frame:
// every iteration's instructions find their inputs (nearly) ready. The
// list is walked flat, across neurons; stage C checks each synapse against
// the end of the current neuron and switches neurons (several, if some
// have no synapse) out of line. Measured on a Zen 4 core, one synapse (8
// lanes) then costs about 9 cycles forward, 17 backward.

// Forward kernels. Stage A: z = sigma*(x[src]-mu) and SIGREDUCE, r and
// 2**n into the slot; B: SIGPOLY, d into the slot; C: a = wm/d (one
// rounding, where wm*(1/d) would round twice), added to the neuron's sums
// of a (Y13) and a*erev (Y12). Registers: R14 the fwdArgs, R8 src, R9 wm,
// R10 sigma, R11 mu, R12 erev, SI the source values, AX the synapse e of
// stage C, DX its slot's offset, CX the neuron j, BX the end of j's
// synapses, DI and R13 scratch; constants in Y4 (-log2(e)), Y5-Y11, Y14,
// Y15; Y0-Y3 scratch. Frame: 0 the number of synapses n, 8 n-FK, 16 the
// end of a prologue loop, 24 n-2*FK; from 64 a ring of 32 slots of 64
// bytes.
#define FK 8

#define FWDLOAD \
	MOVQ    a+0(FP), R14;                          \
	MOVQ    (fwdArgs_syn+synArgs_src)(R14), R8;    \
	MOVQ    (fwdArgs_syn+synArgs_wm)(R14), R9;     \
	MOVQ    (fwdArgs_syn+synArgs_sigma)(R14), R10; \
	MOVQ    (fwdArgs_syn+synArgs_mu)(R14), R11;    \
	MOVQ    (fwdArgs_syn+synArgs_erev)(R14), R12;  \
	MOVQ    fwdArgs_x(R14), SI;                    \
	LOADK;                                         \
	VMOVUPS K_NLOG2E, Y4

// FWDA is stage A of synapse e+disp (e a register) into ring slot off.
#define FWDA(e, disp, off) \
	MOVLQSX      disp*4(R8)(e*4), R13;  \
	SHLQ         $5, R13;               \
	VMOVUPS      (SI)(R13*1), Y0;       \
	VBROADCASTSS disp*4(R11)(e*4), Y1;  \
	VSUBPS       Y1, Y0, Y0;            \
	VBROADCASTSS disp*4(R10)(e*4), Y1;  \
	VMULPS       Y1, Y0, Y0;            \
	SIGREDUCE(Y4);                      \
	VMOVUPS      Y0, 64(SP)(off*1);     \
	VMOVUPS      Y1, 96(SP)(off*1)

// FWDB is stage B in ring slot off: d over r.
#define FWDB(off) \
	VMOVUPS 64(SP)(off*1), Y0;          \
	SIGPOLY(96(SP)(off*1), Y7, Y8, Y9); \
	VMOVUPS Y2, 64(SP)(off*1)

// FWDC is stage C of synapse AX from ring slot DX.
#define FWDC \
	VMOVUPS      64(SP)(DX*1), Y2; \
	VBROADCASTSS (R9)(AX*4), Y1;   \
	VDIVPS       Y2, Y1, Y1;       \
	VBROADCASTSS (R12)(AX*4), Y3;  \
	VFMADD231PS  Y3, Y1, Y12;      \
	VADDPS       Y1, Y13, Y13

// FWDKERNEL is the body of the forward kernels; out writes neuron CX from
// Y12 and Y13 and may clobber BX, DI, R13 and Y0-Y3. A neuron is written
// when stage C reaches the end of its synapses; at the end of the list
// every neuron left (they all end there or before) is written in turn.
#define FWDKERNEL(out) \
	FWDLOAD;                                       \
	MOVQ    (fwdArgs_syn+synArgs_units)(R14), DI;  \
	TESTQ   DI, DI;                                \
	JLE     fdone;                                 \
	MOVQ    (fwdArgs_syn+synArgs_start)(R14), R13; \
	MOVLQSX (R13)(DI*4), DI;                       \
	MOVQ    DI, 0(SP);                             \
	SUBQ    $FK, DI;                               \
	MOVQ    DI, 8(SP);                             \
	SUBQ    $FK, DI;                               \
	MOVQ    DI, 24(SP);                            \
	MOVLQSX (R13), AX;                             \
	MOVLQSX 4(R13), BX;                            \
	XORQ    CX, CX;                                \
	VXORPS  Y12, Y12, Y12;                         \
	VXORPS  Y13, Y13, Y13;                         \
	LEAQ    (2*FK)(AX), DI;                        \
	CMPQ    DI, 0(SP);                             \
	CMOVQGT 0(SP), DI;                             \
	MOVQ    DI, 16(SP);                            \
	MOVQ    AX, DI;                                \
fproA:                                             \
	CMPQ    DI, 16(SP);                            \
	JGE     fproB0;                                \
	RINGOFF(DI, DX, 5, 6);                         \
	FWDA(DI, 0, DX);                               \
	INCQ    DI;                                    \
	JMP     fproA;                                 \
fproB0:                                            \
	LEAQ    FK(AX), DI;                            \
	CMPQ    DI, 0(SP);                             \
	CMOVQGT 0(SP), DI;                             \
	MOVQ    DI, 16(SP);                            \
	MOVQ    AX, DI;                                \
fproB:                                             \
	CMPQ    DI, 16(SP);                            \
	JGE     fpro1;                                 \
	RINGOFF(DI, DX, 5, 6);                         \
	FWDB(DX);                                      \
	INCQ    DI;                                    \
	JMP     fproB;                                 \
fpro1:                                             \
	RINGOFF(AX, DX, 5, 6);                         \
floop:                                             \
	CMPQ    AX, 0(SP);                             \
	JGE     fnext;                                 \
	CMPQ    AX, 24(SP);                            \
	JGE     fnoA;                                  \
	LEAQ    (2*FK*64)(DX), DI;                     \
	ANDQ    $2047, DI;                             \
	FWDA(AX, (2*FK), DI);                          \
fnoA:                                              \
	CMPQ    AX, 8(SP);                             \
	JGE     fnoB;                                  \
	LEAQ    (FK*64)(DX), DI;                       \
	ANDQ    $2047, DI;                             \
	FWDB(DI);                                      \
fnoB:                                              \
	CMPQ    AX, BX;                                \
	JGE     fnext;                                 \
fC:                                                \
	FWDC;                                          \
	INCQ    AX;                                    \
	ADDQ    $64, DX;                               \
	ANDQ    $2047, DX;                             \
	JMP     floop;                                 \
fnext:                                             \
	out;                                           \
	INCQ    CX;                                    \
	CMPQ    CX, (fwdArgs_syn+synArgs_units)(R14);  \
	JGE     fdone;                                 \
	VXORPS  Y12, Y12, Y12;                         \
	VXORPS  Y13, Y13, Y13;                         \
	MOVQ    (fwdArgs_syn+synArgs_start)(R14), R13; \
	MOVLQSX 4(R13)(CX*4), BX;                      \
	CMPQ    AX, BX;                                \
	JGE     fnext;                                 \
	JMP     fC;                                    \
fdone:                                             \
	VZEROUPPER;                                    \
	RET

// SUMSOUT stores the sums of neuron CX into num and den.
#define SUMSOUT \
	MOVQ    CX, R13;              \
	SHLQ    $5, R13;              \
	MOVQ    fwdArgs_num(R14), BX; \
	VMOVUPS Y12, (BX)(R13*1);     \
	MOVQ    fwdArgs_den(R14), BX; \
	VMOVUPS Y13, (BX)(R13*1)

// UNFOLDOUT finishes neuron CX = j of an unfold as unfoldForward does:
// q = c + gleak + (den + ds) + eps, vn = (c*v + glvl + (num + ns)) / q.
#define UNFOLDOUT \
	MOVQ         CX, R13;                \
	SHLQ         $5, R13;                \
	MOVQ         fwdArgs_c(R14), BX;     \
	VMOVUPS      (BX)(R13*1), Y3;        \
	MOVQ         fwdArgs_glvl(R14), BX;  \
	VBROADCASTSS (BX)(CX*4), Y0;         \
	VFMADD231PS  (SI)(R13*1), Y3, Y0;    \
	MOVQ         fwdArgs_ns(R14), BX;    \
	VADDPS       (BX)(R13*1), Y12, Y1;   \
	VADDPS       Y1, Y0, Y0;             \
	MOVQ         fwdArgs_gleak(R14), BX; \
	VBROADCASTSS (BX)(CX*4), Y1;         \
	VADDPS       Y1, Y3, Y3;             \
	MOVQ         fwdArgs_ds(R14), BX;    \
	VADDPS       (BX)(R13*1), Y13, Y1;   \
	VADDPS       Y1, Y3, Y3;             \
	VBROADCASTSS fwdArgs_eps(R14), Y1;   \
	VADDPS       Y1, Y3, Y3;             \
	VDIVPS       Y3, Y0, Y0;             \
	MOVQ         fwdArgs_vn(R14), BX;    \
	VMOVUPS      Y0, (BX)(R13*1);        \
	MOVQ         fwdArgs_q(R14), BX;     \
	TESTQ        BX, BX;                 \
	JZ           unoq;                   \
	VMOVUPS      Y3, (BX)(R13*1);        \
unoq:

// func sensorySumsAVX2(a *fwdArgs)
TEXT ·sensorySumsAVX2(SB), $2112-8
	FWDKERNEL(SUMSOUT)

// func unfoldAVX2(a *fwdArgs)
TEXT ·unfoldAVX2(SB), $2112-8
	FWDKERNEL(UNFOLDOUT)

// func synapsesBackwardAVX2(a *bwdArgs)
//
// Stage A: d = x[src] - mu into the slot, z = sigma*d and SIGREDUCE, r and
// 2**n into the slot; B: SIGPOLY and s = 1/(1+exp(-z)) into the slot; C:
// everything that follows from s,
//
//	a = wm*s; ae += gn*a; ga = gn*erev + gd; aw += ga*s;
//	gz = ga*a*(1-s), as ga*a - (ga*a)*s; as += gz*d; am += gz;
//	gx[src] += gz*sigma
//
// with gn and gd the neuron's gradients of the numerator and denominator.
// C loads the four accumulators before it stores any: they are separate
// arrays whose addresses often agree in their low 12 bits, and a load
// after a store to such an address can wait on it as if they overlapped.
// Registers: AX the synapse e of stage C, R8 src, R9 sigma, R10 mu, SI the
// source values, R14 their gradients, R11 ae, R12 aw, BX as, CX am, DX, DI
// and R13 scratch; Y12 and Y13 the neuron's gn and gd; constants in Y5,
// Y6, Y10, Y11, Y14, Y15 and memory (LOADK's Y7-Y9 are C's scratch here);
// Y0-Y4 scratch. Frame: 0 n, 8 n-BK, 16 n-2*BK, 24 the end of the neuron's
// synapses, 32 the neuron j, 40 start, 48 wm, 56 erev, 64 gnum, 72 gden,
// 80 the end of a prologue loop; from 128 a ring of 32 slots of 128 bytes:
// r, 2**n, d and s.
#define BK 8

// BWDA is stage A of synapse e+disp (e a register) into ring slot off.
#define BWDA(e, disp, off) \
	MOVLQSX      disp*4(R8)(e*4), R13; \
	SHLQ         $5, R13;              \
	VMOVUPS      (SI)(R13*1), Y0;      \
	VBROADCASTSS disp*4(R10)(e*4), Y1; \
	VSUBPS       Y1, Y0, Y0;           \
	VMOVUPS      Y0, 192(SP)(off*1);   \
	VBROADCASTSS disp*4(R9)(e*4), Y1;  \
	VMULPS       Y1, Y0, Y0;           \
	SIGREDUCE(K_NLOG2E);               \
	VMOVUPS      Y0, 128(SP)(off*1);   \
	VMOVUPS      Y1, 160(SP)(off*1)

// BWDB is stage B in ring slot off.
#define BWDB(off) \
	VMOVUPS 128(SP)(off*1), Y0;                 \
	SIGPOLY(160(SP)(off*1), K_C2, K_C3, K_C4); \
	VDIVPS  Y2, Y5, Y2;                         \
	VMOVUPS Y2, 224(SP)(off*1)

// BWDC is stage C of synapse AX from ring slot DX: Y0 d, Y1 s and then
// sigma, Y2 a, Y3 ga and then gz, Y7, Y8, Y9, Y4 the accumulators.
#define BWDC \
	VMOVUPS      192(SP)(DX*1), Y0; \
	VMOVUPS      224(SP)(DX*1), Y1; \
	MOVQ         AX, DI;            \
	SHLQ         $5, DI;            \
	VMOVUPS      (R11)(DI*1), Y7;   \
	VMOVUPS      (R12)(DI*1), Y8;   \
	VMOVUPS      (BX)(DI*1), Y9;    \
	VMOVUPS      (CX)(DI*1), Y4;    \
	MOVQ         48(SP), R13;       \
	VBROADCASTSS (R13)(AX*4), Y2;   \
	VMULPS       Y1, Y2, Y2;        \
	VFMADD231PS  Y2, Y12, Y7;       \
	MOVQ         56(SP), R13;       \
	VBROADCASTSS (R13)(AX*4), Y3;   \
	VFMADD213PS  Y13, Y12, Y3;      \
	VFMADD231PS  Y1, Y3, Y8;        \
	VMULPS       Y2, Y3, Y3;        \
	VFNMADD231PS Y1, Y3, Y3;        \
	VFMADD231PS  Y0, Y3, Y9;        \
	VADDPS       Y3, Y4, Y4;        \
	VMOVUPS      Y7, (R11)(DI*1);   \
	VMOVUPS      Y8, (R12)(DI*1);   \
	VMOVUPS      Y9, (BX)(DI*1);    \
	VMOVUPS      Y4, (CX)(DI*1);    \
	VBROADCASTSS (R9)(AX*4), Y1;    \
	MOVLQSX      (R8)(AX*4), R13;   \
	SHLQ         $5, R13;           \
	VMOVUPS      (R14)(R13*1), Y4;  \
	VFMADD231PS  Y1, Y3, Y4;        \
	VMOVUPS      Y4, (R14)(R13*1)

TEXT ·synapsesBackwardAVX2(SB), $4224-8
	MOVQ    a+0(FP), R14
	MOVQ    (bwdArgs_syn+synArgs_units)(R14), DI
	TESTQ   DI, DI
	JLE     bdone
	MOVQ    (bwdArgs_syn+synArgs_start)(R14), R13
	MOVQ    R13, 40(SP)
	MOVLQSX (R13)(DI*4), DI
	MOVQ    DI, 0(SP)
	SUBQ    $BK, DI
	MOVQ    DI, 8(SP)
	SUBQ    $BK, DI
	MOVQ    DI, 16(SP)
	MOVLQSX (R13), AX
	// Neuron -1 ends where the list starts: the first synapse switches to
	// the first neuron that has one.
	MOVQ    AX, 24(SP)
	MOVQ    $-1, 32(SP)
	MOVQ    (bwdArgs_syn+synArgs_wm)(R14), R13
	MOVQ    R13, 48(SP)
	MOVQ    (bwdArgs_syn+synArgs_erev)(R14), R13
	MOVQ    R13, 56(SP)
	MOVQ    bwdArgs_gnum(R14), R13
	MOVQ    R13, 64(SP)
	MOVQ    bwdArgs_gden(R14), R13
	MOVQ    R13, 72(SP)
	MOVQ    (bwdArgs_syn+synArgs_src)(R14), R8
	MOVQ    (bwdArgs_syn+synArgs_sigma)(R14), R9
	MOVQ    (bwdArgs_syn+synArgs_mu)(R14), R10
	MOVQ    bwdArgs_x(R14), SI
	MOVQ    bwdArgs_ae(R14), R11
	MOVQ    bwdArgs_aw(R14), R12
	MOVQ    bwdArgs_as(R14), BX
	MOVQ    bwdArgs_am(R14), CX
	MOVQ    bwdArgs_gx(R14), R14
	LOADK

	// Prologue: stage A of the first 2*BK synapses, B of the first BK.
	LEAQ    (2*BK)(AX), DI
	CMPQ    DI, 0(SP)
	CMOVQGT 0(SP), DI
	MOVQ    DI, 80(SP)
	MOVQ    AX, DI

bproA:
	CMPQ DI, 80(SP)
	JGE  bproB0
	RINGOFF(DI, DX, 5, 7)
	BWDA(DI, 0, DX)
	INCQ DI
	JMP  bproA

bproB0:
	LEAQ    BK(AX), DI
	CMPQ    DI, 0(SP)
	CMOVQGT 0(SP), DI
	MOVQ    DI, 80(SP)
	MOVQ    AX, DI

bproB:
	CMPQ DI, 80(SP)
	JGE  bloop
	RINGOFF(DI, DX, 5, 7)
	BWDB(DX)
	INCQ DI
	JMP  bproB

bloop:
	CMPQ AX, 0(SP)
	JGE  bdone
	CMPQ AX, 16(SP)
	JGE  bnoA
	LEAQ (2*BK)(AX), DI
	RINGOFF(DI, DX, 5, 7)
	BWDA(AX, (2*BK), DX)

bnoA:
	CMPQ AX, 8(SP)
	JGE  bnoB
	LEAQ BK(AX), DI
	RINGOFF(DI, DX, 5, 7)
	BWDB(DX)

bnoB:
	CMPQ AX, 24(SP)
	JGE  bnext

bC:
	RINGOFF(AX, DX, 5, 7)
	BWDC
	INCQ AX
	JMP  bloop

bnext:
	// Switch to the next neuron: its end and its gn and gd.
	MOVQ    32(SP), DI
	INCQ    DI
	MOVQ    DI, 32(SP)
	MOVQ    40(SP), R13
	MOVLQSX 4(R13)(DI*4), R13
	MOVQ    R13, 24(SP)
	SHLQ    $5, DI
	MOVQ    64(SP), R13
	VMOVUPS (R13)(DI*1), Y12
	MOVQ    72(SP), R13
	VMOVUPS (R13)(DI*1), Y13
	CMPQ    AX, 24(SP)
	JGE     bnext
	JMP     bC

bdone:
	VZEROUPPER
	RET

// func neuronsBackwardAVX2(gvp, gnum, gden, gc, gns, gds, gv, v, vn, q, c *float32, n int)
//
// gn = gv/q, gd = -gn*vn, gvp = gn*c, gc += gn*v + gd, gns += gn,
// gds += gd, eight values at a time; R13 is the byte offset, R14 the end.
// (The generic kernel's gd = -gv*vn/q rounds the same two operations in
// another order; one division fewer here.)
TEXT ·neuronsBackwardAVX2(SB), NOSPLIT, $0-96
	// Prefetch the n values before v and before q: in backward.go's
	// loop the next call's v and q, which come from the tape, far out of
	// cache in a long sequence (the tape of config C is 14 MB).
	MOVQ v+56(FP), R13
	MOVQ q+72(FP), R10
	MOVQ n+88(FP), R14
	SHLQ $2, R14
	SUBQ R14, R13
	SUBQ R14, R10
	XORQ CX, CX

npf:
	CMPQ       CX, R14
	JGE        npfdone
	PREFETCHT0 (R13)(CX*1)
	PREFETCHT0 (R10)(CX*1)
	ADDQ       $64, CX
	JMP        npf

npfdone:
	MOVQ gvp+0(FP), AX
	MOVQ gnum+8(FP), BX
	MOVQ gden+16(FP), CX
	MOVQ gc+24(FP), DX
	MOVQ gns+32(FP), SI
	MOVQ gds+40(FP), DI
	MOVQ gv+48(FP), R8
	MOVQ v+56(FP), R9
	MOVQ vn+64(FP), R10
	MOVQ q+72(FP), R11
	MOVQ c+80(FP), R12
	MOVQ n+88(FP), R14
	SHLQ $2, R14
	XORQ R13, R13
	VMOVUPS K_SIGN, Y15

nloop:
	CMPQ        R13, R14
	JGE         ndone
	VMOVUPS     (R8)(R13*1), Y0
	VDIVPS      (R11)(R13*1), Y0, Y2
	VMULPS      (R10)(R13*1), Y2, Y3
	VXORPS      Y15, Y3, Y3
	VMOVUPS     Y2, (BX)(R13*1)
	VMOVUPS     Y3, (CX)(R13*1)
	VMULPS      (R12)(R13*1), Y2, Y4
	VMOVUPS     Y4, (AX)(R13*1)
	VMOVUPS     Y3, Y5
	VFMADD231PS (R9)(R13*1), Y2, Y5
	VADDPS      (DX)(R13*1), Y5, Y5
	VMOVUPS     Y5, (DX)(R13*1)
	VADDPS      (SI)(R13*1), Y2, Y4
	VMOVUPS     Y4, (SI)(R13*1)
	VADDPS      (DI)(R13*1), Y3, Y4
	VMOVUPS     Y4, (DI)(R13*1)
	ADDQ        $32, R13
	JMP         nloop

ndone:
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
