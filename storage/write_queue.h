// WriteQueue: the coordinator's single SQLite writer.
//
// Every write is a closure run on one thread that owns the write connection. The thread takes
// all closures queued since its last round (up to a bound) and runs them in one
// `BEGIN IMMEDIATE ... COMMIT` transaction, each inside its own SAVEPOINT: a closure that
// returns an error rolls back only its own changes. Batching turns many small writes into one
// fsync-free WAL commit, which is what lets one file serve thousands of workers.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "common/status.h"
#include "storage/sqlite.h"

namespace qlab::storage {

class WriteQueue {
 public:
  using WriteFn = std::function<Status(Connection&)>;

  // Takes ownership of `conn`. `max_batch` bounds the closures per transaction.
  explicit WriteQueue(std::unique_ptr<Connection> conn, int max_batch = 512);
  // Runs everything queued, then stops the thread.
  ~WriteQueue();

  // Runs `fn` in the next transaction and blocks until that transaction has committed.
  // Returns fn's error (its changes rolled back), or the commit's error, or UNAVAILABLE after
  // Shutdown(). Thread-safe. `fn` must not call Run() itself.
  Status Run(WriteFn fn);

  // Stops accepting writes after draining the queue. Idempotent.
  void Shutdown();

  // Latency observer for metrics: called after each commit with (closures, seconds).
  void SetCommitObserver(std::function<void(int, double)> observer);

 private:
  struct Item {
    WriteFn fn;
    std::promise<Status> done;
  };
  void Loop();

  std::unique_ptr<Connection> conn_;
  const int max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;       // guarded by mu_
  bool stopping_ = false;        // guarded by mu_
  std::function<void(int, double)> observer_;
  std::thread thread_;
};

}  // namespace qlab::storage
