#include "worker/child_evaluator.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/job_output_json.h"
#include "evaluators/predictor/predictor_params.h"
#include "worker/devices.h"

extern char** environ;

namespace qlab::worker {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// The largest output file a child may hand back (artifacts are at most 32 MiB each).
constexpr uintmax_t kMaxOutputBytes = 256ull << 20;

std::string MiB(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// Resident memory of a live process, 0 when unreadable.
uint64_t ResidentBytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  uint64_t size_pages = 0, resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

StatusOr<std::string> ReadSmallFile(const std::string& path, uintmax_t max_bytes) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return Status::NotFound("cannot read '" + path + "': " + ec.message());
  if (size > max_bytes) {
    return Status::InvalidArgument("'" + path + "' is " + std::to_string(size) +
                                   " bytes, more than " + std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(size))) {
    return Status::NotFound("cannot read '" + path + "'");
  }
  return text;
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::Unavailable("cannot write '" + path + "' (disk full?)");
  return Status::Ok();
}

// A spawned child with its stdout and stderr as pipes, in its own process group so that a kill
// reaches whatever it started.
struct Child {
  pid_t pid = -1;
  int out_fd = -1, err_fd = -1;
};

StatusOr<Child> Spawn(const std::vector<std::string>& argv) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return Status::Unavailable(std::string("pipe: ") + strerror(errno));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return Status::Unavailable(std::string("pipe: ") + strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The daemon's signal handling (common/signals.h) must not leak into the child.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return Status::Unavailable("cannot start " + argv[0] + ": " + strerror(rc));
  }
  return Child{pid, out_pipe[0], err_pipe[0]};
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// Why the daemon killed a child, if it did.
enum class Kill { kNone, kCancelled, kTimeout, kMemory };

// Runs one job in a child and turns how it ended into a Status or the job's output.
class ChildExecutor final : public JobExecutor {
 public:
  ChildExecutor(ChildEvaluatorOptions options, DatasetSource dataset_source)
      : options_(std::move(options)), dataset_source_(std::move(dataset_source)) {}

  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    const std::string stem = options_.work_dir + "/job-" + std::to_string(job.job_id) + "-" +
                             std::to_string(job.token);
    const std::string request_path = stem + ".request.json";
    const std::string output_path = stem + ".output.json";
    const std::string dataset_path = stem + ".dataset.json";
    struct Cleanup {
      std::vector<std::string> paths;
      ~Cleanup() {
        std::error_code ec;
        for (const auto& p : paths) fs::remove(p, ec);
      }
    } cleanup{{request_path, output_path, dataset_path}};

    std::string params_json = job.params_json;
    if (job.kind == "predictor") {
      ASSIGN_OR_RETURN(params_json, HandOverDataset(job, dataset_path));
    }
    const json request = {{"job_id", job.job_id},   {"kind", job.kind},
                          {"params_json", params_json}, {"device", job.device},
                          {"experiment", job.experiment}};
    RETURN_IF_ERROR(WriteFile(request_path, request.dump()));
    std::vector<std::string> argv = {options_.evaluator_path, "--request", request_path,
                                     "--output", output_path, "--parent-pid",
                                     std::to_string(getpid())};
    if (!options_.cache_dir.empty()) {
      argv.insert(argv.end(), {"--cache-dir", options_.cache_dir});
    }
    if (options_.memory_limit_bytes > 0 && job.device.rfind("cuda", 0) != 0) {
      // A backstop for allocations faster than the watch below; CUDA reserves address space
      // far beyond what it uses, so CUDA jobs rely on the watch alone.
      argv.insert(argv.end(),
                  {"--memory-limit-bytes", std::to_string(options_.memory_limit_bytes)});
    }
    ASSIGN_OR_RETURN(Child child, Spawn(argv));
    return Supervise(job, child, output_path, context);
  }

 private:
  // For a predictor job that reads the coordinator's dataset: fetches it here (the child has
  // no gRPC) and names the file in the params the child gets.
  StatusOr<std::string> HandOverDataset(const LeasedJob& job, const std::string& path) {
    json params = json::parse(job.params_json, nullptr, false);
    if (!params.is_object()) return Status::InvalidArgument("params are not a JSON object");
    if (params.contains("dataset_file") || !dataset_source_) return job.params_json;
    ASSIGN_OR_RETURN(predictor::PredictorParams p, predictor::ParsePredictorParams(params));
    ASSIGN_OR_RETURN(auto rows, dataset_source_(std::string(predictor::SpaceName(p.space)),
                                                p.experiments));
    json list = json::array();
    for (const auto& r : rows) {
      list.push_back({{"arch_key", r.arch_key}, {"device", r.device}, {"batch", r.batch},
                      {"median_us", r.median_us}});
    }
    RETURN_IF_ERROR(WriteFile(path, list.dump()));
    params["dataset_file"] = path;
    params.erase("experiment");  // already applied: the file holds only those experiments' rows
    return params.dump();
  }

  StatusOr<JobOutput> Supervise(const LeasedJob& job, Child child, const std::string& output_path,
                                JobContext& context) {
    const auto started = SteadyClock::now();
    const auto deadline = job.timeout_s > 0 ? started + std::chrono::seconds(job.timeout_s)
                                            : SteadyClock::time_point::max();
    pollfd fds[2] = {{child.out_fd, POLLIN, 0}, {child.err_fd, POLLIN, 0}};
    std::string stdout_line;
    Kill killed = Kill::kNone;
    uint64_t peak_rss = 0, rss_at_kill = 0;
    int status = 0;
    rusage usage{};
    char buf[65536];
    for (;;) {
      const bool pipes_open = fds[0].fd >= 0 || fds[1].fd >= 0;
      if (pipes_open) {
        poll(fds, 2, 100);
        for (pollfd& p : fds) {
          if (p.fd < 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
          const ssize_t n = read(p.fd, buf, sizeof(buf));
          if (n <= 0) {
            close(p.fd);
            p.fd = -1;
            continue;
          }
          if (&p == &fds[1]) {
            context.AppendLog(std::string_view(buf, static_cast<size_t>(n)));
          } else {
            stdout_line.append(buf, static_cast<size_t>(n));
            ReadProgressLines(&stdout_line, context);
          }
        }
      } else {
        const pid_t done = wait4(child.pid, &status, WNOHANG, &usage);
        if (done == child.pid) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (killed != Kill::kNone) continue;
      const uint64_t rss = ResidentBytes(child.pid);
      peak_rss = std::max(peak_rss, rss);
      if (context.cancelled()) {
        killed = Kill::kCancelled;
      } else if (SteadyClock::now() >= deadline) {
        killed = Kill::kTimeout;
      } else if (options_.memory_limit_bytes > 0 && rss > options_.memory_limit_bytes) {
        killed = Kill::kMemory;
        rss_at_kill = rss;
      }
      if (killed != Kill::kNone) kill(-child.pid, SIGKILL);
    }
    kill(-child.pid, SIGKILL);  // whatever the child left running in its group
    peak_rss = std::max<uint64_t>(peak_rss, static_cast<uint64_t>(usage.ru_maxrss) * 1024);
    if (!stdout_line.empty()) ReadProgressLines(&stdout_line, context, /*final=*/true);
    const double seconds =
        std::chrono::duration<double>(SteadyClock::now() - started).count();
    switch (killed) {
      case Kill::kCancelled:
        return Status::Cancelled("cancelled");
      case Kill::kTimeout:
        return Status::DeadlineExceeded("timeout_s: the job ran longer than " +
                                        std::to_string(job.timeout_s) + " s and was killed");
      case Kill::kMemory:
        return Status::Aborted("the evaluator exceeded the job memory limit (" +
                               MiB(rss_at_kill) + " resident > " +
                               MiB(options_.memory_limit_bytes) +
                               ", --job-memory-limit) and was killed");
      case Kill::kNone:
        break;
    }
    const std::string peak = "; peak memory " + MiB(peak_rss) + ", after " +
                             std::to_string(static_cast<int64_t>(std::lround(seconds))) + " s";
    if (WIFSIGNALED(status)) {
      const int sig = WTERMSIG(status);
      return Status::Aborted("the evaluator was killed by " + SignalName(sig) +
                             (sig == SIGKILL ? " (the system's out-of-memory killer?)" : "") +
                             peak);
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0 || code == 3) {
      auto text = ReadSmallFile(output_path, kMaxOutputBytes);
      if (!text.ok()) {
        return Status::Aborted("the evaluator exited with code " + std::to_string(code) +
                               " but its output is unreadable: " + text.status().message());
      }
      json doc = json::parse(*text, nullptr, false);
      if (doc.is_discarded()) {
        return Status::Aborted("the evaluator's output is not JSON (exit code " +
                               std::to_string(code) + ")");
      }
      if (code == 3) {
        auto error = doc.find("error");
        if (doc.is_object() && error != doc.end()) return StatusFromJson(*error);
        return Status::Aborted("the evaluator exited with code 3 without an error");
      }
      auto out = JobOutputFromJson(doc);
      if (!out.ok()) return Status::Aborted(out.status().message());
      return out;
    }
    const std::string said = LastLine(context.LogTail());
    const std::string detail = said.empty() ? "" : ": " + said;
    if (code == 6) {
      return Status::Unavailable("the evaluator could not write its output (disk full?)" + detail);
    }
    if (code == 4) return Status::Aborted("the evaluator ran out of memory" + detail + peak);
    if (code == 5) return Status::Aborted("the evaluator threw" + detail + peak);
    return Status::Aborted("the evaluator exited with code " + std::to_string(code) + detail +
                           peak);
  }

  static void ReadProgressLines(std::string* pending, JobContext& context, bool final = false) {
    size_t start = 0;
    for (;;) {
      size_t end = pending->find('\n', start);
      if (end == std::string::npos) {
        if (!final) break;
        end = pending->size();
      }
      std::string_view line(pending->data() + start, end - start);
      if (line.rfind("progress ", 0) == 0) {
        const double fraction = std::atof(std::string(line.substr(9)).c_str());
        if (std::isfinite(fraction)) context.ReportProgress(std::clamp(fraction, 0.0, 1.0));
      } else if (!line.empty()) {
        context.AppendLog(std::string(line) + "\n");
      }
      start = end + 1;
      if (start >= pending->size()) break;
    }
    pending->erase(0, std::min(start, pending->size()));
    // A child that never ends its line cannot grow the daemon without bound.
    if (pending->size() > 65536) pending->clear();
  }

  static std::string LastLine(const std::string& log) {
    size_t end = log.find_last_not_of("\n ");
    if (end == std::string::npos) return "";
    size_t start = log.rfind('\n', end);
    start = start == std::string::npos ? 0 : start + 1;
    return log.substr(start, std::min<size_t>(end + 1 - start, 500));
  }

  const ChildEvaluatorOptions options_;
  DatasetSource dataset_source_;
};

class FaultRouter final : public JobExecutor {
 public:
  FaultRouter(std::unique_ptr<JobExecutor> in_process, std::unique_ptr<JobExecutor> child)
      : in_process_(std::move(in_process)), child_(std::move(child)) {}

  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    json params = json::parse(job.params_json, nullptr, false);
    const bool fault = params.is_object() && params.contains("fault");
    return (fault ? child_ : in_process_)->Execute(job, context);
  }

 private:
  std::unique_ptr<JobExecutor> in_process_, child_;
};

}  // namespace

StatusOr<EvaluatorDescription> DescribeEvaluator(const std::string& path) {
  ASSIGN_OR_RETURN(Child child, Spawn({path, "--describe"}));
  close(child.err_fd);
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(child.out_fd, buf, sizeof(buf));
    if (n <= 0 || text.size() > (1 << 20)) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(child.out_fd);
  int status = 0;
  waitpid(child.pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable(path + " --describe failed");
  }
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("kinds") || !doc["kinds"].is_array()) {
    return Status::Unavailable(path + " --describe answered no list of kinds");
  }
  EvaluatorDescription d;
  for (const auto& k : doc["kinds"]) {
    if (k.is_string()) d.kinds.push_back(k.get<std::string>());
  }
  auto cuda = doc.find("torch_cuda_devices");
  if (cuda != doc.end() && cuda->is_number_integer()) d.torch_cuda_devices = cuda->get<int>();
  auto runtime = doc.find("runtime");
  if (runtime != doc.end() && runtime->is_object()) d.runtime = *runtime;
  return d;
}

std::string DefaultEvaluatorPath() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const fs::path beside = self.parent_path() / "qlab-evaluate";
  return fs::exists(beside, ec) ? beside.string() : "";
}

ExecutorMap ChildExecutors(const ChildEvaluatorOptions& options,
                           const std::vector<std::string>& kinds, DatasetSource dataset_source) {
  ExecutorMap map;
  for (const auto& kind : kinds) {
    map[kind] = std::make_unique<ChildExecutor>(options, dataset_source);
  }
  return map;
}

std::unique_ptr<JobExecutor> NoopWithFaultsInChild(std::unique_ptr<JobExecutor> in_process,
                                                   std::unique_ptr<JobExecutor> child_noop) {
  return std::make_unique<FaultRouter>(std::move(in_process), std::move(child_noop));
}

StatusOr<uint64_t> ParseMemorySize(const std::string& text) {
  auto bad = [&] {
    return Status::InvalidArgument("--job-memory-limit: '" + text +
                                   "' is not a size such as 8G, 512M, 40% or 0");
  };
  if (text.empty()) return bad();
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    return bad();
  }
  if (!std::isfinite(value) || value < 0) return bad();
  const std::string unit = text.substr(used);
  double scale = 1;
  if (unit == "%") {
    if (value > 100) return bad();
    return static_cast<uint64_t>(static_cast<double>(HostMemoryBytes()) * value / 100.0);
  }
  if (unit == "K" || unit == "k") scale = 1024.0;
  else if (unit == "M" || unit == "m") scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "g") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "t") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty()) return bad();
  if (value * scale > 1e18) return bad();
  return static_cast<uint64_t>(value * scale);
}

uint64_t DefaultJobMemoryLimit(int slots) {
  return static_cast<uint64_t>(static_cast<double>(HostMemoryBytes()) * 0.8 /
                               std::max(1, slots));
}

}  // namespace qlab::worker
