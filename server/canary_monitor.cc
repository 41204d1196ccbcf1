#include "server/canary_monitor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "evaluators/latency/sample_stats.h"

namespace qlab::server {
namespace {

std::string Format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

}  // namespace

CanaryVerdict JudgeCanary(double median_us, const std::vector<double>& baseline,
                          const CanaryOptions& options) {
  CanaryVerdict v;
  if (static_cast<int>(baseline.size()) < options.min_baseline) {
    v.verdict = "baseline";
    return v;
  }
  v.centre_us = latency::Summarize(baseline).median;
  std::vector<double> deviations;
  deviations.reserve(baseline.size());
  for (double b : baseline) deviations.push_back(std::fabs(b - v.centre_us));
  v.spread_us = std::max(1.4826 * latency::Summarize(deviations).median,
                         options.spread_floor * v.centre_us);
  v.z = v.spread_us > 0 ? (median_us - v.centre_us) / v.spread_us : 0;
  v.verdict = std::fabs(v.z) > options.k_sigma ? "drift" : "ok";
  return v;
}

CanaryMonitor::CanaryMonitor(storage::JobStore* store, Scheduler* scheduler, const Clock* clock,
                             CanaryOptions options)
    : store_(store), scheduler_(scheduler), clock_(clock), options_(options) {}

StatusOr<std::vector<DeviceCanaryState>> CanaryMonitor::Latest() {
  std::vector<int64_t> counts, last_good;
  ASSIGN_OR_RETURN(auto latest, store_->LatestCanaries(&counts, &last_good));
  std::vector<DeviceCanaryState> out;
  for (size_t i = 0; i < latest.size(); ++i) out.push_back({std::move(latest[i]), counts[i], last_good[i]});
  return out;
}

StatusOr<CanaryVerdict> CanaryMonitor::Report(const std::string& worker_id,
                                              const std::string& device,
                                              const std::string& canary, double median_us,
                                              std::vector<double> samples_us) {
  if (canary.empty() || canary.size() > 64) {
    return Status::InvalidArgument("canary: name the workload in 1 to 64 bytes");
  }
  if (!std::isfinite(median_us) || median_us <= 0) {
    return Status::InvalidArgument("median_us must be a positive finite number");
  }
  if (samples_us.size() > 1000) return Status::InvalidArgument("samples_us: at most 1000 samples");
  RETURN_IF_ERROR(scheduler_->CheckWorkerDevice(worker_id, device));
  ASSIGN_OR_RETURN(auto history, store_->CanaryHistory(worker_id, device, 200));
  std::vector<double> baseline;
  int64_t last_good_ms = 0;
  for (const auto& h : history) {  // newest first
    if (h.verdict == "drift" || h.canary != canary) continue;
    if (last_good_ms == 0) last_good_ms = h.measured_unix_ms;
    baseline.push_back(h.median_us);
    if (static_cast<int>(baseline.size()) >= options_.baseline_size) break;
  }
  CanaryVerdict v = JudgeCanary(median_us, baseline, options_);
  storage::CanaryRecord record;
  record.worker_id = worker_id;
  record.device = device;
  record.canary = canary;
  record.measured_unix_ms = clock_->NowMs();
  record.median_us = median_us;
  record.samples_us = std::move(samples_us);
  record.baseline_median_us = v.centre_us;
  record.baseline_spread_us = v.spread_us;
  record.z = v.z;
  record.verdict = v.verdict;
  const std::string flag = "measured on " + worker_id + " " + device +
                           " after its last good drift canary; the next one drifted (" +
                           Format(median_us) + " us vs baseline " + Format(v.centre_us) + " ± " +
                           Format(v.spread_us) + " us, z = " + Format(v.z) + ")";
  RETURN_IF_ERROR(store_->RecordCanary(&record, flag, last_good_ms, &v.flagged_results));
  if (v.verdict != "baseline") scheduler_->SetQuarantined(worker_id, device, v.verdict == "drift");
  v.quarantined = v.verdict == "drift";
  v.next_canary_ms = v.quarantined ? options_.quarantined_retry_ms : 0;
  if (observer_) observer_(v);
  return v;
}

}  // namespace qlab::server
