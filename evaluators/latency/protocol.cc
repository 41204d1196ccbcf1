// Measurement loop and protocol settings.
#include "evaluators/latency/protocol.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace qlab::latency {
namespace {

class SteadyClockImpl : public Clock {
 public:
  double NowSeconds() override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

Status CheckPositive(const char* field, double value, bool allow_zero) {
  if (!std::isfinite(value) || value < 0 || (!allow_zero && value == 0)) {
    return Status::InvalidArgument(std::string(field) + ": must be " +
                                   (allow_zero ? ">= 0" : "> 0") + ", got " +
                                   std::to_string(value));
  }
  return Status::Ok();
}

// One timed block under the stopping rule; appends to `samples_us`.
Status TimedBlock(const ProtocolSettings& s, const std::function<StatusOr<double>()>& timed_run,
                  const std::function<bool()>& cancelled, std::vector<double>& samples_us) {
  double timed_s = 0;
  while (true) {
    const int n = static_cast<int>(samples_us.size());
    const bool minima_met = n >= s.min_runs && timed_s >= s.min_time_s;
    const bool cap_hit = n >= s.max_runs || timed_s >= s.max_time_s;
    if (minima_met || cap_hit) return Status::Ok();
    if (cancelled && cancelled()) return Status::Cancelled("latency measurement cancelled");
    ASSIGN_OR_RETURN(const double sample_us, timed_run());
    samples_us.push_back(sample_us);
    timed_s += sample_us * 1e-6;
  }
}

}  // namespace

ProtocolSettings ProtocolSettings::Reference() {
  ProtocolSettings s;
  s.warmup_runs = 10;
  s.warmup_min_s = 0.2;
  s.min_runs = 50;
  s.min_time_s = 0.5;
  s.max_runs = 10000;
  s.max_time_s = 10.0;
  return s;
}

Status ProtocolSettings::Validate() const {
  if (warmup_runs < 0) {
    return Status::InvalidArgument("warmup_runs: must be >= 0, got " + std::to_string(warmup_runs));
  }
  RETURN_IF_ERROR(CheckPositive("warmup_min_s", warmup_min_s, true));
  if (min_runs < 1) {
    return Status::InvalidArgument("min_runs: must be >= 1, got " + std::to_string(min_runs));
  }
  RETURN_IF_ERROR(CheckPositive("min_time_s", min_time_s, true));
  if (max_runs < min_runs) {
    return Status::InvalidArgument("max_runs: must be >= min_runs (" + std::to_string(min_runs) +
                                   "), got " + std::to_string(max_runs));
  }
  RETURN_IF_ERROR(CheckPositive("max_time_s", max_time_s, false));
  if (max_time_s < min_time_s) {
    return Status::InvalidArgument("max_time_s: must be >= min_time_s (" +
                                   std::to_string(min_time_s) + "), got " +
                                   std::to_string(max_time_s));
  }
  RETURN_IF_ERROR(CheckPositive("cv_gate", cv_gate, false));
  if (retry_unstable < 0 || retry_unstable > 10) {
    return Status::InvalidArgument("retry_unstable: must be in [0, 10], got " +
                                   std::to_string(retry_unstable));
  }
  return Status::Ok();
}

nlohmann::json ProtocolSettings::ToJson() const {
  return {{"name", "qlab.latency.protocol"},
          {"version", kVersion},
          {"warmup_runs", warmup_runs},
          {"warmup_min_s", warmup_min_s},
          {"min_runs", min_runs},
          {"min_time_s", min_time_s},
          {"max_runs", max_runs},
          {"max_time_s", max_time_s},
          {"cv_gate", cv_gate},
          {"remeasure", remeasure},
          {"retry_unstable", retry_unstable},
          {"statistic", "median"},
          {"quantiles", "linear interpolation (numpy default)"},
          {"stddev", "sample (n-1)"},
          {"timer", "steady_clock around each call; device synchronised inside the call"}};
}

Clock& SteadyClock() {
  static SteadyClockImpl clock;
  return clock;
}

StatusOr<Measurement> MeasureLatency(const ProtocolSettings& s,
                                     const std::function<Status()>& run_once, Clock& clock,
                                     const std::function<bool()>& cancelled) {
  return MeasureLatencyTimed(
      s,
      [&]() -> StatusOr<double> {
        const double t0 = clock.NowSeconds();
        RETURN_IF_ERROR(run_once());
        return (clock.NowSeconds() - t0) * 1e6;
      },
      clock, cancelled);
}

StatusOr<Measurement> MeasureLatencyTimed(const ProtocolSettings& s,
                                          const std::function<StatusOr<double>()>& timed_run,
                                          Clock& clock, const std::function<bool()>& cancelled) {
  Measurement m;
  // Warm-up: both minima must hold; capped by max_time_s so a pathological network still ends.
  const double w0 = clock.NowSeconds();
  while (true) {
    const double elapsed = clock.NowSeconds() - w0;
    if ((m.warmup_runs >= s.warmup_runs && elapsed >= s.warmup_min_s) || elapsed >= s.max_time_s) {
      m.warmup_s = elapsed;
      break;
    }
    if (cancelled && cancelled()) return Status::Cancelled("latency measurement cancelled");
    RETURN_IF_ERROR(timed_run().status());
    ++m.warmup_runs;
  }

  RETURN_IF_ERROR(TimedBlock(s, timed_run, cancelled, m.samples_us));
  m.summary = Summarize(m.samples_us);
  if (m.summary.cv > s.cv_gate) {
    if (s.remeasure) {
      m.rejected_blocks_us.push_back(std::move(m.samples_us));
      m.samples_us.clear();
      RETURN_IF_ERROR(TimedBlock(s, timed_run, cancelled, m.samples_us));
      m.summary = Summarize(m.samples_us);
    }
    m.unstable = m.summary.cv > s.cv_gate;
  }
  return m;
}

std::vector<std::pair<int, int>> InterleavedSchedule(int num_items, int num_variants,
                                                     int block_size) {
  std::vector<std::pair<int, int>> order;
  if (num_items <= 0 || num_variants <= 0 || block_size <= 0) return order;
  order.reserve(static_cast<size_t>(num_items) * num_variants);
  for (int begin = 0, block = 0; begin < num_items; begin += block_size, ++block) {
    const int end = std::min(num_items, begin + block_size);
    for (int v = 0; v < num_variants; ++v) {
      // Rotate the variant order each block: with two variants, A B then B A.
      const int variant = (block % 2 == 0) ? v : (num_variants - 1 - v);
      for (int item = begin; item < end; ++item) order.emplace_back(item, variant);
    }
  }
  return order;
}

}  // namespace qlab::latency
