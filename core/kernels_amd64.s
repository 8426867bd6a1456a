//go:build amd64

#include "textflag.h"
#include "go_asm.h"

// AVX2+FMA kernels for float32 cells; see kernels_amd64.go for what they
// compute and kernels.go for the generic versions they mirror. Go operand
// order: the first operand is Intel's last source (the one that may be in
// memory), the last is the destination; VFMADD231PS m, b, a is a = b*m + a.

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
ROW(96, 0xb95e8083)  // LN2LO  -2.12194440e-4 (ln2 = LN2HI + LN2LO)
ROW(128, 0x3f800000) // ONE
ROW(160, 0x3effffff) // C2 4.9999997020e-01
ROW(192, 0x3e2aaa3c) // C3 1.6666501760e-01
ROW(224, 0x3d2aab1f) // C4 4.1667100042e-02
ROW(256, 0x3c092538) // C5 8.3706900477e-03
ROW(288, 0x3ab61ab4) // C6 1.3893456198e-03
ROW(320, 0x00000000) // unused
ROW(352, 0xc2b16666) // ZLO -88.7
ROW(384, 0x42ae999a) // ZHI 87.3
ROW(416, 0x80000000) // SIGN
GLOBL kc<>(SB), RODATA|NOPTR, $448

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
#define K_ZLO kc<>+352(SB)
#define K_ZHI kc<>+384(SB)
#define K_SIGN kc<>+416(SB)

// SIGDEN sets Y2 = 1 + exp(-z) for z in Y0 (see kernels_amd64.go) and
// clobbers Y0 and Y1. The constants are arguments: registers, or for the
// multiplicands and addends memory rows; zlo and zhi must be registers (the
// NaN-keeping operand order needs the constant as first source). In order:
// clamp z; t = MAGIC - z*log2(e) (Y1); n = t - MAGIC (Y2); 2**n = t<<23
// (Y1); r = -z - n*LN2HI - n*LN2LO (Y0); p = 1 + r*(1 + r*(C2 + ... +
// r**4*C6)) (Y2); Y2 = 2**n*p + 1.
#define SIGDEN(zlo, zhi, one, magic, nlog2e, ln2hi, ln2lo, c2, c3, c4, c5, c6) \
	VMAXPS       Y0, zlo, Y0;    \
	VMINPS       Y0, zhi, Y0;    \
	VMOVUPS      magic, Y1;      \
	VFMADD231PS  nlog2e, Y0, Y1; \
	VSUBPS       magic, Y1, Y2;  \
	VPSLLD       $23, Y1, Y1;    \
	VFNMSUB231PS ln2hi, Y2, Y0;  \
	VFNMADD231PS ln2lo, Y2, Y0;  \
	VMOVUPS      c6, Y2;         \
	VFMADD213PS  c5, Y0, Y2;     \
	VFMADD213PS  c4, Y0, Y2;     \
	VFMADD213PS  c3, Y0, Y2;     \
	VFMADD213PS  c2, Y0, Y2;     \
	VFMADD213PS  one, Y0, Y2;    \
	VFMADD213PS  one, Y0, Y2;    \
	VFMADD213PS  one, Y1, Y2

// Register use of the forward kernels: R14 the fwdArgs, DI start, R8 src,
// R9 wm, R10 sigma, R11 mu, R12 erev, SI the source values, DX units, CX
// the neuron j, AX the synapse e, BX the end of j's synapses, R13 scratch;
// Y12 and Y13 the sums of a*erev and a; the constants in Y5-Y11, Y14,
// Y15 and three memory rows, so that a synapse loads only its own
// operands (256-bit loads, two a cycle, were what limited the speed).
#define FWDLOAD \
	MOVQ a+0(FP), R14;                            \
	MOVQ (fwdArgs_syn+synArgs_start)(R14), DI;   \
	MOVQ (fwdArgs_syn+synArgs_src)(R14), R8;     \
	MOVQ (fwdArgs_syn+synArgs_wm)(R14), R9;      \
	MOVQ (fwdArgs_syn+synArgs_sigma)(R14), R10;  \
	MOVQ (fwdArgs_syn+synArgs_mu)(R14), R11;     \
	MOVQ (fwdArgs_syn+synArgs_erev)(R14), R12;   \
	MOVQ (fwdArgs_syn+synArgs_units)(R14), DX;   \
	MOVQ fwdArgs_x(R14), SI;                     \
	VMOVUPS K_ZLO, Y15;                          \
	VMOVUPS K_ZHI, Y14;                          \
	VMOVUPS K_ONE, Y5;                           \
	VMOVUPS K_MAGIC, Y6;                         \
	VMOVUPS K_C2, Y7;                            \
	VMOVUPS K_C3, Y8;                            \
	VMOVUPS K_C4, Y9;                            \
	VMOVUPS K_C5, Y10;                           \
	VMOVUPS K_C6, Y11

// FWDSYN adds synapse e's a = wm/(1+exp(-sigma*(x-mu))) to Y13 and a*erev
// to Y12. wm/d rounds once where wm*(1/d) would round twice.
#define FWDSYN \
	MOVLQSX      (R8)(AX*4), R13;  \
	SHLQ         $5, R13;          \
	VMOVUPS      (SI)(R13*1), Y0;  \
	VBROADCASTSS (R11)(AX*4), Y1;  \
	VSUBPS       Y1, Y0, Y0;       \
	VBROADCASTSS (R10)(AX*4), Y1;  \
	VMULPS       Y1, Y0, Y0;       \
	SIGDEN(Y15, Y14, Y5, Y6, K_NLOG2E, K_LN2HI, K_LN2LO, Y7, Y8, Y9, Y10, Y11); \
	VBROADCASTSS (R9)(AX*4), Y1;   \
	VDIVPS       Y2, Y1, Y1;       \
	VBROADCASTSS (R12)(AX*4), Y3;  \
	VFMADD231PS  Y3, Y1, Y12;      \
	VADDPS       Y1, Y13, Y13

// func sensorySumsAVX2(a *fwdArgs)
TEXT ·sensorySumsAVX2(SB), NOSPLIT, $0-8
	FWDLOAD
	XORQ CX, CX
	TESTQ DX, DX
	JLE  sdone
	MOVLQSX (DI), AX

sneuron:
	MOVLQSX 4(DI)(CX*4), BX
	VXORPS  Y12, Y12, Y12
	VXORPS  Y13, Y13, Y13
	CMPQ    AX, BX
	JGE     sstore

ssyn:
	FWDSYN
	INCQ AX
	CMPQ AX, BX
	JLT  ssyn

sstore:
	MOVQ    CX, R13
	SHLQ    $5, R13
	MOVQ    fwdArgs_num(R14), BX
	VMOVUPS Y12, (BX)(R13*1)
	MOVQ    fwdArgs_den(R14), BX
	VMOVUPS Y13, (BX)(R13*1)
	INCQ    CX
	CMPQ    CX, DX
	JLT     sneuron

sdone:
	VZEROUPPER
	RET

// func unfoldAVX2(a *fwdArgs)
//
// Per neuron j, after its synapses: q = c + gleak + (den + ds) + eps and
// vn = (c*v + glvl + (num + ns)) / q, as unfoldForward.
TEXT ·unfoldAVX2(SB), NOSPLIT, $0-8
	FWDLOAD
	XORQ CX, CX
	TESTQ DX, DX
	JLE  udone
	MOVLQSX (DI), AX

uneuron:
	MOVLQSX 4(DI)(CX*4), BX
	VXORPS  Y12, Y12, Y12
	VXORPS  Y13, Y13, Y13
	CMPQ    AX, BX
	JGE     ustore

usyn:
	FWDSYN
	INCQ AX
	CMPQ AX, BX
	JLT  usyn

ustore:
	MOVQ         CX, R13
	SHLQ         $5, R13
	MOVQ         fwdArgs_c(R14), BX
	VMOVUPS      (BX)(R13*1), Y4
	MOVQ         fwdArgs_glvl(R14), BX
	VBROADCASTSS (BX)(CX*4), Y0
	VFMADD231PS  (SI)(R13*1), Y4, Y0
	MOVQ         fwdArgs_ns(R14), BX
	VADDPS       (BX)(R13*1), Y12, Y12
	VADDPS       Y12, Y0, Y0
	MOVQ         fwdArgs_gleak(R14), BX
	VBROADCASTSS (BX)(CX*4), Y1
	VADDPS       Y1, Y4, Y4
	MOVQ         fwdArgs_ds(R14), BX
	VADDPS       (BX)(R13*1), Y13, Y13
	VADDPS       Y13, Y4, Y4
	VBROADCASTSS fwdArgs_eps(R14), Y1
	VADDPS       Y1, Y4, Y4
	VDIVPS       Y4, Y0, Y0
	MOVQ         fwdArgs_vn(R14), BX
	VMOVUPS      Y0, (BX)(R13*1)
	MOVQ         fwdArgs_q(R14), BX
	TESTQ        BX, BX
	JZ           unoq
	VMOVUPS      Y4, (BX)(R13*1)

unoq:
	INCQ CX
	CMPQ CX, DX
	JLT  uneuron

udone:
	VZEROUPPER
	RET

// func synapsesBackwardAVX2(a *bwdArgs)
//
// The synapses into each neuron are taken in chunks of up to 32, in two
// passes: the first computes d = x - mu and s = sigmoid(sigma*d) of every
// synapse of the chunk into the frame, the second everything that follows
// from s. Fused, each synapse was one chain of some 75 cycles of latency
// and the out-of-order window held too few synapses to keep the FMA units
// busy; split, the chains are short and the passes run near their
// throughput.
//
// Registers: AX the synapse e, DX e*32 (the byte offset of its
// accumulators), R13 and R14 scratch, SI the source values, DI their
// gradients, R8 src, R9 sigma, R10 mu, R11 ae, R12 aw, BX as, CX am; Y12
// and Y13 the neuron's gnum and gden; constants in Y3 (ONE), Y8 (MAGIC),
// Y9-Y11 (C4-C6), Y14 and Y15 (the clamps) and memory. The frame holds the
// rest: 0 the bwdArgs, 8 the end of the neuron's synapses, 16 the neuron j,
// 24 units, 32 start, 40 wm, 48 erev, 56 gnum, 64 gden, 72 the end of the
// chunk, and from 128 the chunk's d and s (64 bytes a synapse).
// The frame is 128 + 64*BCHUNK bytes.
#define BCHUNK 32
TEXT ·synapsesBackwardAVX2(SB), $2176-8
	MOVQ a+0(FP), R14
	MOVQ R14, 0(SP)
	MOVQ (bwdArgs_syn+synArgs_units)(R14), R13
	TESTQ R13, R13
	JLE  bdone
	MOVQ R13, 24(SP)
	MOVQ $0, 16(SP)
	MOVQ (bwdArgs_syn+synArgs_start)(R14), R13
	MOVQ R13, 32(SP)
	MOVLQSX (R13), AX
	MOVQ (bwdArgs_syn+synArgs_wm)(R14), R13
	MOVQ R13, 40(SP)
	MOVQ (bwdArgs_syn+synArgs_erev)(R14), R13
	MOVQ R13, 48(SP)
	MOVQ bwdArgs_gnum(R14), R13
	MOVQ R13, 56(SP)
	MOVQ bwdArgs_gden(R14), R13
	MOVQ R13, 64(SP)
	MOVQ (bwdArgs_syn+synArgs_src)(R14), R8
	MOVQ (bwdArgs_syn+synArgs_sigma)(R14), R9
	MOVQ (bwdArgs_syn+synArgs_mu)(R14), R10
	MOVQ bwdArgs_x(R14), SI
	MOVQ bwdArgs_gx(R14), DI
	MOVQ bwdArgs_ae(R14), R11
	MOVQ bwdArgs_aw(R14), R12
	MOVQ bwdArgs_as(R14), BX
	MOVQ bwdArgs_am(R14), CX
	VMOVUPS K_ZLO, Y15
	VMOVUPS K_ZHI, Y14
	VMOVUPS K_ONE, Y3
	VMOVUPS K_MAGIC, Y8
	VMOVUPS K_C4, Y9
	VMOVUPS K_C5, Y10
	VMOVUPS K_C6, Y11

bneuron:
	MOVQ    16(SP), R13
	MOVQ    32(SP), R14
	MOVLQSX 4(R14)(R13*4), R14
	MOVQ    R14, 8(SP)
	SHLQ    $5, R13
	MOVQ    56(SP), R14
	VMOVUPS (R14)(R13*1), Y12
	MOVQ    64(SP), R14
	VMOVUPS (R14)(R13*1), Y13

bchunk:
	MOVQ 8(SP), R14
	CMPQ AX, R14
	JGE  bnext
	LEAQ BCHUNK(AX), R13
	CMPQ R13, R14
	CMOVQGT R14, R13
	MOVQ R13, 72(SP)

	// Pass 1: d (Y4) and s (Y6) of synapses AX..72(SP) into the frame.
	MOVQ AX, DX
	XORQ R14, R14

bpass1:
	MOVLQSX      (R8)(DX*4), R13
	SHLQ         $5, R13
	VMOVUPS      (SI)(R13*1), Y0
	VBROADCASTSS (R10)(DX*4), Y1
	VSUBPS       Y1, Y0, Y4
	VBROADCASTSS (R9)(DX*4), Y5
	VMULPS       Y5, Y4, Y0
	SIGDEN(Y15, Y14, Y3, Y8, K_NLOG2E, K_LN2HI, K_LN2LO, K_C2, K_C3, Y9, Y10, Y11)
	VDIVPS       Y2, Y3, Y6
	VMOVUPS      Y4, 128(SP)(R14*1)
	VMOVUPS      Y6, 160(SP)(R14*1)
	INCQ         DX
	ADDQ         $64, R14
	CMPQ         DX, 72(SP)
	JLT          bpass1

	// Pass 2: a = wm*s (Y7) and the gradients.
	MOVQ AX, DX
	SHLQ $5, DX
	XORQ R14, R14

bpass2:
	VMOVUPS      128(SP)(R14*1), Y4
	VMOVUPS      160(SP)(R14*1), Y6
	MOVQ         40(SP), R13
	VBROADCASTSS (R13)(AX*4), Y7
	VMULPS       Y6, Y7, Y7

	// ae += gn*a
	VMOVUPS     (R11)(DX*1), Y0
	VFMADD231PS Y7, Y12, Y0
	VMOVUPS     Y0, (R11)(DX*1)

	// ga = gn*erev + gd (Y1); aw += ga*s
	MOVQ         48(SP), R13
	VBROADCASTSS (R13)(AX*4), Y1
	VFMADD213PS  Y13, Y12, Y1
	VMOVUPS      (R12)(DX*1), Y0
	VFMADD231PS  Y6, Y1, Y0
	VMOVUPS      Y0, (R12)(DX*1)

	// gz = ga*a*(1-s), as ga*a - (ga*a)*s (Y1)
	VMULPS       Y7, Y1, Y1
	VFNMADD231PS Y6, Y1, Y1

	// as += gz*d; am += gz; gx[src] += gz*sigma
	VMOVUPS      (BX)(DX*1), Y0
	VFMADD231PS  Y4, Y1, Y0
	VMOVUPS      Y0, (BX)(DX*1)
	VADDPS       (CX)(DX*1), Y1, Y0
	VMOVUPS      Y0, (CX)(DX*1)
	VBROADCASTSS (R9)(AX*4), Y5
	MOVLQSX      (R8)(AX*4), R13
	SHLQ         $5, R13
	VMOVUPS      (DI)(R13*1), Y0
	VFMADD231PS  Y5, Y1, Y0
	VMOVUPS      Y0, (DI)(R13*1)

	INCQ AX
	ADDQ $32, DX
	ADDQ $64, R14
	CMPQ AX, 72(SP)
	JLT  bpass2
	JMP  bchunk

bnext:
	MOVQ 16(SP), R13
	INCQ R13
	MOVQ R13, 16(SP)
	CMPQ R13, 24(SP)
	JLT  bneuron

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
