// int8 products for quantised scoring: C = diag(scaleA) (A Bᵀ) diag(scaleB) (+ bias), with A and B
// int8 in [-127, 127] and exact int32 sums. B (weights or an item table) is packed once into
// panels of 16 rows × 4 columns so that one vector register holds 16 rows' next 4 values: AVX-512
// VNNI adds 64 products per instruction (vpdpbusd), AVX2 32 (vpmaddubsw + vpmaddwd), NEON 16
// (vmull_s8 + pairwise adds, or 64 with the dot-product extension). The path is picked at run
// time; tests can ask for each one by number.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sr_internal.h"

#define PANEL 16
#define GROUP 4

long sr_q8_padded_columns(long k) { return (k + GROUP - 1) / GROUP * GROUP; }

long sr_q8_packed_size(long n, long k) { return (n + PANEL - 1) / PANEL * PANEL * sr_q8_padded_columns(k); }

// The largest finite |v| of row[from..<to], at least `largest`. |v| <= FLT_MAX is false for NaN
// and infinities, so they count as 0.
static inline float largest_finite(const float *row, long from, long to, float largest) {
    for (long c = from; c < to; c++) {
        float v = fabsf(row[c]);
        largest = (v <= FLT_MAX && v > largest) ? v : largest;
    }
    return largest;
}

// out[c] = round(row[c] · inverse) for c in from..<to, clamped to ±127, half away from zero.
static inline void quantize_span(const float *row, long from, long to, float inverse, int8_t *out) {
    for (long c = from; c < to; c++) {
        float t = fabsf(row[c]) <= FLT_MAX ? row[c] * inverse : 0.0f;
        t = t > 127.0f ? 127.0f : t;
        t = t < -127.0f ? -127.0f : t;
        out[c] = (int8_t)(int)(t + (t >= 0 ? 0.5f : -0.5f));
    }
}

static void quantize_rows_portable(const float *x, long rows, long cols, long ldx, int8_t *q, long ldq,
                                   float *scales) {
    long padded = sr_q8_padded_columns(cols);
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        float largest = largest_finite(row, 0, cols, 0);
        int8_t *out = q + r * ldq;
        quantize_span(row, 0, cols, largest > 0 ? 127.0f / largest : 0, out);
        for (long c = cols; c < padded; c++) out[c] = 0;
        scales[r] = largest / 127.0f;
    }
}

#if defined(SR_X86)
// The same arithmetic as the portable loop, 8 values at a time: finite |x| maximum, then
// x · 127/max clamped to ±127 and rounded half away from zero (add ±0.5, truncate).
__attribute__((target("avx2"))) static void quantize_rows_avx2(const float *x, long rows, long cols, long ldx,
                                                               int8_t *q, long ldq, float *scales) {
    long padded = sr_q8_padded_columns(cols), whole = cols / 8 * 8;
    const __m256 sign = _mm256_set1_ps(-0.0f), finite = _mm256_set1_ps(FLT_MAX);
    const __m256 high = _mm256_set1_ps(127.0f), low = _mm256_set1_ps(-127.0f), half = _mm256_set1_ps(0.5f);
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        __m256 most = _mm256_setzero_ps();
        for (long c = 0; c < whole; c += 8) {
            __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(row + c));
            most = _mm256_max_ps(most, _mm256_and_ps(a, _mm256_cmp_ps(a, finite, _CMP_LE_OQ)));
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, most);
        float largest = largest_finite(row, whole, cols, largest_finite(lanes, 0, 8, 0));
        float inverse = largest > 0 ? 127.0f / largest : 0;
        const __m256 scale = _mm256_set1_ps(inverse);
        int8_t *out = q + r * ldq;
        for (long c = 0; c < whole; c += 8) {
            __m256 v = _mm256_loadu_ps(row + c);
            __m256 keep = _mm256_cmp_ps(_mm256_andnot_ps(sign, v), finite, _CMP_LE_OQ);
            __m256 t = _mm256_and_ps(_mm256_mul_ps(v, scale), keep);
            t = _mm256_max_ps(_mm256_min_ps(t, high), low);
            t = _mm256_add_ps(t, _mm256_or_ps(_mm256_and_ps(t, sign), half));
            __m256i i = _mm256_cvttps_epi32(t);
            __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
            _mm_storel_epi64((__m128i *)(out + c), _mm_packs_epi16(words, words));
        }
        quantize_span(row, whole, cols, inverse, out);
        for (long c = cols; c < padded; c++) out[c] = 0;
        scales[r] = largest / 127.0f;
    }
}
#endif

void sr_q8_quantize_rows(const float *x, long rows, long cols, long ldx, int8_t *q, long ldq, float *scales) {
#if defined(SR_X86)
    if (sr_q8_path_available(SR_Q8_AVX2)) {
        quantize_rows_avx2(x, rows, cols, ldx, q, ldq, scales);
        return;
    }
#endif
    quantize_rows_portable(x, rows, cols, ldx, q, ldq, scales);
}

void sr_q8_pack(const int8_t *b, long n, long k, long ldb, int8_t *packed, int32_t *row_sums) {
    long groups = sr_q8_padded_columns(k) / GROUP, panels = (n + PANEL - 1) / PANEL;
    for (long p = 0; p < panels; p++) {
        for (long j = 0; j < PANEL; j++) {
            long row = p * PANEL + j;
            int32_t sum = 0;
            for (long g = 0; g < groups; g++) {
                for (long t = 0; t < GROUP; t++) {
                    long col = g * GROUP + t;
                    int8_t v = (row < n && col < k) ? b[row * ldb + col] : 0;
                    packed[((p * groups + g) * PANEL + j) * GROUP + t] = v;
                    sum += v;
                }
            }
            row_sums[row] = sum;
        }
    }
}

// Writes one row's outputs of one panel: acc[j] scaled, plus bias, for the `count` real rows.
static inline void store_panel(const int32_t *acc, long count, float scale_a, const float *scale_b,
                               const float *bias, float *c) {
    for (long j = 0; j < count; j++) c[j] = (float)acc[j] * (scale_a * scale_b[j]) + (bias ? bias[j] : 0.0f);
}

// ---------------------------------------------------------------------------------------
// Portable path: plain C over the packed layout (the compiler may vectorise the j loop).

static void q8_portable(long m, long n, long groups, const int8_t *a, long lda, const float *scale_a,
                        const int8_t *packed, const float *scale_b, const float *bias, float *c, long ldc) {
    long panels = (n + PANEL - 1) / PANEL;
    for (long i = 0; i < m; i++) {
        const int8_t *row = a + i * lda;
        for (long p = 0; p < panels; p++) {
            const int8_t *panel = packed + p * groups * PANEL * GROUP;
            int32_t acc[PANEL] = {0};
            for (long g = 0; g < groups; g++) {
                const int8_t *ag = row + g * GROUP;
                const int8_t *bg = panel + g * PANEL * GROUP;
                for (long j = 0; j < PANEL; j++) {
                    acc[j] += ag[0] * bg[j * GROUP] + ag[1] * bg[j * GROUP + 1] + ag[2] * bg[j * GROUP + 2]
                              + ag[3] * bg[j * GROUP + 3];
                }
            }
            long first = p * PANEL, count = n - first < PANEL ? n - first : PANEL;
            store_panel(acc, count, scale_a[i], scale_b + first, bias ? bias + first : 0, c + i * ldc + first);
        }
    }
}

#if defined(SR_X86)
// ---------------------------------------------------------------------------------------
// AVX2: vpmaddubsw multiplies unsigned by signed bytes, so each product a·b is formed as
// |a| · (b · sign a). A pair of such products is at most 2 · 127 · 127 = 32,258 in magnitude,
// which fits the instruction's saturating int16 sums exactly (hence the [-127, 127] range).

#define SR_TARGET_Q8_AVX2 __attribute__((target("avx2")))

SR_TARGET_Q8_AVX2 static inline __m256i q8_avx2_dot4(__m256i acc, __m256i a_broadcast, __m256i a_abs, __m256i b,
                                              __m256i ones) {
    __m256i pairs = _mm256_maddubs_epi16(a_abs, _mm256_sign_epi8(b, a_broadcast));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
}

SR_TARGET_Q8_AVX2 static inline void q8_avx2_store(__m256i lo, __m256i hi, long count, float scale_a,
                                            const float *scale_b, const float *bias, float *c) {
    if (count == PANEL) {
        __m256 s = _mm256_set1_ps(scale_a);
        __m256 v0 = _mm256_mul_ps(_mm256_cvtepi32_ps(lo), _mm256_mul_ps(s, _mm256_loadu_ps(scale_b)));
        __m256 v1 = _mm256_mul_ps(_mm256_cvtepi32_ps(hi), _mm256_mul_ps(s, _mm256_loadu_ps(scale_b + 8)));
        if (bias) {
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(bias));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(bias + 8));
        }
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
    } else {
        int32_t acc[PANEL];
        _mm256_storeu_si256((__m256i *)acc, lo);
        _mm256_storeu_si256((__m256i *)(acc + 8), hi);
        store_panel(acc, count, scale_a, scale_b, bias, c);
    }
}

SR_TARGET_Q8_AVX2 static void q8_avx2(long m, long n, long groups, const int8_t *a, long lda, const float *scale_a,
                               const int8_t *packed, const float *scale_b, const float *bias, float *c, long ldc) {
    const __m256i ones = _mm256_set1_epi16(1);
    long panels = (n + PANEL - 1) / PANEL;
    long i = 0;
    // Four rows of A share each panel load.
    for (; i + 4 <= m; i += 4) {
        const int8_t *r0 = a + i * lda, *r1 = r0 + lda, *r2 = r1 + lda, *r3 = r2 + lda;
        for (long p = 0; p < panels; p++) {
            const int8_t *panel = packed + p * groups * PANEL * GROUP;
            __m256i a0l = _mm256_setzero_si256(), a0h = a0l, a1l = a0l, a1h = a0l, a2l = a0l, a2h = a0l,
                    a3l = a0l, a3h = a0l;
            for (long g = 0; g < groups; g++) {
                __m256i b0 = _mm256_loadu_si256((const __m256i *)(panel + g * PANEL * GROUP));
                __m256i b1 = _mm256_loadu_si256((const __m256i *)(panel + g * PANEL * GROUP + 32));
                int32_t w;
#define SR_Q8_ROW(row, lo, hi)                                    \
    memcpy(&w, row + g * GROUP, 4);                               \
    {                                                             \
        __m256i av = _mm256_set1_epi32(w);                        \
        __m256i aa = _mm256_abs_epi8(av);                         \
        lo = q8_avx2_dot4(lo, av, aa, b0, ones);                  \
        hi = q8_avx2_dot4(hi, av, aa, b1, ones);                  \
    }
                SR_Q8_ROW(r0, a0l, a0h)
                SR_Q8_ROW(r1, a1l, a1h)
                SR_Q8_ROW(r2, a2l, a2h)
                SR_Q8_ROW(r3, a3l, a3h)
#undef SR_Q8_ROW
            }
            long first = p * PANEL, count = n - first < PANEL ? n - first : PANEL;
            const float *sb = scale_b + first, *bb = bias ? bias + first : 0;
            q8_avx2_store(a0l, a0h, count, scale_a[i], sb, bb, c + i * ldc + first);
            q8_avx2_store(a1l, a1h, count, scale_a[i + 1], sb, bb, c + (i + 1) * ldc + first);
            q8_avx2_store(a2l, a2h, count, scale_a[i + 2], sb, bb, c + (i + 2) * ldc + first);
            q8_avx2_store(a3l, a3h, count, scale_a[i + 3], sb, bb, c + (i + 3) * ldc + first);
        }
    }
    for (; i < m; i++) {
        const int8_t *row = a + i * lda;
        for (long p = 0; p < panels; p++) {
            const int8_t *panel = packed + p * groups * PANEL * GROUP;
            __m256i lo = _mm256_setzero_si256(), hi = lo;
            for (long g = 0; g < groups; g++) {
                int32_t w;
                memcpy(&w, row + g * GROUP, 4);
                __m256i av = _mm256_set1_epi32(w), aa = _mm256_abs_epi8(av);
                lo = q8_avx2_dot4(lo, av, aa, _mm256_loadu_si256((const __m256i *)(panel + g * PANEL * GROUP)), ones);
                hi = q8_avx2_dot4(hi, av, aa, _mm256_loadu_si256((const __m256i *)(panel + g * PANEL * GROUP + 32)),
                                  ones);
            }
            long first = p * PANEL, count = n - first < PANEL ? n - first : PANEL;
            q8_avx2_store(lo, hi, count, scale_a[i], scale_b + first, bias ? bias + first : 0, c + i * ldc + first);
        }
    }
}

// ---------------------------------------------------------------------------------------
// AVX-512 VNNI: vpdpbusd multiplies unsigned by signed bytes and adds groups of four into int32
// without saturation. A's bytes are offset by 128 to make them unsigned; the offset's share,
// 128 · Σₖ b[j, k], is taken back with the packed rows' sums.

#define SR_TARGET_Q8_VNNI __attribute__((target("avx512f,avx512vnni")))

SR_TARGET_Q8_VNNI static inline void q8_vnni_store(__m512i acc, const int32_t *sums, long count, float scale_a,
                                            const float *scale_b, const float *bias, float *c) {
    __mmask16 mask = count == PANEL ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    acc = _mm512_sub_epi32(acc, _mm512_slli_epi32(_mm512_loadu_si512((const void *)sums), 7));
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc),
                             _mm512_mul_ps(_mm512_set1_ps(scale_a), _mm512_maskz_loadu_ps(mask, scale_b)));
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias));
    _mm512_mask_storeu_ps(c, mask, v);
}

SR_TARGET_Q8_VNNI static void q8_vnni(long m, long n, long groups, const int8_t *a, long lda, const float *scale_a,
                               const int8_t *packed, const int32_t *sums, const float *scale_b, const float *bias,
                               float *c, long ldc) {
    long panels = (n + PANEL - 1) / PANEL;
    const uint32_t offset = 0x80808080u;
    long i = 0;
    for (; i + 4 <= m; i += 4) {
        const int8_t *r0 = a + i * lda, *r1 = r0 + lda, *r2 = r1 + lda, *r3 = r2 + lda;
        for (long p = 0; p < panels; p++) {
            const int8_t *panel = packed + p * groups * PANEL * GROUP;
            __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
            for (long g = 0; g < groups; g++) {
                __m512i b = _mm512_loadu_si512((const void *)(panel + g * PANEL * GROUP));
                uint32_t w0, w1, w2, w3;
                memcpy(&w0, r0 + g * GROUP, 4);
                memcpy(&w1, r1 + g * GROUP, 4);
                memcpy(&w2, r2 + g * GROUP, 4);
                memcpy(&w3, r3 + g * GROUP, 4);
                a0 = _mm512_dpbusd_epi32(a0, _mm512_set1_epi32((int)(w0 ^ offset)), b);
                a1 = _mm512_dpbusd_epi32(a1, _mm512_set1_epi32((int)(w1 ^ offset)), b);
                a2 = _mm512_dpbusd_epi32(a2, _mm512_set1_epi32((int)(w2 ^ offset)), b);
                a3 = _mm512_dpbusd_epi32(a3, _mm512_set1_epi32((int)(w3 ^ offset)), b);
            }
            long first = p * PANEL, count = n - first < PANEL ? n - first : PANEL;
            const float *sb = scale_b + first, *bb = bias ? bias + first : 0;
            q8_vnni_store(a0, sums + first, count, scale_a[i], sb, bb, c + i * ldc + first);
            q8_vnni_store(a1, sums + first, count, scale_a[i + 1], sb, bb, c + (i + 1) * ldc + first);
            q8_vnni_store(a2, sums + first, count, scale_a[i + 2], sb, bb, c + (i + 2) * ldc + first);
            q8_vnni_store(a3, sums + first, count, scale_a[i + 3], sb, bb, c + (i + 3) * ldc + first);
        }
    }
    for (; i < m; i++) {
        const int8_t *row = a + i * lda;
        for (long p = 0; p < panels; p++) {
            const int8_t *panel = packed + p * groups * PANEL * GROUP;
            __m512i acc = _mm512_setzero_si512();
            for (long g = 0; g < groups; g++) {
                uint32_t w;
                memcpy(&w, row + g * GROUP, 4);
                acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32((int)(w ^ offset)),
                                          _mm512_loadu_si512((const void *)(panel + g * PANEL * GROUP)));
            }
            long first = p * PANEL, count = n - first < PANEL ? n - first : PANEL;
            q8_vnni_store(acc, sums + first, count, scale_a[i], scale_b + first, bias ? bias + first : 0,
                          c + i * ldc + first);
        }
    }
}
#endif

#if defined(SR_NEON)
// ---------------------------------------------------------------------------------------
// NEON: 16 bytes of a panel group are 4 rows × 4 columns. vmull_s8 forms 8 int16 products,
// two pairwise widening adds sum each row's four into one int32 lane. With the dot-product
// extension (ARMv8.2 sdot) one vdotq_s32 does the same.

static void q8_neon(long m, long n, long groups, const int8_t *a, long lda, const float *scale_a,
                    const int8_t *packed, const float *scale_b, const float *bias, float *c, long ldc) {
    long panels = (n + PANEL - 1) / PANEL;
    for (long i = 0; i < m; i++) {
        const int8_t *row = a + i * lda;
        for (long p = 0; p < panels; p++) {
            const int8_t *panel = packed + p * groups * PANEL * GROUP;
            int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
            for (long g = 0; g < groups; g++) {
                int32_t w;
                memcpy(&w, row + g * GROUP, 4);
                for (int q = 0; q < 4; q++) {
                    int8x16_t b = vld1q_s8(panel + g * PANEL * GROUP + 16 * q);
#if defined(__ARM_FEATURE_DOTPROD)
                    acc[q] = vdotq_s32(acc[q], b, vreinterpretq_s8_s32(vdupq_n_s32(w)));
#else
                    int8x8_t av = vreinterpret_s8_s32(vdup_n_s32(w));
                    int16x8_t lo = vmull_s8(vget_low_s8(b), av), hi = vmull_s8(vget_high_s8(b), av);
                    acc[q] = vaddq_s32(acc[q], vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)));
#endif
                }
            }
            int32_t sums[PANEL];
            for (int q = 0; q < 4; q++) vst1q_s32(sums + 4 * q, acc[q]);
            long first = p * PANEL, count = n - first < PANEL ? n - first : PANEL;
            store_panel(sums, count, scale_a[i], scale_b + first, bias ? bias + first : 0, c + i * ldc + first);
        }
    }
}
#endif

// ---------------------------------------------------------------------------------------
// Dispatch.

int sr_q8_path_available(int path) {
    switch (path) {
    case SR_Q8_PORTABLE: return 1;
#if defined(SR_X86)
    case SR_Q8_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    case SR_Q8_AVX512_VNNI:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni") ? 1 : 0;
#elif defined(SR_NEON)
    case SR_Q8_NEON: return 1;
#endif
    default: return 0;
    }
}

int sr_q8_best_path(void) {
    if (sr_q8_path_available(SR_Q8_AVX512_VNNI)) return SR_Q8_AVX512_VNNI;
    if (sr_q8_path_available(SR_Q8_AVX2)) return SR_Q8_AVX2;
    if (sr_q8_path_available(SR_Q8_NEON)) return SR_Q8_NEON;
    return SR_Q8_PORTABLE;
}

const char *sr_q8_path_name(int path) {
    switch (path) {
    case SR_Q8_PORTABLE: return "portable";
    case SR_Q8_AVX2: return "avx2";
    case SR_Q8_AVX512_VNNI: return "avx512-vnni";
    case SR_Q8_NEON:
#if defined(__ARM_FEATURE_DOTPROD)
        return "neon-dotprod";
#else
        return "neon";
#endif
    default: return "unknown";
    }
}

int sr_q8_gemm_path(int path, long m, long n, long k, const int8_t *a, long lda, const float *scale_a,
                    const int8_t *packed, const int32_t *row_sums, const float *scale_b, const float *bias, float *c,
                    long ldc) {
    if (!sr_q8_path_available(path)) return 0;
    if (m <= 0 || n <= 0) return 1;
    long groups = sr_q8_padded_columns(k) / GROUP;
    switch (path) {
#if defined(SR_X86)
    case SR_Q8_AVX2: q8_avx2(m, n, groups, a, lda, scale_a, packed, scale_b, bias, c, ldc); break;
    case SR_Q8_AVX512_VNNI: q8_vnni(m, n, groups, a, lda, scale_a, packed, row_sums, scale_b, bias, c, ldc); break;
#elif defined(SR_NEON)
    case SR_Q8_NEON: q8_neon(m, n, groups, a, lda, scale_a, packed, scale_b, bias, c, ldc); break;
#endif
    default: q8_portable(m, n, groups, a, lda, scale_a, packed, scale_b, bias, c, ldc); break;
    }
    (void)row_sums;
    return 1;
}

void sr_q8_gemm(long m, long n, long k, const int8_t *a, long lda, const float *scale_a, const int8_t *packed,
                const int32_t *row_sums, const float *scale_b, const float *bias, float *c, long ldc) {
    static int best = -1;  // every thread that finds it unset computes the same value
    int path = __atomic_load_n(&best, __ATOMIC_RELAXED);
    if (path < 0) {
        path = sr_q8_best_path();
        __atomic_store_n(&best, path, __ATOMIC_RELAXED);
    }
    sr_q8_gemm_path(path, m, n, k, a, lda, scale_a, packed, row_sums, scale_b, bias, c, ldc);
}
