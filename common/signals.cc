#include "common/signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <thread>

namespace qlab {
namespace {

int pipe_fds[2] = {-1, -1};

void OnSignal(int signo) {
  // Only async-signal-safe calls here: write the number and return.
  unsigned char byte = static_cast<unsigned char>(signo);
  ssize_t ignored = write(pipe_fds[1], &byte, 1);
  (void)ignored;
}

void Install() {
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return;
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int ReadSignal() {
  unsigned char byte = 0;
  while (read(pipe_fds[0], &byte, 1) != 1) {
  }
  return byte;
}

}  // namespace

void HandleTerminationSignals(std::function<void(int)> on_signal) {
  Install();
  std::thread([on_signal = std::move(on_signal)] {
    for (;;) on_signal(ReadSignal());
  }).detach();
}

int WaitForTerminationSignal() {
  Install();
  return ReadSignal();
}

}  // namespace qlab
