// Private helpers shared by the kernel translation units (not part of the public module).
#ifndef SR_INTERNAL_H
#define SR_INTERNAL_H

#include "swiftrec_kernels.h"

// x86 kernels are compiled per function with target attributes, so the library itself
// needs no -m flags; the code path is picked at run time with sr_isa_level().
#if defined(__x86_64__)
#include <immintrin.h>
#define SR_X86 1
#define SR_AVX2 __attribute__((target("avx2,fma")))
#define SR_AVX512 __attribute__((target("avx512f,avx2,fma")))
#elif defined(__aarch64__)
#include <arm_neon.h>
#define SR_NEON 1
#endif

#if defined(SR_X86)
// Lanes of a 16-lane vector that hold the next `remaining` values (all 16 when 16 or more).
// No target attribute: it compiles to plain integer code and inlines into any kernel.
static inline __mmask16 sr_tail_mask16(long remaining) {
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
}
#endif

// Code path levels returned by sr_isa_level().
enum { SR_ISA_GENERIC = 0, SR_ISA_AVX2 = 1, SR_ISA_AVX512 = 2 };

// Best usable x86 level for this CPU and OS (always SR_ISA_GENERIC off x86). Test builds
// may cap it with -DSR_MAX_ISA=<level> to exercise the narrower paths on a wider CPU.
int sr_isa_level(void);

// The raw int8 sums of sr_q8_gemm's `path` (-1 or one this CPU lacks: the current path) by
// panel of 16 columns: out[(p * m + i) * 16 +
// j] = sum_k A[i, k] · B[16 p + j, k] for i < m, 16 p + j < n (A and B as sr_q8_gemm takes them;
// out has room for m · 16 per panel, and the columns past n hold the padding rows' zero sums).
// Returns 0, -1 for k over 1,040 off AVX-512 VNNI and AMX, -2 without memory.
int sr_q8_panel_sums(int path, long m, long n, long k, const int8_t *a, long lda, const int8_t *packed,
                     const int32_t *row_sums, int32_t *out);

#endif
