// What an evaluator hands back to the worker: metrics, latency sample sets and artifacts.
//
// Evaluators are plain libraries (no gRPC, no SQLite); the worker converts a JobOutput into the
// WorkerService.Complete request, and the coordinator stores each part in its own table
// (result, latency_sample, artifact; DESIGN.md §4).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
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
};

// Lets a long evaluator notice cancellation and report progress. Thread-safe.
class JobContext {
 public:
  virtual ~JobContext() = default;
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  // fraction in [0, 1]; the worker forwards the latest value with its next heartbeat.
  void ReportProgress(double fraction) { progress_.store(fraction, std::memory_order_relaxed); }
  double progress() const { return progress_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
  std::atomic<double> progress_{0.0};
};

}  // namespace qlab
