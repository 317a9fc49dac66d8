// Single-threaded SGEMM in the Goto/BLIS style: op(A) and op(B) are copied ("packed") into
// contiguous, cache-sized panels so the register-blocked micro-kernel only ever streams
// unit-stride memory, whatever the transposes and leading dimensions are.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sr_internal.h"

// MR x NR is the register tile (6x16 = 12 ymm accumulators on AVX2, 24 q registers on NEON).
// A KC x NR sliver of packed B stays in L1, the MC x KC packed A block in L2, and the
// KC x NC packed B panel in L2/L3.
enum { MR = 6, NR = 16, KC = 256, MC = 144, NC = 4096 };

// Computes the full MR x NR tile c = alpha * a*b + beta * c from packed panels
// (a: kc steps of MR floats, b: kc steps of NR floats). beta == 0 never reads c.
typedef void (*sr_kernel_fn)(long kc, const float *a, const float *b, float *c, long ldc,
                             float alpha, float beta);

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
// One full MR-row panel of a non-transposed A (rows contiguous in k). Scalar copying is
// store-bound at ~2 floats/cycle, which costs ~15% when N is small; transposing 6x8 blocks
// in registers and storing 4+2 floats per k is about 3x faster.
SR_AVX2 static void pack_a_panel_rows_avx2(long kc, const float *src, long rs, float *dst) {
    long k = 0;
    for (; k + 8 <= kc; k += 8, dst += 8 * MR) {
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
            _mm_storeu_ps(dst + j * MR, _mm256_castps256_ps128(u[j]));
            _mm_storeu_ps(dst + (j + 4) * MR, _mm256_extractf128_ps(u[j], 1));
        }
        // Rows 4-5: v45[h] holds (r4, r5) for the two consecutive k starting at k0.
        for (int h = 0; h < 4; h++) {
            int k0 = (h & 1) * 2 + (h >> 1) * 4;
            _mm_storel_pi((__m64 *)(dst + k0 * MR + 4), v45[h]);
            _mm_storeh_pi((__m64 *)(dst + (k0 + 1) * MR + 4), v45[h]);
        }
    }
    for (; k < kc; k++, dst += MR)
        for (int i = 0; i < MR; i++) dst[i] = src[i * rs + k];
}
#endif

// Packs an mc x kc block of op(A) into MR-row panels: panel p holds, for each k, the MR
// values op(A)[p*MR .. p*MR+MR-1][k]. Rows past mc are zero so the kernel can run full tiles.
static void pack_a(long mc, long kc, const float *a, long rs, long cs, float *dst, int avx2) {
    (void)avx2;
    long full = mc / MR * MR;
    if (cs == 1) {
        // Rows are contiguous in k: stream MR rows side by side.
        for (long i0 = 0; i0 < full; i0 += MR) {
            const float *src = a + i0 * rs;
            float *d = dst + i0 * kc;
#if defined(SR_X86)
            if (avx2) {
                pack_a_panel_rows_avx2(kc, src, rs, d);
                continue;
            }
#endif
            for (long k = 0; k < kc; k++, d += MR)
                for (long i = 0; i < MR; i++) d[i] = src[i * rs + k];
        }
    } else {
        // op(A) = A^T (so rs == 1): row k of A holds op(A)[.][k] contiguously. Reading each
        // row once, left to right, avoids re-fetching lines per panel (rows are often 4 KB
        // apart and would thrash one L1 set); memcpy of MR floats becomes 16+8-byte moves.
        for (long k = 0; k < kc; k++) {
            const float *src = a + k * cs;
            for (long i0 = 0; i0 < full; i0 += MR)
                memcpy(dst + i0 * kc + k * MR, src + i0, MR * sizeof(float));
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
static void pack_b(long kc, long nc, const float *b, long rs, long cs, float *dst) {
    for (long j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
        long nr = min_l(NR, nc - j0);
        const float *src = b + j0 * cs;
        if (nr == NR && cs == 1) {
            for (long k = 0; k < kc; k++)
                for (long j = 0; j < NR; j++) dst[k * NR + j] = src[k * rs + j];
        } else if (nr == NR) {
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

// c[0..mr)[0..nr) = alpha * tile + beta * c, where tile is an MR x NR row-major array.
static void store_tile(long mr, long nr, const float *tile, float *c, long ldc, float alpha,
                       float beta) {
    for (long i = 0; i < mr; i++) {
        const float *t = tile + i * NR;
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            for (long j = 0; j < nr; j++) ci[j] = alpha * t[j];
        else
            for (long j = 0; j < nr; j++) ci[j] = alpha * t[j] + beta * ci[j];
    }
}

// ---------------------------------------------------------------------------------------
// Micro-kernels.

// Portable kernel: the j loop is written so compilers vectorise it with SSE2 / NEON.
static void kernel_generic(long kc, const float *a, const float *b, float *c, long ldc,
                           float alpha, float beta) {
    float acc[MR * NR] = {0};
    for (long k = 0; k < kc; k++, a += MR, b += NR)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i * NR + j] += a[i] * b[j];
    store_tile(MR, NR, acc, c, ldc, alpha, beta);
}

#if defined(SR_X86)
// One k step for row i: (c0, c1) += a[i] * (b0, b1). Plain vector arithmetic rather than
// intrinsic calls: with the default FP contraction clang emits broadcast + FMA, and -O0
// (debug) builds skip the argument copies of intrinsic wrappers, which make them ~15x slower.
#define SR_AVX2_ROW(i, c0, c1)   \
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

// 12 ymm accumulators + 2 B vectors + 1 broadcast fit in the 16 ymm registers; per k step
// 12 FMAs against 8 loads keeps both FMA ports busy. Written out without inner loops so
// that unoptimised (debug) builds stay usable too.
SR_AVX2 static void kernel_avx2(long kc, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    // Pull the C tile towards L1 while the k loop runs.
    for (int i = 0; i < MR; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
    for (long k = 0; k < kc; k++, a += MR, b += NR) {
        __m256 b0 = *(const __m256 *)b, b1 = *(const __m256 *)(b + 8);
        SR_AVX2_ROW(0, c00, c01);
        SR_AVX2_ROW(1, c10, c11);
        SR_AVX2_ROW(2, c20, c21);
        SR_AVX2_ROW(3, c30, c31);
        SR_AVX2_ROW(4, c40, c41);
        SR_AVX2_ROW(5, c50, c51);
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    SR_AVX2_STORE(0, c00, c01);
    SR_AVX2_STORE(1, c10, c11);
    SR_AVX2_STORE(2, c20, c21);
    SR_AVX2_STORE(3, c30, c31);
    SR_AVX2_STORE(4, c40, c41);
    SR_AVX2_STORE(5, c50, c51);
}
#endif

#if defined(SR_NEON)
// 24 q-register accumulators + 4 B vectors + 2 A vectors use 30 of the 32 NEON registers.
static void kernel_neon(long kc, const float *a, const float *b, float *c, long ldc, float alpha,
                        float beta) {
    float32x4_t acc[MR][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_f32(0.0f);
    for (long k = 0; k < kc; k++, a += MR, b += NR) {
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
    for (int i = 0; i < MR; i++, c += ldc) {
        for (int j = 0; j < 4; j++) {
            float32x4_t r = vmulq_n_f32(acc[i][j], alpha);
            if (beta != 0.0f) r = vfmaq_n_f32(r, vld1q_f32(c + 4 * j), beta);
            vst1q_f32(c + 4 * j, r);
        }
    }
}
#endif

static sr_kernel_fn select_kernel(int avx2) {
    (void)avx2;
#if defined(SR_X86)
    if (avx2) return kernel_avx2;
#elif defined(SR_NEON)
    return kernel_neon;
#endif
    return kernel_generic;
}

// ---------------------------------------------------------------------------------------
// Driver.

// C (mc x nc) = alpha * packedA * packedB + beta * C; edge tiles go through a local tile.
static void macro_kernel(sr_kernel_fn kern, long mc, long nc, long kc, const float *ap,
                         const float *bp, float *c, long ldc, float alpha, float beta) {
    for (long jr = 0; jr < nc; jr += NR) {
        long nr = min_l(NR, nc - jr);
        for (long ir = 0; ir < mc; ir += MR) {
            long mr = min_l(MR, mc - ir);
            const float *a = ap + ir * kc, *b = bp + jr * kc;
            float *cij = c + ir * ldc + jr;
            if (mr == MR && nr == NR) {
                kern(kc, a, b, cij, ldc, alpha, beta);
            } else {
                float tile[MR * NR];
                kern(kc, a, b, tile, NR, 1.0f, 0.0f);
                store_tile(mr, nr, tile, cij, ldc, alpha, beta);
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

void sr_sgemm(int transA, int transB, long M, long N, long K, float alpha, const float *A,
              long lda, const float *B, long ldb, float beta, float *C, long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    long rsa = transA ? 1 : lda, csa = transA ? lda : 1;
    long rsb = transB ? 1 : ldb, csb = transB ? ldb : 1;

    long kc_blk = balanced_block(K, KC, 1);
    long mc_blk = balanced_block(M, MC, MR);
    long nc_blk = balanced_block(N, NC, NR);
    // The packed A block is rounded to whole cache lines so packed B stays 64-byte aligned.
    size_t a_size = (size_t)(mc_blk * kc_blk + 15) / 16 * 16;
    float *ap = workspace_get(a_size + (size_t)(nc_blk * kc_blk));
    float *bp = ap + a_size;
    int avx2 = sr_cpu_has_avx2_fma();
    sr_kernel_fn kern = select_kernel(avx2);

    for (long jc = 0; jc < N; jc += nc_blk) {
        long nc = min_l(nc_blk, N - jc);
        for (long pc = 0; pc < K; pc += kc_blk) {
            long kc = min_l(kc_blk, K - pc);
            // Later K slices accumulate onto the first one's result.
            float beta_k = pc == 0 ? beta : 1.0f;
            pack_b(kc, nc, B + pc * rsb + jc * csb, rsb, csb, bp);
            for (long ic = 0; ic < M; ic += mc_blk) {
                long mc = min_l(mc_blk, M - ic);
                pack_a(mc, kc, A + ic * rsa + pc * csa, rsa, csa, ap, avx2);
                macro_kernel(kern, mc, nc, kc, ap, bp, C + ic * ldc + jc, ldc, alpha, beta_k);
            }
        }
    }
}
