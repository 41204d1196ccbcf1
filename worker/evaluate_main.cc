// qlab-evaluate: runs one job in its own process for the worker daemon (worker/child_evaluator.h
// holds the protocol). It links the evaluators (LibTorch, CUDA) and no gRPC, so a GPU machine
// can build it against its own LibTorch while the daemon comes from wherever gRPC is.
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/heap_tuning.h"
#include "common/job_output_json.h"
#include "worker/executor.h"
#include "worker/run_context.h"

namespace {

using nlohmann::json;

constexpr int kJobError = 3;
constexpr int kOutOfMemory = 4;
constexpr int kUnhandledException = 5;
constexpr int kCannotWriteOutput = 6;

bool WriteOutput(const std::string& path, const json& doc) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << doc.dump(-1, ' ', false, json::error_handler_t::replace);
  out.close();
  return static_cast<bool>(out);
}

int Fail(const std::string& output, const qlab::Status& status) {
  if (!WriteOutput(output, {{"error", qlab::StatusToJson(status)}})) {
    std::fprintf(stderr, "qlab-evaluate: cannot write %s\n", output.c_str());
    return kCannotWriteOutput;
  }
  return kJobError;
}

// Virtual size of this process now: the loaded libraries already take hundreds of MB of
// address space, which the limit must not count.
uint64_t VirtualBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// The noop kind's `fault` param: a job that misbehaves on purpose, to test that the daemon
// survives it. Only reached here, never inside the daemon.
void InjectFault(const std::string& fault) {
  std::fprintf(stderr, "qlab-evaluate: injecting fault '%s'\n", fault.c_str());
  std::fflush(stderr);
  if (fault == "segv") std::raise(SIGSEGV);
  if (fault == "abort") std::abort();
  if (fault == "exit") std::_Exit(7);
  if (fault == "hang") {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (fault == "oom") {
    std::vector<char*> held;
    for (;;) {
      char* block = new char[64 << 20];
      std::memset(block, 1, 64 << 20);  // resident, not just reserved
      held.push_back(block);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  qlab::KeepLargeBuffersInHeap();
  // Log lines go to stderr, which the daemon keeps as the attempt's log; stdout carries progress.
  spdlog::set_default_logger(spdlog::stderr_color_st("qlab-evaluate"));
  std::string request_path, output_path, cache_dir;
  uint64_t memory_limit = 0;
  bool describe = false;
  CLI::App app{"qlab-evaluate: runs one qlab job for a worker daemon (not run by hand)"};
  app.add_option("--request", request_path, "the job, as JSON");
  app.add_option("--output", output_path, "where to write the result or the error");
  app.add_option("--cache-dir", cache_dir, "what outlives a job (accuracy reference passes)");
  app.add_option("--memory-limit-bytes", memory_limit, "address-space backstop beyond the load");
  app.add_flag("--describe", describe, "print the kinds this build runs, as JSON, and exit");
  pid_t parent = 0;
  app.add_option("--parent-pid", parent, "die with this process (the worker daemon)");
  CLI11_PARSE(app, argc, argv);
  if (parent > 0) {
    // A killed daemon must not leave its evaluators running jobs whose leases it has lost.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) return 1;  // it died before the line above
  }

  auto executors = qlab::worker::BuiltInExecutors(/*have_cuda_device=*/false);
  if (describe) {
    json kinds = json::array();
    for (const auto& [kind, executor] : executors) kinds.push_back(kind);
    int cuda_devices = 0;
    while (qlab::worker::TorchRunsOnCuda(cuda_devices)) ++cuda_devices;
#ifdef QLAB_TORCH_VERSION
    const char* torch_version = QLAB_TORCH_VERSION;
#else
    const char* torch_version = "";
#endif
    // What every job's figure depends on in this process (worker/run_context.h "runtime").
    const json runtime = {{"libtorch", torch_version},
                          {"blas", qlab::worker::LoadedBlasLibrary()},
                          {"omp_num_threads", std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : ""}};
    std::printf("%s\n", json{{"kinds", kinds}, {"torch_cuda_devices", cuda_devices},
                             {"runtime", runtime}}.dump().c_str());
    return 0;
  }
  if (request_path.empty() || output_path.empty()) {
    std::fprintf(stderr, "qlab-evaluate: --request and --output are required\n");
    return 2;
  }
  if (memory_limit > 0) {
    const uint64_t cap = VirtualBytes() + 2 * memory_limit;
    rlimit limit{cap, cap};
    setrlimit(RLIMIT_AS, &limit);
  }
  std::ifstream in(request_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  json request = json::parse(text.str(), nullptr, false);
  if (!request.is_object() || !request.contains("kind") || !request["kind"].is_string() ||
      !request.contains("params_json") || !request["params_json"].is_string()) {
    return Fail(output_path, qlab::Status::InvalidArgument("the request is malformed"));
  }
  qlab::worker::LeasedJob job;
  job.kind = request["kind"].get<std::string>();
  job.params_json = request["params_json"].get<std::string>();
  if (request.contains("job_id") && request["job_id"].is_number_integer()) {
    job.job_id = request["job_id"].get<int64_t>();
  }
  if (request.contains("device") && request["device"].is_string()) {
    job.device = request["device"].get<std::string>();
  }
  if (request.contains("experiment") && request["experiment"].is_string()) {
    job.experiment = request["experiment"].get<std::string>();
  }
  if (job.kind == "noop") {
    json params = json::parse(job.params_json, nullptr, false);
    if (params.is_object() && params.contains("fault") && params["fault"].is_string()) {
      InjectFault(params["fault"].get<std::string>());
    }
  }
  auto executor = executors.find(job.kind);
  if (executor == executors.end()) {
    return Fail(output_path, qlab::Status::Unimplemented("qlab-evaluate has no evaluator for kind " +
                                                         job.kind));
  }
  qlab::worker::SetEvaluatorCacheDirectory(cache_dir);

  qlab::JobContext context;
  std::atomic<bool> done{false};
  std::thread progress([&] {
    double last = -1;
    while (!done.load()) {
      const double now = context.progress();
      if (now != last) {
        std::printf("progress %.6f\n", now);
        std::fflush(stdout);
        last = now;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  int code = 0;
  try {
    auto out = executor->second->Execute(job, context);
    if (out.ok()) {
      code = WriteOutput(output_path, qlab::JobOutputToJson(*out)) ? 0 : kCannotWriteOutput;
    } else {
      code = Fail(output_path, out.status());
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "qlab-evaluate: out of memory (std::bad_alloc)\n");
    code = kOutOfMemory;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qlab-evaluate: unhandled exception: %s\n", e.what());
    code = kUnhandledException;
  }
  done = true;
  progress.join();
  std::printf("progress %.6f\n", context.progress());  // a job shorter than one tick
  std::fflush(stdout);
  std::fflush(stderr);
  // Skip static destructors: LibTorch's thread pools are slow and fragile to tear down.
  std::_Exit(code);
}
