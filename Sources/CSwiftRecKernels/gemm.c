// Single-threaded SGEMM in the Goto/BLIS style: op(A) and op(B) are copied ("packed") into
// contiguous, cache-sized panels so the register-blocked micro-kernel only ever streams
// unit-stride memory, whatever the transposes and leading dimensions are.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sr_internal.h"

// Register tile MR x NR per code path: 12x32 (24 zmm accumulators) with AVX-512, 6x16
// (12 ymm) with AVX2 and the portable kernel, 6x16 (24 q registers) on NEON. A KC x NR
// sliver of packed B stays in L1, the MC x KC packed A block in L2, and the KC x NC packed
// B panel in L2/L3. The block sizes can be overridden at compile time for tuning.
#ifndef SR_Z_KC
#define SR_Z_KC 384
#endif
#ifndef SR_Z_MC
#define SR_Z_MC 96
#endif
#ifndef SR_Z_NC
#define SR_Z_NC 4096
#endif
enum { MR_MAX = 16, NR_MAX = 32 };

// Computes c = alpha * a*b + beta * c for one tile from packed panels (a: kc steps of MR
// floats, b: kc steps of NR floats). beta == 0 never reads c. Kernels of paths with
// `masked_n` store only the first nr columns; the others always write full NR columns.
typedef void (*sr_kernel_fn)(long kc, const float *a, const float *b, float *c, long ldc,
                             float alpha, float beta, long nr);

typedef struct {
    int isa;       // SR_ISA_*
    long mr, nr;   // register tile
    long kc, mc, nc;
    int masked_n;  // kernel handles nr < NR itself
    sr_kernel_fn kern;
} sr_gemm_path;

static long min_l(long a, long b) { return a < b ? a : b; }

// Largest block <= max_block (a multiple of `multiple`) that splits n into equal-ish pieces,
// so e.g. K = 300 becomes 150 + 150 rather than 256 + 44.
static long balanced_block(long n, long max_block, long multiple) {
    long pieces = (n + max_block - 1) / max_block;
    long block = (n + pieces - 1) / pieces;
    return (block + multiple - 1) / multiple * multiple;
}

// ---------------------------------------------------------------------------------------
// Per-thread packing workspace: reused across calls, freed when the thread exits.

typedef struct {
    float *buf;
    size_t cap;
} sr_workspace;

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static int ws_key_ok;

static void ws_destroy(void *p) {
    sr_workspace *w = p;
    free(w->buf);
    free(w);
}

static void ws_make_key(void) { ws_key_ok = pthread_key_create(&ws_key, ws_destroy) == 0; }

// 64-byte aligned buffer of at least n floats. Aborts when memory is exhausted, like Swift
// allocations do; the sizes involved are a few MB at most.
static float *workspace_get(size_t n) {
    pthread_once(&ws_once, ws_make_key);
    if (!ws_key_ok) abort();
    sr_workspace *w = pthread_getspecific(ws_key);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w || pthread_setspecific(ws_key, w) != 0) abort();
    }
    if (w->cap < n) {
        void *p = NULL;
        free(w->buf);
        if (posix_memalign(&p, 64, n * sizeof(float)) != 0) abort();
        w->buf = p;
        w->cap = n;
    }
    return w->buf;
}

// ---------------------------------------------------------------------------------------
// Packing. op(X)[i][k] lives at X[i*rs + k*cs], which covers both transposes.

#if defined(SR_X86)
// Six rows of a non-transposed A (rows contiguous in k) into a packed panel whose k steps
// are `ds` floats apart. Scalar copying is store-bound at ~2 floats/cycle, which costs ~15%
// when N is small; transposing 6x8 blocks in registers and storing 4+2 floats per k is
// about 3x faster.
SR_AVX2 static void pack_a_rows6_avx2(long kc, const float *src, long rs, float *dst, long ds) {
    long k = 0;
    for (; k + 8 <= kc; k += 8, dst += 8 * ds) {
        __m256 r0 = _mm256_loadu_ps(src + k), r1 = _mm256_loadu_ps(src + rs + k);
        __m256 r2 = _mm256_loadu_ps(src + 2 * rs + k), r3 = _mm256_loadu_ps(src + 3 * rs + k);
        __m256 r4 = _mm256_loadu_ps(src + 4 * rs + k), r5 = _mm256_loadu_ps(src + 5 * rs + k);
        // Row pairs interleaved: t01lo = (r0,r1) for k = 0,1 | 4,5; t01hi for k = 2,3 | 6,7.
        __m256d t01lo = _mm256_castps_pd(_mm256_unpacklo_ps(r0, r1));
        __m256d t01hi = _mm256_castps_pd(_mm256_unpackhi_ps(r0, r1));
        __m256d t23lo = _mm256_castps_pd(_mm256_unpacklo_ps(r2, r3));
        __m256d t23hi = _mm256_castps_pd(_mm256_unpackhi_ps(r2, r3));
        __m256 t45lo = _mm256_unpacklo_ps(r4, r5), t45hi = _mm256_unpackhi_ps(r4, r5);
        // Rows 0-3 for one k in each 128-bit half: u[j] holds k = j | j+4.
        __m256 u[4] = {
            _mm256_castpd_ps(_mm256_unpacklo_pd(t01lo, t23lo)),
            _mm256_castpd_ps(_mm256_unpackhi_pd(t01lo, t23lo)),
            _mm256_castpd_ps(_mm256_unpacklo_pd(t01hi, t23hi)),
            _mm256_castpd_ps(_mm256_unpackhi_pd(t01hi, t23hi)),
        };
        __m128 v45[4] = {_mm256_castps256_ps128(t45lo), _mm256_castps256_ps128(t45hi),
                         _mm256_extractf128_ps(t45lo, 1), _mm256_extractf128_ps(t45hi, 1)};
        for (int j = 0; j < 4; j++) {
            _mm_storeu_ps(dst + j * ds, _mm256_castps256_ps128(u[j]));
            _mm_storeu_ps(dst + (j + 4) * ds, _mm256_extractf128_ps(u[j], 1));
        }
        // Rows 4-5: v45[h] holds (r4, r5) for the two consecutive k starting at k0.
        for (int h = 0; h < 4; h++) {
            int k0 = (h & 1) * 2 + (h >> 1) * 4;
            _mm_storel_pi((__m64 *)(dst + k0 * ds + 4), v45[h]);
            _mm_storeh_pi((__m64 *)(dst + (k0 + 1) * ds + 4), v45[h]);
        }
    }
    for (; k < kc; k++, dst += ds)
        for (int i = 0; i < 6; i++) dst[i] = src[i * rs + k];
}

// Transposes the 8 x 8 block src[r * ss + t] (r, t < 8) into dst[t * ds + r].
SR_AVX2 static void transpose8x8_avx2(const float *src, long ss, float *dst, long ds) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ss);
    __m256 r2 = _mm256_loadu_ps(src + 2 * ss), r3 = _mm256_loadu_ps(src + 3 * ss);
    __m256 r4 = _mm256_loadu_ps(src + 4 * ss), r5 = _mm256_loadu_ps(src + 5 * ss);
    __m256 r6 = _mm256_loadu_ps(src + 6 * ss), r7 = _mm256_loadu_ps(src + 7 * ss);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ds, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ds, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ds, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ds, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ds, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ds, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ds, _mm256_permute2f128_ps(u3, u7, 0x31));
}

// One full NR-column panel of op(B) = B^T (column j of op(B) is row j of B, contiguous
// in k), transposed in 8 x 8 register blocks.
SR_AVX2 static void pack_bt_panel_avx2(long kc, const float *src, long cs, float *dst, long nr) {
    long k = 0;
    for (; k + 8 <= kc; k += 8)
        for (long j = 0; j < nr; j += 8) transpose8x8_avx2(src + j * cs + k, cs, dst + k * nr + j, nr);
    for (; k < kc; k++)
        for (long j = 0; j < nr; j++) dst[k * nr + j] = src[j * cs + k];
}
#endif

// Packs an mc x kc block of op(A) into MR-row panels: panel p holds, for each k, the MR
// values op(A)[p*MR .. p*MR+MR-1][k]. Rows past mc are zero so the kernel can run full tiles.
static void pack_a(const sr_gemm_path *path, long mc, long kc, const float *a, long rs, long cs,
                   float *dst) {
    const long MR = path->mr;
    long full = mc / MR * MR;
    if (cs == 1) {
        // Rows are contiguous in k: stream MR rows side by side.
        for (long i0 = 0; i0 < full; i0 += MR) {
            const float *src = a + i0 * rs;
            float *d = dst + i0 * kc;
            long i = 0;
#if defined(SR_X86)
            if (path->isa >= SR_ISA_AVX2)
                for (; i + 6 <= MR; i += 6) pack_a_rows6_avx2(kc, src + i * rs, rs, d + i, MR);
#endif
            if (i < MR)
                for (long k = 0; k < kc; k++)
                    for (long r = i; r < MR; r++) d[k * MR + r] = src[r * rs + k];
        }
    } else {
        // op(A) = A^T (so rs == 1): row k of A holds op(A)[.][k] contiguously. Reading each
        // row once, left to right, avoids re-fetching lines per panel (rows are often 4 KB
        // apart and would thrash one L1 set).
        // Fixed-size copies so compilers inline them as vector moves.
        for (long k = 0; k < kc; k++) {
            const float *src = a + k * cs;
            float *d = dst + k * MR;
            if (MR == 12)
                for (long i0 = 0; i0 < full; i0 += 12) memcpy(d + i0 * kc, src + i0, 12 * sizeof(float));
            else if (MR == 6)
                for (long i0 = 0; i0 < full; i0 += 6) memcpy(d + i0 * kc, src + i0, 6 * sizeof(float));
            else
                for (long i0 = 0; i0 < full; i0 += MR)
                    memcpy(d + i0 * kc, src + i0, (size_t)MR * sizeof(float));
        }
    }
    if (full < mc) {
        long mr = mc - full;
        const float *src = a + full * rs;
        float *d = dst + full * kc;
        for (long k = 0; k < kc; k++, d += MR) {
            for (long i = 0; i < mr; i++) d[i] = src[i * rs + k * cs];
            for (long i = mr; i < MR; i++) d[i] = 0.0f;
        }
    }
}

// Packs a kc x nc block of op(B) into NR-column panels: panel p holds, for each k, the NR
// values op(B)[k][p*NR .. p*NR+NR-1]. Columns past nc are zero.
static void pack_b(const sr_gemm_path *path, long kc, long nc, const float *b, long rs, long cs,
                   float *dst) {
    const long NR = path->nr;
    for (long j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
        long nr = min_l(NR, nc - j0);
        const float *src = b + j0 * cs;
        if (nr == NR && cs == 1) {
            // Fixed-size copies so compilers inline them as vector moves.
            if (NR == 32)
                for (long k = 0; k < kc; k++) memcpy(dst + k * 32, src + k * rs, 32 * sizeof(float));
            else
                for (long k = 0; k < kc; k++) memcpy(dst + k * 16, src + k * rs, 16 * sizeof(float));
        } else if (nr == NR) {
#if defined(SR_X86)
            if (path->isa >= SR_ISA_AVX2) {
                pack_bt_panel_avx2(kc, src, cs, dst, NR);
                continue;
            }
#endif
            // op(B) = B^T: each packed row gathers one element from NR rows of B; walking
            // k innermost per column keeps the reads sequential.
            for (long j = 0; j < NR; j++)
                for (long k = 0; k < kc; k++) dst[k * NR + j] = src[j * cs + k * rs];
        } else {
            for (long k = 0; k < kc; k++) {
                for (long j = 0; j < nr; j++) dst[k * NR + j] = src[j * cs + k * rs];
                for (long j = nr; j < NR; j++) dst[k * NR + j] = 0.0f;
            }
        }
    }
}

// c[0..mr)[0..nr) = alpha * tile + beta * c, where tile is a row-major array with rows
// `ts` floats apart.
static void store_tile(long mr, long nr, const float *tile, long ts, float *c, long ldc,
                       float alpha, float beta) {
    for (long i = 0; i < mr; i++) {
        const float *t = tile + i * ts;
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            for (long j = 0; j < nr; j++) ci[j] = alpha * t[j];
        else
            for (long j = 0; j < nr; j++) ci[j] = alpha * t[j] + beta * ci[j];
    }
}

// ---------------------------------------------------------------------------------------
// Micro-kernels.

enum { G_MR = 6, G_NR = 16 };

// Portable 6x16 kernel: the j loop is written so compilers vectorise it with SSE2 / NEON.
static void kernel_generic(long kc, const float *a, const float *b, float *c, long ldc,
                           float alpha, float beta, long nr) {
    (void)nr;
    float acc[G_MR * G_NR] = {0};
    for (long k = 0; k < kc; k++, a += G_MR, b += G_NR)
        for (int i = 0; i < G_MR; i++)
            for (int j = 0; j < G_NR; j++) acc[i * G_NR + j] += a[i] * b[j];
    store_tile(G_MR, G_NR, acc, G_NR, c, ldc, alpha, beta);
}

#if defined(SR_X86)
// One k step for row i: (c0, c1) += a[i] * (b0, b1). Plain vector arithmetic rather than
// intrinsic calls: with the default FP contraction clang emits broadcast + FMA, and -O0
// (debug) builds skip the argument copies of intrinsic wrappers, which make them ~15x slower.
#define SR_VEC_ROW(i, c0, c1)    \
    do {                         \
        c0 += a[i] * b0;         \
        c1 += a[i] * b1;         \
    } while (0)

// Row i of the tile: c = alpha * (c0, c1) + beta * c, without reading c when beta == 0.
#define SR_AVX2_STORE(i, c0, c1)                                                      \
    do {                                                                              \
        float *ci = c + (i) * ldc;                                                    \
        __m256 r0 = _mm256_mul_ps(va, c0), r1 = _mm256_mul_ps(va, c1);                \
        if (beta != 0.0f) {                                                           \
            r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);                        \
            r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);                    \
        }                                                                             \
        _mm256_storeu_ps(ci, r0);                                                     \
        _mm256_storeu_ps(ci + 8, r1);                                                 \
    } while (0)

// 6x16: 12 ymm accumulators + 2 B vectors + 1 broadcast fit in the 16 ymm registers; per
// k step 12 FMAs against 8 loads keeps both FMA ports busy. Written out without inner
// loops so that unoptimised (debug) builds stay usable too.
SR_AVX2 static void kernel_avx2(long kc, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta, long nr) {
    (void)nr;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    // Pull the C tile towards L1 while the k loop runs.
    for (int i = 0; i < 6; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 15), _MM_HINT_T0);
    }
    for (long k = 0; k < kc; k++, a += 6, b += 16) {
        __m256 b0 = *(const __m256 *)b, b1 = *(const __m256 *)(b + 8);
        SR_VEC_ROW(0, c00, c01);
        SR_VEC_ROW(1, c10, c11);
        SR_VEC_ROW(2, c20, c21);
        SR_VEC_ROW(3, c30, c31);
        SR_VEC_ROW(4, c40, c41);
        SR_VEC_ROW(5, c50, c51);
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    SR_AVX2_STORE(0, c00, c01);
    SR_AVX2_STORE(1, c10, c11);
    SR_AVX2_STORE(2, c20, c21);
    SR_AVX2_STORE(3, c30, c31);
    SR_AVX2_STORE(4, c40, c41);
    SR_AVX2_STORE(5, c50, c51);
}

// Row i of an AVX-512 tile: the first nr columns of c = alpha * (c0, c1) + beta * c.
#define SR_Z_STORE(i, c0, c1)                                                         \
    do {                                                                              \
        float *ci = c + (i) * ldc;                                                    \
        __m512 r0 = _mm512_mul_ps(va, c0), r1 = _mm512_mul_ps(va, c1);                \
        if (beta != 0.0f) {                                                           \
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);              \
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);         \
        }                                                                             \
        _mm512_mask_storeu_ps(ci, m0, r0);                                            \
        _mm512_mask_storeu_ps(ci + 16, m1, r1);                                       \
    } while (0)

// 12x32: 24 zmm accumulators + 2 B vectors; the A values are broadcast straight from memory
// into the FMAs. 24 FMAs per k step (12 cycles on two FMA ports) against 14 loads. (14x32
// with 28 accumulators measured the same on Emerald Rapids but makes packing A slower.)
SR_AVX512 static void kernel_avx512_12x32(long kc, const float *a, const float *b, float *c,
                                          long ldc, float alpha, float beta, long nr) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00;
    __m512 c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00;
    for (int i = 0; i < 12; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 31), _MM_HINT_T0);
    }
    for (long k = 0; k < kc; k++, a += 12, b += 32) {
        __m512 b0 = *(const __m512 *)b, b1 = *(const __m512 *)(b + 16);
        SR_VEC_ROW(0, c00, c01);
        SR_VEC_ROW(1, c10, c11);
        SR_VEC_ROW(2, c20, c21);
        SR_VEC_ROW(3, c30, c31);
        SR_VEC_ROW(4, c40, c41);
        SR_VEC_ROW(5, c50, c51);
        SR_VEC_ROW(6, c60, c61);
        SR_VEC_ROW(7, c70, c71);
        SR_VEC_ROW(8, c80, c81);
        SR_VEC_ROW(9, c90, c91);
        SR_VEC_ROW(10, ca0, ca1);
        SR_VEC_ROW(11, cb0, cb1);
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    SR_Z_STORE(0, c00, c01);
    SR_Z_STORE(1, c10, c11);
    SR_Z_STORE(2, c20, c21);
    SR_Z_STORE(3, c30, c31);
    SR_Z_STORE(4, c40, c41);
    SR_Z_STORE(5, c50, c51);
    SR_Z_STORE(6, c60, c61);
    SR_Z_STORE(7, c70, c71);
    SR_Z_STORE(8, c80, c81);
    SR_Z_STORE(9, c90, c91);
    SR_Z_STORE(10, ca0, ca1);
    SR_Z_STORE(11, cb0, cb1);
}
#endif

#if defined(SR_NEON)
// 24 q-register accumulators + 4 B vectors + 2 A vectors use 30 of the 32 NEON registers.
static void kernel_neon(long kc, const float *a, const float *b, float *c, long ldc, float alpha,
                        float beta, long nr) {
    (void)nr;
    float32x4_t acc[G_MR][4];
    for (int i = 0; i < G_MR; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_f32(0.0f);
    for (long k = 0; k < kc; k++, a += G_MR, b += G_NR) {
        float32x4_t a03 = vld1q_f32(a);
        float32x2_t a45 = vld1_f32(a + 4);
        for (int j = 0; j < 4; j++) {
            float32x4_t bj = vld1q_f32(b + 4 * j);
            acc[0][j] = vfmaq_laneq_f32(acc[0][j], bj, a03, 0);
            acc[1][j] = vfmaq_laneq_f32(acc[1][j], bj, a03, 1);
            acc[2][j] = vfmaq_laneq_f32(acc[2][j], bj, a03, 2);
            acc[3][j] = vfmaq_laneq_f32(acc[3][j], bj, a03, 3);
            acc[4][j] = vfmaq_lane_f32(acc[4][j], bj, a45, 0);
            acc[5][j] = vfmaq_lane_f32(acc[5][j], bj, a45, 1);
        }
    }
    for (int i = 0; i < G_MR; i++, c += ldc) {
        for (int j = 0; j < 4; j++) {
            float32x4_t r = vmulq_n_f32(acc[i][j], alpha);
            if (beta != 0.0f) r = vfmaq_n_f32(r, vld1q_f32(c + 4 * j), beta);
            vst1q_f32(c + 4 * j, r);
        }
    }
}
#endif

static sr_gemm_path select_path(void) {
    sr_gemm_path p = {SR_ISA_GENERIC, G_MR, G_NR, 256, 144, 4096, 0, kernel_generic};
#if defined(SR_X86)
    int isa = sr_isa_level();
    if (isa >= SR_ISA_AVX512) {
        sr_gemm_path z = {SR_ISA_AVX512, 12, 32, SR_Z_KC, SR_Z_MC, SR_Z_NC, 1, kernel_avx512_12x32};
        return z;
    }
    if (isa >= SR_ISA_AVX2) p.isa = SR_ISA_AVX2, p.kern = kernel_avx2;
#elif defined(SR_NEON)
    p.kern = kernel_neon;
#endif
    return p;
}

// ---------------------------------------------------------------------------------------
// Driver.

// C (mc x nc) = alpha * packedA * packedB + beta * C; edge tiles go through a local tile.
static void macro_kernel(const sr_gemm_path *path, long mc, long nc, long kc, const float *ap,
                         const float *bp, float *c, long ldc, float alpha, float beta) {
    const long MR = path->mr, NR = path->nr;
    sr_kernel_fn kern = path->kern;
    for (long jr = 0; jr < nc; jr += NR) {
        long nr = min_l(NR, nc - jr);
        for (long ir = 0; ir < mc; ir += MR) {
            long mr = min_l(MR, mc - ir);
            const float *a = ap + ir * kc, *b = bp + jr * kc;
            float *cij = c + ir * ldc + jr;
            if (mr == MR && (nr == NR || path->masked_n)) {
                kern(kc, a, b, cij, ldc, alpha, beta, nr);
            } else {
                float tile[MR_MAX * NR_MAX];
                kern(kc, a, b, tile, NR, 1.0f, 0.0f, NR);
                store_tile(mr, nr, tile, NR, cij, ldc, alpha, beta);
            }
        }
    }
}

// C = beta * C, with beta == 0 overwriting NaNs.
static void scale_c(long M, long N, float beta, float *C, long ldc) {
    if (beta == 1.0f) return;
    for (long i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            for (long j = 0; j < N; j++) c[j] = 0.0f;
        else
            for (long j = 0; j < N; j++) c[j] *= beta;
    }
}

// ---------------------------------------------------------------------------------------
// Small M (e.g. scoring one user against every item): packing all of B for at most four
// rows of A would cost as much as the product itself, and most of a 12-row tile would be
// wasted, so B is read in place instead.

enum { SMALL_M = 4 };

#if defined(SR_X86)
#define SR_Z_INLINE SR_AVX512 static inline __attribute__((always_inline))

// Sums of 4 vectors: lane r of the result is the sum of v[r]'s 16 lanes.
SR_Z_INLINE __m128 hsum4_avx512(const __m512 *v) {
    __m256 h[4];
    for (int r = 0; r < 4; r++)
        h[r] = _mm256_add_ps(_mm512_castps512_ps256(v[r]),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[r]), 1)));
    // Lane r (and r + 4) of t holds a partial sum of h[r].
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

// op(B) = B^T, so C[i][j] = dot(a row i, B row j): JB rows of B at a time against all MM
// rows of a (rows contiguous, lda apart), 16 k per step, masked loads for the K tail.
SR_Z_INLINE void small_dots(const int MM, const int JB, long N, long K, float alpha,
                            const float *a, long lda, const float *B, long ldb, float beta,
                            float *C, long ldc) {
    for (long j = 0; j < N; j += JB) {
        long jn = min_l(JB, N - j);
        const float *b[8];
        for (int q = 0; q < JB; q++) b[q] = B + (j + (q < jn ? q : 0)) * ldb;
        __m512 acc[4][8];
        for (int i = 0; i < MM; i++)
            for (int q = 0; q < JB; q++) acc[i][q] = _mm512_setzero_ps();
        for (long k = 0; k < K; k += 16) {
            __mmask16 m = K - k >= 16 ? 0xFFFF : (__mmask16)((1u << (K - k)) - 1);
            __m512 bv[8];
            for (int q = 0; q < JB; q++) bv[q] = _mm512_maskz_loadu_ps(m, b[q] + k);
            for (int i = 0; i < MM; i++) {
                __m512 av = _mm512_maskz_loadu_ps(m, a + i * lda + k);
                for (int q = 0; q < JB; q++) acc[i][q] = _mm512_fmadd_ps(av, bv[q], acc[i][q]);
            }
        }
        for (int i = 0; i < MM; i++) {
            float *c = C + i * ldc + j;
            for (int q = 0; q < JB; q += 4) {
                float s[4];
                _mm_storeu_ps(s, _mm_mul_ps(hsum4_avx512(&acc[i][q]), _mm_set1_ps(alpha)));
                for (long t = q; t < q + 4 && t < jn; t++)
                    c[t] = beta == 0.0f ? s[t - q] : s[t - q] + beta * c[t];
            }
        }
    }
}

// op(B) = B, so row i of C = sum over k of a[i][k] * B row k: NQ x 16 columns of C at a
// time stay in registers for all MM rows while k runs; op(A)[i][k] = a[i * rsa + k * csa].
SR_Z_INLINE void small_axpys(const int MM, const int NQ, long N, long K, float alpha,
                             const float *a, long rsa, long csa, const float *B, long ldb,
                             float beta, float *C, long ldc) {
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (long j = 0; j < N; j += 16 * NQ) {
        __mmask16 m[8];
        for (int q = 0; q < NQ; q++) {
            long left = N - j - 16 * q;
            m[q] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        }
        __m512 acc[4][8];
        for (int i = 0; i < MM; i++)
            for (int q = 0; q < NQ; q++) acc[i][q] = _mm512_setzero_ps();
        const float *b = B + j;
        for (long k = 0; k < K; k++, b += ldb) {
            __m512 bv[8];
            for (int q = 0; q < NQ; q++) bv[q] = _mm512_maskz_loadu_ps(m[q], b + 16 * q);
            for (int i = 0; i < MM; i++) {
                __m512 av = _mm512_set1_ps(a[i * rsa + k * csa]);
                for (int q = 0; q < NQ; q++) acc[i][q] = _mm512_fmadd_ps(av, bv[q], acc[i][q]);
            }
        }
        for (int i = 0; i < MM; i++) {
            float *c = C + i * ldc + j;
            for (int q = 0; q < NQ; q++) {
                __m512 r = _mm512_mul_ps(va, acc[i][q]);
                if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m[q], c + 16 * q), r);
                _mm512_mask_storeu_ps(c + 16 * q, m[q], r);
            }
        }
    }
}

// op(B) = B on AVX2 (weight gradients of a one-output layer, dW = g^T X): each 16-column block
// of C stays in registers while k runs, in the KC slices, FMA order and store arithmetic
// (a multiply, then an add, no FMA) of the packed path's edge tiles, so the result has the
// same bits while B is read once, in place. op(A)[i][k] = a[i * rsa + k * csa].
SR_AVX2 static void small_axpys_avx2(long M, long N, long K, long kc_blk, float alpha,
                                     const float *a, long rsa, long csa, const float *B,
                                     long ldb, float beta, float *C, long ldc) {
    static const int lane_index[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const __m256i lanes = _mm256_loadu_si256((const __m256i *)lane_index);
    const __m256 va = _mm256_set1_ps(alpha);
    for (long j = 0; j < N; j += 16) {
        long nr = min_l(16, N - j);
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nr), lanes);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nr - 8), lanes);
        for (long pc = 0; pc < K; pc += kc_blk) {
            long kc = min_l(kc_blk, K - pc);
            // Later K slices accumulate onto the first one's result.
            float beta_k = pc == 0 ? beta : 1.0f;
            __m256 acc[SMALL_M][2];
            for (long i = 0; i < M; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            const float *b = B + pc * ldb + j;
            for (long k = pc; k < pc + kc; k++, b += ldb) {
                __m256 b0, b1;
                if (nr == 16) {
                    b0 = _mm256_loadu_ps(b);
                    b1 = _mm256_loadu_ps(b + 8);
                } else {
                    b0 = _mm256_maskload_ps(b, m0);
                    b1 = _mm256_maskload_ps(b + 8, m1);
                }
                for (long i = 0; i < M; i++) {
                    __m256 av = _mm256_set1_ps(a[i * rsa + k * csa]);
                    acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
                    acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
                }
            }
            const __m256 vb = _mm256_set1_ps(beta_k);
            for (long i = 0; i < M; i++) {
                float *ci = C + i * ldc + j;
                __m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);
                if (beta_k != 0.0f) {
                    r0 = _mm256_add_ps(r0, _mm256_mul_ps(vb, _mm256_maskload_ps(ci, m0)));
                    r1 = _mm256_add_ps(r1, _mm256_mul_ps(vb, _mm256_maskload_ps(ci + 8, m1)));
                }
                _mm256_maskstore_ps(ci, m0, r0);
                _mm256_maskstore_ps(ci + 8, m1, r1);
            }
        }
    }
}

SR_AVX512 static void small_m_avx512(int transA, int transB, long M, long N, long K,
                                     float alpha, const float *A, long lda, const float *B,
                                     long ldb, float beta, float *C, long ldc) {
    if (transB) {
        // Needs rows of op(A) contiguous in k: copy a transposed A (M * K floats).
        if (transA) {
            float *t = workspace_get((size_t)(M * K));
            for (long k = 0; k < K; k++)
                for (long i = 0; i < M; i++) t[i * K + k] = A[k * lda + i];
            A = t;
            lda = K;
        }
        switch (M) {
        case 1: small_dots(1, 8, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        case 2: small_dots(2, 8, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        case 3: small_dots(3, 4, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        default: small_dots(4, 4, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
        }
    } else {
        long rsa = transA ? 1 : lda, csa = transA ? lda : 1;
        switch (M) {
        case 1: small_axpys(1, 8, N, K, alpha, A, rsa, csa, B, ldb, beta, C, ldc); break;
        case 2: small_axpys(2, 8, N, K, alpha, A, rsa, csa, B, ldb, beta, C, ldc); break;
        case 3: small_axpys(3, 4, N, K, alpha, A, rsa, csa, B, ldb, beta, C, ldc); break;
        default: small_axpys(4, 4, N, K, alpha, A, rsa, csa, B, ldb, beta, C, ldc); break;
        }
    }
}
#endif

void sr_sgemm(int transA, int transB, long M, long N, long K, float alpha, const float *A,
              long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    sr_gemm_path path = select_path();
#if defined(SR_X86)
    if (M <= SMALL_M && path.isa >= SR_ISA_AVX512) {
        small_m_avx512(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#endif
    long rsa = transA ? 1 : lda, csa = transA ? lda : 1;
    long rsb = transB ? 1 : ldb, csb = transB ? ldb : 1;

    long kc_blk = balanced_block(K, path.kc, 1);
#if defined(SR_X86)
    if (M <= SMALL_M && !transB && path.isa == SR_ISA_AVX2 && path.mr > M) {
        small_axpys_avx2(M, N, K, kc_blk, alpha, A, rsa, csa, B, ldb, beta, C, ldc);
        return;
    }
#endif
    long mc_blk = balanced_block(M, path.mc, path.mr);
    long nc_blk = balanced_block(N, path.nc, path.nr);
    // The packed A block is rounded to whole cache lines so packed B stays 64-byte aligned.
    size_t a_size = (size_t)(mc_blk * kc_blk + 15) / 16 * 16;
    float *ap = workspace_get(a_size + (size_t)(nc_blk * kc_blk));
    float *bp = ap + a_size;

    for (long jc = 0; jc < N; jc += nc_blk) {
        long nc = min_l(nc_blk, N - jc);
        for (long pc = 0; pc < K; pc += kc_blk) {
            long kc = min_l(kc_blk, K - pc);
            // Later K slices accumulate onto the first one's result.
            float beta_k = pc == 0 ? beta : 1.0f;
            pack_b(&path, kc, nc, B + pc * rsb + jc * csb, rsb, csb, bp);
            for (long ic = 0; ic < M; ic += mc_blk) {
                long mc = min_l(mc_blk, M - ic);
                pack_a(&path, mc, kc, A + ic * rsa + pc * csa, rsa, csa, ap);
                macro_kernel(&path, mc, nc, kc, ap, bp, C + ic * ldc + jc, ldc, alpha, beta_k);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// C = A·B for small row-major operands read in place: no packing, so for the attention's
// products (a block of 32 query rows against up to a few hundred keys, k = the head size) no
// time goes to copying operands that are used only a few times each.

static void direct_generic(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c,
                           long ldc) {
    for (long i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        for (long j = 0; j < n; j++) ci[j] = 0;
        for (long p = 0; p < k; p++) {
            const float x = a[i * lda + p], *bp = b + p * ldb;
            for (long j = 0; j < n; j++) ci[j] += x * bp[j];
        }
    }
}

#if defined(SR_X86)
// Rows of A four at a time against two 16-wide column chunks (masked at the edge).
SR_AVX512 static void direct_avx512(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                                    float *c, long ldc) {
    for (long j = 0; j < n; j += 32) {
        __mmask16 m0 = sr_tail_mask16(n - j), m1 = n - j > 16 ? sr_tail_mask16(n - j - 16) : 0;
        long i = 0;
        for (; i + 4 <= m; i += 4) {
            const float *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
                   c31 = c00;
            for (long p = 0; p < k; p++) {
                const float *bp = b + p * ldb + j;
                __m512 w0 = _mm512_maskz_loadu_ps(m0, bp), w1 = _mm512_maskz_loadu_ps(m1, bp + 16);
                __m512 x0 = _mm512_set1_ps(a0[p]), x1 = _mm512_set1_ps(a1[p]);
                __m512 x2 = _mm512_set1_ps(a2[p]), x3 = _mm512_set1_ps(a3[p]);
                c00 = _mm512_fmadd_ps(x0, w0, c00);
                c01 = _mm512_fmadd_ps(x0, w1, c01);
                c10 = _mm512_fmadd_ps(x1, w0, c10);
                c11 = _mm512_fmadd_ps(x1, w1, c11);
                c20 = _mm512_fmadd_ps(x2, w0, c20);
                c21 = _mm512_fmadd_ps(x2, w1, c21);
                c30 = _mm512_fmadd_ps(x3, w0, c30);
                c31 = _mm512_fmadd_ps(x3, w1, c31);
            }
            float *ci = c + i * ldc + j;
            _mm512_mask_storeu_ps(ci, m0, c00);
            _mm512_mask_storeu_ps(ci + 16, m1, c01);
            _mm512_mask_storeu_ps(ci + ldc, m0, c10);
            _mm512_mask_storeu_ps(ci + ldc + 16, m1, c11);
            _mm512_mask_storeu_ps(ci + 2 * ldc, m0, c20);
            _mm512_mask_storeu_ps(ci + 2 * ldc + 16, m1, c21);
            _mm512_mask_storeu_ps(ci + 3 * ldc, m0, c30);
            _mm512_mask_storeu_ps(ci + 3 * ldc + 16, m1, c31);
        }
        for (; i < m; i++) {
            __m512 c0 = _mm512_setzero_ps(), c1 = c0;
            for (long p = 0; p < k; p++) {
                const float *bp = b + p * ldb + j;
                __m512 x = _mm512_set1_ps(a[i * lda + p]);
                c0 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m0, bp), c0);
                c1 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m1, bp + 16), c1);
            }
            _mm512_mask_storeu_ps(c + i * ldc + j, m0, c0);
            _mm512_mask_storeu_ps(c + i * ldc + j + 16, m1, c1);
        }
    }
}
#endif

void sr_sgemm_direct(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c,
                     long ldc) {
    if (m <= 0 || n <= 0) return;
#if defined(SR_X86)
    if (select_path().isa >= SR_ISA_AVX512) {
        direct_avx512(m, n, k, a, lda, b, ldb, c, ldc);
        return;
    }
#endif
    // Elsewhere the packed kernels win already (AVX2: 6 rows × 16 columns per step).
    if (m * n * k < 4096) {
        direct_generic(m, n, k, a, lda, b, ldb, c, ldc);
        return;
    }
    sr_sgemm(0, 0, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

// dst[c * ld_dst + r] = src[r * ld_src + c] * scale for r < rows, c < cols.
static void transpose_scaled_generic(const float *src, long rows, long cols, long ld_src, float scale, float *dst,
                                     long ld_dst) {
    for (long r = 0; r < rows; r++)
        for (long c = 0; c < cols; c++) dst[c * ld_dst + r] = src[r * ld_src + c] * scale;
}

#if defined(SR_X86)
// Sixteen rows at a time: one gather per column of the block, one contiguous store.
SR_AVX512 static void transpose_scaled_avx512(const float *src, long rows, long cols, long ld_src, float scale,
                                              float *dst, long ld_dst) {
    const __m512i step = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)ld_src));
    const __m512 s = _mm512_set1_ps(scale);
    for (long r = 0; r < rows; r += 16) {
        __mmask16 m = sr_tail_mask16(rows - r);
        const float *block = src + r * ld_src;
        for (long c = 0; c < cols; c++) {
            __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, step, block + c, 4);
            _mm512_mask_storeu_ps(dst + c * ld_dst + r, m, _mm512_mul_ps(v, s));
        }
    }
}
#endif

void sr_transpose_scaled(const float *src, long rows, long cols, long ld_src, float scale, float *dst, long ld_dst) {
#if defined(SR_X86)
    if (select_path().isa >= SR_ISA_AVX512 && rows * ld_src < (1L << 31)) {
        transpose_scaled_avx512(src, rows, cols, ld_src, scale, dst, ld_dst);
        return;
    }
#endif
    transpose_scaled_generic(src, rows, cols, ld_src, scale, dst, ld_dst);
}
