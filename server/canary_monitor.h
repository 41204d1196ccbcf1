// Drift canaries (README "Can I trust this number?"): each worker times a short fixed workload
// on each device at start and periodically; this judges every measurement against the device's
// own baseline, keeps the history, and quarantines a drifting device for timing jobs.
//
// Baseline: the newest `baseline_size` canaries of the same workload on the same worker device
// that were not drifts. Centre = their median; spread = 1.4826 x their median absolute
// deviation (a robust sigma, so one noisy baseline run does not widen it), at least
// `spread_floor` x the centre (timers and caches jitter a few percent even on an idle host).
// Verdict: "baseline" while fewer than `min_baseline` canaries are known, else "drift" when
// |median - centre| > k_sigma x spread, else "ok". A drift quarantines the device (the scheduler
// leases it no latency or kernel_bench job) and flags the timing results measured on it since
// its last good canary; an "ok" lifts the quarantine.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/clock.h"
#include "server/scheduler.h"
#include "storage/job_store.h"

namespace qlab::server {

struct CanaryOptions {
  double k_sigma = 4.0;
  int baseline_size = 10;
  int min_baseline = 3;
  double spread_floor = 0.03;
  // How soon a quarantined device should measure again (the worker's own interval otherwise).
  int64_t quarantined_retry_ms = 30'000;
};

struct CanaryVerdict {
  std::string verdict;        // baseline | ok | drift
  double centre_us = 0, spread_us = 0, z = 0;
  bool quarantined = false;
  int64_t flagged_results = 0;
  int64_t next_canary_ms = 0;  // 0 = the worker's own interval
};

// Judges `median_us` against `baseline` (the medians of the baseline canaries, any order).
CanaryVerdict JudgeCanary(double median_us, const std::vector<double>& baseline,
                          const CanaryOptions& options);

struct DeviceCanaryState {
  storage::CanaryRecord record;  // the newest
  int64_t history = 0;
  int64_t last_good_unix_ms = 0;
};

class CanaryMonitor {
 public:
  CanaryMonitor(storage::JobStore* store, Scheduler* scheduler, const Clock* clock,
                CanaryOptions options = {});

  // Stores and judges one canary. NOT_FOUND for an unknown worker; INVALID_ARGUMENT naming the
  // field for a device the worker lacks, a canary name empty or over 64 bytes, a median that is
  // not a positive finite number, or more than 1,000 samples.
  StatusOr<CanaryVerdict> Report(const std::string& worker_id, const std::string& device,
                                 const std::string& canary, double median_us,
                                 std::vector<double> samples_us);

  // The newest canary of every worker device, with its history size and last good time.
  StatusOr<std::vector<DeviceCanaryState>> Latest();

  // Called after every stored canary (metrics).
  void SetObserver(std::function<void(const CanaryVerdict&)> observer) { observer_ = std::move(observer); }

 private:
  storage::JobStore* const store_;
  Scheduler* const scheduler_;
  const Clock* const clock_;
  const CanaryOptions options_;
  std::function<void(const CanaryVerdict&)> observer_;
};

}  // namespace qlab::server
