#include "tests/support/cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

namespace qlab::testing {

Process::Process(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() { Kill(); }

void Process::Signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

void Process::Kill() {
  if (pid_ <= 0 || reaped_) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, &status_, 0);
  reaped_ = true;
}

bool Process::running() {
  if (reaped_) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

int Process::Wait(std::chrono::milliseconds timeout) {
  WaitFor([&] { return !running(); }, timeout);
  if (!reaped_) return -1;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

int RunCommand(const std::vector<std::string>& argv, std::string* output,
               std::chrono::seconds timeout) {
  char path[] = "/tmp/qlab-cmd-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  int code;
  {
    Process p(argv, path);
    code = p.Wait(timeout);
  }
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  if (output) *output = buf.str();
  unlink(path);
  return code;
}

std::unique_ptr<grpc::ClientContext> Deadline(std::chrono::milliseconds ms) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + ms);
  return ctx;
}

Cluster::Cluster(std::vector<std::string> server_flags) : server_flags_(std::move(server_flags)) {}

Cluster::~Cluster() {
  workers_.clear();
  server_.reset();
}

void Cluster::StartServer() {
  std::string port_file = dir_.File("ports.json");
  unlink(port_file.c_str());
  // A restart reuses the first run's ports so that workers find the server again.
  std::vector<std::string> argv = {QLAB_SERVER_BIN, "--db", db_path(), "--grpc-listen",
                                   grpc_address_.empty() ? "127.0.0.1:0" : grpc_address_,
                                   "--http-listen",
                                   http_address_.empty() ? "127.0.0.1:0" : http_address_,
                                   "--port-file", port_file};
  argv.insert(argv.end(), server_flags_.begin(), server_flags_.end());
  server_ = std::make_unique<Process>(argv, dir_.File("server-" + std::to_string(restarts_++) + ".log"));
  if (!WaitFor([&] { return access(port_file.c_str(), R_OK) == 0 || !server_->running(); },
               std::chrono::seconds(20)) ||
      !server_->running()) {
    throw std::runtime_error("qlab-server did not start; see " + dir_.path().string());
  }
  std::ifstream in(port_file);
  auto ports = nlohmann::json::parse(in);
  grpc_address_ = ports["grpc"];
  http_address_ = ports["http"];
  if (!channel_) {
    channel_ = grpc::CreateChannel(grpc_address_, grpc::InsecureChannelCredentials());
    jobs_ = v1::JobService::NewStub(channel_);
    workers_stub_ = v1::WorkerService::NewStub(channel_);
    results_ = v1::ResultService::NewStub(channel_);
  }
}

void Cluster::KillServer() { server_.reset(); }

size_t Cluster::StartWorker(std::vector<std::string> flags) {
  std::vector<std::string> argv = {QLAB_WORKER_BIN, "--coordinator", grpc_address_};
  argv.insert(argv.end(), flags.begin(), flags.end());
  size_t index = workers_.size();
  workers_.push_back(
      std::make_unique<Process>(argv, dir_.File("worker-" + std::to_string(index) + ".log")));
  return index;
}

int Cluster::Cli(const std::vector<std::string>& args, std::string* output) {
  std::vector<std::string> argv = {QLAB_CLI_BIN, "--server", grpc_address_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, output);
}

}  // namespace qlab::testing
