// A worker whose LibTorch has no CUDA, on a machine with a GPU: it advertises the GPU for
// kernel_bench but not for latency or accuracy, so such jobs for cuda wait with a reason that
// names the missing CUDA support and are never leased to it. The device kinds come from the
// worker's own rule (AssignDeviceKinds with this build's TorchRunsOnCuda); the GPU is the only
// thing faked, since this machine has none.
#include <gtest/gtest.h>

#include <fstream>

#include "proto/convert.h"
#include "tests/support/cluster.h"
#include "worker/executor.h"

namespace qlab::testing {
namespace {

using namespace std::chrono_literals;

TEST(DeviceCapabilityTest, CudaJobsWaitForACudaLibTorchInsteadOfRunningOnTheCpu) {
  Cluster c;
  c.StartServer();
  std::vector<DeviceInfo> devices = {{1, "cpu", "AMD EPYC", 16ull << 30},
                                     {2, "cuda:0", "NVIDIA H100 80GB HBM3", 80ull << 30, 132, "", "9.0"}};
  worker::ExecutorMap executors = worker::BuiltInExecutors(/*have_cuda_device=*/true);
  ASSERT_TRUE(executors.count("latency") && executors.count("accuracy") && executors.count("kernel_bench"));
  worker::AssignDeviceKinds(executors, worker::TorchRunsOnCuda, &devices);

  v1::RegisterRequest reg;
  reg.set_worker_id("gpu-host-cpu-torch");
  reg.set_slots(4);
  for (const auto& d : devices) DeviceToProto(d, reg.add_devices());
  for (const auto& [kind, executor] : executors) reg.add_kinds(kind);
  v1::RegisterResponse registered;
  ASSERT_TRUE(c.workers().Register(Deadline().get(), reg, &registered).ok());

  std::string out;
  const std::string sweep = c.dir().File("cuda.yaml");
  std::ofstream(sweep) << "name: cuda-latency\nkind: latency\n"
                          "params: {space: nb201, arch_index: 1, device: cuda:0}\n";
  ASSERT_EQ(c.Cli({"submit", sweep}, &out), 0) << out;
  const std::string accuracy = c.dir().File("acc.yaml");
  std::ofstream(accuracy) << "name: cuda-accuracy\nkind: accuracy\nparams: {model: " << QLAB_SOURCE_DIR
                          << "/models/kjv/model.bin, tokens: " << QLAB_SOURCE_DIR
                          << "/models/kjv/heldout.tok, datatype: nf4, device: cuda:0}\n";
  ASSERT_EQ(c.Cli({"submit", accuracy}, &out), 0) << out;

  // The worker asks for work: nothing of either is leased to it.
  v1::AcquireLeaseRequest lease;
  lease.set_worker_id(registered.worker_id());
  lease.set_max_jobs(4);
  lease.set_wait_ms(300);
  v1::AcquireLeaseResponse leased;
  ASSERT_TRUE(c.workers().AcquireLease(Deadline().get(), lease, &leased).ok());
  EXPECT_EQ(leased.leases_size(), 0);

  for (const char* experiment : {"cuda-latency", "cuda-accuracy"}) {
    v1::ListJobsRequest list;
    list.set_experiment(experiment);
    v1::ListJobsResponse jobs;
    ASSERT_TRUE(c.jobs().ListJobs(Deadline().get(), list, &jobs).ok());
    ASSERT_EQ(jobs.jobs_size(), 1);
    EXPECT_EQ(jobs.jobs(0).state(), v1::JOB_STATE_PENDING);
    EXPECT_NE(jobs.jobs(0).pending_reason().find("LibTorch has no CUDA support"), std::string::npos)
        << jobs.jobs(0).pending_reason();
  }
  // kernel_bench for the same GPU is leased to it.
  const std::string kernel = c.dir().File("k.yaml");
  std::ofstream(kernel) << "name: k\nkind: kernel_bench\nparams: {kernel: razer_w4, n: 256, k: 256, batch: 1}\n";
  ASSERT_EQ(c.Cli({"submit", kernel}, &out), 0) << out;
  ASSERT_TRUE(c.workers().AcquireLease(Deadline().get(), lease, &leased).ok());
  ASSERT_EQ(leased.leases_size(), 1);
  EXPECT_EQ(leased.leases(0).kind(), "kernel_bench");
  EXPECT_EQ(leased.leases(0).device(), "cuda:0");
}

}  // namespace
}  // namespace qlab::testing
