// Private helpers shared by the kernel translation units (not part of the public module).
#ifndef SR_INTERNAL_H
#define SR_INTERNAL_H

#include "swiftrec_kernels.h"

// x86 kernels are compiled per function with target attributes, so the library itself
// needs no -m flags; callers pick the path with sr_cpu_has_avx2_fma().
#if defined(__x86_64__)
#include <immintrin.h>
#define SR_X86 1
#define SR_AVX2 __attribute__((target("avx2,fma")))
#elif defined(__aarch64__)
#include <arm_neon.h>
#define SR_NEON 1
#endif

#endif
