#include "storage/write_queue.h"

#include <chrono>
#include <vector>

namespace qlab::storage {

WriteQueue::WriteQueue(std::unique_ptr<Connection> conn, int max_batch)
    : conn_(std::move(conn)), max_batch_(max_batch), thread_([this] { Loop(); }) {}

WriteQueue::~WriteQueue() {
  Shutdown();
  if (thread_.joinable()) thread_.join();
}

void WriteQueue::Shutdown() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  cv_.notify_all();
}

void WriteQueue::SetCommitObserver(std::function<void(int, double)> observer) {
  std::lock_guard lock(mu_);
  observer_ = std::move(observer);
}

Status WriteQueue::Run(WriteFn fn) {
  std::future<Status> done;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("database writer is shutting down");
    queue_.push_back(Item{std::move(fn), {}});
    done = queue_.back().done.get_future();
  }
  cv_.notify_one();
  return done.get();
}

void WriteQueue::Loop() {
  for (;;) {
    std::vector<Item> batch;
    std::function<void(int, double)> observer;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      observer = observer_;
    }
    auto start = std::chrono::steady_clock::now();
    std::vector<Status> results(batch.size());
    Status begin = conn_->Exec("BEGIN IMMEDIATE");
    if (!begin.ok()) {
      for (Item& item : batch) item.done.set_value(begin);
      continue;
    }
    Status lost;  // set when SQLite rolled back the whole transaction (e.g. a full disk)
    for (size_t i = 0; i < batch.size() && lost.ok(); ++i) {
      Status sp = conn_->Exec("SAVEPOINT w");
      if (!sp.ok()) {
        results[i] = sp;
      } else {
        results[i] = batch[i].fn(*conn_);
        if (results[i].ok()) {
          results[i] = conn_->Exec("RELEASE w");
        } else if (conn_->InTransaction()) {
          (void)conn_->Exec("ROLLBACK TO w");
          (void)conn_->Exec("RELEASE w");
        }
      }
      // Outside a transaction the next closure would commit on its own, and this batch's
      // earlier closures are gone: every closure of the batch fails, none runs after this.
      if (!conn_->InTransaction()) lost = results[i].ok() ? Status::Internal("transaction lost") : results[i];
    }
    Status commit = lost.ok() ? conn_->Exec("COMMIT") : lost;
    if (!commit.ok()) {
      if (conn_->InTransaction()) (void)conn_->Exec("ROLLBACK");
      for (auto& r : results) r = commit;
    }
    if (observer) {
      observer(static_cast<int>(batch.size()),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(results[i]);
  }
}

}  // namespace qlab::storage
