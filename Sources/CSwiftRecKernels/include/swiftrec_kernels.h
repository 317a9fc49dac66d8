// SwiftRec compute kernels: single-threaded SGEMM and float vector math.
//
// Every function is single-threaded and reentrant: callers may run them concurrently
// from several threads as long as the output ranges do not overlap. The best code path
// for the CPU (AVX-512, AVX2+FMA, NEON or portable C) is chosen at run time; no compiler
// flags needed.
#ifndef SWIFTREC_KERNELS_H
#define SWIFTREC_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Returns 1 when this CPU and OS support AVX2 and FMA, i.e. the AVX2+FMA kernels are used.
int sr_cpu_has_avx2_fma(void);

/// Returns 1 when this CPU and OS support AVX-512F (with AVX2 and FMA), i.e. the AVX-512
/// kernels are used.
int sr_cpu_has_avx512(void);

/// Name of the code path in use: "avx512", "avx2+fma", "neon" or "generic" (static string,
/// never NULL).
const char *sr_kernel_isa(void);

/// C = alpha*op(A)*op(B) + beta*C, row-major, single-threaded.
/// op(A) is MxK: A is MxK (lda >= K) when transA == 0, KxM (lda >= M) when transA == 1.
/// op(B) is KxN: B is KxN (ldb >= N) when transB == 0, NxK (ldb >= K) when transB == 1.
/// C is MxN with ldc >= N. beta == 0 ignores C's old contents (NaN/Inf in C are overwritten).
/// Any M, N, K >= 0 is accepted; K == 0 or alpha == 0 only scales C by beta.
/// M <= 4 reads B in place (no packing) on AVX-512 CPUs, and on AVX2 CPUs when transB == 0
/// (with the packed path's results, bit for bit). Concurrent callers splitting one
/// product should give each thread a multiple of 12 rows of C (or of 32 columns when M is
/// small) so that only the last block has partial register tiles.
void sr_sgemm(int transA, int transB, long M, long N, long K, float alpha,
              const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

/// C = A·B for row-major A [m][k] (row stride lda), B [k][n] (ldb), C [m][n] (ldc), reading
/// the operands in place (no packing): for small products such as attention's, where packing
/// costs as much as it saves. Without AVX-512 it is sr_sgemm's product (a plain loop when tiny).
void sr_sgemm_direct(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c,
                     long ldc);

/// dst[c * ld_dst + r] = src[r * ld_src + c] * scale for r < rows, c < cols: a scaled transpose
/// (attention's keys, so the scores are a plain sr_sgemm_direct product).
void sr_transpose_scaled(const float *src, long rows, long cols, long ld_src, float scale, float *dst, long ld_dst);

/// y[i] = exp(x[i]); relative error <= ~2e-7 on [-87, 88], 0 or subnormal below -87.3,
/// +inf above 88.72, NaN stays NaN. x and y may be the same array.
void sr_vexp(const float *x, float *y, long n);

/// Largest element of x; -INFINITY when n == 0 (NaN inputs give an unspecified result).
float sr_vmax(const float *x, long n);

/// x[i] = exp(x[i] - shift) in place (accuracy as sr_vexp); returns the float sum of the new x.
float sr_vexp_shift_sum(float *x, long n, float shift);

/// x[i] *= s.
void sr_vscale(float *x, long n, float s);

/// Returns sum(a[i] * b[i]), accumulated in float lanes.
float sr_vdot(const float *a, const float *b, long n);

/// y[i] += a * x[i].
void sr_vaxpy(long n, float a, const float *x, float *y);

/// y[i] = a[i] + b[i], a[i] - b[i], a[i] * b[i]: IEEE results, the same bits on every code
/// path. y may be a or b.
void sr_vadd(const float *a, const float *b, float *y, long n);
void sr_vsub(const float *a, const float *b, float *y, long n);
void sr_vmul(const float *a, const float *b, float *y, long n);

/// y[i] = x[i] + s, x[i] * s: IEEE results, the same bits on every code path. y may be x.
void sr_vadd_scalar(const float *x, float s, float *y, long n);
void sr_vmul_scalar(const float *x, float s, float *y, long n);

/// y[i] = x[i] > 0 ? x[i] : 0, NaN kept (and -0 gives +0). y may be x.
void sr_vrelu(const float *x, float *y, long n);

/// y[i] = tanh(x[i]); absolute error <= ~1e-6 (relative ~1e-6 near 0), NaN stays NaN.
/// x and y may be the same array.
void sr_vtanh(const float *x, float *y, long n);

/// y[i] = 1 / (1 + exp(-x[i])); relative error <= ~1e-6, NaN stays NaN.
/// x and y may be the same array.
void sr_vsigmoid(const float *x, float *y, long n);

/// y[i] = GELU(x[i]) = x[i] * Phi(x[i]) = 0.5 * x * (1 + erf(x / sqrt(2))) (exact, "erf"
/// form; not the tanh approximation), with erf as a rational function of x² (one division,
/// no exponential). Absolute error <= ~2.5e-7 * max(1, |x|); -inf gives 0, +inf gives +inf,
/// NaN stays NaN. x and y may be the same array.
void sr_vgelu(const float *x, float *y, long n);

/// The indices i < n, ascending, with scores[i] >= threshold (a NaN score never) and, when
/// `excluded` is not NULL, excluded[i] == 0, written to `out` (room for n); returns how many.
/// A top-k selection's one pass over all the scores (one vector compare per 16 on AVX-512).
/// `max_level` caps the code path (0 portable, 1 AVX2, 2 AVX-512; -1 the best this CPU has).
long sr_indices_at_least(const float *scores, long n, const unsigned char *excluded, float threshold, int *out,
                         int max_level);

/// Layer normalisation of `rows` rows of `d` values: xhat = (x - mean) / sqrt(var + eps) (biased
/// variance), y = xhat * gamma + beta, rstd[r] = 1 / sqrt(var + eps). Outputs must not alias x.
void sr_layer_norm_rows(const float *x, long rows, long d, const float *gamma, const float *beta, float eps,
                        float *y, float *xhat, float *rstd);

/// Backward pass of sr_vgelu: dx[i] = dy[i] * (Phi(x[i]) + x[i] * phi(x[i])), where Phi is
/// the standard normal CDF and phi its density. dx may alias x or dy.
void sr_vgelu_backward(const float *x, const float *dy, float *dx, long n);

/// The C heap's figures (glibc 2.33+): bytes the program holds and bytes the allocator keeps
/// free in its arenas. Returns 0 and sets both to 0 where the allocator does not say.
int sr_heap_statistics(unsigned long long *in_use, unsigned long long *retained_free);

/// Hands free memory at the ends and inside of the allocator's arenas back to the system
/// (glibc's malloc_trim); returns 1 if any was released, 0 otherwise or where unsupported.
int sr_heap_trim(void);

/// Caps how many malloc arenas glibc makes (mallopt M_ARENA_MAX): fewer arenas keep less
/// freed memory scattered over threads. Returns 1 on success, 0 otherwise or where unsupported.
int sr_heap_limit_arenas(int arenas);


// ---------------------------------------------------------------------------------------
// int8 products (quantised scoring). Values are int8 in [-127, 127] with one float scale per
// row; B is packed once (panels of 16 rows, columns padded to a multiple of 4) and reused.


/// Code paths of the int8 product, for sr_q8_gemm_path.
enum { SR_Q8_PORTABLE = 0, SR_Q8_AVX2 = 1, SR_Q8_AVX512_VNNI = 2, SR_Q8_NEON = 3, SR_Q8_AMX = 4 };

/// k rounded up to a multiple of 4 (of 64 past 64 where AMX is usable, so that every product
/// of that depth runs in whole tiles): the row length (lda) a quantised A needs at least.
long sr_q8_padded_columns(long k);

/// Bytes of B = n x k once packed (rows rounded up to 16, columns as sr_q8_padded_columns). Its row sums need
/// room for n rounded up to 16 int32.
long sr_q8_packed_size(long n, long k);

/// Symmetric per-row quantisation: scales[r] = max|x[r, :]| / 127 and q[r, c] = round(x[r, c] /
/// scales[r]) in [-127, 127]; columns cols..<sr_q8_padded_columns(cols) of q are set to 0, so
/// ldq must be at least that. NaN and infinite values are quantised as 0 (and ignored by the
/// scale); an all-zero row gets scale 0.
void sr_q8_quantize_rows(const float *x, long rows, long cols, long ldx, int8_t *q, long ldq, float *scales);

/// sr_q8_quantize_rows with the vector code of a product path (portable where this CPU lacks
/// it); every path gives the same bytes and scales.
void sr_q8_quantize_rows_path(int path, const float *x, long rows, long cols, long ldx, int8_t *q, long ldq,
                              float *scales);

/// Packs B (n x k int8, row-major, ldb >= k) into `packed` (sr_q8_packed_size(n, k) bytes)
/// and writes each row's sum to row_sums (padding rows get 0).
void sr_q8_pack(const int8_t *b, long n, long k, long ldb, int8_t *packed, int32_t *row_sums);

/// C[i, j] = scale_a[i] * scale_b[j] * sum_k A[i, k] * B[j, k] (+ bias[j] when bias is not
/// NULL), for i < m, j < n; A is m x sr_q8_padded_columns(k) int8 (zero-padded, lda >= that),
/// B packed by sr_q8_pack. Sums are exact in int32 for k <= 131,000. Single-threaded and
/// reentrant; callers split rows of A between threads.
void sr_q8_gemm(long m, long n, long k, const int8_t *a, long lda, const float *scale_a, const int8_t *packed,
                const int32_t *row_sums, const float *scale_b, const float *bias, float *c, long ldc);

/// sr_q8_gemm on a chosen code path; returns 0 (and writes nothing) when this CPU lacks it.
/// Every path gives the same result bit for bit.
int sr_q8_gemm_path(int path, long m, long n, long k, const int8_t *a, long lda, const float *scale_a,
                    const int8_t *packed, const int32_t *row_sums, const float *scale_b, const float *bias, float *c,
                    long ldc);

/// 1 when this CPU can run `path`.
int sr_q8_path_available(int path);

/// The path sr_q8_gemm uses here.
int sr_q8_best_path(void);

/// The path sr_q8_gemm and sr_q8_quantize_rows take now: sr_q8_best_path() unless changed.
int sr_q8_current_path(void);

/// Makes sr_q8_gemm take `path` from now on, process-wide (-1: the best one again), for
/// benchmarks comparing paths on one CPU. Returns 0 (and changes nothing) when it is unavailable.
int sr_q8_use_path(int path);

/// "portable", "avx2", "avx512-vnni", "amx", "neon" or "neon-dotprod" (static string).
const char *sr_q8_path_name(int path);

/// DIN's activation unit over every (candidate k, history item l) pair of one request, fused
/// (each block of pairs runs through all layers in cache). The first layer's pre-activation is
/// hpart[l] + cpart[k] + W_p · (h[l] ⊙ c[k]) (h [history][dim], c [candidates][dim], hpart
/// [history][widths[0]], cpart [candidates][widths[0]] with the first bias in it, W_p
/// [widths[0]][dim] with row stride wp_stride); then `layers` linear layers follow, each after
/// an activation, layer i mapping widths[i] to widths[i + 1] (widths[layers] must be 1; with
/// layers = 0 the first layer is the output), their
/// weights ([out][in], row-major) and biases one after the other in `params`. The activation is
/// a sigmoid when `slopes` is NULL, else PReLU with slopes[offset_i + j] for unit j of the
/// activation before layer i (offset_i = widths[0] + … + widths[i − 1]).
/// out[k * history + l] is the last layer's output. max_level caps the path of the kernel's
/// own products and PReLU (0 generic, 1 AVX2, 2 AVX-512; -1 the best here), for tests of each
/// path; the sigmoids always take sr_vsigmoid's best path.
/// Returns 0, -1 for bad widths, -2 when scratch memory cannot be had.
int sr_pair_mlp(long candidates, long history, long dim, const float *h, const float *c, const float *hpart,
                const float *cpart, const float *wp, long wp_stride, long layers, const long *widths,
                const float *params, const float *slopes, float *out, int max_level);

/// sr_pair_mlp with the first layer's product part W_p · (h[l] ⊙ c[k]) as int8 products (each
/// history-scaled row of W_p and each candidate quantised with its own scale; exact int32 sums
/// on every path), the rest in float; for scoring at int8. max_level caps the path of the float
/// layers (as in sr_pair_mlp), q8_path picks the int8 path (-1: sr_q8_current_path()). Returns
/// 0, -1 for bad widths (or dim over 1,040 off AVX-512 VNNI and AMX), -2 without scratch memory.
int sr_pair_mlp_q8(long candidates, long history, long dim, const float *h, const float *c, const float *hpart,
                   const float *cpart, const float *wp, long wp_stride, long layers, const long *widths,
                   const float *params, const float *slopes, float *out, int max_level, int q8_path);

#ifdef __cplusplus
}
#endif

#endif
