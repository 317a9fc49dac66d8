// Float vector math. The portable path is plain C written for auto-vectorisation (SSE2 on
// x86, NEON on arm64); the AVX2+FMA path uses intrinsics and is picked at run time.
// Both compute exp the same way (Cephes expf): n = round(x / ln 2), r = x - n ln 2 in two
// parts, exp(r) by a degree-7 polynomial, then scaling by 2^n.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sr_internal.h"

// Inputs are clamped to [EXP_LO, EXP_HI]: exp(-104) rounds to 0 and exp(88.8) overflows to
// +inf, so the clamp does not change results but keeps n within [-150, 128].
#define EXP_LO (-104.0f)
#define EXP_HI 88.8f
// For |x| <= EXP_NORMAL, exp(x) and the intermediate p * 2^n are normal floats.
#define EXP_NORMAL 87.0f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f  // few mantissa bits, so n * LN2_HI is exact
#define LN2_LO (-2.12194440e-4f)
// Adding 1.5 * 2^23 rounds to an integer and leaves it in the low mantissa bits.
#define ROUND_MAGIC 12582912.0f
#define ROUND_MAGIC_BITS 0x4B400000u
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f
// tanh(x) = x + x^3 * T(x^2) for |x| < TANH_SMALL (Cephes tanhf); 1 - 2/(exp(2|x|)+1) above,
// where that form no longer loses digits to cancellation.
#define TANH_SMALL 0.625f
#define T0 (-5.70498872745e-3f)
#define T1 2.06390887954e-2f
#define T2 (-5.37397155531e-2f)
#define T3 1.33314422036e-1f
#define T4 (-3.33332819422e-1f)

// GELU: Phi(x) = erfc(-x / sqrt 2) / 2, with erfc(z) = t * exp(-z^2 + E(t)), t = 1 / (1 + z/2)
// for z >= 0 (Numerical Recipes' erfcc, fractional error < 1.2e-7 everywhere), and
// erfc(-z) = 2 - erfc(z). Inputs are clamped to [-GELU_LIM, GELU_LIM] where Phi is 0 or 1 in
// float anyway, so that infinities give the limits instead of inf * 0.
#define GELU_LIM 20.0f
// GELU's forward pass: erf(u) = u·P(u²)/Q(u²) for |u| <= ERF_LIM (a rational fit to erf(u)/u
// on [0, 4] made for SwiftRec by iterated weighted least squares; GELU's error stays under
// 2.1e-7·max(1, |x|) in float), and Phi = 0 below -ERF_LIM·sqrt(2), where it is < 1e-8.
#define ERF_LIM 4.0f
#define EP0 1.1283791681570579f
#define EP1 0.18543668862251464f
#define EP2 0.05416736117792873f
#define EP3 0.003835378100795641f
#define EP4 0.0003718946583009256f
#define EP5 4.4750559111562475e-06f
#define EP6 (-1.2139868359277881e-08f)
#define EQ1 0.4976723626460208f
#define EQ2 0.11389504904557268f
#define EQ3 0.015407196907487288f
#define EQ4 0.0012942429494210094f
#define EQ5 6.1116608790231e-05f
#define SQRT1_2 0.707106781186547524f
#define INV_SQRT_2PI 0.398942280401432678f
#define E0 (-1.26551223f)
#define E1 1.00002368f
#define E2 0.37409196f
#define E3 0.09678418f
#define E4 (-0.18628806f)
#define E5 0.27886807f
#define E6 (-1.13520398f)
#define E7 1.48851587f
#define E8 (-0.82215223f)
#define E9 0.17087277f

// ---------------------------------------------------------------------------------------
// Portable path.

static inline uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float exp_scalar(float x) {
    // Written as compares (false for NaN) so NaN passes through the clamp.
    x = x > EXP_HI ? EXP_HI : x;
    x = x < EXP_LO ? EXP_LO : x;
    float v = x * LOG2E + ROUND_MAGIC;
    float n = v - ROUND_MAGIC;
    float r = x - n * LN2_HI;
    r = r - n * LN2_LO;
    float p = P0;
    p = p * r + P1;
    p = p * r + P2;
    p = p * r + P3;
    p = p * r + P4;
    p = p * r + P5;
    p = p * (r * r) + r + 1.0f;
    // 2^n as two factors so both stay normal for n in [-150, 128] (subnormal results, inf).
    int32_t ni = (int32_t)(f2u(v) - ROUND_MAGIC_BITS);
    int32_t n1 = ni / 2, n2 = ni - n1;
    return p * u2f((uint32_t)(n1 + 127) << 23) * u2f((uint32_t)(n2 + 127) << 23);
}

// Both branches work on |x|; the sign is applied last so tanh(-0) = -0.
static inline float tanh_scalar(float x) {
    float ax = fabsf(x), t;
    if (ax < TANH_SMALL) {
        float z = ax * ax;
        float p = T0;
        p = p * z + T1;
        p = p * z + T2;
        p = p * z + T3;
        p = p * z + T4;
        t = p * z * ax + ax;
    } else {
        t = 1.0f - 2.0f / (exp_scalar(2.0f * ax) + 1.0f);
    }
    return copysignf(t, x);
}

static inline float sigmoid_scalar(float x) { return 1.0f / (1.0f + exp_scalar(-x)); }

// Sets *phi_out = phi(x) (when non-NULL) and returns Phi(x), for x in [-GELU_LIM, GELU_LIM].
static inline float normal_cdf_scalar(float x, float *phi_out) {
    float z = fabsf(x) * SQRT1_2;
    float t = 1.0f / (1.0f + 0.5f * z);
    float e = E9;
    e = e * t + E8;
    e = e * t + E7;
    e = e * t + E6;
    e = e * t + E5;
    e = e * t + E4;
    e = e * t + E3;
    e = e * t + E2;
    e = e * t + E1;
    e = e * t + E0;
    float ez = exp_scalar(-z * z);
    float half_erfc = 0.5f * t * ez * exp_scalar(e);
    if (phi_out) *phi_out = INV_SQRT_2PI * ez;
    return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

// Clamping with compares keeps NaN (false compares leave x as is).
static inline float gelu_clamp(float x, float lo) {
    x = x < lo ? lo : x;
    return x > GELU_LIM ? GELU_LIM : x;
}

static inline float gelu_scalar(float x) {
    // Only the low side is clamped so +inf stays +inf; -inf gives 0. Compares leave NaN as is.
    float xl = x < -GELU_LIM ? -GELU_LIM : x;
    float u = xl * SQRT1_2;
    if (u < -ERF_LIM) return 0.0f;
    float uc = u > ERF_LIM ? ERF_LIM : u, z = uc * uc;
    float p = EP6;
    p = p * z + EP5;
    p = p * z + EP4;
    p = p * z + EP3;
    p = p * z + EP2;
    p = p * z + EP1;
    p = p * z + EP0;
    float q = EQ5;
    q = q * z + EQ4;
    q = q * z + EQ3;
    q = q * z + EQ2;
    q = q * z + EQ1;
    q = q * z + 1.0f;
    return 0.5f * xl * (1.0f + uc * p / q);
}

static inline float gelu_grad_scalar(float x) {
    float xc = gelu_clamp(x, -GELU_LIM), phi;
    float cdf = normal_cdf_scalar(xc, &phi);
    return cdf + xc * phi;
}

// Defines an elementwise map y = f(x). The in-place case gets its own single-pointer loop:
// with two pointers the vectoriser's overlap check fails for x == y and it falls back to
// scalar code (~4x slower).
#define SR_GENERIC_MAP(name, f)                                   \
    static void name(const float *x, float *y, long n) {          \
        if (x == y)                                               \
            for (long i = 0; i < n; i++) y[i] = f(y[i]);          \
        else                                                      \
            for (long i = 0; i < n; i++) y[i] = f(x[i]);          \
    }

SR_GENERIC_MAP(vexp_generic, exp_scalar)
SR_GENERIC_MAP(vtanh_generic, tanh_scalar)
SR_GENERIC_MAP(vsigmoid_generic, sigmoid_scalar)
SR_GENERIC_MAP(vgelu_generic, gelu_scalar)

static void vgelu_backward_generic(const float *x, const float *dy, float *dx, long n) {
    for (long i = 0; i < n; i++) dx[i] = dy[i] * gelu_grad_scalar(x[i]);
}

// Reductions keep 8 independent partial results so the compiler can use vector lanes
// without reassociating float math on its own.
static float vmax_generic(const float *x, long n) {
    float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                  -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    float r = m[0];
    for (int j = 1; j < 8; j++) r = m[j] > r ? m[j] : r;
    return r;
}

static float vexp_shift_sum_generic(float *x, long n, float shift) {
    float s[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            x[i + j] = exp_scalar(x[i + j] - shift);
            s[j] += x[i + j];
        }
    for (; i < n; i++) {
        x[i] = exp_scalar(x[i] - shift);
        s[0] += x[i];
    }
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static float vdot_generic(const float *a, const float *b, long n) {
    float s[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    for (; i < n; i++) s[0] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// ---------------------------------------------------------------------------------------
// AVX2 + FMA path. Tails use masked loads/stores so every element goes through the same
// vector code (no scalar remainder with different rounding).

#if defined(SR_X86)
SR_AVX2 static inline __m256i tail_mask(long remaining) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(remaining > 8 ? 8 : (int)remaining),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

SR_AVX2 static inline __m256 exp_avx2(__m256 x) {
    // min/max return their second operand when either is NaN, so NaN passes through.
    x = _mm256_min_ps(_mm256_set1_ps(EXP_HI), x);
    x = _mm256_max_ps(_mm256_set1_ps(EXP_LO), x);
    __m256 magic = _mm256_set1_ps(ROUND_MAGIC);
    __m256 v = _mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), magic);
    __m256 n = _mm256_sub_ps(v, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_sub_epi32(_mm256_castps_si256(v), _mm256_set1_epi32((int)ROUND_MAGIC_BITS));
    // Common case: every result is a normal float, so adding n to p's exponent field is exact.
    // The unordered compare sends NaN lanes to the multiply path, which keeps them NaN.
    __m256 out_of_range = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x),
                                        _mm256_set1_ps(EXP_NORMAL), _CMP_NLE_UQ);
    if (_mm256_testz_ps(out_of_range, out_of_range))
        return _mm256_castsi256_ps(
            _mm256_add_epi32(_mm256_castps_si256(p), _mm256_slli_epi32(ni, 23)));
    // Otherwise 2^n as two normal factors 2^(n/2) * 2^(n - n/2): subnormal results and inf.
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

SR_AVX2 static inline __m256 tanh_avx2(__m256 x) {
    __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 z = _mm256_mul_ps(ax, ax);
    __m256 p = _mm256_set1_ps(T0);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(T1));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(T2));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(T3));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(T4));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), ax, ax);
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = exp_avx2(_mm256_add_ps(ax, ax));
    __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    // Ordered compare is false for NaN, so NaN takes the exp branch, which propagates it.
    __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(TANH_SMALL), _CMP_LT_OQ);
    __m256 t = _mm256_blendv_ps(big, small, is_small);
    return _mm256_or_ps(t, _mm256_and_ps(sign, x));  // tanh is odd; keeps tanh(-0) = -0
}

SR_AVX2 static inline __m256 sigmoid_avx2(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = exp_avx2(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

// Defines an elementwise map y = f(x) over n floats.
#define SR_AVX2_MAP(name, f)                                                         \
    SR_AVX2 static void name(const float *x, float *y, long n) {                     \
        long i = 0;                                                                  \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i))); \
        if (i < n) {                                                                 \
            __m256i m = tail_mask(n - i);                                            \
            _mm256_maskstore_ps(y + i, m, f(_mm256_maskload_ps(x + i, m)));          \
        }                                                                            \
    }

SR_AVX2_MAP(vexp_avx2, exp_avx2)
SR_AVX2_MAP(vtanh_avx2, tanh_avx2)
SR_AVX2_MAP(vsigmoid_avx2, sigmoid_avx2)

SR_AVX2 static float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SR_AVX2 static float vmax_avx2(const float *x, long n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    }
    if (i + 8 <= n) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
        i += 8;
    }
    if (i < n) {
        __m256i mask = tail_mask(n - i);
        __m256 v = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_maskload_ps(x + i, mask),
                                    _mm256_castsi256_ps(mask));
        m1 = _mm256_max_ps(m1, v);
    }
    m0 = _mm256_max_ps(m0, m1);
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

SR_AVX2 static float vexp_shift_sum_avx2(float *x, long n, float shift) {
    __m256 vs = _mm256_set1_ps(shift), s0 = _mm256_setzero_ps(), s1 = s0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
        __m256 e1 = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vs));
        _mm256_storeu_ps(x + i, e0);
        _mm256_storeu_ps(x + i + 8, e1);
        s0 = _mm256_add_ps(s0, e0);
        s1 = _mm256_add_ps(s1, e1);
    }
    for (; i < n; i += 8) {
        __m256i mask = tail_mask(n - i);  // all lanes set when 8 or more remain
        __m256 e = exp_avx2(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), vs));
        _mm256_maskstore_ps(x + i, mask, e);
        s0 = _mm256_add_ps(s0, _mm256_and_ps(e, _mm256_castsi256_ps(mask)));
    }
    return hsum_avx2(_mm256_add_ps(s0, s1));
}

SR_AVX2 static void vscale_avx2(float *x, long n, float s) {
    __m256 vs = _mm256_set1_ps(s);
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m), vs));
    }
}

SR_AVX2 static float vdot_avx2(const float *a, const float *b, long n) {
    // Four accumulators hide the FMA latency.
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i < n; i += 8) {
        __m256i m = tail_mask(n - i);
        s0 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s0);
    }
    return hsum_avx2(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

SR_AVX2 static void vaxpy_avx2(long n, float a, const float *x, float *y) {
    __m256 va = _mm256_set1_ps(a);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 yi = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        _mm256_storeu_ps(y + i, yi);
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 yi = _mm256_fmadd_ps(va, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m));
        _mm256_maskstore_ps(y + i, m, yi);
    }
}

// GELU pieces (see normal_cdf_scalar). t = 1 / (1 + z/2) and the exponent polynomial E(t).
SR_AVX2 static inline __m256 erfc_t_avx2(__m256 z) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f), one));
}

SR_AVX2 static inline __m256 erfc_poly_avx2(__m256 t) {
    __m256 e = _mm256_set1_ps(E9);
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(E8));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(E7));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(E6));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(E5));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(E4));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(E3));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(E2));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(E1));
    return _mm256_fmadd_ps(e, t, _mm256_set1_ps(E0));
}

// x < 0 ? h : 1 - h, i.e. Phi(x) from h = erfc(|x| / sqrt 2) / 2.
SR_AVX2 static inline __m256 cdf_from_half_erfc_avx2(__m256 x, __m256 h) {
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), h), h, neg);
}

SR_AVX2 static inline __m256 gelu_avx2(__m256 x) {
    // max/min return their second operand for NaN, so NaN flows through to the result.
    __m256 xl = _mm256_max_ps(_mm256_set1_ps(-GELU_LIM), x);
    __m256 u = _mm256_mul_ps(xl, _mm256_set1_ps(SQRT1_2));
    __m256 uc = _mm256_min_ps(_mm256_set1_ps(ERF_LIM), _mm256_max_ps(_mm256_set1_ps(-ERF_LIM), u));
    __m256 z = _mm256_mul_ps(uc, uc);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(EP6), z, _mm256_set1_ps(EP5));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(EP4));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(EP3));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(EP2));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(EP1));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(EP0));
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(EQ5), z, _mm256_set1_ps(EQ4));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(EQ3));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(EQ2));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(EQ1));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.0f));
    __m256 twice_cdf = _mm256_fmadd_ps(uc, _mm256_div_ps(p, q), _mm256_set1_ps(1.0f));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), xl), twice_cdf);
    // Phi = 0 below the fit's range (the ordered compare is false for NaN, which stays).
    return _mm256_andnot_ps(_mm256_cmp_ps(u, _mm256_set1_ps(-ERF_LIM), _CMP_LT_OQ), y);
}

SR_AVX2 static inline __m256 gelu_grad_avx2(__m256 x) {
    __m256 xc = _mm256_max_ps(_mm256_set1_ps(-GELU_LIM), x);
    xc = _mm256_min_ps(_mm256_set1_ps(GELU_LIM), xc);
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), xc), _mm256_set1_ps(SQRT1_2));
    __m256 t = erfc_t_avx2(z);
    __m256 ez = exp_avx2(_mm256_mul_ps(_mm256_mul_ps(z, z), _mm256_set1_ps(-1.0f)));
    __m256 h = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), t),
                             _mm256_mul_ps(ez, exp_avx2(erfc_poly_avx2(t))));
    __m256 phi = _mm256_mul_ps(_mm256_set1_ps(INV_SQRT_2PI), ez);
    return _mm256_fmadd_ps(xc, phi, cdf_from_half_erfc_avx2(xc, h));
}

SR_AVX2_MAP(vgelu_avx2, gelu_avx2)

SR_AVX2 static void vgelu_backward_avx2(const float *x, const float *dy, float *dx, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), gelu_grad_avx2(_mm256_loadu_ps(x + i))));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 g = gelu_grad_avx2(_mm256_maskload_ps(x + i, m));
        _mm256_maskstore_ps(dx + i, m, _mm256_mul_ps(_mm256_maskload_ps(dy + i, m), g));
    }
}

// ---------------------------------------------------------------------------------------
// AVX-512 path: the same algorithms on 16 lanes, with mask registers for the tails.


SR_AVX512 static inline __m512 exp_avx512(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(EXP_HI), x);
    x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), x);
    __m512 magic = _mm512_set1_ps(ROUND_MAGIC);
    __m512 v = _mm512_fmadd_ps(x, _mm512_set1_ps(LOG2E), magic);
    __m512 n = _mm512_sub_ps(v, magic);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_set1_ps(P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    __m512i ni = _mm512_sub_epi32(_mm512_castps_si512(v), _mm512_set1_epi32((int)ROUND_MAGIC_BITS));
    // |x| > EXP_NORMAL or NaN (unordered compare) takes the two-factor scaling.
    __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF)));
    __mmask16 out_of_range = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(EXP_NORMAL), _CMP_NLE_UQ);
    if (out_of_range == 0)
        return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), _mm512_slli_epi32(ni, 23)));
    __m512i n1 = _mm512_srai_epi32(ni, 1);
    __m512i n2 = _mm512_sub_epi32(ni, n1);
    __m512i bias = _mm512_set1_epi32(127);
    __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
}

SR_AVX512 static inline __m512 erfc_t_avx512(__m512 z) {
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_fmadd_ps(z, _mm512_set1_ps(0.5f), one));
}

SR_AVX512 static inline __m512 erfc_poly_avx512(__m512 t) {
    __m512 e = _mm512_set1_ps(E9);
    e = _mm512_fmadd_ps(e, t, _mm512_set1_ps(E8));
    e = _mm512_fmadd_ps(e, t, _mm512_set1_ps(E7));
    e = _mm512_fmadd_ps(e, t, _mm512_set1_ps(E6));
    e = _mm512_fmadd_ps(e, t, _mm512_set1_ps(E5));
    e = _mm512_fmadd_ps(e, t, _mm512_set1_ps(E4));
    e = _mm512_fmadd_ps(e, t, _mm512_set1_ps(E3));
    e = _mm512_fmadd_ps(e, t, _mm512_set1_ps(E2));
    e = _mm512_fmadd_ps(e, t, _mm512_set1_ps(E1));
    return _mm512_fmadd_ps(e, t, _mm512_set1_ps(E0));
}

SR_AVX512 static inline __m512 cdf_from_half_erfc_avx512(__m512 x, __m512 h) {
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(1.0f), h), h);
}

SR_AVX512 static inline __m512 abs_avx512(__m512 x) {
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF)));
}

SR_AVX512 static inline __m512 gelu_avx512(__m512 x) {
    __m512 xl = _mm512_max_ps(_mm512_set1_ps(-GELU_LIM), x);
    __m512 u = _mm512_mul_ps(xl, _mm512_set1_ps(SQRT1_2));
    __m512 uc = _mm512_min_ps(_mm512_set1_ps(ERF_LIM), _mm512_max_ps(_mm512_set1_ps(-ERF_LIM), u));
    __m512 z = _mm512_mul_ps(uc, uc);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(EP6), z, _mm512_set1_ps(EP5));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(EP4));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(EP3));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(EP2));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(EP1));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(EP0));
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(EQ5), z, _mm512_set1_ps(EQ4));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(EQ3));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(EQ2));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(EQ1));
    q = _mm512_fmadd_ps(q, z, _mm512_set1_ps(1.0f));
    __m512 twice_cdf = _mm512_fmadd_ps(uc, _mm512_div_ps(p, q), _mm512_set1_ps(1.0f));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), xl), twice_cdf);
    // Phi = 0 below the fit's range (the ordered compare is false for NaN, which stays).
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(u, _mm512_set1_ps(-ERF_LIM), _CMP_NLT_UQ), y);
}

SR_AVX512 static inline __m512 gelu_grad_avx512(__m512 x) {
    __m512 xc = _mm512_max_ps(_mm512_set1_ps(-GELU_LIM), x);
    xc = _mm512_min_ps(_mm512_set1_ps(GELU_LIM), xc);
    __m512 z = _mm512_mul_ps(abs_avx512(xc), _mm512_set1_ps(SQRT1_2));
    __m512 t = erfc_t_avx512(z);
    __m512 ez = exp_avx512(_mm512_mul_ps(_mm512_mul_ps(z, z), _mm512_set1_ps(-1.0f)));
    __m512 h = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), t),
                             _mm512_mul_ps(ez, exp_avx512(erfc_poly_avx512(t))));
    __m512 phi = _mm512_mul_ps(_mm512_set1_ps(INV_SQRT_2PI), ez);
    return _mm512_fmadd_ps(xc, phi, cdf_from_half_erfc_avx512(xc, h));
}

// Defines an elementwise map y = f(x) over n floats; the tail goes through the same vector code.
#define SR_AVX512_MAP(name, f)                                                        \
    SR_AVX512 static void name(const float *x, float *y, long n) {                    \
        for (long i = 0; i < n; i += 16) {                                            \
            __mmask16 m = sr_tail_mask16(n - i);                                      \
            _mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));      \
        }                                                                             \
    }

SR_AVX512_MAP(vgelu_avx512, gelu_avx512)

SR_AVX512 static void vgelu_backward_avx512(const float *x, const float *dy, float *dx, long n) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = sr_tail_mask16(n - i);
        __m512 g = gelu_grad_avx512(_mm512_maskz_loadu_ps(m, x + i));
        _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), g));
    }
}

SR_AVX512 static float vmax_avx512(const float *x, long n) {
    __m512 ninf = _mm512_set1_ps(-INFINITY), m0 = ninf, m1 = ninf;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i < n; i += 16) m0 = _mm512_max_ps(m0, _mm512_mask_loadu_ps(ninf, sr_tail_mask16(n - i), x + i));
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

SR_AVX512 static float vexp_shift_sum_avx512(float *x, long n, float shift) {
    __m512 vs = _mm512_set1_ps(shift), s0 = _mm512_setzero_ps(), s1 = s0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 e0 = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vs));
        __m512 e1 = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vs));
        _mm512_storeu_ps(x + i, e0);
        _mm512_storeu_ps(x + i + 16, e1);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = sr_tail_mask16(n - i);
        __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
        _mm512_mask_storeu_ps(x + i, m, e);
        s0 = _mm512_add_ps(s0, _mm512_maskz_mov_ps(m, e));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

SR_AVX512 static inline __m512 sigmoid_avx512(__m512 x) {
    __m512 one = _mm512_set1_ps(1.0f);
    // -x by flipping the sign bit (integer ops: the float bitwise ops need AVX-512 DQ).
    __m512 e = exp_avx512(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
    return _mm512_div_ps(one, _mm512_add_ps(one, e));
}

SR_AVX512 static inline __m512 tanh_avx512(__m512 x) {
    __m512i sign = _mm512_set1_epi32(INT32_MIN), bits = _mm512_castps_si512(x);
    __m512 ax = _mm512_castsi512_ps(_mm512_andnot_si512(sign, bits));
    __m512 z = _mm512_mul_ps(ax, ax);
    __m512 p = _mm512_set1_ps(T0);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(T1));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(T2));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(T3));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(T4));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), ax, ax);
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = exp_avx512(_mm512_add_ps(ax, ax));
    __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    // Ordered compare is false for NaN, so NaN takes the exp branch, which propagates it.
    __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(TANH_SMALL), _CMP_LT_OQ);
    __m512 t = _mm512_mask_blend_ps(is_small, big, small);
    // tanh is odd; keeps tanh(-0) = -0.
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), _mm512_and_si512(sign, bits)));
}

SR_AVX512_MAP(vexp_avx512, exp_avx512)
SR_AVX512_MAP(vsigmoid_avx512, sigmoid_avx512)
SR_AVX512_MAP(vtanh_avx512, tanh_avx512)
#endif

// ---------------------------------------------------------------------------------------
// Public entry points.

void sr_vexp(const float *x, float *y, long n) {
#if defined(SR_X86)
    if (sr_cpu_has_avx512()) {
        vexp_avx512(x, y, n);
        return;
    }
    if (sr_cpu_has_avx2_fma()) {
        vexp_avx2(x, y, n);
        return;
    }
#endif
    vexp_generic(x, y, n);
}

float sr_vmax(const float *x, long n) {
#if defined(SR_X86)
    if (sr_cpu_has_avx512()) return vmax_avx512(x, n);
    if (sr_cpu_has_avx2_fma()) return vmax_avx2(x, n);
#endif
    return vmax_generic(x, n);
}

float sr_vexp_shift_sum(float *x, long n, float shift) {
#if defined(SR_X86)
    if (sr_cpu_has_avx512()) return vexp_shift_sum_avx512(x, n, shift);
    if (sr_cpu_has_avx2_fma()) return vexp_shift_sum_avx2(x, n, shift);
#endif
    return vexp_shift_sum_generic(x, n, shift);
}

void sr_vscale(float *x, long n, float s) {
#if defined(SR_X86)
    if (sr_cpu_has_avx2_fma()) {
        vscale_avx2(x, n, s);
        return;
    }
#endif
    for (long i = 0; i < n; i++) x[i] *= s;
}

float sr_vdot(const float *a, const float *b, long n) {
#if defined(SR_X86)
    if (sr_cpu_has_avx2_fma()) return vdot_avx2(a, b, n);
#endif
    return vdot_generic(a, b, n);
}

void sr_vaxpy(long n, float a, const float *x, float *y) {
#if defined(SR_X86)
    if (sr_cpu_has_avx2_fma()) {
        vaxpy_avx2(n, a, x, y);
        return;
    }
#endif
    for (long i = 0; i < n; i++) y[i] += a * x[i];
}

void sr_vtanh(const float *x, float *y, long n) {
#if defined(SR_X86)
    if (sr_cpu_has_avx512()) {
        vtanh_avx512(x, y, n);
        return;
    }
    if (sr_cpu_has_avx2_fma()) {
        vtanh_avx2(x, y, n);
        return;
    }
#endif
    vtanh_generic(x, y, n);
}

void sr_vsigmoid(const float *x, float *y, long n) {
#if defined(SR_X86)
    if (sr_cpu_has_avx512()) {
        vsigmoid_avx512(x, y, n);
        return;
    }
    if (sr_cpu_has_avx2_fma()) {
        vsigmoid_avx2(x, y, n);
        return;
    }
#endif
    vsigmoid_generic(x, y, n);
}

void sr_vgelu(const float *x, float *y, long n) {
#if defined(SR_X86)
    if (sr_cpu_has_avx512()) {
        vgelu_avx512(x, y, n);
        return;
    }
    if (sr_cpu_has_avx2_fma()) {
        vgelu_avx2(x, y, n);
        return;
    }
#endif
    vgelu_generic(x, y, n);
}

void sr_vgelu_backward(const float *x, const float *dy, float *dx, long n) {
#if defined(SR_X86)
    if (sr_cpu_has_avx512()) {
        vgelu_backward_avx512(x, dy, dx, n);
        return;
    }
    if (sr_cpu_has_avx2_fma()) {
        vgelu_backward_avx2(x, dy, dx, n);
        return;
    }
#endif
    vgelu_backward_generic(x, dy, dx, n);
}

// ---------------------------------------------------------------------------------------
// Layer normalisation of rows: mean and variance in vector lanes (one running sum is a chain
// of dependent additions), then y = (x - mean) * rstd * gamma + beta.

static void layer_norm_generic(const float *x, long rows, long d, const float *gamma, const float *beta, float eps,
                               float *y, float *xhat, float *rstd) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float lanes[8] = {0}, total = 0;
        long whole = d / 8 * 8;
        for (long j = 0; j < whole; j += 8)
            for (int t = 0; t < 8; t++) lanes[t] += xr[j + t];
        for (int t = 0; t < 8; t++) total += lanes[t];
        for (long j = whole; j < d; j++) total += xr[j];
        float mean = total / (float)d, squares[8] = {0}, sum = 0;
        for (long j = 0; j < whole; j += 8)
            for (int t = 0; t < 8; t++) squares[t] += (xr[j + t] - mean) * (xr[j + t] - mean);
        for (int t = 0; t < 8; t++) sum += squares[t];
        for (long j = whole; j < d; j++) sum += (xr[j] - mean) * (xr[j] - mean);
        float inv = 1.0f / sqrtf(sum / (float)d + eps);
        rstd[r] = inv;
        for (long j = 0; j < d; j++) {
            float h = (xr[j] - mean) * inv;
            xhat[r * d + j] = h;
            y[r * d + j] = h * gamma[j] + beta[j];
        }
    }
}

#if defined(SR_X86)
SR_AVX2 static void layer_norm_avx2(const float *x, long rows, long d, const float *gamma, const float *beta,
                                    float eps, float *y, float *xhat, float *rstd) {
    long whole = d / 8 * 8;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        __m256 s = _mm256_setzero_ps();
        for (long j = 0; j < whole; j += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(xr + j));
        float total = hsum_avx2(s);
        for (long j = whole; j < d; j++) total += xr[j];
        float mean = total / (float)d;
        __m256 vm = _mm256_set1_ps(mean), q = _mm256_setzero_ps();
        for (long j = 0; j < whole; j += 8) {
            __m256 c = _mm256_sub_ps(_mm256_loadu_ps(xr + j), vm);
            q = _mm256_fmadd_ps(c, c, q);
        }
        float sum = hsum_avx2(q);
        for (long j = whole; j < d; j++) sum += (xr[j] - mean) * (xr[j] - mean);
        float inv = 1.0f / sqrtf(sum / (float)d + eps);
        rstd[r] = inv;
        __m256 vi = _mm256_set1_ps(inv);
        for (long j = 0; j < whole; j += 8) {
            __m256 h = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm), vi);
            _mm256_storeu_ps(xhat + r * d + j, h);
            _mm256_storeu_ps(y + r * d + j, _mm256_fmadd_ps(h, _mm256_loadu_ps(gamma + j), _mm256_loadu_ps(beta + j)));
        }
        for (long j = whole; j < d; j++) {
            float h = (xr[j] - mean) * inv;
            xhat[r * d + j] = h;
            y[r * d + j] = h * gamma[j] + beta[j];
        }
    }
}

SR_AVX512 static void layer_norm_avx512(const float *x, long rows, long d, const float *gamma, const float *beta,
                                        float eps, float *y, float *xhat, float *rstd) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        __m512 s = _mm512_setzero_ps();
        for (long j = 0; j < d; j += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(sr_tail_mask16(d - j), xr + j));
        float mean = _mm512_reduce_add_ps(s) / (float)d;
        __m512 vm = _mm512_set1_ps(mean), q = _mm512_setzero_ps();
        for (long j = 0; j < d; j += 16) {
            __mmask16 m = sr_tail_mask16(d - j);
            __m512 c = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xr + j), vm);
            q = _mm512_fmadd_ps(c, c, q);
        }
        float inv = 1.0f / sqrtf(_mm512_reduce_add_ps(q) / (float)d + eps);
        rstd[r] = inv;
        __m512 vi = _mm512_set1_ps(inv);
        for (long j = 0; j < d; j += 16) {
            __mmask16 m = sr_tail_mask16(d - j);
            __m512 h = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + j), vm), vi);
            _mm512_mask_storeu_ps(xhat + r * d + j, m, h);
            __m512 out = _mm512_fmadd_ps(h, _mm512_maskz_loadu_ps(m, gamma + j), _mm512_maskz_loadu_ps(m, beta + j));
            _mm512_mask_storeu_ps(y + r * d + j, m, out);
        }
    }
}
#endif

void sr_layer_norm_rows(const float *x, long rows, long d, const float *gamma, const float *beta, float eps,
                        float *y, float *xhat, float *rstd) {
    if (rows <= 0 || d <= 0) return;
#if defined(SR_X86)
    if (sr_cpu_has_avx512()) {
        layer_norm_avx512(x, rows, d, gamma, beta, eps, y, xhat, rstd);
        return;
    }
    if (sr_cpu_has_avx2_fma()) {
        layer_norm_avx2(x, rows, d, gamma, beta, eps, y, xhat, rstd);
        return;
    }
#endif
    layer_norm_generic(x, rows, d, gamma, beta, eps, y, xhat, rstd);
}

// ---------------------------------------------------------------------------------------
// The indices at or above a threshold: branchless in portable code (the count advances by the
// comparison), compressed stores on AVX-512, set bits of a lane mask on AVX2 (few pass).

// Indices from `first` on, as sr_indices_at_least.
static long indices_at_least_generic(const float *scores, long first, long n, const unsigned char *excluded,
                                     float threshold, int *out) {
    long count = 0;
    for (long i = first; i < n; i++) {
        out[count] = (int)i;
        count += (scores[i] >= threshold) & (excluded ? excluded[i] == 0 : 1);
    }
    return count;
}

#if defined(SR_X86)
SR_AVX512 static long indices_at_least_avx512(const float *scores, long n, const unsigned char *excluded,
                                              float threshold, int *out) {
    const __m512 t = _mm512_set1_ps(threshold);
    __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    long count = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        // Ordered comparison: NaN lanes fail.
        __mmask16 keep = _mm512_cmp_ps_mask(_mm512_loadu_ps(scores + i), t, _CMP_GE_OQ);
        if (excluded) {
            const __m512i flags = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(excluded + i)));
            keep &= _mm512_testn_epi32_mask(flags, flags);
        }
        _mm512_mask_compressstoreu_epi32(out + count, keep, index);
        count += __builtin_popcount(keep);
        index = _mm512_add_epi32(index, _mm512_set1_epi32(16));
    }
    return count + indices_at_least_generic(scores, i, n, excluded, threshold, out + count);
}

SR_AVX2 static long indices_at_least_avx2(const float *scores, long n, const unsigned char *excluded, float threshold,
                                          int *out) {
    const __m256 t = _mm256_set1_ps(threshold);
    long count = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        unsigned keep = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(scores + i), t, _CMP_GE_OQ));
        while (keep) {
            const long at = i + __builtin_ctz(keep);
            keep &= keep - 1;
            out[count] = (int)at;
            count += excluded ? excluded[at] == 0 : 1;
        }
    }
    return count + indices_at_least_generic(scores, i, n, excluded, threshold, out + count);
}
#endif

long sr_indices_at_least(const float *scores, long n, const unsigned char *excluded, float threshold, int *out,
                         int max_level) {
#if defined(SR_X86)
    const int level = max_level < 0 || max_level > sr_isa_level() ? sr_isa_level() : max_level;
    if (level >= SR_ISA_AVX512) return indices_at_least_avx512(scores, n, excluded, threshold, out);
    if (level >= SR_ISA_AVX2) return indices_at_least_avx2(scores, n, excluded, threshold, out);
#endif
    (void)max_level;
    return indices_at_least_generic(scores, 0, n, excluded, threshold, out);
}
