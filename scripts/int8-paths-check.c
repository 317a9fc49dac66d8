// Runs the int8 product on the NEON path against the portable path (bit for bit) and an
// integer reference, for shapes with partial panels and padded columns. Built for arm64 and run
// under qemu by scripts/check-int8-neon.sh, so an x86 machine can check the NEON kernels.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "swiftrec_kernels.h"
int main(void) {
  srand(3);
  long shapes[][3] = {{1,1,1},{3,17,5},{4,16,64},{9,40,70},{5,33,3},{2,130,129},{7,3416,64}};
  int failures = 0;
  printf("neon available %d, best %s\n", sr_q8_path_available(SR_Q8_NEON), sr_q8_path_name(sr_q8_best_path()));
  for (int s = 0; s < 7; s++) {
    long m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], kp = sr_q8_padded_columns(k);
    float *a = malloc(m*k*4), *b = malloc(n*k*4), *sa = malloc(m*4), *sb = malloc(((n+15)/16*16)*4), *bias = malloc(n*4);
    for (long i = 0; i < m*k; i++) a[i] = (rand()/(float)RAND_MAX - 0.5f) * 3;
    for (long i = 0; i < n*k; i++) b[i] = (rand()/(float)RAND_MAX - 0.5f) * 3;
    for (long i = 0; i < n; i++) bias[i] = i * 0.01f;
    int8_t *qa = malloc(m*kp), *qb = malloc(n*kp), *pb = malloc(sr_q8_packed_size(n,k));
    int32_t *sums = malloc(((n+15)/16*16)*4);
    sr_q8_quantize_rows(a, m, k, k, qa, kp, sa); sr_q8_quantize_rows(b, n, k, k, qb, kp, sb);
    sr_q8_pack(qb, n, k, kp, pb, sums);
    float *c0 = malloc(m*n*4), *c1 = malloc(m*n*4);
    sr_q8_gemm_path(SR_Q8_PORTABLE, m, n, k, qa, kp, sa, pb, sums, sb, bias, c0, n);
    int ok = sr_q8_gemm_path(SR_Q8_NEON, m, n, k, qa, kp, sa, pb, sums, sb, bias, c1, n);
    int same = memcmp(c0, c1, m*n*4) == 0;
    long bad = 0;
    for (long i = 0; i < m; i++) for (long j = 0; j < n; j++) {
      long acc = 0; for (long t = 0; t < k; t++) acc += qa[i*kp+t] * qb[j*kp+t];
      float ref = (float)acc * (sa[i]*sb[j]) + bias[j];
      float d = ref - c0[i*n+j]; if (d < 0) d = -d; float mag = ref < 0 ? -ref : ref; if (d > 1e-6f * (mag > 1 ? mag : 1)) bad++;
    }
    printf("m %ld n %ld k %ld: neon ran %d, neon == portable %d, portable == integer reference (within 1e-6) %s\n", m, n, k, ok, same, bad ? "NO" : "yes");
    failures += !ok || !same || bad;
  }
  printf("%s\n", failures ? "FAILED" : "all equal");
  return failures != 0;
}
