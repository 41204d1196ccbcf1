#include <gtest/gtest.h>

#include "worker/executor.h"

namespace qlab::worker {
namespace {

class NothingExecutor final : public JobExecutor {
 public:
  StatusOr<JobOutput> Execute(const LeasedJob&, JobContext&) override { return JobOutput{}; }
};

ExecutorMap Kinds(std::initializer_list<const char*> names) {
  ExecutorMap map;
  for (const char* n : names) map[n] = std::make_unique<NothingExecutor>();
  return map;
}

std::vector<DeviceInfo> CpuAndGpu() {
  return {{1, "cpu", "AMD EPYC", 16ull << 30}, {2, "cuda:0", "NVIDIA H100", 80ull << 30}};
}

TEST(DeviceKindsTest, WithoutCudaLibTorchTheGpuRunsOnlyKernelBenchAndTheLightKinds) {
  auto devices = CpuAndGpu();
  AssignDeviceKinds(Kinds({"noop", "quantize", "latency", "accuracy", "predictor", "kernel_bench"}),
                    [](int) { return false; }, &devices);
  // The CPU runs kernel_bench with the CPU kernels.
  EXPECT_EQ(devices[0].kinds,
            (std::vector<std::string>{"accuracy", "kernel_bench", "latency", "noop", "predictor", "quantize"}));
  EXPECT_EQ(devices[1].kinds, (std::vector<std::string>{"kernel_bench", "noop", "quantize"}));
}

TEST(DeviceKindsTest, WithCudaLibTorchTheGpuAlsoRunsTheModels) {
  auto devices = CpuAndGpu();
  AssignDeviceKinds(Kinds({"noop", "latency", "accuracy", "kernel_bench"}), [](int ordinal) { return ordinal == 0; },
                    &devices);
  EXPECT_EQ(devices[1].kinds, (std::vector<std::string>{"accuracy", "kernel_bench", "latency", "noop"}));
  // A second GPU that this LibTorch does not see gets no model kinds.
  std::vector<DeviceInfo> two = {{2, "cuda:1", "NVIDIA H100", 80ull << 30}};
  AssignDeviceKinds(Kinds({"latency", "kernel_bench"}), [](int ordinal) { return ordinal == 0; }, &two);
  EXPECT_EQ(two[0].kinds, (std::vector<std::string>{"kernel_bench"}));
}

TEST(DeviceKindsTest, ThisBuildsLibTorchHasNoCuda) {
  // Debian's LibTorch is CPU-only; a CUDA LibTorch build on a GPU machine answers true.
  EXPECT_FALSE(TorchRunsOnCuda(0));
  EXPECT_FALSE(TorchRunsOnCuda(-1));
}

}  // namespace
}  // namespace qlab::worker
