// DIN's activation unit over every (candidate, history item) pair of one request, fused: each
// block of pairs goes through all of the unit's layers while its activations are in L1, with no
// packing and no intermediate matrices (the unfused path ran two GEMMs and three passes over
// [pairs, width] matrices).

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr_internal.h"

// Rows (history items of one candidate) that go through the layers together.
enum { PAIR_BLOCK = 32 };

// out[r][j] = init[r * init_stride + j] + add[j] + sum_i in[r * in_stride + i] * wt[i * wout + j]
// for r < rows, j < wout (wout a multiple of the path's lanes; add may be NULL).
typedef void (*pair_dense_fn)(const float *in, long rows, long in_stride, long win, const float *wt, long wout,
                              const float *init, long init_stride, const float *add, float *out);

// out[r] = bias + sum_j in[r * stride + j] * w[j] for j < width (padded with zero weights).
typedef void (*pair_dot_fn)(const float *in, long rows, long stride, long width, const float *w, float bias,
                            float *out);

// x[r * width + j] = x > 0 ? x : slope[j] · x for r < rows, j < width (PReLU in place).
typedef void (*pair_prelu_fn)(float *x, long rows, long width, const float *slope);

static void prelu_generic(float *x, long rows, long width, const float *slope) {
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < width; j++) {
            float v = x[r * width + j];
            x[r * width + j] = v > 0 ? v : slope[j] * v;
        }
}

static void dense_generic(const float *in, long rows, long in_stride, long win, const float *wt, long wout,
                          const float *init, long init_stride, const float *add, float *out) {
    for (long r = 0; r < rows; r++) {
        float *o = out + r * wout;
        const float *x = in + r * in_stride;
        for (long j = 0; j < wout; j++) o[j] = init[r * init_stride + j] + (add ? add[j] : 0.0f);
        for (long i = 0; i < win; i++) {
            const float xi = x[i], *w = wt + i * wout;
            for (long j = 0; j < wout; j++) o[j] += xi * w[j];
        }
    }
}

static void dot_generic(const float *in, long rows, long stride, long width, const float *w, float bias,
                        float *out) {
    for (long r = 0; r < rows; r++) {
        float s = 0;
        for (long j = 0; j < width; j++) s += in[r * stride + j] * w[j];
        out[r] = bias + s;
    }
}

// Layer i of `params` (weights [out][in], then the bias) as [widths[i]][widths[i + 1]]
// (transposed, so a step's broadcasts are adjacent) and its bias, one after the other from
// `memory`; returns the first float past them.
static float *transposed_layers(const float *params, long layers, const long *widths, float *memory, float **tables,
                                float **biases) {
    float *cursor = memory;
    const float *source = params;
    for (long i = 0; i < layers; i++) {
        const long win = widths[i], wout = widths[i + 1];
        tables[i] = cursor;
        biases[i] = cursor + win * wout;
        for (long o = 0; o < wout; o++)
            for (long k = 0; k < win; k++) tables[i][k * wout + o] = source[o * win + k];
        memcpy(biases[i], source + wout * win, (size_t)wout * sizeof(float));
        source += wout * win + wout;
        cursor = biases[i] + wout;
    }
    return cursor;
}

#if defined(SR_X86)
// AVX-512 runs the pairs the other way round: each 16-lane vector holds 16 candidates of one
// history item, so every weight is a broadcast scalar, no layer's width is padded to the lanes
// (36 units cost 36 columns, not 48) and the last layer needs no horizontal sum.
enum { LANES = 16 };

// out[j] = bias[j] + init[j] + sum_i in[i] · wt[i * wout + j] for j < wout, where in[i], init[j]
// and out[j] are vectors of LANES (in[i] at in + i * in_stride, init[j] at init + j * init_stride,
// out[j] at out + j * LANES); bias and init may be NULL. Outputs go in chunks of JB accumulators,
// each handed to FINISH(t) for output j + t (STORE_OUTPUT stores it).
#define LANES_CHUNK(JB, FINISH)                                                                        \
    for (; j + (JB) <= wout; j += (JB)) {                                                              \
        __m512 acc[JB];                                                                                \
        _Pragma("clang loop unroll(full)") for (int t = 0; t < (JB); t++) {                            \
            acc[t] = _mm512_set1_ps(bias ? bias[j + t] : 0.0f);                                        \
            if (init) acc[t] = _mm512_add_ps(acc[t], _mm512_loadu_ps(init + (j + t) * init_stride));   \
        }                                                                                              \
        for (long i = 0; i < win; i++) {                                                               \
            const __m512 x = _mm512_loadu_ps(in + i * in_stride);                                      \
            const float *w = wt + i * wout + j;                                                        \
            _Pragma("clang loop unroll(full)") for (int t = 0; t < (JB); t++)                          \
                acc[t] = _mm512_fmadd_ps(x, _mm512_set1_ps(w[t]), acc[t]);                             \
        }                                                                                              \
        _Pragma("clang loop unroll(full)") for (int t = 0; t < (JB); t++) FINISH(t)                    \
    }
#define STORE_OUTPUT(t) _mm512_storeu_ps(out + (j + t) * LANES, acc[t]);

SR_AVX512 static void lanes_layer(const float *in, long in_stride, long win, const float *wt, long wout,
                                  const float *bias, const float *init, long init_stride, float *out) {
    long j = 0;
    LANES_CHUNK(16, STORE_OUTPUT)
    LANES_CHUNK(8, STORE_OUTPUT)
    LANES_CHUNK(4, STORE_OUTPUT)
    // The last outputs one at a time, each over four partial sums: one accumulator would make
    // every step wait for the previous FMA (a width-1 output layer spent most of its time so).
    for (; j < wout; j++) {
        __m512 acc[4] = {_mm512_set1_ps(bias ? bias[j] : 0.0f), _mm512_setzero_ps(), _mm512_setzero_ps(),
                         _mm512_setzero_ps()};
        if (init) acc[0] = _mm512_add_ps(acc[0], _mm512_loadu_ps(init + j * init_stride));
        long i = 0;
        for (; i + 4 <= win; i += 4)
            for (int t = 0; t < 4; t++)
                acc[t] = _mm512_fmadd_ps(_mm512_loadu_ps(in + (i + t) * in_stride), _mm512_set1_ps(wt[(i + t) * wout + j]),
                                         acc[t]);
        for (; i < win; i++)
            acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(in + i * in_stride), _mm512_set1_ps(wt[i * wout + j]), acc[0]);
        _mm512_storeu_ps(out + j * LANES, _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
    }
}

SR_AVX512 static void lanes_prelu(float *x, long width, const float *slope) {
    const __m512 zero = _mm512_setzero_ps();
    for (long j = 0; j < width; j++) {
        __m512 v = _mm512_loadu_ps(x + j * LANES);
        _mm512_storeu_ps(x + j * LANES,
                         _mm512_fmadd_ps(_mm512_set1_ps(slope[j]), _mm512_min_ps(v, zero), _mm512_max_ps(v, zero)));
    }
}

// The layers after the first for 16 pairs: x holds the first layer's pre-activations (widths[0]
// vectors), y room for as many; the last layer's 16 outputs go to out.
SR_AVX512 static void lanes_rest(float *x, float *y, long layers, const long *widths, float *const *tables,
                                 float *const *biases, const float *slopes, float *out) {
    for (long i = 0, offset = 0; i < layers; offset += widths[i], i++) {
        if (slopes)
            lanes_prelu(x, widths[i], slopes + offset);
        else
            sr_vsigmoid(x, x, widths[i] * LANES);
        lanes_layer(x, LANES, widths[i], tables[i], widths[i + 1], biases[i], NULL, 0, y);
        float *t = x;
        x = y;
        y = t;
    }
    memcpy(out, x, LANES * sizeof(float));
}

// The whole unit when it is one PReLU layer and an output of width 1 (DIN's unit as the paper
// has it): lanes_layer's first layer, each chunk of its outputs activated and folded into the
// output while still in registers, so no activation is stored and read back.
#define FOLD_PRELU(t)                                                                                  \
    {                                                                                                  \
        const __m512 v = _mm512_fmadd_ps(_mm512_set1_ps(slope[j + t]), _mm512_min_ps(acc[t], zero),   \
                                         _mm512_max_ps(acc[t], zero));                                 \
        total[t & 1] = _mm512_fmadd_ps(v, _mm512_set1_ps(w2[j + t]), total[t & 1]);                   \
    }

SR_AVX512 static void lanes_unit_prelu1(const float *in, long in_stride, long win, const float *wt, long wout,
                                        const float *bias, const float *init, long init_stride, const float *slope,
                                        const float *w2, float b2, float *out) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 total[2] = {_mm512_set1_ps(b2), zero};
    long j = 0;
    LANES_CHUNK(16, FOLD_PRELU)
    LANES_CHUNK(8, FOLD_PRELU)
    LANES_CHUNK(4, FOLD_PRELU)
    LANES_CHUNK(1, FOLD_PRELU)
    _mm512_storeu_ps(out, _mm512_add_ps(total[0], total[1]));
}
#undef FOLD_PRELU

// sr_pair_mlp on AVX-512 (see there for the arguments).
SR_AVX512 static int pair_mlp_lanes(long candidates, long history, long dim, const float *h, const float *c,
                                    const float *hpart, const float *cpart, const float *wp, long wp_stride,
                                    long layers, const long *widths, const float *params, const float *slopes,
                                    float *out) {
    const long blocks = (candidates + LANES - 1) / LANES, columns = blocks * LANES, w1 = widths[0];
    long widest = 0, table = 0;
    for (long i = 0; i <= layers; i++)
        if (widths[i] > widest) widest = widths[i];
    for (long i = 0; i < layers; i++) table += widths[i] * widths[i + 1] + widths[i + 1];
    float *scratch = calloc(
        (size_t)(table + (dim + w1) * columns + 2 * dim * w1 + 2 * widest * LANES + history * columns), sizeof(float));
    if (!scratch) return -2;
    float *tables[64], *biases[64], *cursor = transposed_layers(params, layers, widths, scratch, tables, biases);
    // Candidates and their parts transposed, [dim][columns] and [w1][columns], zero past the last.
    float *ct = cursor, *cpt = ct + dim * columns, *wpt = cpt + w1 * columns, *mt = wpt + dim * w1;
    float *a = mt + dim * w1, *b = a + widest * LANES, *results = b + widest * LANES;
    for (long i = 0; i < dim; i++)
        for (long j = 0; j < w1; j++) wpt[i * w1 + j] = wp[j * wp_stride + i];
    for (long k = 0; k < candidates; k++) {
        for (long j = 0; j < dim; j++) ct[j * columns + k] = c[k * dim + j];
        for (long j = 0; j < w1; j++) cpt[j * columns + k] = cpart[k * w1 + j];
    }
    for (long l = 0; l < history; l++) {
        // W_p · (h ⊙ c) = (W_p scaled by h's columns) · c: one [dim][w1] table per history item.
        const float *hl = h + l * dim;
        for (long i = 0; i < dim; i++)
            for (long j = 0; j < w1; j++) mt[i * w1 + j] = wpt[i * w1 + j] * hl[i];
        for (long block = 0; block < blocks; block++) {
            if (layers == 1 && slopes) {
                lanes_unit_prelu1(ct + block * LANES, columns, dim, mt, w1, hpart + l * w1, cpt + block * LANES,
                                  columns, slopes, tables[0], biases[0][0], results + l * columns + block * LANES);
                continue;
            }
            lanes_layer(ct + block * LANES, columns, dim, mt, w1, hpart + l * w1, cpt + block * LANES, columns, a);
            lanes_rest(a, b, layers, widths, tables, biases, slopes, results + l * columns + block * LANES);
        }
    }
    for (long k = 0; k < candidates; k++)
        for (long l = 0; l < history; l++) out[k * history + l] = results[l * columns + k];
    free(scratch);
    return 0;
}
#undef LANES_CHUNK
#undef STORE_OUTPUT

// sr_pair_mlp_q8's unit for 16 candidates of one history item: unit j's pre-activation is
// sums[j * LANES] (the int8 products' sums) · row_scale[j] · candidate_scales + hpart[j] +
// cpart_t[j * columns] (the candidates' own parts); results gets the 16 outputs. With one layer
// after the first (DIN's unit), the activation and that layer's dot product run in registers.
SR_AVX512 static void pair_rest_lanes(const int32_t *sums, const float *row_scale, const float *candidate_scales,
                                      const float *hpart, const float *cpart_t, long columns, long layers,
                                      const long *widths, float *const *tables, float *const *biases,
                                      const float *slopes, float *scratch, long widest, float *results) {
    const long w1 = widths[0];
    const __m512 candidate_scale = _mm512_loadu_ps(candidate_scales);
    if (layers == 1) {
        const float *w = tables[0];
        const __m512 zero = _mm512_setzero_ps();
        __m512 acc[4] = {_mm512_set1_ps(biases[0][0]), zero, zero, zero};
        for (long j = 0; j < w1; j++) {
            __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(sums + j * LANES))),
                                       _mm512_mul_ps(_mm512_set1_ps(row_scale[j]), candidate_scale),
                                       _mm512_add_ps(_mm512_loadu_ps(cpart_t + j * columns), _mm512_set1_ps(hpart[j])));
            if (slopes)
                v = _mm512_fmadd_ps(_mm512_set1_ps(slopes[j]), _mm512_min_ps(v, zero), _mm512_max_ps(v, zero));
            else
                sr_vsigmoid((float *)&v, (float *)&v, LANES);
            acc[j & 3] = _mm512_fmadd_ps(v, _mm512_set1_ps(w[j]), acc[j & 3]);
        }
        _mm512_storeu_ps(results, _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
        return;
    }
    float *x = scratch, *y = scratch + widest * LANES;
    for (long j = 0; j < w1; j++)
        _mm512_storeu_ps(x + j * LANES,
                         _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(sums + j * LANES))),
                                         _mm512_mul_ps(_mm512_set1_ps(row_scale[j]), candidate_scale),
                                         _mm512_add_ps(_mm512_loadu_ps(cpart_t + j * columns), _mm512_set1_ps(hpart[j]))));
    lanes_rest(x, y, layers, widths, tables, biases, slopes, results);
}

// AVX2 keeps the row layout: four rows (pairs) by one 8-lane column chunk per step, the
// widths padded to 8.
SR_AVX2 static void dense_avx2(const float *in, long rows, long in_stride, long win, const float *wt, long wout,
                               const float *init, long init_stride, const float *add, float *out) {
    long r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *x0 = in + r * in_stride, *x1 = x0 + in_stride, *x2 = x1 + in_stride, *x3 = x2 + in_stride;
        for (long j = 0; j < wout; j += 8) {
            __m256 a = add ? _mm256_loadu_ps(add + j) : _mm256_setzero_ps();
            const float *i0 = init + r * init_stride + j;
            __m256 c0 = _mm256_add_ps(a, _mm256_loadu_ps(i0));
            __m256 c1 = _mm256_add_ps(a, _mm256_loadu_ps(i0 + init_stride));
            __m256 c2 = _mm256_add_ps(a, _mm256_loadu_ps(i0 + 2 * init_stride));
            __m256 c3 = _mm256_add_ps(a, _mm256_loadu_ps(i0 + 3 * init_stride));
            for (long i = 0; i < win; i++) {
                __m256 w0 = _mm256_loadu_ps(wt + i * wout + j);
                c0 = _mm256_fmadd_ps(_mm256_set1_ps(x0[i]), w0, c0);
                c1 = _mm256_fmadd_ps(_mm256_set1_ps(x1[i]), w0, c1);
                c2 = _mm256_fmadd_ps(_mm256_set1_ps(x2[i]), w0, c2);
                c3 = _mm256_fmadd_ps(_mm256_set1_ps(x3[i]), w0, c3);
            }
            _mm256_storeu_ps(out + r * wout + j, c0);
            _mm256_storeu_ps(out + (r + 1) * wout + j, c1);
            _mm256_storeu_ps(out + (r + 2) * wout + j, c2);
            _mm256_storeu_ps(out + (r + 3) * wout + j, c3);
        }
    }
    for (; r < rows; r++) {
        const float *x = in + r * in_stride;
        for (long j = 0; j < wout; j += 8) {
            __m256 c = _mm256_loadu_ps(init + r * init_stride + j);
            if (add) c = _mm256_add_ps(c, _mm256_loadu_ps(add + j));
            for (long i = 0; i < win; i++) c = _mm256_fmadd_ps(_mm256_set1_ps(x[i]), _mm256_loadu_ps(wt + i * wout + j), c);
            _mm256_storeu_ps(out + r * wout + j, c);
        }
    }
}

// max(x, 0) + slope · min(x, 0): the same value as the generic select, for finite x.
SR_AVX2 static void prelu_avx2(float *x, long rows, long width, const float *slope) {
    const __m256 zero = _mm256_setzero_ps();
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < width; j += 8) {
            __m256 v = _mm256_loadu_ps(x + r * width + j);
            _mm256_storeu_ps(x + r * width + j, _mm256_fmadd_ps(_mm256_loadu_ps(slope + j), _mm256_min_ps(v, zero),
                                                                 _mm256_max_ps(v, zero)));
        }
}

SR_AVX2 static void dot_avx2(const float *in, long rows, long stride, long width, const float *w, float bias,
                             float *out) {
    for (long r = 0; r < rows; r++) {
        __m256 s = _mm256_setzero_ps();
        for (long j = 0; j < width; j += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(in + r * stride + j), _mm256_loadu_ps(w + j), s);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        out[r] = bias + _mm_cvtss_f32(h);
    }
}
#endif

static long round_up(long n, long lanes) { return (n + lanes - 1) / lanes * lanes; }

int sr_pair_mlp(long candidates, long history, long dim, const float *h, const float *c, const float *hpart,
                const float *cpart, const float *wp, long wp_stride, long layers, const long *widths,
                const float *params, const float *slopes, float *out, int max_level) {
    if (layers < 0 || layers >= 64 || widths[layers] != 1) return -1;
    long lanes = 1;
    pair_dense_fn dense = dense_generic;
    pair_dot_fn dot = dot_generic;
    pair_prelu_fn prelu = prelu_generic;
#if defined(SR_X86)
    int level = sr_isa_level();
    if (max_level >= 0 && max_level < level) level = max_level;
    if (level >= SR_ISA_AVX512)
        return pair_mlp_lanes(candidates, history, dim, h, c, hpart, cpart, wp, wp_stride, layers, widths, params,
                              slopes, out);
    if (level >= SR_ISA_AVX2) {
        lanes = 8;
        dense = dense_avx2;
        dot = dot_avx2;
        prelu = prelu_avx2;
    }
#else
    (void)max_level;
#endif
    // Padded widths; the pad columns hold zero weights, so what a layer writes there (0, then
    // sigmoid(0) or 0) never reaches a real output.
    long padded[64], widest = 0, table = 0;
    for (long i = 0; i <= layers; i++) {
        padded[i] = round_up(widths[i], lanes);
        if (padded[i] > widest) widest = padded[i];
        if (i > 0 && i < layers) table += widths[i - 1] * padded[i] + padded[i];
        if (slopes && i < layers) table += padded[i];
    }
    if (layers > 0) table += padded[layers - 1] + 1;
    const long w1 = widths[0], p1 = padded[0];
    float *scratch = calloc((size_t)(table + (history + candidates + dim) * p1 + 2 * PAIR_BLOCK * widest), sizeof(float));
    if (!scratch) return -2;
    // Layer i < layers - 1 as [widths[i]][padded[i + 1]] (transposed) and its padded bias; the
    // last (width 1) as one zero-padded row of padded[layers - 1] and its bias.
    float *tables[64], *biases[64], *cursor = scratch;
    const float *source = params;
    for (long i = 0; i < layers; i++) {
        long win = widths[i], wout = widths[i + 1], stride = i == layers - 1 ? 1 : padded[i + 1];
        tables[i] = cursor;
        biases[i] = cursor + (i == layers - 1 ? padded[i] : win * stride);
        for (long o = 0; o < wout; o++)
            for (long k = 0; k < win; k++) tables[i][k * stride + o] = source[o * win + k];
        memcpy(biases[i], source + wout * win, (size_t)wout * sizeof(float));
        source += wout * win + wout;
        cursor = biases[i] + (i == layers - 1 ? 1 : padded[i + 1]);
    }
    // Each activation's slopes, zero-padded to its padded width.
    float *padded_slopes[64];
    for (long i = 0, offset = 0; slopes && i < layers; offset += widths[i], i++) {
        padded_slopes[i] = cursor;
        memcpy(cursor, slopes + offset, (size_t)widths[i] * sizeof(float));
        cursor += padded[i];
    }
    float *hp = cursor, *cp = hp + history * p1, *mt = cp + candidates * p1;
    float *a = mt + dim * p1, *b = a + PAIR_BLOCK * widest;
    for (long l = 0; l < history; l++) memcpy(hp + l * p1, hpart + l * w1, (size_t)w1 * sizeof(float));
    for (long k = 0; k < candidates; k++) memcpy(cp + k * p1, cpart + k * w1, (size_t)w1 * sizeof(float));
    for (long k = 0; k < candidates; k++) {
        // W_p · (h ⊙ c) = (W_p scaled by c's columns) · h: one [dim][w1] table per candidate.
        const float *ck = c + k * dim;
        for (long j = 0; j < dim; j++)
            for (long o = 0; o < w1; o++) mt[j * p1 + o] = wp[o * wp_stride + j] * ck[j];
        for (long l0 = 0; l0 < history; l0 += PAIR_BLOCK) {
            long rows = history - l0 < PAIR_BLOCK ? history - l0 : PAIR_BLOCK;
            dense(h + l0 * dim, rows, dim, dim, mt, p1, hp + l0 * p1, p1, cp + k * p1, a);
            float *x = a, *y = b;
            if (layers == 0)  // the first layer is the output
                for (long t = 0; t < rows; t++) out[k * history + l0 + t] = a[t * p1];
            for (long i = 0; i < layers; i++) {
                long width = padded[i];
                if (slopes)
                    prelu(x, rows, width, padded_slopes[i]);
                else
                    sr_vsigmoid(x, x, rows * width);
                if (i == layers - 1) {
                    dot(x, rows, width, width, tables[i], biases[i][0], out + k * history + l0);
                } else {
                    dense(x, rows, width, widths[i], tables[i], padded[i + 1], biases[i], 0, NULL, y);
                    float *t = x;
                    x = y;
                    y = t;
                }
            }
        }
    }
    free(scratch);
    return 0;
}

// ---------------------------------------------------------------------------------------
// The unit at int8 (`--quantize int8`): the product part W_p · (h ⊙ c) of the first layer, which
// is nearly all of the unit's arithmetic, as int8 products on the best sr_q8 path. Row (l, j) of
// A is W_p's row j scaled by history item l (one scale per row), B holds the candidates (one
// scale each), so C[(l, j)][k] is unit j's product part for pair (k, l), and each 16 candidates
// of a history item lie side by side as the lanes of the float layers after it want them.

// out[j * dim + i] = w[j * stride + i] · x[i] for j < rows, i < dim: W_p's rows scaled by one
// history item. The same loop twice, the second compiled for AVX-512.
#define SCALED_ROWS_BODY                                                                           \
    for (long j = 0; j < rows; j++)                                                                \
        for (long i = 0; i < dim; i++) out[j * dim + i] = w[j * stride + i] * x[i];
static void scaled_rows(const float *w, long stride, long rows, long dim, const float *x, float *out) {
    SCALED_ROWS_BODY
}
#if defined(SR_X86)
SR_AVX512 static void scaled_rows_avx512(const float *w, long stride, long rows, long dim, const float *x,
                                         float *out) {
    SCALED_ROWS_BODY
}
#endif
#undef SCALED_ROWS_BODY

// The layers after the first for one pair, in float: x holds the first layer's pre-activation.
static float pair_rest_generic(float *x, float *y, long layers, const long *widths, const float *params,
                               const float *slopes) {
    const float *source = params;
    for (long i = 0, offset = 0; i < layers; offset += widths[i], i++) {
        const long win = widths[i], wout = widths[i + 1];
        for (long j = 0; j < win; j++)
            x[j] = slopes ? (x[j] > 0 ? x[j] : slopes[offset + j] * x[j]) : 1.0f / (1.0f + expf(-x[j]));
        for (long o = 0; o < wout; o++) {
            float s = source[wout * win + o];
            for (long j = 0; j < win; j++) s += source[o * win + j] * x[j];
            y[o] = s;
        }
        source += wout * win + wout;
        float *t = x;
        x = y;
        y = t;
    }
    return x[0];
}

int sr_pair_mlp_q8(long candidates, long history, long dim, const float *h, const float *c, const float *hpart,
                   const float *cpart, const float *wp, long wp_stride, long layers, const long *widths,
                   const float *params, const float *slopes, float *out, int max_level, int q8_path) {
    if (layers < 0 || layers >= 64 || widths[layers] != 1) return -1;
    if (candidates <= 0 || history <= 0) return 0;
    enum { BLOCK = 16 };  // candidates side by side: one packed panel, one vector of lanes
    const long w1 = widths[0], kp = sr_q8_padded_columns(dim), columns = round_up(candidates, BLOCK);
    const long panels = columns / BLOCK, rows_all = history * w1;
    // History items per product: rows a multiple of 16 where that takes few items (AMX takes
    // whole tiles of 16 rows), about 128 of them, so their sums stay in L2.
    long items = 1;
    while ((items * w1) % 16 != 0 && items < 16) items *= 2;
    if ((items * w1) % 16 != 0) items = 1;
    while (items * 2 * w1 <= 128 && items * 2 <= history) items *= 2;
    if (items > history) items = history;
    const long m = items * w1;
    long widest = 0;
    for (long i = 0; i <= layers; i++)
        if (widths[i] > widest) widest = widths[i];
    const size_t floats = (size_t)(columns                   // candidate scales
                                   + columns                 // row sums (int32)
                                   + w1 * dim + rows_all     // one item's rows in float; every row's scale
                                   + panels * m * BLOCK      // a chunk's sums (int32)
                                   + history * columns       // results
                                   + w1 * columns            // cpart transposed
                                   + 2 * widest * BLOCK);    // activations
    const size_t bytes = sizeof(float) * floats + (size_t)columns * (size_t)kp  // candidates, int8
                         + (size_t)sr_q8_packed_size(candidates, dim) + (size_t)rows_all * (size_t)kp;
    char *scratch = malloc(bytes + 64);
    if (!scratch) return -2;
    float *cs = (float *)scratch, *af = cs + 2 * columns, *as = af + w1 * dim;
    int32_t *sums = (int32_t *)(cs + columns), *chunk = (int32_t *)(as + rows_all);
    float *results = (float *)(chunk + panels * m * BLOCK), *cpt = results + history * columns;
    float *act = cpt + w1 * columns;
    int8_t *cq = (int8_t *)(act + 2 * widest * BLOCK), *packed = cq + columns * kp;
    int8_t *aq = packed + sr_q8_packed_size(candidates, dim);
    const int path = q8_path >= 0 && sr_q8_path_available(q8_path) ? q8_path : sr_q8_current_path();
    sr_q8_quantize_rows_path(path, c, candidates, dim, dim, cq, kp, cs);
    sr_q8_pack(cq, candidates, dim, kp, packed, sums);
    for (long k = candidates; k < columns; k++) cs[k] = 0;
    for (long j = 0; j < w1; j++) {
        for (long k = 0; k < candidates; k++) cpt[j * columns + k] = cpart[k * w1 + j];
        for (long k = candidates; k < columns; k++) cpt[j * columns + k] = 0;
    }
    int lanes = 0;
    float *tables[64], *biases[64], *table_memory = NULL;
#if defined(SR_X86)
    int level = sr_isa_level();
    if (max_level >= 0 && max_level < level) level = max_level;
    lanes = level >= SR_ISA_AVX512;
    // The layers after the first, transposed as the lanes kernel reads them.
    if (lanes && layers > 0) {
        long table = 0;
        for (long i = 0; i < layers; i++) table += widths[i] * widths[i + 1] + widths[i + 1];
        table_memory = malloc((size_t)table * sizeof(float));
        if (!table_memory) {
            free(scratch);
            return -2;
        }
        transposed_layers(params, layers, widths, table_memory, tables, biases);
    }
#endif
    // Row (l, j) of A: W_p's row j scaled by history item l, quantised with its own scale.
    for (long l = 0; l < history; l++) {
#if defined(SR_X86)
        if (lanes)
            scaled_rows_avx512(wp, wp_stride, w1, dim, h + l * dim, af);
        else
#endif
            scaled_rows(wp, wp_stride, w1, dim, h + l * dim, af);
        sr_q8_quantize_rows_path(path, af, w1, dim, dim, aq + l * w1 * kp, kp, as + l * w1);
    }
    int status = 0;
    for (long l0 = 0; l0 < history && status == 0; l0 += items) {
        const long count = history - l0 < items ? history - l0 : items, rows = count * w1;
        // The chunk's sums, panel by panel: a block's 16 candidates lie side by side.
        status = sr_q8_panel_sums(path, rows, candidates, dim, aq + l0 * w1 * kp, kp, packed, sums, chunk);
        for (long p = 0; p < panels && status == 0; p++) {
            const long first = p * BLOCK, in_block = candidates - first < BLOCK ? candidates - first : BLOCK;
            for (long t = 0; t < count; t++) {
                const long l = l0 + t;
                const int32_t *block_sums = chunk + (p * rows + t * w1) * BLOCK;
                const float *row_scale = as + l * w1, *hp = hpart + l * w1;
#if defined(SR_X86)
                if (lanes) {
                    pair_rest_lanes(block_sums, row_scale, cs + first, hp, cpt + first, columns,
                                    layers, widths, tables, biases, slopes, act, widest,
                                    results + l * columns + first);
                    continue;
                }
#endif
                for (long k = 0; k < in_block; k++) {
                    float *x = act, *y = act + widest;
                    for (long j = 0; j < w1; j++)
                        x[j] = (float)block_sums[j * BLOCK + k] * (row_scale[j] * cs[first + k])
                               + (cpt[j * columns + first + k] + hp[j]);
                    results[l * columns + first + k] =
                        layers == 0 ? x[0] : pair_rest_generic(x, y, layers, widths, params, slopes);
                }
            }
        }
    }
    if (status == 0)
        for (long k = 0; k < candidates; k++)
            for (long l = 0; l < history; l++) out[k * history + l] = results[l * columns + k];
    free(table_memory);
    free(scratch);
    return status;
}
