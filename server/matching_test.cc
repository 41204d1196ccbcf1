#include "server/matching.h"

#include <gtest/gtest.h>

namespace qlab::server {
namespace {

DeviceInfo Cpu() { return {1, "cpu", "AMD EPYC 7B13", 16ull << 30}; }
DeviceInfo H100() { return {2, "cuda:0", "NVIDIA H100 80GB HBM3", 80ull << 30}; }

TEST(GlobMatchTest, StarsQuestionMarksAndCase) {
  EXPECT_TRUE(GlobMatch("*H100*", "NVIDIA H100 80GB HBM3"));
  EXPECT_TRUE(GlobMatch("*h100*", "NVIDIA H100 80GB HBM3"));
  EXPECT_TRUE(GlobMatch("NVIDIA H?00*", "NVIDIA H200"));
  EXPECT_FALSE(GlobMatch("*A100*", "NVIDIA H100 80GB HBM3"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_FALSE(GlobMatch("?", ""));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXbYbZc"));
}

TEST(MatchingTest, ClassModelAndMemory) {
  storage::Requirements any;
  EXPECT_TRUE(DeviceSatisfies(any, Cpu()));
  storage::Requirements cuda{2};
  EXPECT_FALSE(DeviceSatisfies(cuda, Cpu()));
  EXPECT_TRUE(DeviceSatisfies(cuda, H100()));
  storage::Requirements a100{2, "*A100*"};
  EXPECT_FALSE(DeviceSatisfies(a100, H100()));
  storage::Requirements big{2, "", 100ull << 30};
  EXPECT_FALSE(DeviceSatisfies(big, H100()));
}

TEST(MatchingTest, FindDevicePicksTheSatisfyingOne) {
  WorkerView w{"w", {Cpu(), H100()}, {"quantize", "kernel_bench"}, true, 1};
  EXPECT_EQ(FindDevice("kernel_bench", storage::Requirements{2}, w)->name, "cuda:0");
  EXPECT_EQ(FindDevice("kernel_bench", storage::Requirements{}, w)->name, "cpu");
  EXPECT_TRUE(CanRun("kernel_bench", storage::Requirements{2}, w));
  EXPECT_FALSE(CanRun("latency", storage::Requirements{}, w)) << "kind not advertised";
}

TEST(MatchingTest, PendingReasonNamesTheMissingCapability) {
  std::vector<WorkerView> none;
  EXPECT_EQ(PendingReason("quantize", {}, none), "no live worker is connected");
  std::vector<WorkerView> cpu_only = {{"w", {Cpu()}, {"quantize", "kernel_bench"}, true, 1}};
  EXPECT_EQ(PendingReason("kernel_bench", storage::Requirements{2}, cpu_only),
            "no live worker has device class cuda");
  EXPECT_EQ(PendingReason("latency", {}, cpu_only), "no live worker runs jobs of kind latency");
  std::vector<WorkerView> gpu = {{"w", {H100()}, {"kernel_bench"}, true, 0}};
  EXPECT_EQ(PendingReason("kernel_bench", storage::Requirements{2, "*A100*"}, gpu),
            "no live worker has a device whose model matches '*A100*'");
  EXPECT_EQ(PendingReason("kernel_bench", storage::Requirements{2}, gpu),
            "all 1 matching worker(s) are busy");
  gpu[0].live = false;
  EXPECT_EQ(PendingReason("kernel_bench", storage::Requirements{2}, gpu),
            "no live worker is connected");
}

// A CUDA device whose worker's LibTorch has no CUDA lists only kernel_bench: latency and
// accuracy jobs for cuda wait, with the reason, instead of landing on it.
TEST(MatchingTest, DeviceKindsKeepTorchJobsOffACudaDeviceWithoutCudaLibTorch) {
  DeviceInfo cpu = Cpu();
  cpu.kinds = {"noop", "quantize", "latency", "accuracy"};
  DeviceInfo gpu = H100();
  gpu.kinds = {"noop", "quantize", "kernel_bench"};
  WorkerView w{"w", {cpu, gpu}, {"noop", "quantize", "latency", "accuracy", "kernel_bench"}, true, 1};
  const storage::Requirements cuda{2};
  EXPECT_EQ(FindDevice("latency", cuda, w), nullptr);
  EXPECT_EQ(FindDevice("accuracy", cuda, w), nullptr);
  EXPECT_EQ(FindDevice("kernel_bench", cuda, w)->name, "cuda:0");
  EXPECT_EQ(FindDevice("latency", {}, w)->name, "cpu");
  EXPECT_EQ(FindDevice("kernel_bench", {}, w)->name, "cuda:0") << "the CPU does not run kernel_bench";
  EXPECT_EQ(PendingReason("latency", cuda, {w}),
            "no live worker runs latency jobs on a matching cuda device: their LibTorch has no CUDA "
            "support (a worker needs a CUDA-enabled LibTorch)");
  // Devices that say nothing run every kind of their worker (workers before this field).
  WorkerView old{"o", {H100()}, {"latency"}, true, 1};
  EXPECT_EQ(FindDevice("latency", cuda, old)->name, "cuda:0");
}

TEST(MatchingTest, DevicesJsonRoundTrip) {
  DeviceInfo d = H100();
  d.compute_capability = "9.0";
  d.cores = 132;
  auto back = DevicesFromJson(DevicesToJson({Cpu(), d}));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].device_class, 2);
  EXPECT_EQ(back[1].model, d.model);
  EXPECT_EQ(back[1].memory_bytes, d.memory_bytes);
  EXPECT_EQ(back[1].compute_capability, "9.0");
  EXPECT_TRUE(DevicesFromJson("not json").empty());
}

}  // namespace
}  // namespace qlab::server
