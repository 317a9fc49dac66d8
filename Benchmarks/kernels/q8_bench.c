// Times the int8 kernels alone, outside Swift: quantising m rows of k floats and the product of
// those rows with an n × k int8 matrix, best of 2,000 repeats each, on one path.
//
//   clang -O3 -I Sources/CSwiftRecKernels/include -I Sources/CSwiftRecKernels \
//     Benchmarks/kernels/q8_bench.c Sources/CSwiftRecKernels/qgemm.c Sources/CSwiftRecKernels/cpu.c \
//     -o /tmp/q8_bench -lm
//   /tmp/q8_bench M N K [PATH]     (PATH: 0 portable, 1 avx2, 2 avx512-vnni, 4 amx; default the best)
//
// The checksum (sum of the product) lets two builds be compared for equal results.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "swiftrec_kernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s M N K [PATH]\n", argv[0]);
        return 2;
    }
    long m = atol(argv[1]), n = atol(argv[2]), k = atol(argv[3]);
    int path = argc > 4 ? atoi(argv[4]) : sr_q8_best_path();
    if (m <= 0 || n <= 0 || k <= 0 || !sr_q8_path_available(path)) {
        fprintf(stderr, "bad shape or path not available here\n");
        return 2;
    }
    long padded = sr_q8_padded_columns(k);
    float *x = malloc(m * k * sizeof(float)), *w = malloc(n * k * sizeof(float)), *c = malloc(m * n * sizeof(float));
    float *scale_a = malloc(m * sizeof(float)), *scale_b = malloc((n + 16) * sizeof(float));
    float *bias = malloc(n * sizeof(float));
    int8_t *qa = malloc(m * padded), *qb = malloc(n * padded), *packed = malloc(sr_q8_packed_size(n, k));
    int32_t *sums = malloc((n + 16) * sizeof(int32_t));  // the pack writes whole panels
    srand(1);
    for (long i = 0; i < m * k; i++) x[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < n * k; i++) w[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < n; i++) bias[i] = 0.1f;
    sr_q8_quantize_rows_path(path, x, m, k, k, qa, padded, scale_a);
    sr_q8_quantize_rows_path(path, w, n, k, k, qb, padded, scale_b);
    sr_q8_pack(qb, n, k, padded, packed, sums);
    double product = 1e9, quantise = 1e9;
    for (int rep = 0; rep < 2000; rep++) {
        double t = now();
        sr_q8_gemm_path(path, m, n, k, qa, padded, scale_a, packed, sums, scale_b, bias, c, n);
        t = now() - t;
        if (t < product) product = t;
        t = now();
        sr_q8_quantize_rows_path(path, x, m, k, k, qa, padded, scale_a);
        t = now() - t;
        if (t < quantise) quantise = t;
    }
    double checksum = 0;
    for (long i = 0; i < m * n; i++) checksum += c[i];
    printf("%s m %ld n %ld k %ld: product %.2f us (%.1f G multiply-adds/s), quantise %.2f us, checksum %.6f\n",
           sr_q8_path_name(path), m, n, k, product * 1e6, m * n * k / product / 1e9, quantise * 1e6, checksum);
    return 0;
}
