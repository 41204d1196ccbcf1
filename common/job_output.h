// What an evaluator hands back to the worker: metrics, latency sample sets and artifacts.
//
// Evaluators are plain libraries (no gRPC, no SQLite); the worker converts a JobOutput into the
// WorkerService.Complete request, and the coordinator stores each part in its own table
// (result, latency_sample, artifact; DESIGN.md §4).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace qlab {

// One row of the `result` table.
struct Metric {
  std::string name;               // e.g. "mse", "sqnr_db" (DESIGN.md §10 names)
  double value = 0;
  std::string unit;               // "" for dimensionless, else "us", "GB/s", "bits", ...
  double stderr_value = 0;        // standard error when the metric is an estimate, else 0
  bool higher_is_better = false;  // direction used by Pareto fronts
};

// Latency of one architecture on one device at one batch size, with the raw evidence.
struct LatencySampleSet {
  std::string arch_key;           // "nb201:<index>" or "fbnet:<22 op codes joined by '-'>"
  std::string device;             // device model string, e.g. "cpu:Intel Xeon ..."
  int batch = 1;
  std::vector<double> samples_us; // every timed sample, in measurement order, outliers kept
  double median_us = 0, mean_us = 0, p10_us = 0, p90_us = 0, min_us = 0, stddev_us = 0;
  double cv = 0;                  // stddev / mean
  bool unstable = false;          // CV stayed above the protocol's gate after re-measuring
  std::string context_json;       // protocol settings (versioned) and device metadata
};

// An opaque blob produced by a job (trained predictor weights, raw traces).
struct Artifact {
  std::string name;
  std::string media_type;         // e.g. "application/octet-stream", "application/json"
  std::string bytes;
};

struct JobOutput {
  std::vector<Metric> metrics;
  std::vector<LatencySampleSet> latency;
  std::vector<Artifact> artifacts;
  // What the figures depend on that only the evaluator knows, as a JSON object ("" = nothing):
  // "kernel" {name, backend: native|emulated|fallback|vendor, path or launch configuration}
  // and "runtime" {blas, threads, ...}. The worker adds the device, host and build facts and
  // the coordinator hashes the whole into the job's comparability keys.
  std::string context_json;
};

// Lets a long evaluator notice cancellation, report progress and keep a log. Thread-safe.
class JobContext {
 public:
  // The most of an attempt's output kept: its last bytes.
  static constexpr size_t kMaxLogBytes = 1 << 20;

  virtual ~JobContext() = default;
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  // fraction in [0, 1]; the worker forwards the latest value with its next heartbeat.
  void ReportProgress(double fraction) { progress_.store(fraction, std::memory_order_relaxed); }
  double progress() const { return progress_.load(std::memory_order_relaxed); }

  // Output of the attempt (a child evaluator's stderr); kept to its last kMaxLogBytes.
  void AppendLog(std::string_view text) {
    std::lock_guard lock(log_mu_);
    KeepTail(log_, text, kMaxLogBytes);
    KeepTail(unsent_, text, kMaxLogBytes);
  }
  std::string LogTail() const {
    std::lock_guard lock(log_mu_);
    return log_;
  }
  // What was appended since the previous call, at most the last `max_bytes` of it: what the
  // worker streams with a heartbeat.
  std::string TakeNewLog(size_t max_bytes) {
    std::lock_guard lock(log_mu_);
    std::string out;
    out.swap(unsent_);
    if (out.size() > max_bytes) out.erase(0, out.size() - max_bytes);
    return out;
  }

 private:
  static void KeepTail(std::string& buffer, std::string_view text, size_t cap) {
    if (text.size() >= cap) {
      buffer.assign(text.substr(text.size() - cap));
      return;
    }
    if (buffer.size() + text.size() > cap) buffer.erase(0, buffer.size() + text.size() - cap);
    buffer.append(text);
  }

  std::atomic<bool> cancelled_{false};
  std::atomic<double> progress_{0.0};
  mutable std::mutex log_mu_;
  std::string log_;     // guarded by log_mu_
  std::string unsent_;  // guarded by log_mu_
};

}  // namespace qlab
