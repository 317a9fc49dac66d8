#include "sr_internal.h"

int sr_cpu_has_avx2_fma(void) {
#if defined(SR_X86)
    // Cheap after the first call; the runtime also checks that the OS saves YMM state.
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

const char *sr_kernel_isa(void) {
#if defined(SR_X86)
    return sr_cpu_has_avx2_fma() ? "avx2+fma" : "generic";
#elif defined(SR_NEON)
    return "neon";
#else
    return "generic";
#endif
}
