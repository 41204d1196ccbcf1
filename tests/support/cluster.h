// Real qlab processes for cross-process tests: a qlab-server on a free loopback port with its
// own SQLite file, qlab-worker processes pointed at it, and gRPC stubs to talk to it.
//
// Every process is killed (SIGKILL) when its handle goes away, so a failed assertion never
// leaves a server behind. Logs go to files in the test's temporary directory.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "qlab/v1/job_service.grpc.pb.h"
#include "qlab/v1/result_service.grpc.pb.h"
#include "qlab/v1/worker_service.grpc.pb.h"
#include "tests/support/temp_dir.h"

namespace qlab::testing {

// A child process. Kill() or the destructor sends SIGKILL and reaps it.
class Process {
 public:
  // Starts `argv[0]` with `argv`; stdout and stderr go to `log_path`.
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  void Kill();
  // Waits for exit up to `timeout`; returns the exit code, or -1 on timeout / killed.
  int Wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Runs a command to completion; returns its exit code and fills `output` (stdout+stderr).
int RunCommand(const std::vector<std::string>& argv, std::string* output,
               std::chrono::seconds timeout = std::chrono::seconds(60));

// Polls `done` every 20 ms until true or `timeout`; returns its last value.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout);

class Cluster {
 public:
  explicit Cluster(std::vector<std::string> server_flags = {});
  ~Cluster();

  // Starts (or restarts, on the same port and file) the server; returns after it answers.
  void StartServer();
  void KillServer();
  // Flags of the next StartServer (a restart with other settings).
  void set_server_flags(std::vector<std::string> flags) { server_flags_ = std::move(flags); }
  Process& server() { return *server_; }
  // Starts a worker; returns its index.
  size_t StartWorker(std::vector<std::string> flags = {});
  Process& worker(size_t i) { return *workers_[i]; }

  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }
  std::string db_path() const { return dir_.File("qlab.db"); }
  const TempDir& dir() const { return dir_; }

  v1::JobService::Stub& jobs() { return *jobs_; }
  v1::WorkerService::Stub& workers() { return *workers_stub_; }
  v1::ResultService::Stub& results() { return *results_; }

  // Runs the `qlab` CLI against this server.
  int Cli(const std::vector<std::string>& args, std::string* output);

 private:
  TempDir dir_;
  std::vector<std::string> server_flags_;
  std::unique_ptr<Process> server_;
  std::vector<std::unique_ptr<Process>> workers_;
  std::string grpc_address_, http_address_;
  int restarts_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::WorkerService::Stub> workers_stub_;
  std::unique_ptr<v1::ResultService::Stub> results_;
};

// A ClientContext with a deadline, for one call.
std::unique_ptr<grpc::ClientContext> Deadline(std::chrono::milliseconds ms = std::chrono::seconds(10));

}  // namespace qlab::testing
