// qlab-worker: discovers devices, reads flags (with QLAB_* environment equivalents) and runs a
// Worker until SIGINT or SIGTERM.
#include <algorithm>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>

#include <filesystem>

#include "common/heap_tuning.h"
#include "common/signals.h"
#include "worker/child_evaluator.h"
#include "worker/data_roots.h"
#include "worker/run_context.h"
#include "worker/worker.h"
#include "worker/worker_metrics.h"

namespace {

// A SIGKILLed daemon leaves its folder of children's files behind; the next one on the machine
// removes the folders whose daemon (the pid in the name) is gone.
void RemoveFoldersOfDeadWorkers(const std::filesystem::path& tmp) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    int pid = 0;
    char rest[32];
    if (std::sscanf(name.c_str(), "qlab-worker-%d-%31s", &pid, rest) != 2 || pid <= 0) continue;
    if (std::filesystem::exists("/proc/" + std::to_string(pid))) continue;
    std::error_code ignored;
    std::filesystem::remove_all(it->path(), ignored);
  }
}

}  // namespace

int main(int argc, char** argv) {
  qlab::KeepLargeBuffersInHeap();  // evaluators allocate tens of MB per operator
  qlab::worker::WorkerOptions options;
  std::string devices;
  std::vector<std::string> labels;
  CLI::App app{"qlab-worker: runs qlab jobs on this machine's devices"};
  app.add_option("--coordinator", options.coordinator, "coordinator gRPC address HOST:PORT")
      ->envname("QLAB_COORDINATOR")->capture_default_str();
  app.add_option("--devices", devices, "devices to offer, e.g. cpu,cuda:0 (default: all found)")
      ->envname("QLAB_DEVICES");
  app.add_option("--worker-id", options.worker_id, "stable id (default: assigned)")
      ->envname("QLAB_WORKER_ID");
  app.add_option("--slots", options.slots, "jobs run at once")->envname("QLAB_SLOTS")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--grace-ms", options.grace_ms,
                 "on SIGTERM, how long running jobs may finish before their leases are given back")
      ->envname("QLAB_GRACE_MS")->capture_default_str()->check(CLI::Range(0, 3'600'000));
  app.add_option("--label", labels, "KEY=VALUE label shown with the worker (repeatable)");
  std::string metrics_listen;
  app.add_option("--metrics-listen", metrics_listen,
                 "serve Prometheus /metrics on HOST:PORT (port 0: any); off by default")
      ->envname("QLAB_WORKER_METRICS_LISTEN");
  std::string token_file, tls_ca;
  app.add_option("--token-file", token_file,
                 "file holding the worker's bearer token (default: env QLAB_TOKEN)");
  app.add_option("--tls-ca", tls_ca, "PEM CA certificate: talk TLS to the coordinator")
      ->envname("QLAB_TLS_CA");
  std::vector<std::string> data_roots;
  app.add_option("--data-root", data_roots,
                 "folder whose files jobs may name (repeatable); unset: any file the worker can read")
      ->envname("QLAB_DATA_ROOTS")->delimiter(':');
  bool list_devices = false;
  std::string cache_dir;
  app.add_option("--cache-dir", cache_dir,
                 "keep what outlives a job here (accuracy reference passes); default: a folder that "
                 "lasts as long as this worker")
      ->envname("QLAB_CACHE_DIR");
  app.add_flag("--list-devices", list_devices, "print the devices found and exit");
  double canary_interval_s = 600;
  app.add_option("--canary-interval", canary_interval_s,
                 "seconds between drift canaries on each device while idle (three at start seed "
                 "the baseline); 0 = none")
      ->envname("QLAB_CANARY_INTERVAL");
  std::string evaluator, memory_limit_text;
  std::vector<std::string> in_process_kinds = {"noop", "quantize"};
  bool in_process = false;
  app.add_option("--evaluator", evaluator,
                 "the qlab-evaluate that runs each job in its own process (default: the one "
                 "beside qlab-worker)")->envname("QLAB_EVALUATOR");
  app.add_option("--job-memory-limit", memory_limit_text,
                 "kill a job's evaluator past this resident memory: 8G, 512M, 40% (of RAM) or 0 "
                 "for none (default: 80% of RAM shared by the slots)")
      ->envname("QLAB_JOB_MEMORY_LIMIT");
  app.add_option("--in-process-kinds", in_process_kinds,
                 "kinds run inside the daemon rather than in a child: LibTorch-free kinds whose "
                 "jobs are too short to pay a child's start (noop's `fault` jobs always use one)")
      ->delimiter(',')->capture_default_str()->envname("QLAB_IN_PROCESS_KINDS");
  app.add_flag("--in-process", in_process,
               "run jobs inside the daemon, without qlab-evaluate (only noop, quantize and "
               "kernel_bench; a crashing job takes the worker down)");
  CLI11_PARSE(app, argc, argv);

  for (const auto& l : labels) {
    auto eq = l.find('=');
    if (eq == std::string::npos || eq == 0) {
      spdlog::error("--label must be KEY=VALUE, got '{}'", l);
      return 2;
    }
    options.labels[l.substr(0, eq)] = l.substr(eq + 1);
  }
  std::string why_no_cuda;
  auto found = qlab::worker::DiscoverDevices(&why_no_cuda);
  if (list_devices) {
    for (const auto& d : found) {
      std::printf("%-8s %-6s %s, %.1f GiB%s\n", d.name.c_str(),
                  qlab::DeviceClassName(d.device_class), d.model.c_str(),
                  d.memory_bytes / double(1ull << 30),
                  d.compute_capability.empty() ? "" : (", sm " + d.compute_capability).c_str());
    }
    if (!why_no_cuda.empty()) std::printf("no CUDA device: %s\n", why_no_cuda.c_str());
    return 0;
  }
  auto selected = qlab::worker::SelectDevices(found, devices);
  if (!selected.ok()) {
    spdlog::error("{}", selected.status().message());
    return 2;
  }
  options.devices = *selected;
  bool have_cuda = false;
  for (const auto& d : options.devices) have_cuda |= d.device_class == 2;
  if (!have_cuda) spdlog::info("qlab-worker: no CUDA device offered ({})", why_no_cuda.empty() ? "not selected" : why_no_cuda);

  auto credentials = qlab::worker::ReadCredentials(token_file, tls_ca, &options);
  if (!credentials.ok()) {
    spdlog::error("qlab-worker: {}", credentials.message());
    return 2;
  }
  auto roots = qlab::worker::DataRoots::Make(data_roots);
  if (!roots.ok()) {
    spdlog::error("qlab-worker: {}", roots.status().message());
    return 2;
  }
  if (roots->empty()) {
    spdlog::warn("qlab-worker: no --data-root: jobs may read any file this worker can");
  }

  qlab::worker::WorkerMetrics metrics;
  if (!metrics_listen.empty()) {
    qlab::Status st = metrics.Serve(metrics_listen);
    if (!st.ok()) {
      spdlog::error("qlab-worker: {}", st.message());
      return st.code() == qlab::StatusCode::kInvalidArgument ? 2 : 1;
    }
    spdlog::info("qlab-worker: metrics on http://{}/metrics", metrics.address());
  }
  uint64_t memory_limit = qlab::worker::DefaultJobMemoryLimit(options.slots);
  if (!memory_limit_text.empty()) {
    auto parsed = qlab::worker::ParseMemorySize(memory_limit_text);
    if (!parsed.ok()) {
      spdlog::error("qlab-worker: {}", parsed.status().message());
      return 2;
    }
    memory_limit = *parsed;
  }
  auto dataset_source = qlab::worker::CoordinatorDatasetSource(
      {options.coordinator, options.token, options.tls_ca_pem});
  auto executors = qlab::worker::BuiltInExecutors(have_cuda, dataset_source);
  std::function<bool(int)> torch_runs_on_cuda = qlab::worker::TorchRunsOnCuda;
  // Request and output files of the children, and (without --cache-dir) what they keep
  // between jobs for the daemon's lifetime.
  RemoveFoldersOfDeadWorkers(std::filesystem::temp_directory_path());
  std::string work_dir = (std::filesystem::temp_directory_path() /
                          ("qlab-worker-" + std::to_string(getpid()) + "-XXXXXX")).string();
  if (mkdtemp(work_dir.data()) == nullptr) {
    spdlog::error("qlab-worker: cannot create a folder under {}", std::filesystem::temp_directory_path().string());
    return 1;
  }
  struct RemoveOnExit {
    std::string dir;
    ~RemoveOnExit() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_work_dir{work_dir};
  if (evaluator.empty() && !in_process) evaluator = qlab::worker::DefaultEvaluatorPath();
  if (in_process || evaluator.empty()) {
    spdlog::warn("qlab-worker: {}: jobs run inside the daemon, so a crashing job takes it down",
                 in_process ? "--in-process" : "no qlab-evaluate beside qlab-worker");
    qlab::worker::SetEvaluatorCacheDirectory(cache_dir);
  } else {
    auto description = qlab::worker::DescribeEvaluator(evaluator);
    if (!description.ok()) {
      spdlog::error("qlab-worker: --evaluator: {}", description.status().message());
      return 2;
    }
    qlab::worker::ChildEvaluatorOptions child;
    child.evaluator_path = evaluator;
    child.work_dir = work_dir;
    child.cache_dir = cache_dir.empty() ? work_dir + "/cache" : cache_dir;
    child.memory_limit_bytes = memory_limit;
    auto children = qlab::worker::ChildExecutors(child, description->kinds, dataset_source);
    for (const auto& kind : in_process_kinds) {
      if (!executors.count(kind)) continue;  // a LibTorch kind: only qlab-evaluate has it
      children[kind] = kind == "noop" && children.count("noop")
                           ? qlab::worker::NoopWithFaultsInChild(std::move(executors[kind]),
                                                                 std::move(children[kind]))
                           : std::move(executors[kind]);
    }
    for (const auto& kind : description->kinds) {
      if (std::find(in_process_kinds.begin(), in_process_kinds.end(), kind) ==
          in_process_kinds.end()) {
        options.runtime_of_kind[kind] = description->runtime;
      }
    }
    executors = std::move(children);
    const int cuda_devices = description->torch_cuda_devices;
    torch_runs_on_cuda = [cuda_devices](int ordinal) { return ordinal >= 0 && ordinal < cuda_devices; };
    spdlog::info("qlab-worker: each job runs in {} (memory limit {})", evaluator,
                 memory_limit == 0 ? std::string("none")
                                   : std::to_string(memory_limit >> 20) + " MiB");
  }
  qlab::worker::AssignDeviceKinds(executors, torch_runs_on_cuda, &options.devices);
  for (auto& d : options.devices) d.formats = qlab::worker::ProbeFormats(d);
  if (canary_interval_s < 0) {
    spdlog::error("qlab-worker: --canary-interval must be >= 0 seconds");
    return 2;
  }
  options.canary_interval_ms = static_cast<int64_t>(canary_interval_s * 1000);
  for (const auto& d : options.devices) {
    std::string kinds;
    for (const auto& k : d.kinds) kinds += (kinds.empty() ? "" : ",") + k;
    spdlog::info("qlab-worker: {} ({}) runs {}", d.name, d.model, kinds);
  }
  qlab::worker::Worker worker(options, metrics.Decorate(roots->Guard(std::move(executors))));
  qlab::HandleTerminationSignals([&worker](int sig) {
    spdlog::info("qlab-worker: signal {} received; finishing running jobs", sig);
    worker.Stop();
  });
  worker.Run();
  return 0;
}
