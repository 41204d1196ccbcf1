// Repeatability and throughput of the latency protocol on this machine.
//
// Measures N NB201 architectures twice ("run 1" and "run 2"), interleaved in blocks
// (InterleavedSchedule: run 1 then run 2 of a block, the order reversed for the next block), each
// measurement building a fresh network exactly as a latency job does. Reports Spearman rho
// between the two runs' medians, the median absolute percentage difference, unstable counts,
// and throughput (architectures per minute, projected time for all 15,625 NB201 cells).
// Benchmark indices 0..N-1 are a uniform random sample of the space (the index order is itself
// a seeded shuffle), so --first/--archs pick a representative set.
//
// Unstable sets are retried at the end, as a latency job does (protocol retry_unstable).
//
//   qlab_latency_repro [--archs 200] [--first 0] [--threads 1] [--block 10] [--batch 1]
//                      [--dataset cifar10] [--protocol default|reference]
//                      [--min-runs N] [--min-time-s S] [--warmup-runs N] [--warmup-min-s S]
//                      [--pin 1|0] [--device cpu|cuda:N] [--json FILE]
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "evaluators/latency/device_info.h"
#include "evaluators/latency/latency_job.h"
#include "evaluators/latency/network_builder.h"
#include "evaluators/latency/sample_stats.h"

namespace {

using nlohmann::json;
using qlab::latency::LatencyJobSpec;

double NowS() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "qlab_latency_repro: %s\nflags: --archs N --first I --threads T --block B "
               "--batch B --dataset D --protocol P --min-runs N --min-time-s S "
               "--warmup-runs N --warmup-min-s S --pin 1|0 --device cpu|cuda:N --json FILE\n",
               why);
  return 2;
}

struct Row {
  int index = 0;
  std::string arch;
  int64_t flops = 0;
  double median_us[2] = {0, 0};
  double mean_us[2] = {0, 0};
  double cv[2] = {0, 0};
  double min_us[2] = {0, 0};
  bool unstable[2] = {false, false};
  bool remeasured[2] = {false, false};
  int n[2] = {0, 0};
  double other_cpus[2] = {0, 0};  // CPUs other processes kept busy during the measurement
  double build_s[2] = {0, 0};
  double warmup_s[2] = {0, 0};
};

// A measurement counts as "quiet" when other processes used less than this many CPUs.
constexpr double kQuietOtherCpus = 0.25;

}  // namespace

int main(int argc, char** argv) {
  int archs = 200, first = 0, block = 10;
  std::string json_out;
  json params = {{"space", "nb201"}};
  std::map<std::string, std::string> num_flags = {
      {"--min-runs", "min_runs"},       {"--min-time-s", "min_time_s"},
      {"--warmup-runs", "warmup_runs"}, {"--warmup-min-s", "warmup_min_s"},
      {"--threads", "threads"},         {"--batch", "batch"}};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(("missing value for " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--archs") {
      archs = std::atoi(value.c_str());
    } else if (flag == "--first") {
      first = std::atoi(value.c_str());
    } else if (flag == "--block") {
      block = std::atoi(value.c_str());
    } else if (flag == "--json") {
      json_out = value;
    } else if (flag == "--pin") {
      params["pin"] = value != "0";
    } else if (flag == "--dataset" || flag == "--protocol" || flag == "--device") {
      params[flag.substr(2)] = value;
    } else if (num_flags.count(flag)) {
      const double v = std::atof(value.c_str());
      params[num_flags[flag]] =
          v == static_cast<int64_t>(v) ? json(static_cast<int64_t>(v)) : json(v);
    } else {
      return Usage(("unknown flag " + flag).c_str());
    }
  }
  if (archs < 2 || block < 1) return Usage("--archs must be >= 2 and --block >= 1");
  params["arch_range"] = {first, first + archs};
  auto spec_or = qlab::latency::ParseLatencyParams(params);
  if (!spec_or.ok()) return Usage(spec_or.status().ToString().c_str());
  const LatencyJobSpec spec = *spec_or;

  if (auto s = qlab::latency::ConfigureTorchThreads(spec.threads, spec.interop_threads); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  // Pin exactly as a latency job does.
  const std::vector<int> cpus = qlab::latency::PinnedCpusFor(spec);
  json device = qlab::latency::JobDeviceContext(spec, {});
  const qlab::latency::ScopedCpuPin pin(cpus);
  if (pin.ok()) device["pinned_cpus"] = cpus;
  const std::string load_before = LoadAverage();

  std::vector<Row> rows(spec.archs.size());
  std::vector<std::array<qlab::LatencySampleSet, 2>> sets(spec.archs.size());
  const auto order = qlab::latency::InterleavedSchedule(archs, 2, block);
  const double t0 = NowS();
  int done = 0;
  auto measure = [&](int item) -> qlab::StatusOr<qlab::LatencySampleSet> {
    return qlab::latency::MeasureArchitecture(spec, spec.archs[item], device, nullptr);
  };
  for (const auto& [item, variant] : order) {
    auto set = measure(item);
    if (!set.ok()) {
      std::fprintf(stderr, "%s\n", set.status().ToString().c_str());
      return 1;
    }
    sets[item][variant] = std::move(set).value();
    if (++done % 50 == 0) {
      std::fprintf(stderr, "%d/%zu measurements, %.0f s\n", done, order.size(), NowS() - t0);
    }
  }
  // As a job does: unstable sets are measured again after the others (same schedule order).
  int retried = 0;
  for (int round = 0; round < spec.protocol.retry_unstable; ++round) {
    for (const auto& [item, variant] : order) {
      if (!sets[item][variant].unstable) continue;
      auto again = measure(item);
      if (!again.ok()) {
        std::fprintf(stderr, "%s\n", again.status().ToString().c_str());
        return 1;
      }
      sets[item][variant] =
          qlab::latency::MergeRetry(std::move(sets[item][variant]), std::move(again).value());
      ++retried;
    }
  }
  for (size_t item = 0; item < sets.size(); ++item) {
    for (int variant = 0; variant < 2; ++variant) {
      const qlab::LatencySampleSet& set = sets[item][variant];
      const auto& arch = spec.archs[item];
      Row& r = rows[item];
      const json ctx = json::parse(set.context_json);
      r.index = arch.nb201_index;
      r.arch = arch.Text();
      r.flops = ctx["network"]["flops_per_image"].get<int64_t>();
      r.min_us[variant] = set.min_us;
      r.remeasured[variant] = ctx["measurement"]["remeasured"].get<bool>();
      r.other_cpus[variant] = ctx["measurement"].value("other_busy_cpus", 0.0);
      r.build_s[variant] = ctx["measurement"]["build_s"].get<double>();
      r.warmup_s[variant] = ctx["measurement"]["warmup_s"].get<double>();
      r.median_us[variant] = set.median_us;
      r.mean_us[variant] = set.mean_us;
      r.cv[variant] = set.cv;
      r.unstable[variant] = set.unstable;
      r.n[variant] = static_cast<int>(set.samples_us.size());
    }
  }
  const double wall_s = NowS() - t0;
  const std::string load_after = LoadAverage();

  std::vector<double> m1, m2, mean1, mean2, min1, min2, flops, mean_median;
  std::vector<double> quiet1, quiet2, other;
  int unstable1 = 0, unstable2 = 0, within3 = 0, remeasured = 0, busy = 0;
  double build_sum = 0, warmup_sum = 0, single_pass_sum = 0;
  std::vector<double> rel;
  for (const Row& r : rows) {
    min1.push_back(r.min_us[0]);
    min2.push_back(r.min_us[1]);
    for (int v = 0; v < 2; ++v) {
      other.push_back(r.other_cpus[v]);
      busy += r.other_cpus[v] >= kQuietOtherCpus;
      remeasured += r.remeasured[v];
      build_sum += r.build_s[v];
      warmup_sum += r.warmup_s[v];
      single_pass_sum += r.build_s[v] + r.warmup_s[v] + r.n[v] * r.mean_us[v] * 1e-6;
    }
    if (r.other_cpus[0] < kQuietOtherCpus && r.other_cpus[1] < kQuietOtherCpus) {
      quiet1.push_back(r.median_us[0]);
      quiet2.push_back(r.median_us[1]);
    }
    m1.push_back(r.median_us[0]);
    m2.push_back(r.median_us[1]);
    mean1.push_back(r.mean_us[0]);
    mean2.push_back(r.mean_us[1]);
    flops.push_back(static_cast<double>(r.flops));
    mean_median.push_back((r.median_us[0] + r.median_us[1]) / 2);
    unstable1 += r.unstable[0];
    unstable2 += r.unstable[1];
    const double d = qlab::latency::MedianAbsRelativeDiff({r.median_us[0]}, {r.median_us[1]});
    rel.push_back(d);
    within3 += d <= 0.03;
  }
  const double rho = qlab::latency::SpearmanRho(m1, m2);
  const double rho_mean = qlab::latency::SpearmanRho(mean1, mean2);
  const double mad = qlab::latency::MedianAbsRelativeDiff(m1, m2);
  const qlab::latency::SampleSummary rel_summary = qlab::latency::Summarize(rel);
  const qlab::latency::SampleSummary lat = qlab::latency::Summarize(mean_median);
  // Throughput counts every measurement made, retries included (that is what a job spends).
  const double per_measurement_s = wall_s / static_cast<double>(order.size());
  const double single_pass_s = single_pass_sum / static_cast<double>(order.size());
  std::vector<double> stable1, stable2;
  for (const Row& r : rows) {
    if (!r.unstable[0] && !r.unstable[1]) {
      stable1.push_back(r.median_us[0]);
      stable2.push_back(r.median_us[1]);
    }
  }
  const double archs_per_min = 60.0 / per_measurement_s;
  const double projected_min = 15625.0 * per_measurement_s / 60.0;

  std::printf("machine: %s, %d logical CPUs (%d allowed), LibTorch %s, threads %d, pinned %s\n",
              device["host"]["cpu_model"].get<std::string>().c_str(),
              device["host"]["logical_cpus"].get<int>(), device["host"]["allowed_cpus"].get<int>(),
              device["torch"]["version"].get<std::string>().c_str(), device["threads"].get<int>(),
              device["pinned_cpus"].dump().c_str());
  std::printf("device: %s, timer: %s\n", spec.device.c_str(), device["timer"].get<std::string>().c_str());
  std::printf("protocol: %s\n", spec.protocol.ToJson().dump().c_str());
  std::printf("archs: NB201 indices %d..%d, dataset %s, batch %d; interleave block %d\n", first,
              first + archs - 1, spec.DatasetName().c_str(), spec.batch, block);
  std::printf("load average before: %s, after: %s\n", load_before.c_str(), load_after.c_str());
  std::printf("\n| metric | value |\n|---|---|\n");
  std::printf("| Spearman rho, run 1 vs run 2 (medians) | %.4f |\n", rho);
  std::printf("| Spearman rho, run 1 vs run 2 (means) | %.4f |\n", rho_mean);
  std::printf("| median abs. difference of medians | %.2f %% |\n", 100 * mad);
  std::printf("| p90 abs. difference of medians | %.2f %% |\n", 100 * rel_summary.p90);
  std::printf("| max abs. difference of medians | %.2f %% |\n", 100 * rel_summary.max);
  std::printf("| archs within 3 %% | %d / %d |\n", within3, archs);
  std::printf("| unstable sets (after re-measure and retry), run 1 / run 2 | %d / %d |\n",
              unstable1, unstable2);
  std::printf("| Spearman rho, run 1 vs run 2 (minima, diagnostic) | %.4f |\n",
              qlab::latency::SpearmanRho(min1, min2));
  std::printf("| sets re-measured once (CV > gate at first) | %d / %zu |\n", remeasured,
              order.size());
  std::printf("| sets retried at the end (still unstable after re-measuring) | %d / %zu |\n",
              retried, order.size());
  std::printf("| pairs stable in both runs: n, rho, median abs. diff | %zu, %.4f, %.2f %% |\n",
              stable1.size(), qlab::latency::SpearmanRho(stable1, stable2),
              100 * qlab::latency::MedianAbsRelativeDiff(stable1, stable2));
  const qlab::latency::SampleSummary other_summary = qlab::latency::Summarize(other);
  std::printf(
      "| CPUs busy with other processes during a set: median / p90 / max | "
      "%.2f / %.2f / %.2f |\n",
      other_summary.median, other_summary.p90, other_summary.max);
  std::printf("| sets with other processes using >= %.2f CPUs | %d / %zu |\n", kQuietOtherCpus,
              busy, order.size());
  std::printf(
      "| quiet pairs (both runs below that): n, rho, median abs. diff | %zu, %.4f, "
      "%.2f %% |\n",
      quiet1.size(), qlab::latency::SpearmanRho(quiet1, quiet2),
      100 * qlab::latency::MedianAbsRelativeDiff(quiet1, quiet2));
  std::printf("| Spearman rho, latency vs FLOPs | %.3f |\n",
              qlab::latency::SpearmanRho(mean_median, flops));
  std::printf("| latency median (min-max) | %.0f us (%.0f-%.0f) |\n", lat.median, lat.min, lat.max);
  std::printf("| wall time, %zu sets + %d retries | %.1f s |\n", order.size(), retried, wall_s);
  std::printf(
      "| per architecture, everything included (re-measures, retries) | %.0f ms (build %.0f, "
      "warm-up %.0f) |\n",
      1000 * per_measurement_s, 1000 * build_sum / order.size(), 1000 * warmup_sum / order.size());
  std::printf("| throughput | %.0f archs/min |\n", archs_per_min);
  std::printf("| projected, all 15,625 NB201 cells, one process | %.1f min |\n", projected_min);
  std::printf("| per architecture, single pass (build + warm-up + one timed block) | %.0f ms |\n",
              1000 * single_pass_s);
  std::printf("| projected, all 15,625, one process, if no set needed re-measuring | %.1f min |\n",
              15625.0 * single_pass_s / 60.0);

  if (!json_out.empty()) {
    json rows_json = json::array();
    for (const Row& r : rows) {
      rows_json.push_back({{"index", r.index},
                           {"arch", r.arch},
                           {"flops", r.flops},
                           {"median_us", {r.median_us[0], r.median_us[1]}},
                           {"mean_us", {r.mean_us[0], r.mean_us[1]}},
                           {"cv", {r.cv[0], r.cv[1]}},
                           {"min_us", {r.min_us[0], r.min_us[1]}},
                           {"unstable", {r.unstable[0], r.unstable[1]}},
                           {"other_busy_cpus", {r.other_cpus[0], r.other_cpus[1]}},
                           {"build_s", {r.build_s[0], r.build_s[1]}},
                           {"warmup_s", {r.warmup_s[0], r.warmup_s[1]}},
                           {"n", {r.n[0], r.n[1]}}});
    }
    std::ofstream(json_out) << json({{"device", device},
                                     {"protocol", spec.protocol.ToJson()},
                                     {"rho", rho},
                                     {"median_abs_diff", mad},
                                     {"wall_s", wall_s},
                                     {"rows", rows_json}})
                                   .dump(1);
  }
  return 0;
}
