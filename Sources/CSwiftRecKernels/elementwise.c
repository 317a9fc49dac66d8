// Elementwise arithmetic of two arrays, and ReLU, at the widest vector width this CPU has.
// Swift's own loops compile for the baseline x86-64 target (no -m flags: the package never
// uses unsafeFlags), so they run 4 lanes wide at best, and a three-pointer loop not at all.
// Every result is the IEEE operation on each element, so the bits do not depend on the path.

#include "sr_internal.h"

#define SR_BINARY_GENERIC(name, expr)                                        \
    static void name##_generic(const float *a, const float *b, float *y, long n) { \
        for (long i = 0; i < n; i++) {                                       \
            const float x = a[i], z = b[i];                                  \
            y[i] = (expr);                                                   \
        }                                                                    \
    }

#if defined(SR_X86)
#define SR_BINARY_X86(name, op512, op256)                                                           \
    SR_AVX512 static void name##_avx512(const float *a, const float *b, float *y, long n) {          \
        for (long i = 0; i < n; i += 16) {                                                          \
            const __mmask16 m = sr_tail_mask16(n - i);                                              \
            _mm512_mask_storeu_ps(y + i, m, op512(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i))); \
        }                                                                                           \
    }                                                                                               \
    SR_AVX2 static void name##_avx2(const float *a, const float *b, float *y, long n) {              \
        long i = 0;                                                                                 \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, op256(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))); \
        name##_generic(a + i, b + i, y + i, n - i);                                                 \
    }
#define SR_BINARY(name, expr, op512, op256)                                  \
    SR_BINARY_GENERIC(name, expr)                                            \
    SR_BINARY_X86(name, op512, op256)                                        \
    void sr_##name(const float *a, const float *b, float *y, long n) {       \
        const int level = sr_isa_level();                                    \
        if (level >= SR_ISA_AVX512)                                          \
            name##_avx512(a, b, y, n);                                       \
        else if (level >= SR_ISA_AVX2)                                       \
            name##_avx2(a, b, y, n);                                         \
        else                                                                 \
            name##_generic(a, b, y, n);                                      \
    }
#else
#define SR_BINARY(name, expr, op512, op256)                                  \
    SR_BINARY_GENERIC(name, expr)                                            \
    void sr_##name(const float *a, const float *b, float *y, long n) { name##_generic(a, b, y, n); }
#endif

SR_BINARY(vadd, x + z, _mm512_add_ps, _mm256_add_ps)
SR_BINARY(vsub, x - z, _mm512_sub_ps, _mm256_sub_ps)
SR_BINARY(vmul, x * z, _mm512_mul_ps, _mm256_mul_ps)

// y = x op s for one number s: the binary kernels against a block of s, so each path and its
// bits are the ones above.
#define SR_SCALAR(name, binary)                                                   \
    void sr_##name(const float *x, float s, float *y, long n) {                    \
        enum { BLOCK = 256 };                                                     \
        float repeated[BLOCK];                                                    \
        for (int i = 0; i < BLOCK; i++) repeated[i] = s;                          \
        for (long i = 0; i < n; i += BLOCK)                                       \
            sr_##binary(x + i, repeated, y + i, n - i < BLOCK ? n - i : BLOCK);   \
    }

SR_SCALAR(vadd_scalar, vadd)
SR_SCALAR(vmul_scalar, vmul)

// ReLU keeps NaN (x > 0 or unordered passes x) and gives +0 for -0, as `x > 0 ? x : 0` does.
static void vrelu_generic(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) y[i] = (x[i] > 0 || x[i] != x[i]) ? x[i] : 0.0f;
}

#if defined(SR_X86)
SR_AVX512 static void vrelu_avx512(const float *x, float *y, long n) {
    const __m512 zero = _mm512_setzero_ps();
    for (long i = 0; i < n; i += 16) {
        const __mmask16 m = sr_tail_mask16(n - i);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_NLE_UQ), v));
    }
}

SR_AVX2 static void vrelu_avx2(const float *x, float *y, long n) {
    const __m256 zero = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(y + i, _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_NLE_UQ), v));
    }
    vrelu_generic(x + i, y + i, n - i);
}
#endif

void sr_vrelu(const float *x, float *y, long n) {
#if defined(SR_X86)
    const int level = sr_isa_level();
    if (level >= SR_ISA_AVX512) {
        vrelu_avx512(x, y, n);
        return;
    }
    if (level >= SR_ISA_AVX2) {
        vrelu_avx2(x, y, n);
        return;
    }
#endif
    vrelu_generic(x, y, n);
}
