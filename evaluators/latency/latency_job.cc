// Latency job runner. Torch-free itself: networks come from network_builder.h, so this file
// compiles as plain C++.
#include "evaluators/latency/latency_job.h"

#include <algorithm>
#include <chrono>

#include "evaluators/latency/device_info.h"
#include "evaluators/latency/nas_cost.h"
#include "evaluators/latency/network_builder.h"
#include "evaluators/latency/protocol.h"

namespace qlab::latency {
namespace {

using nlohmann::json;

double NowS() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string DeviceLabel(const LatencyJobSpec& spec, const json& device_context) {
  if (spec.device == "cpu") {
    return "cpu:" + device_context["host"]["cpu_model"].get<std::string>();
  }
  const std::string gpu = device_context.value("gpu_model", std::string());
  return gpu.empty() ? spec.device : spec.device + ":" + gpu;
}

Metric MakeMetric(std::string name, double value, std::string unit, bool higher_is_better) {
  Metric m;
  m.name = std::move(name);
  m.value = value;
  m.unit = std::move(unit);
  m.higher_is_better = higher_is_better;
  return m;
}

}  // namespace

std::vector<int> PinnedCpusFor(const LatencyJobSpec& spec) {
  if (!spec.pin || spec.device != "cpu") return {};
  const std::vector<int> allowed = AllowedCpus();
  const int threads = GetTorchRuntime().intra_op_threads;
  if (threads <= 0 || threads >= static_cast<int>(allowed.size())) return {};
  // The last CPUs: CPU 0 usually takes more interrupts and housekeeping work.
  return std::vector<int>(allowed.end() - threads, allowed.end());
}

json JobDeviceContext(const LatencyJobSpec& spec, const std::vector<int>& pinned_cpus) {
  const TorchRuntime rt = GetTorchRuntime();
  json torch = {{"version", rt.version},
                {"intra_op_threads", rt.intra_op_threads},
                {"interop_threads", rt.interop_threads},
                {"mkldnn", rt.mkldnn},
                {"parallel_backend", rt.parallel_backend},
                {"blas", rt.blas},
                {"blas_threads", rt.blas_threads},
                {"cuda_available", rt.cuda_available},
                {"cuda_device_count", rt.cuda_device_count}};
  json ctx = {{"device", spec.device},
              {"threads_requested", spec.threads},
              {"threads", rt.intra_op_threads},
              {"interop_threads", rt.interop_threads},
              {"pinned_cpus", pinned_cpus.empty() ? json(nullptr) : json(pinned_cpus)},
              {"host", ToJson(ReadHostInfo())},
              {"torch", torch},
              {"timer", TimerDescription(spec.device)}};
  if (spec.device != "cpu") {
    const int ordinal = std::stoi(spec.device.substr(spec.device.find(':') + 1));
    ctx["gpu_model"] = ReadNvidiaGpuModel(ordinal);
    const NvidiaGpuState gpu = ReadNvidiaGpuState(ordinal);
    ctx["gpu_driver"] = gpu.driver.empty() ? json(nullptr) : json(gpu.driver);
    ctx["gpu_clocks"] = gpu.sm_clock_mhz > 0
                            ? json{{"sm_mhz", gpu.sm_clock_mhz}, {"mem_mhz", gpu.mem_clock_mhz},
                                   {"max_sm_mhz", gpu.max_sm_clock_mhz}}
                            : json(nullptr);
  }
  return ctx;
}

StatusOr<LatencySampleSet> MeasureArchitecture(const LatencyJobSpec& spec, const ArchRef& arch,
                                               const json& device_context, JobContext* context) {
  const std::string start_time = UtcTimestamp();
  NetworkSpec net_spec;
  net_spec.arch = arch;
  net_spec.nb201_dataset = spec.nb201_dataset;
  net_spec.fbnet_dataset = spec.fbnet_dataset;
  net_spec.batch = spec.batch;
  net_spec.seed = spec.seed;
  net_spec.device = spec.device;

  const double b0 = NowS();
  auto built = Network::Build(net_spec);
  if (!built.ok()) return built.status().WithContext(arch.Key());
  std::unique_ptr<Network> net = std::move(built).value();
  const double build_s = NowS() - b0;

  std::function<bool()> cancelled;
  if (context != nullptr) cancelled = [context] { return context->cancelled(); };
  const HostLoadMeter load;
  auto measured = MeasureLatencyTimed(
      spec.protocol, [&net] { return net->TimedRun(); }, SteadyClock(), cancelled);
  const HostLoadMeter::Reading load_reading = load.Read();
  if (!measured.ok()) return measured.status().WithContext(arch.Key());
  const Measurement& m = *measured;

  const nas::NetworkCost cost = arch.space == Space::kNb201
                                    ? nas::Nb201Cost(arch.nb201_ops, spec.nb201_dataset)
                                    : nas::FbnetCost(arch.fbnet, spec.fbnet_dataset);
  LatencySampleSet set;
  set.arch_key = arch.Key();
  set.device = DeviceLabel(spec, device_context);
  set.batch = spec.batch;
  set.samples_us = m.samples_us;
  set.median_us = m.summary.median;
  set.mean_us = m.summary.mean;
  set.p10_us = m.summary.p10;
  set.p90_us = m.summary.p90;
  set.min_us = m.summary.min;
  set.stddev_us = m.summary.stddev;
  set.cv = m.summary.cv;
  set.unstable = m.unstable;

  json network = {{"space", arch.space == Space::kNb201 ? "nb201" : "fbnet"},
                  {"arch_key", arch.Key()},
                  {"arch", arch.Text()},
                  {"dataset", spec.DatasetName()},
                  {"batch", spec.batch},
                  {"input_shape", net->InputShape()},
                  {"output_shape", net->OutputShape()},
                  {"params", net->NumParameters()},
                  {"flops_per_image", cost.flops},
                  {"seed", spec.seed}};
  if (arch.space == Space::kNb201) network["arch_index"] = arch.nb201_index;
  json measurement = {{"n", m.summary.n},
                      {"max_us", m.summary.max},
                      {"warmup_runs", m.warmup_runs},
                      {"warmup_s", m.warmup_s},
                      {"build_s", build_s},
                      {"unstable", m.unstable},
                      {"remeasured", !m.rejected_blocks_us.empty()},
                      {"rejected_blocks_us", m.rejected_blocks_us},
                      {"start_time", start_time}};
  if (load_reading.valid) {
    // Evidence of (non-)exclusivity: CPUs other processes kept busy while this set was timed.
    measurement["other_busy_cpus"] = load_reading.other_busy_cpus;
    measurement["steal_cpus"] = load_reading.steal_cpus;
  }
  json ctx = {{"protocol", spec.protocol.ToJson()},
              {"network", std::move(network)},
              {"measurement", std::move(measurement)},
              {"device", device_context}};
  set.context_json = ctx.dump();
  return set;
}

LatencySampleSet MergeRetry(LatencySampleSet first, LatencySampleSet retry) {
  const bool retry_wins = first.unstable != retry.unstable ? !retry.unstable : retry.cv < first.cv;
  LatencySampleSet& keep = retry_wins ? retry : first;
  LatencySampleSet& drop = retry_wins ? first : retry;
  json ctx = json::parse(keep.context_json);
  json other = json::parse(drop.context_json);
  json superseded = other.contains("superseded") ? other["superseded"] : json::array();
  superseded.push_back({{"median_us", drop.median_us},
                        {"cv", drop.cv},
                        {"unstable", drop.unstable},
                        {"start_time", other["measurement"].value("start_time", "")},
                        {"other_busy_cpus", other["measurement"].value("other_busy_cpus", -1.0)},
                        {"samples_us", drop.samples_us}});
  if (ctx.contains("superseded")) {
    for (const json& s : ctx["superseded"]) superseded.push_back(s);
  }
  ctx["superseded"] = std::move(superseded);
  keep.context_json = ctx.dump();
  return std::move(keep);
}

StatusOr<JobOutput> RunLatencyJob(const json& params, JobContext& context) {
  ASSIGN_OR_RETURN(LatencyJobSpec spec, ParseLatencyParams(params));
  return RunLatencyJob(spec, context);
}

StatusOr<JobOutput> RunLatencyJob(const LatencyJobSpec& spec, JobContext& context) {
  RETURN_IF_ERROR(CheckTorchDevice(spec.device));
  RETURN_IF_ERROR(ConfigureTorchThreads(spec.threads, spec.interop_threads));
  const std::vector<int> cpus = PinnedCpusFor(spec);
  const json host_context = JobDeviceContext(spec, {});  // before pinning narrows the mask
  const ScopedCpuPin pin(cpus);
  json device_context = host_context;
  if (pin.ok()) device_context["pinned_cpus"] = cpus;

  const double t0 = NowS();
  JobOutput out;
  out.latency.reserve(spec.archs.size());
  const double n = static_cast<double>(spec.archs.size());
  for (size_t i = 0; i < spec.archs.size(); ++i) {
    if (context.cancelled()) return Status::Cancelled("latency job cancelled");
    ASSIGN_OR_RETURN(LatencySampleSet set,
                     MeasureArchitecture(spec, spec.archs[i], device_context, &context));
    out.latency.push_back(std::move(set));
    context.ReportProgress(0.99 * static_cast<double>(i + 1) / n);
  }
  int retried = 0;
  for (int round = 0; round < spec.protocol.retry_unstable; ++round) {
    for (size_t i = 0; i < out.latency.size(); ++i) {
      if (!out.latency[i].unstable) continue;
      if (context.cancelled()) return Status::Cancelled("latency job cancelled");
      ASSIGN_OR_RETURN(LatencySampleSet again,
                       MeasureArchitecture(spec, spec.archs[i], device_context, &context));
      out.latency[i] = MergeRetry(std::move(out.latency[i]), std::move(again));
      ++retried;
    }
  }
  context.ReportProgress(1.0);
  const double wall_s = NowS() - t0;

  int unstable = 0;
  std::vector<double> medians;
  for (const LatencySampleSet& set : out.latency) {
    unstable += set.unstable ? 1 : 0;
    medians.push_back(set.median_us);
  }

  const SampleSummary of_medians = Summarize(medians);
  out.metrics.push_back(MakeMetric("n_archs", static_cast<double>(medians.size()), "", true));
  out.metrics.push_back(MakeMetric("n_unstable", unstable, "", false));
  out.metrics.push_back(MakeMetric("n_retried", retried, "", false));
  out.metrics.push_back(MakeMetric("median_of_medians_us", of_medians.median, "us", false));
  out.metrics.push_back(MakeMetric("min_median_us", of_medians.min, "us", false));
  out.metrics.push_back(MakeMetric("max_median_us", of_medians.max, "us", false));
  out.metrics.push_back(MakeMetric("wall_s", wall_s, "s", false));
  out.metrics.push_back(MakeMetric(
      "archs_per_min", wall_s > 0 ? 60.0 * static_cast<double>(medians.size()) / wall_s : 0,
      "1/min", true));
  return out;
}

}  // namespace qlab::latency
