// The latency job API for the worker: measure every architecture a job carries, following the
// protocol (protocol.h), one LatencySampleSet per architecture.
//
// Parameters and their validation live in latency_params.h (torch-free, so the server can link
// them); this header adds the runner, which needs LibTorch (target qlab_latency).
//
//   qlab::Status s = qlab::latency::ValidateLatencyParams(params);         // server, at submit
//   auto jobs = qlab::latency::ExpandLatencyJobs(params);                   // server, fan-out
//   auto out = qlab::latency::RunLatencyJob(params, context);               // worker
//
// Latency jobs must run alone on their device (the scheduler's `exclusive` flag): anything else
// running there shows up in the samples.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "common/job_output.h"
#include "common/status.h"
#include "evaluators/latency/latency_params.h"

namespace qlab::latency {

// Runs a latency job. For every architecture, in order: build the network (weights from
// `seed`), measure it with the job's protocol, free it. Then, up to protocol.retry_unstable
// times, measure the architectures whose sets are still unstable again (MergeRetry). Output:
//   latency: one LatencySampleSet per architecture (arch_key "nb201:<index>" or
//            "fbnet:<codes>", device "cpu:<CPU model>" or "cuda:N:<GPU model>", raw samples,
//            summary, unstable flag, context_json with the protocol settings, the network
//            (string, dataset, input shape, params, FLOPs), the measurement (warm-up, rejected
//            blocks) and the device (host, threads in effect, LibTorch version, GPU));
//   metrics: n_archs, n_unstable (after retries), n_retried, median_of_medians_us,
//            min_median_us, max_median_us, wall_s, archs_per_min.
// Progress is reported after each architecture; cancellation is noticed between timed calls.
// Errors: INVALID_ARGUMENT for bad params (ParseLatencyParams); FAILED_PRECONDITION when the
// device is not usable here (e.g. cuda:0 without a CUDA build or GPU); CANCELLED;
// RESOURCE_EXHAUSTED / INTERNAL when LibTorch fails on an architecture (named in the message).
// Sets LibTorch's process-wide thread counts (threads, interop_threads) and pins the calling
// thread for the job's duration (PinnedCpusFor).
StatusOr<JobOutput> RunLatencyJob(const nlohmann::json& params, JobContext& context);
StatusOr<JobOutput> RunLatencyJob(const LatencyJobSpec& spec, JobContext& context);

// Facts shared by every sample set of a job: host, LibTorch runtime, device, threads, and the
// CPUs the measuring thread is pinned to (`pinned_cpus`, empty = not pinned). Call after
// ConfigureTorchThreads so that the thread counts in effect are recorded.
nlohmann::json JobDeviceContext(const LatencyJobSpec& spec, const std::vector<int>& pinned_cpus);

// The CPUs a job pins its measuring thread to: the last N CPUs of the thread's affinity mask,
// N = LibTorch's intra-op threads in effect; empty when spec.pin is false, the device is not
// the CPU, or pinning would not restrict anything. With more than one thread only the calling
// thread is pinned (OpenMP workers keep their own placement; use OMP_PROC_BIND for those).
std::vector<int> PinnedCpusFor(const LatencyJobSpec& spec);

// Builds, measures and frees one architecture of `spec`; `device_context` is
// JobDeviceContext(spec, ...) (computed once per job). `context` may be null (no cancellation).
// Errors as RunLatencyJob. REQUIRES: ConfigureTorchThreads was called for this spec.
StatusOr<LatencySampleSet> MeasureArchitecture(const LatencyJobSpec& spec, const ArchRef& arch,
                                               const nlohmann::json& device_context,
                                               JobContext* context);

// Of two measurements of the same architecture, returns the better one (a stable set over an
// unstable one, else the lower CV) with the other recorded in its context_json under
// "superseded" (summary and raw samples), so no measurement is silently dropped.
LatencySampleSet MergeRetry(LatencySampleSet first, LatencySampleSet retry);

}  // namespace qlab::latency
