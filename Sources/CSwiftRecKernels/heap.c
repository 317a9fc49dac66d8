// The C heap's own figures, for telling memory the program holds apart from memory the
// allocator keeps after it was freed (fragmentation), and for handing the latter back.
#include "swiftrec_kernels.h"

// Any libc header defines __GLIBC__ (through <features.h>) for the checks below.
#include <stdlib.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int sr_heap_statistics(unsigned long long *in_use, unsigned long long *retained_free) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    // mallinfo2 sums over every arena; uordblks is what the program holds from the arenas,
    // hblkhd what it holds in mmap'ed blocks, fordblks what the arenas keep free.
    struct mallinfo2 info = mallinfo2();
    *in_use = (unsigned long long)info.uordblks + (unsigned long long)info.hblkhd;
    *retained_free = (unsigned long long)info.fordblks;
    return 1;
#else
    *in_use = 0;
    *retained_free = 0;
    return 0;
#endif
}

int sr_heap_trim(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

int sr_heap_limit_arenas(int arenas) {
#if defined(__GLIBC__)
    return mallopt(M_ARENA_MAX, arenas);
#else
    (void)arenas;
    return 0;
#endif
}
