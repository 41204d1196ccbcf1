// Builds NB201 and FBNet networks in LibTorch and runs them, behind a torch-free interface.
//
// Only network_builder.cc includes LibTorch (each such translation unit costs ~30 s and ~1.4 GB
// to compile), so the job runner, the benchmark and their tests compile as plain C++.
// Networks are built exactly as the benchmarks define them (torch_modules.h), put in eval mode,
// with weights drawn from LibTorch's default initialisers after seeding the global generator,
// and run under c10::InferenceMode on a fixed torch.rand input allocated once on the device.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluators/latency/latency_params.h"

namespace qlab::latency {

struct NetworkSpec {
  ArchRef arch;
  nas::Nb201Dataset nb201_dataset = nas::Nb201Dataset::kCifar10;   // NB201 only
  nas::FbnetDataset fbnet_dataset = nas::FbnetDataset::kCifar100;  // FBNet only
  int batch = 1;
  uint64_t seed = 0;           // weights and input
  std::string device = "cpu";  // "cpu" or "cuda:N"
};

// A built network with its input. Not thread-safe: one thread runs it at a time.
class Network {
 public:
  // Builds `spec` on its device. Errors: FAILED_PRECONDITION when the device is not available
  // in this LibTorch build/machine, INVALID_ARGUMENT for batch < 1, RESOURCE_EXHAUSTED when the
  // device runs out of memory, INTERNAL for any other LibTorch failure. Serialised internally
  // (seeding uses LibTorch's global generator), so concurrent calls are safe but not parallel.
  static StatusOr<std::unique_ptr<Network>> Build(const NetworkSpec& spec);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // One forward pass; returns when the outputs are ready (CUDA: after synchronising the
  // device). Errors as Build.
  Status Run();

  // One forward pass timed where it runs, in microseconds: on a CUDA device between two CUDA
  // events recorded on the current stream around it (the host's launch overhead before the
  // first kernel is not counted), on the CPU by the steady clock around Run(). Errors as Build.
  StatusOr<double> TimedRun();

  int64_t NumParameters() const;             // trainable parameters
  std::vector<int64_t> InputShape() const;   // {batch, 3, H, W}
  std::vector<int64_t> OutputShape() const;  // logits {batch, classes}; empty before Run()
  double OutputSum() const;                  // sum of the last logits (determinism checks)
  const std::string& device() const;

 private:
  struct Impl;
  explicit Network(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// How TimedRun() times a pass on `device` in this build, recorded with every sample set.
std::string TimerDescription(const std::string& device);

// LibTorch facts recorded with every sample set.
struct TorchRuntime {
  std::string version;       // TORCH_VERSION of the headers built against
  int intra_op_threads = 0;  // at::get_num_threads()
  int interop_threads = 0;   // at::get_num_interop_threads()
  bool mkldnn = false;       // oneDNN available
  bool cuda_available = false;
  int cuda_device_count = 0;
  std::string parallel_backend;  // "OpenMP", "native", ...
  // The BLAS LibTorch's CPU convolutions fall back to (im2col + sgemm) for small inputs. When
  // it is OpenBLAS, its own thread pool ignores at::set_num_threads, so it is set separately.
  std::string blas;      // openblas_get_config(), "" when the BLAS is not OpenBLAS
  int blas_threads = 0;  // openblas_get_num_threads(), 0 when unknown
};
TorchRuntime GetTorchRuntime();

// Sets LibTorch's intra-op thread count (at::set_num_threads), OpenBLAS's thread count to the
// same value when OpenBLAS is the BLAS (Debian's LibTorch: its pool otherwise runs 1 thread
// per CPU and busy-waits beside a "single-threaded" measurement), and, when still possible,
// LibTorch's inter-op count (settable once per process; a later different request keeps the old
// value, which GetTorchRuntime then reports). Process-wide: call before measuring, from one thread.
// `threads` 0 means every CPU in the affinity mask. INVALID_ARGUMENT for negative values.
Status ConfigureTorchThreads(int threads, int interop_threads);

// OK when `device` ("cpu", "cuda:N") can run networks here; FAILED_PRECONDITION otherwise.
Status CheckTorchDevice(const std::string& device);

}  // namespace qlab::latency
