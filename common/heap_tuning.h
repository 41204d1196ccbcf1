// Process-wide glibc heap settings for the processes that run evaluators.
#pragma once

namespace qlab {

// Keeps buffers up to 32 MiB on the heap and up to 256 MiB of freed heap with the process.
// Why: glibc serves a large allocation with a fresh mmap and returns it on free, so a forward pass
// that allocates and frees tens of MB of activations per operator page-faults its way through
// zeroed memory every time. The accuracy job scored 7% and 14% more tokens/s (medians of two
// sets of 6 paired runs on a 2-vCPU Xeon, models/kjv). The cost: a worker keeps up to 256 MiB
// it freed.
// Call once at start, before threads allocate. A no-op where glibc's mallopt is absent.
void KeepLargeBuffersInHeap();

}  // namespace qlab
