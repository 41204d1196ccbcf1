// Heap settings (see heap_tuning.h).
#include "common/heap_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qlab {

void KeepLargeBuffersInHeap() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed threshold on 64-bit
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

}  // namespace qlab
