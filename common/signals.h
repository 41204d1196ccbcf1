// Turns SIGINT and SIGTERM into a call on an ordinary thread, whichever thread the kernel
// delivers them to. (Blocking them with a signal mask is not enough once a library such as
// LibTorch has started threads of its own before main().)
#pragma once

#include <functional>

namespace qlab {

// Installs handlers for SIGINT and SIGTERM and starts a thread that calls `on_signal(signo)`
// for each one received. Call once per process, before the signals can arrive.
void HandleTerminationSignals(std::function<void(int)> on_signal);

// Blocks the calling thread until the first SIGINT or SIGTERM; returns its number. Uses the
// same handlers; do not combine with HandleTerminationSignals.
int WaitForTerminationSignal();

}  // namespace qlab
