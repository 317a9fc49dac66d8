// int8 products for quantised scoring: C = diag(scaleA) (A Bᵀ) diag(scaleB) (+ bias), with A and B
// int8 in [-127, 127] and exact int32 sums. B (weights or an item table) is packed once into
// panels of 16 rows × 4 columns so that one vector register holds 16 rows' next 4 values: AVX-512
// VNNI adds 64 products per instruction (vpdpbusd), AVX2 32 (vpmaddubsw + vpmaddwd), NEON 16
// (vmull_s8 + pairwise adds, or 64 with the dot-product extension), and Intel AMX a 16 × 16 × 64
// block per instruction (tdpbssd), reading the same panels as tiles. The path is picked at run
// time; tests can ask for each one by number.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define SR_AMX 1
#endif

#include "sr_internal.h"

#define PANEL 16
#define GROUP 4

#if defined(SR_AMX)
static int amx_usable(void);
#endif

long sr_q8_padded_columns(long k) {
#if defined(SR_AMX)
    // AMX multiplies whole tiles of 64 columns: a depth past 64 is padded to whole tiles so its
    // rows take them (DIN's top layer, 200 deep, ran on VNNI, four times slower than its AMX
    // share). The zero columns add nothing to any path's sums.
    if (k > 64 && amx_usable()) return (k + 63) / 64 * 64;
#endif
    return (k + GROUP - 1) / GROUP * GROUP;
}

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

// out[c] = round(row[c] · inverse) for c in from..<to, clamped to ±127, ties to even (the
// rounding of the vector conversions, so every path gives the same bytes).
static inline void quantize_span(const float *row, long from, long to, float inverse, int8_t *out) {
    for (long c = from; c < to; c++) {
        float t = fabsf(row[c]) <= FLT_MAX ? row[c] * inverse : 0.0f;
        t = t > 127.0f ? 127.0f : t;
        t = t < -127.0f ? -127.0f : t;
        out[c] = (int8_t)lrintf(t);
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
// x · 127/max rounded to nearest, ties to even. |x| <= max keeps the product within ±127 up to
// rounding, which the saturating packs would absorb, so no clamp is needed.
__attribute__((target("avx2"))) static void quantize_rows_avx2(const float *x, long rows, long cols, long ldx,
                                                               int8_t *q, long ldq, float *scales) {
    long padded = sr_q8_padded_columns(cols), whole = cols / 8 * 8;
    const __m256 sign = _mm256_set1_ps(-0.0f), finite = _mm256_set1_ps(FLT_MAX);
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
            __m256i i = _mm256_cvtps_epi32(_mm256_and_ps(_mm256_mul_ps(v, scale), keep));
            __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
            _mm_storel_epi64((__m128i *)(out + c), _mm_packs_epi16(words, words));
        }
        quantize_span(row, whole, cols, inverse, out);
        for (long c = cols; c < padded; c++) out[c] = 0;
        scales[r] = largest / 127.0f;
    }
}
#endif

#if defined(SR_X86)
// Four vectors of int32 in [-127, 127] as 64 bytes in order, `count` of them stored: two
// saturating packs (saturation never acts at these values) and one permutation, because the
// packs interleave 128-bit lanes (dword 4 L + j of the packed bytes holds vector j's lane L).
__attribute__((target("avx512f,avx512bw"))) static inline void store_bytes64_avx512(int8_t *out, __mmask64 count,
                                                                                   __m512i i0, __m512i i1,
                                                                                   __m512i i2, __m512i i3) {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512i bytes = _mm512_packs_epi16(_mm512_packs_epi32(i0, i1), _mm512_packs_epi32(i2, i3));
    _mm512_mask_storeu_epi8(out, count, _mm512_permutexvar_epi32(order, bytes));
}

static inline __mmask64 first_bytes(long count) {
    return count >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << count) - 1);
}

// Rows 64 values at a time. One compare of the sum of |values| tells whether a row is all finite
// (a NaN or infinity, or a sum past FLT_MAX, makes it fail); other rows take the portable code,
// so this path needs no per-value masks. Rows of at most 64 values (SASRec's and the MF
// models' widths) stay in registers between finding the largest value and scaling. Each 64
// values are stored as one 64-byte write instead of four narrowing stores. The bytes equal the
// portable path's.
__attribute__((target("avx512f,avx512bw"))) static void quantize_rows_avx512(const float *x, long rows, long cols,
                                                                            long ldx, int8_t *q, long ldq,
                                                                            float *scales) {
    const __m512 finite = _mm512_set1_ps(FLT_MAX);
    const long padded = sr_q8_padded_columns(cols);  // bytes written: zeros past `cols`
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        int8_t *out = q + r * ldq;
        __m512 v[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        __m512 most = _mm512_setzero_ps(), total = _mm512_setzero_ps();
        for (long c = 0; c < cols; c += 16) {
            __m512 value = _mm512_maskz_loadu_ps(sr_tail_mask16(cols - c), row + c), a = _mm512_abs_ps(value);
            if (c < 64) v[c / 16] = value;
            most = _mm512_max_ps(most, a);
            total = _mm512_add_ps(total, a);
        }
        if (_mm512_cmp_ps_mask(total, finite, _CMP_LE_OQ) != 0xFFFF) {
            // Rare: NaN, infinities or huge values. The portable code is the reference bytes.
            quantize_rows_portable(row, 1, cols, ldx, out, ldq, scales + r);
            continue;
        }
        float largest = _mm512_reduce_max_ps(most);
        const __m512 times = _mm512_set1_ps(largest > 0 ? 127.0f / largest : 0);
        scales[r] = largest / 127.0f;
        if (cols <= 64) {
            store_bytes64_avx512(out, first_bytes(padded), _mm512_cvtps_epi32(_mm512_mul_ps(v[0], times)),
                                 _mm512_cvtps_epi32(_mm512_mul_ps(v[1], times)),
                                 _mm512_cvtps_epi32(_mm512_mul_ps(v[2], times)),
                                 _mm512_cvtps_epi32(_mm512_mul_ps(v[3], times)));
            continue;
        }
        for (long c = 0; c < padded; c += 64) {
            __m512i i[4];
            for (int j = 0; j < 4; j++) {
                long at = c + 16 * j;
                __mmask16 m = cols > at ? sr_tail_mask16(cols - at) : 0;
                i[j] = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + at), times));
            }
            store_bytes64_avx512(out + c, first_bytes(padded - c), i[0], i[1], i[2], i[3]);
        }
    }
}
#endif

void sr_q8_quantize_rows_path(int path, const float *x, long rows, long cols, long ldx, int8_t *q, long ldq,
                              float *scales) {
#if defined(SR_X86)
    if ((path == SR_Q8_AVX512_VNNI || path == SR_Q8_AMX) && sr_q8_path_available(SR_Q8_AVX512_VNNI)) {
        quantize_rows_avx512(x, rows, cols, ldx, q, ldq, scales);
        return;
    }
    if (path != SR_Q8_PORTABLE && sr_q8_path_available(SR_Q8_AVX2)) {
        quantize_rows_avx2(x, rows, cols, ldx, q, ldq, scales);
        return;
    }
#endif
    (void)path;
    quantize_rows_portable(x, rows, cols, ldx, q, ldq, scales);
}

// The path sr_q8_gemm and sr_q8_quantize_rows take: the best one unless sr_q8_use_path chose.
static int chosen_path = -1;

static int current_path(void) {
    int path = __atomic_load_n(&chosen_path, __ATOMIC_RELAXED);
    if (path < 0) {
        path = sr_q8_best_path();  // every thread that finds it unset computes the same value
        __atomic_store_n(&chosen_path, path, __ATOMIC_RELAXED);
    }
    return path;
}

int sr_q8_current_path(void) { return current_path(); }

int sr_q8_use_path(int path) {
    if (path < 0) path = sr_q8_best_path();
    if (!sr_q8_path_available(path)) return 0;
    __atomic_store_n(&chosen_path, path, __ATOMIC_RELAXED);
    return 1;
}

void sr_q8_quantize_rows(const float *x, long rows, long cols, long ldx, int8_t *q, long ldq, float *scales) {
    sr_q8_quantize_rows_path(current_path(), x, rows, cols, ldx, q, ldq, scales);
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

#define SR_TARGET_Q8_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

SR_TARGET_Q8_VNNI static inline void q8_vnni_store(__m512i acc, const int32_t *sums, long count, float scale_a,
                                            const float *scale_b, const float *bias, float *c) {
    __mmask16 mask = sr_tail_mask16(count);
    acc = _mm512_sub_epi32(acc, _mm512_slli_epi32(_mm512_loadu_si512((const void *)sums), 7));
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc),
                             _mm512_mul_ps(_mm512_set1_ps(scale_a), _mm512_maskz_loadu_ps(mask, scale_b)));
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias));
    _mm512_mask_storeu_ps(c, mask, v);
}

// `rows` (1 to 4) rows of A against `block` (1 to 4) consecutive panels starting at `p`: up to 16
// independent accumulators, so that vpdpbusd's latency (about 5 cycles) is hidden behind the
// others; each group's panel loads are shared by the rows, each row's broadcast by the panels.
// Always inlined with constant `rows` and `block`, so the accumulators live in registers.
SR_TARGET_Q8_VNNI static inline __attribute__((always_inline)) void q8_vnni_block(
    const int rows, const int block, long p, long n, long groups, const int8_t *a, long lda, const float *scale_a,
    const int8_t *packed, const int32_t *sums, const float *scale_b, const float *bias, float *c, long ldc) {
    const __m512i offset = _mm512_set1_epi8((char)0x80);
    __m512i acc[4][4];
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < block; q++) acc[r][q] = _mm512_setzero_si512();
    const long panel_bytes = groups * PANEL * GROUP;
    const int8_t *panel = packed + p * panel_bytes;
    for (long g = 0; g < groups; g++) {
        __m512i b[4];
        for (int q = 0; q < block; q++)
            b[q] = _mm512_loadu_si512((const void *)(panel + q * panel_bytes + g * PANEL * GROUP));
        for (int r = 0; r < rows; r++) {
            int32_t w;
            memcpy(&w, a + r * lda + g * GROUP, 4);
            // A's bytes offset by 128 (xor of the sign bit): unsigned, as vpdpbusd wants them.
            __m512i av = _mm512_xor_si512(_mm512_set1_epi32(w), offset);
            for (int q = 0; q < block; q++) acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], av, b[q]);
        }
    }
    for (int q = 0; q < block; q++) {
        long first = (p + q) * PANEL, count = n - first < PANEL ? n - first : PANEL;
        for (int r = 0; r < rows; r++)
            q8_vnni_store(acc[r][q], sums + first, count, scale_a[r], scale_b + first, bias ? bias + first : 0,
                          c + r * ldc + first);
    }
}

// Four panels at a time, then the last one to three one by one.
#define SR_Q8_VNNI_ROWS(R)                                                                                         \
    SR_TARGET_Q8_VNNI static void q8_vnni_rows##R(long n, long groups, const int8_t *a, long lda,                   \
                                                  const float *scale_a, const int8_t *packed, const int32_t *sums, \
                                                  const float *scale_b, const float *bias, float *c, long ldc) {   \
        long panels = (n + PANEL - 1) / PANEL, p = 0;                                                              \
        for (; p + 4 <= panels; p += 4)                                                                            \
            q8_vnni_block(R, 4, p, n, groups, a, lda, scale_a, packed, sums, scale_b, bias, c, ldc);               \
        for (; p < panels; p++)                                                                                    \
            q8_vnni_block(R, 1, p, n, groups, a, lda, scale_a, packed, sums, scale_b, bias, c, ldc);               \
    }
SR_Q8_VNNI_ROWS(1)
SR_Q8_VNNI_ROWS(2)
SR_Q8_VNNI_ROWS(3)
SR_Q8_VNNI_ROWS(4)
#undef SR_Q8_VNNI_ROWS

SR_TARGET_Q8_VNNI static void q8_vnni(long m, long n, long groups, const int8_t *a, long lda, const float *scale_a,
                               const int8_t *packed, const int32_t *sums, const float *scale_b, const float *bias,
                               float *c, long ldc) {
    long i = 0;
    for (; i + 4 <= m; i += 4)
        q8_vnni_rows4(n, groups, a + i * lda, lda, scale_a + i, packed, sums, scale_b, bias, c + i * ldc, ldc);
    const int8_t *ar = a + i * lda;
    float *cr = c + i * ldc;
    switch (m - i) {
    case 3: q8_vnni_rows3(n, groups, ar, lda, scale_a + i, packed, sums, scale_b, bias, cr, ldc); break;
    case 2: q8_vnni_rows2(n, groups, ar, lda, scale_a + i, packed, sums, scale_b, bias, cr, ldc); break;
    case 1: q8_vnni_rows1(n, groups, ar, lda, scale_a + i, packed, sums, scale_b, bias, cr, ldc); break;
    default: break;
    }
}
#endif

#if defined(SR_AMX)
// ---------------------------------------------------------------------------------------
// AMX (Sapphire Rapids and later): tdpbssd multiplies a 16 × 64 tile of A by a 16-group tile of
// B (16 columns × 4 bytes per row: exactly a panel's next 16 groups) into 16 × 16 int32, signed by
// signed, so no offset is needed. Blocks of 32 rows × 32 columns keep four result tiles. Needs
// k a multiple of 64 (whole tiles); rows left over (m % 16) and other k go to the VNNI path.
// Linux hands out tile state only on request (arch_prctl), once per process.

#define SR_TARGET_Q8_AMX __attribute__((target("amx-tile,amx-int8,avx512f")))

struct sr_tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
};

static int amx_usable(void) {
    static int state = -1;  // every thread that finds it unset computes the same value
    int known = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (known >= 0) return known;
    unsigned a, b, c, d;
    int usable = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && ((d >> 24) & 1) && ((d >> 25) & 1)
        && sr_q8_path_available(SR_Q8_AVX512_VNNI)) {
        // ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18).
        usable = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
    }
    __atomic_store_n(&state, usable, __ATOMIC_RELAXED);
    return usable;
}

// `rows` (a multiple of 16) rows of A in blocks of 32 (and one of 16), all panels, k = 64 · chunks.
// Every tile 16 rows of 64 bytes, except that with `depth` bytes of A per product (4 to 64)
// A's tiles (4 to 6) are 16 rows of `depth` bytes and B's (7) depth / 4 rows of 64.
SR_TARGET_Q8_AMX static void load_tiles(long depth) {
    struct sr_tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) {
        config.bytes_per_row[t] = 64;
        config.rows[t] = 16;
    }
    for (int t = 4; t < 7; t++) config.bytes_per_row[t] = (uint16_t)depth;
    config.rows[7] = (uint8_t)(depth / 4);
    _tile_loadconfig(&config);
}

SR_TARGET_Q8_AMX static void q8_amx_rows(long rows, long n, long groups, const int8_t *a, long lda,
                                         const float *scale_a, const int8_t *packed, const float *scale_b,
                                         const float *bias, float *c, long ldc) {
    load_tiles(64);
    const long panels = (n + PANEL - 1) / PANEL, chunks = groups / 16, panel_bytes = groups * PANEL * GROUP;
    int32_t acc[32 * 32];
    for (long i = 0; i < rows; i += 32) {
        const int two_row_tiles = i + 32 <= rows;
        const int8_t *a0 = a + i * lda, *a1 = a0 + 16 * lda;
        for (long p = 0; p < panels; p += 2) {
            const int two_panels = p + 1 < panels;
            const int8_t *b0 = packed + p * panel_bytes, *b1 = b0 + panel_bytes;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (long q = 0; q < chunks; q++) {
                _tile_loadd(4, a0 + q * 64, lda);
                _tile_loadd(6, b0 + q * 16 * PANEL * GROUP, 64);
                _tile_dpbssd(0, 4, 6);
                if (two_panels) {
                    _tile_loadd(7, b1 + q * 16 * PANEL * GROUP, 64);
                    _tile_dpbssd(1, 4, 7);
                }
                if (two_row_tiles) {
                    _tile_loadd(5, a1 + q * 64, lda);
                    _tile_dpbssd(2, 5, 6);
                    if (two_panels) _tile_dpbssd(3, 5, 7);
                }
            }
            // acc: 32 rows × 32 columns, 128 bytes a row; tile (row half r, panel half q) at
            // acc[16 r][16 q].
            _tile_stored(0, acc, 128);
            if (two_panels) _tile_stored(1, acc + 16, 128);
            if (two_row_tiles) {
                _tile_stored(2, acc + 16 * 32, 128);
                if (two_panels) _tile_stored(3, acc + 16 * 32 + 16, 128);
            }
            // Each panel's scales and bias are loaded once for all its rows.
            for (int half = 0; half < 1 + two_panels; half++) {
                long first = (p + half) * PANEL, count = n - first < PANEL ? n - first : PANEL;
                __mmask16 mask = sr_tail_mask16(count);
                __m512 sb = _mm512_maskz_loadu_ps(mask, scale_b + first);
                __m512 bb = bias ? _mm512_maskz_loadu_ps(mask, bias + first) : _mm512_setzero_ps();
                for (long r = 0; r < (two_row_tiles ? 32 : 16); r++) {
                    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(acc + r * 32 + half * 16))),
                                             _mm512_mul_ps(_mm512_set1_ps(scale_a[i + r]), sb));
                    if (bias) v = _mm512_add_ps(v, bb);
                    _mm512_mask_storeu_ps(c + (i + r) * ldc + first, mask, v);
                }
            }
        }
    }
    _tile_release();
}

static void q8_amx(long m, long n, long groups, const int8_t *a, long lda, const float *scale_a,
                   const int8_t *packed, const int32_t *sums, const float *scale_b, const float *bias, float *c,
                   long ldc) {
    long tiled = groups % 16 == 0 ? m / 16 * 16 : 0;
    if (tiled > 0) q8_amx_rows(tiled, n, groups, a, lda, scale_a, packed, scale_b, bias, c, ldc);
    if (tiled < m)
        q8_vnni(m - tiled, n, groups, a + tiled * lda, lda, scale_a + tiled, packed, sums, scale_b, bias,
                c + tiled * ldc, ldc);
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
#if defined(SR_AMX)
    case SR_Q8_AMX: return amx_usable();
#endif
#elif defined(SR_NEON)
    case SR_Q8_NEON: return 1;
#endif
    default: return 0;
    }
}

int sr_q8_best_path(void) {
    if (sr_q8_path_available(SR_Q8_AMX)) return SR_Q8_AMX;
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
    case SR_Q8_AMX: return "amx";
    case SR_Q8_NEON:
#if defined(__ARM_FEATURE_DOTPROD)
        return "neon-dotprod";
#else
        return "neon";
#endif
    default: return "unknown";
    }
}

// ---------------------------------------------------------------------------------------
// Raw sums by panel, for kernels that scale and use the products themselves (DIN's pair unit):
// out[(p * m + i) * 16 + j] = sum_k A[i, k] * B[16 p + j, k], exact.

#if defined(SR_X86)
// Four rows at a time, so each panel load serves four broadcasts.
SR_TARGET_Q8_VNNI static void q8_vnni_panel_sums(long from, long m, long panels, long groups, const int8_t *a,
                                                 long lda, const int8_t *packed, const int32_t *row_sums,
                                                 int32_t *out) {
    const __m512i offset = _mm512_set1_epi8((char)0x80);
    const long panel_bytes = groups * PANEL * GROUP;
    for (long p = 0; p < panels; p++) {
        const int8_t *panel = packed + p * panel_bytes;
        // A's bytes offset by 128 add 128 · (B's row sum) to each sum.
        const __m512i correction = _mm512_slli_epi32(_mm512_loadu_si512((const void *)(row_sums + p * PANEL)), 7);
        long i = from;
        for (; i + 4 <= m; i += 4) {
            __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                              _mm512_setzero_si512()};
            for (long g = 0; g < groups; g++) {
                const __m512i b = _mm512_loadu_si512((const void *)(panel + g * PANEL * GROUP));
                for (int r = 0; r < 4; r++) {
                    int32_t w;
                    memcpy(&w, a + (i + r) * lda + g * GROUP, 4);
                    acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_xor_si512(_mm512_set1_epi32(w), offset), b);
                }
            }
            for (int r = 0; r < 4; r++)
                _mm512_storeu_si512((void *)(out + (p * m + i + r) * PANEL), _mm512_sub_epi32(acc[r], correction));
        }
        for (; i < m; i++) {
            __m512i acc = _mm512_setzero_si512();
            for (long g = 0; g < groups; g++) {
                int32_t w;
                memcpy(&w, a + i * lda + g * GROUP, 4);
                acc = _mm512_dpbusd_epi32(acc, _mm512_xor_si512(_mm512_set1_epi32(w), offset),
                                          _mm512_loadu_si512((const void *)(panel + g * PANEL * GROUP)));
            }
            _mm512_storeu_si512((void *)(out + (p * m + i) * PANEL), _mm512_sub_epi32(acc, correction));
        }
    }
}
#endif

#if defined(SR_AMX)
// Whole tiles of 16 rows (rows a multiple of 16; k a multiple of 64, or under 64 for one
// shallower product): each result tile is stored straight into its panel's rows, four row
// tiles in flight.
SR_TARGET_Q8_AMX static void q8_amx_panel_sums(long rows, long m, long panels, long groups, const int8_t *a,
                                               long lda, const int8_t *packed, int32_t *out) {
    // Products 64 bytes deep, or one shallower product when k is under 64.
    load_tiles(groups < 16 ? groups * GROUP : 64);
    const long chunks = groups < 16 ? 1 : groups / 16, panel_bytes = groups * PANEL * GROUP;
    for (long p = 0; p < panels; p++) {
        const int8_t *b = packed + p * panel_bytes;
        int32_t *o = out + p * m * PANEL;
        long i = 0;
        for (; i + 64 <= rows; i += 64) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (long q = 0; q < chunks; q++) {
                _tile_loadd(7, b + q * 16 * PANEL * GROUP, 64);
                _tile_loadd(4, a + i * lda + q * 64, lda);
                _tile_dpbssd(0, 4, 7);
                _tile_loadd(5, a + (i + 16) * lda + q * 64, lda);
                _tile_dpbssd(1, 5, 7);
                _tile_loadd(6, a + (i + 32) * lda + q * 64, lda);
                _tile_dpbssd(2, 6, 7);
                _tile_loadd(4, a + (i + 48) * lda + q * 64, lda);
                _tile_dpbssd(3, 4, 7);
            }
            _tile_stored(0, o + i * PANEL, 64);
            _tile_stored(1, o + (i + 16) * PANEL, 64);
            _tile_stored(2, o + (i + 32) * PANEL, 64);
            _tile_stored(3, o + (i + 48) * PANEL, 64);
        }
        for (; i < rows; i += 16) {
            _tile_zero(0);
            for (long q = 0; q < chunks; q++) {
                _tile_loadd(7, b + q * 16 * PANEL * GROUP, 64);
                _tile_loadd(4, a + i * lda + q * 64, lda);
                _tile_dpbssd(0, 4, 7);
            }
            _tile_stored(0, o + i * PANEL, 64);
        }
    }
    _tile_release();
}
#endif

int sr_q8_panel_sums(int path, long m, long n, long k, const int8_t *a, long lda, const int8_t *packed,
                     const int32_t *row_sums, int32_t *out) {
    if (m <= 0 || n <= 0) return 0;
    const long groups = sr_q8_padded_columns(k) / GROUP, panels = (n + PANEL - 1) / PANEL;
    if (path < 0 || !sr_q8_path_available(path)) path = current_path();
#if defined(SR_X86)
    long done = 0;
#if defined(SR_AMX)
    if (path == SR_Q8_AMX && (groups % 16 == 0 || groups < 16)) {
        done = m / 16 * 16;
        if (done > 0) q8_amx_panel_sums(done, m, panels, groups, a, lda, packed, out);
    }
#endif
    if (path == SR_Q8_AMX || path == SR_Q8_AVX512_VNNI) {
        if (done < m) q8_vnni_panel_sums(done, m, panels, groups, a, lda, packed, row_sums, out);
        return 0;
    }
#endif
    // Elsewhere the path's own product with unit scales, written into each panel's place as
    // floats and turned into integers there: its sums are exact (at most 127 · 127 · k, below
    // 2^24 for k up to 1,040).
    if (k > 1040) return -1;
    float ones[PANEL], *unit = malloc((size_t)m * sizeof(float));
    if (!unit) return -2;
    for (int j = 0; j < PANEL; j++) ones[j] = 1;
    for (long i = 0; i < m; i++) unit[i] = 1;
    const long panel_bytes = groups * PANEL * GROUP;
    for (long p = 0; p < panels; p++) {
        const long count = n - p * PANEL < PANEL ? n - p * PANEL : PANEL;
        int32_t *panel = out + p * m * PANEL;
        float *sums = (float *)panel;
        memset(sums, 0, (size_t)m * PANEL * sizeof(float));
        sr_q8_gemm_path(path, m, count, k, a, lda, unit, packed + p * panel_bytes, row_sums + p * PANEL, ones, NULL,
                        sums, PANEL);
        for (long i = 0; i < m * PANEL; i++) {
            float sum;  // read through memcpy: the same bytes held a float
            memcpy(&sum, panel + i, sizeof sum);
            panel[i] = (int32_t)sum;
        }
    }
    free(unit);
    return 0;
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
#if defined(SR_AMX)
    case SR_Q8_AMX: q8_amx(m, n, groups, a, lda, scale_a, packed, row_sums, scale_b, bias, c, ldc); break;
#endif
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
    sr_q8_gemm_path(current_path(), m, n, k, a, lda, scale_a, packed, row_sums, scale_b, bias, c, ldc);
}
