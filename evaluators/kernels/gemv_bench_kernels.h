// Helper kernels of the benchmark harness (gemv_bench.h): the read-only streaming reference, which
// reads as many bytes as a GEMV does with the GEMV's own load instruction and nothing else, and
// the hold kernel, which keeps a stream waiting until the host has queued a whole timed sample so
// that the host's launch cost never shows up between the sample's events. Built with CUDA only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "common/status.h"

namespace qlab::kernels::gemv {

inline constexpr int kReadStreamThreads = 256;

// Blocks of the read kernel that fill `device` (SMs x its occupancy at kReadStreamThreads), or
// INTERNAL with the CUDA error.
StatusOr<int> ReadStreamBlocks(int device);

// Reads the `bytes` at `src` once (16-byte streaming loads that bypass L1, as the GEMV's weight
// loads) and adds each block's sum of the words read into sink[block] (so no load can be
// dropped). REQUIRES: src 16-byte aligned device memory, bytes a positive multiple of 16, sink
// device memory of `blocks` words. Asynchronous on `stream`; INVALID_ARGUMENT for arguments that
// break the requirements, INTERNAL on a launch error.
Status LaunchReadStream(const void* src, int64_t bytes, unsigned* sink, int blocks,
                        cudaStream_t stream);

// One thread that spins (1 us naps) until *release != 0, or until `timeout_ns` have passed,
// then sets *timed_out = 1 and ends. release and timed_out: device pointers of mapped pinned
// host memory (cudaHostAllocMapped) that the host writes and reads. Asynchronous on `stream`;
// INTERNAL on a launch error.
Status LaunchHold(const unsigned* release, unsigned* timed_out, int64_t timeout_ns,
                  cudaStream_t stream);

}  // namespace qlab::kernels::gemv
