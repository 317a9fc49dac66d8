#include "sr_internal.h"

#ifndef SR_MAX_ISA
#define SR_MAX_ISA SR_ISA_AVX512
#endif

int sr_isa_level(void) {
#if defined(SR_X86)
    // Cheap after the first call; the runtime also checks (XGETBV) that the OS saves the
    // YMM / ZMM register state.
    __builtin_cpu_init();
    int level = SR_ISA_GENERIC;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        level = SR_ISA_AVX2;
        if (__builtin_cpu_supports("avx512f")) level = SR_ISA_AVX512;
    }
    return level < SR_MAX_ISA ? level : SR_MAX_ISA;
#else
    return SR_ISA_GENERIC;
#endif
}

int sr_cpu_has_avx2_fma(void) { return sr_isa_level() >= SR_ISA_AVX2; }

int sr_cpu_has_avx512(void) { return sr_isa_level() >= SR_ISA_AVX512; }

const char *sr_kernel_isa(void) {
#if defined(SR_X86)
    switch (sr_isa_level()) {
    case SR_ISA_AVX512: return "avx512";
    case SR_ISA_AVX2: return "avx2+fma";
    default: return "generic";
    }
#elif defined(SR_NEON)
    return "neon";
#else
    return "generic";
#endif
}
