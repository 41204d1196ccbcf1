#include "worker/worker.h"

#include "worker/canary.h"
#include "worker/run_context.h"

#include <unistd.h>

#include <chrono>
#include <new>

#include <spdlog/spdlog.h>

#include "proto/convert.h"

namespace qlab::worker {
namespace {

using Clock = std::chrono::system_clock;

// The most of a job's new output one heartbeat carries; older output is dropped (the final log
// sent with the completion is whole up to 1 MiB).
constexpr size_t kMaxLogPerHeartbeat = 256 << 10;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// Delay before retry `attempt` (0-based) of an RPC: 100 ms doubling to at most 2 s.
int64_t RetryDelayMs(int attempt) {
  return std::min<int64_t>(2000, 100LL << std::min(attempt, 5));
}

void SetDeadline(grpc::ClientContext* ctx, int64_t ms) {
  ctx->set_deadline(Clock::now() + std::chrono::milliseconds(ms));
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "worker";
  return buf;
}

void ToProto(const JobOutput& out, v1::Completion* c) {
  for (const auto& m : out.metrics) MetricToProto(m, c->add_metrics());
  for (const auto& l : out.latency) {
    auto* p = c->add_latency();
    p->set_arch_key(l.arch_key);
    p->set_device(l.device);
    p->set_batch(l.batch);
    for (double s : l.samples_us) p->add_samples_us(s);
    p->set_median_us(l.median_us);
    p->set_mean_us(l.mean_us);
    p->set_p10_us(l.p10_us);
    p->set_p90_us(l.p90_us);
    p->set_min_us(l.min_us);
    p->set_stddev_us(l.stddev_us);
    p->set_cv(l.cv);
    p->set_unstable(l.unstable);
    p->set_context_json(l.context_json);
  }
  for (const auto& a : out.artifacts) {
    auto* p = c->add_artifacts();
    p->set_name(a.name);
    p->set_media_type(a.media_type);
    p->set_content(a.bytes);
  }
}

// The token `req` reported for `job_id`; 0 when it reported none.
int64_t ReportedToken(const v1::HeartbeatRequest& req, int64_t job_id) {
  for (const auto& l : req.leases()) {
    if (l.job_id() == job_id) return l.fencing_token();
  }
  return 0;
}

}  // namespace

Worker::Worker(WorkerOptions options, ExecutorMap executors)
    : options_(std::move(options)), executors_(std::move(executors)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  // Reconnect quickly after a coordinator restart instead of gRPC's default backoff of up to 2 min.
  // gRPC also takes the minimum backoff as the deadline of one connection attempt: at 100 ms a
  // loaded machine abandoned handshakes and workers took up to 5.6 s to reach a restarted
  // coordinator that answered after 0.3 s.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  channel_ = OpenCoordinatorChannel(Endpoint(), args);
  stub_ = v1::WorkerService::NewStub(channel_);
  worker_id_ = options_.worker_id;
}

Worker::~Worker() { Stop(); }

CoordinatorEndpoint Worker::Endpoint() const {
  return {options_.coordinator, options_.token, options_.tls_ca_pem};
}

std::string Worker::worker_id() const {
  std::lock_guard lock(mu_);
  return worker_id_;
}

void Worker::Stop() {
  stopping_ = true;
  cv_.notify_all();
}

void Worker::Backoff(int* attempt) {
  const int64_t ms = RetryDelayMs((*attempt)++);
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_.load(); });
}

bool Worker::RegisterWithRetry() {
  int attempt = 0;
  for (;;) {
    v1::RegisterRequest req;
    req.set_worker_id(worker_id());
    req.set_host(HostName());
    for (const auto& d : options_.devices) DeviceToProto(d, req.add_devices());
    for (const auto& [kind, executor] : executors_) req.add_kinds(kind);
    req.set_slots(options_.slots);
    for (const auto& [k, v] : options_.labels) (*req.mutable_labels())[k] = v;
    req.set_version("0.1.0");
    v1::RegisterResponse resp;
    grpc::ClientContext ctx;
    AddCredentials(Endpoint(), &ctx);
    SetDeadline(&ctx, 5000);
    grpc::Status st = stub_->Register(&ctx, req, &resp);
    if (st.ok()) {
      std::lock_guard lock(mu_);
      worker_id_ = resp.worker_id();
      heartbeat_interval_ms_ = std::max<int64_t>(50, resp.heartbeat_interval_ms());
      spdlog::info("qlab-worker: registered as {} with {} (slots {}, lease TTL {} ms)", worker_id_,
                   options_.coordinator, options_.slots, resp.lease_ttl_ms());
      return true;
    }
    if (attempt == 0 || attempt % 10 == 0) {
      spdlog::warn("qlab-worker: cannot register with {}: {}", options_.coordinator,
                   st.error_message());
    }
    if (st.error_code() == grpc::INVALID_ARGUMENT) return false;
    if (stopping_) return false;
    Backoff(&attempt);
  }
}

void Worker::Run() {
  if (!RegisterWithRetry()) return;
  std::thread heartbeat([this] { HeartbeatLoop(); });
  std::thread sender([this] { SenderLoop(); });
  std::thread canary;
  if (options_.canary_interval_ms > 0) canary = std::thread([this] { CanaryLoop(); });
  LeaseLoop();
  if (canary.joinable()) canary.join();

  // Stopping: give running jobs the grace period, then cancel and give back the rest.
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(options_.grace_ms), [&] {
      for (const auto& [id, r] : running_) {
        if (!r.finished) return false;
      }
      return true;
    });
    for (auto& [token, r] : running_) {
      if (r.finished) continue;
      r.dropped = true;  // its result must not be sent: the lease is given back instead
      r.context->Cancel();
      v1::Completion c;
      c.set_job_id(r.job.job_id);
      c.set_fencing_token(token);
      c.set_outcome(v1::Completion::OUTCOME_RELEASED);
      c.set_error("worker stopping");
      outbox_.push_back(std::move(c));
      spdlog::info("qlab-worker: giving back job {}", r.job.job_id);
    }
  }
  cv_.notify_all();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    for (auto& t : done_threads_) threads.push_back(std::move(t));
    for (auto& [id, r] : running_) {
      if (r.thread.joinable()) threads.push_back(std::move(r.thread));
    }
  }
  for (auto& t : threads) t.join();
  sender_done_ = true;
  cv_.notify_all();
  sender.join();
  heartbeat.join();
}

void Worker::CanaryLoop() {
  // Three at start seed the coordinator's baseline; then one per interval, while idle.
  int seeding = 3;
  auto due = std::chrono::steady_clock::now();
  while (!stopping_) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, due, [&] { return stopping_.load(); });
      if (stopping_) return;
      ReapFinishedLocked();
      if (!running_.empty() || !outbox_.empty() || !unacked_.empty()) {
        // A canary beside a job would time the job's load, and slow the job; and a drift must
        // reach the coordinator after the results it casts doubt on, which it then flags.
        due = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        continue;
      }
      canary_running_ = true;
    }
    const int64_t asked_ms = MeasureCanaries();
    {
      std::lock_guard lock(mu_);
      canary_running_ = false;
    }
    cv_.notify_all();
    int64_t next_ms = seeding > 1 ? 0 : options_.canary_interval_ms;
    if (seeding > 0) --seeding;
    if (asked_ms > 0) next_ms = std::min(next_ms, asked_ms);
    due = std::chrono::steady_clock::now() + std::chrono::milliseconds(next_ms);
  }
}

int64_t Worker::MeasureCanaries() {
  int64_t asked_ms = 0;
  for (const DeviceInfo& d : options_.devices) {
    auto m = RunCanary(d);
    if (!m.ok()) {
      spdlog::debug("qlab-worker: no canary on {}: {}", d.name, m.status().ToString());
      continue;
    }
    v1::ReportCanaryRequest req;
    req.set_worker_id(worker_id());
    req.set_device(d.name);
    req.set_canary(m->canary);
    req.set_median_us(m->median_us);
    for (double s : m->samples_us) req.add_samples_us(s);
    v1::ReportCanaryResponse resp;
    grpc::ClientContext ctx;
    AddCredentials(Endpoint(), &ctx);
    SetDeadline(&ctx, 5000);
    grpc::Status st = stub_->ReportCanary(&ctx, req, &resp);
    if (!st.ok()) {
      spdlog::warn("qlab-worker: ReportCanary: {}", st.error_message());
      continue;
    }
    if (resp.verdict() == "drift") {
      spdlog::warn("qlab-worker: {} drifted: canary {:.1f} us vs baseline {:.1f} ± {:.1f} us; "
                   "quarantined for timing jobs", d.name, m->median_us, resp.baseline_median_us(),
                   resp.baseline_spread_us());
    }
    if (resp.next_canary_ms() > 0) {
      asked_ms = asked_ms == 0 ? resp.next_canary_ms() : std::min(asked_ms, resp.next_canary_ms());
    }
  }
  return asked_ms;
}

void Worker::ReapFinishedLocked() {
  for (auto it = running_.begin(); it != running_.end();) {
    if (it->second.finished) {
      if (it->second.thread.joinable()) done_threads_.push_back(std::move(it->second.thread));
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
}

void Worker::LeaseLoop() {
  int attempt = 0;
  std::vector<std::thread> done;
  while (!stopping_) {
    int free_slots = 0;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        ReapFinishedLocked();
        return stopping_ || (!draining_ && !canary_running_ &&
                             static_cast<int>(running_.size()) < options_.slots);
      });
      if (stopping_) break;
      free_slots = options_.slots - static_cast<int>(running_.size());
      done.swap(done_threads_);
    }
    for (auto& t : done) t.join();  // they have set `finished`; joining takes microseconds
    done.clear();
    v1::AcquireLeaseRequest req;
    req.set_worker_id(worker_id());
    req.set_max_jobs(free_slots);
    req.set_wait_ms(2000);
    v1::AcquireLeaseResponse resp;
    grpc::ClientContext ctx;
    AddCredentials(Endpoint(), &ctx);
    SetDeadline(&ctx, 7000);
    grpc::Status st = stub_->AcquireLease(&ctx, req, &resp);
    if (!st.ok()) {
      if (st.error_code() == grpc::NOT_FOUND) {
        RegisterWithRetry();
        continue;
      }
      if (attempt == 0) spdlog::warn("qlab-worker: AcquireLease: {}", st.error_message());
      Backoff(&attempt);
      continue;
    }
    attempt = 0;
    std::lock_guard lock(mu_);
    for (const auto& l : resp.leases()) {
      LeasedJob job{l.job_id(), l.fencing_token(), l.kind(), l.params_json(), l.device(),
                    l.experiment(), l.timeout_s()};
      unacked_[job.job_id] = job.token;
      // By lease, not job: a retried job can come back to this worker while the thread of its
      // previous attempt is still to be joined.
      Running& r = running_[job.token];
      r.job = job;
      r.context = std::make_shared<JobContext>();
      const int64_t token = job.token;
      r.thread = std::thread([this, token] { RunJob(token); });
    }
    // Report new jobs as running at once rather than a heartbeat interval later.
    if (resp.leases_size() > 0) {
      heartbeat_now_ = true;
      cv_.notify_all();
    }
  }
}

void Worker::RunJob(int64_t token) {
  LeasedJob job;
  std::shared_ptr<JobContext> context;
  {
    std::lock_guard lock(mu_);
    job = running_.at(token).job;
    context = running_.at(token).context;
  }
  v1::Completion c;
  c.set_job_id(job.job_id);
  c.set_fencing_token(job.token);
  c.set_started_unix_ms(NowMs());
  auto executor = executors_.find(job.kind);
  StatusOr<JobOutput> out = Status::Unimplemented("this worker has no executor for kind " + job.kind);
  if (executor != executors_.end()) {
    // The barrier for jobs that run inside the daemon (the others run in a child evaluator):
    // whatever escapes an evaluator fails its attempt as a crash, not the daemon.
    try {
      out = executor->second->Execute(job, *context);
    } catch (const std::bad_alloc&) {
      out = Status::Aborted("out of memory inside the worker daemon (std::bad_alloc)");
    } catch (const std::exception& e) {
      out = Status::Aborted(std::string("the evaluator threw: ") + e.what());
    }
  }
  c.set_finished_unix_ms(NowMs());
  c.set_log(context->LogTail());
  if (out.ok()) {
    c.set_outcome(v1::Completion::OUTCOME_SUCCEEDED);
    ToProto(*out, &c);
    for (const DeviceInfo& d : options_.devices) {
      if (d.name != job.device) continue;
      auto runtime = options_.runtime_of_kind.find(job.kind);
      c.set_context_json(JobContextJson(
          job.kind, d, runtime == options_.runtime_of_kind.end() ? nlohmann::json::object() : runtime->second,
          out->context_json));
    }
  } else {
    c.set_outcome(v1::Completion::OUTCOME_FAILED);
    c.set_error(out.status().ToString());
    c.set_failure_class(FailureClassOf(out.status()));
    spdlog::warn("qlab-worker: job {} failed ({}): {}", job.job_id, c.failure_class(),
                 out.status().ToString());
  }
  {
    std::lock_guard lock(mu_);
    Running& r = running_.at(token);
    if (!r.dropped) outbox_.push_back(std::move(c));
    r.finished = true;
  }
  cv_.notify_all();
}

void Worker::HeartbeatLoop() {
  int attempt = 0;
  while (!sender_done_) {
    int64_t interval = 0;
    v1::HeartbeatRequest req;
    {
      std::unique_lock lock(mu_);
      interval = heartbeat_interval_ms_;
      req.set_worker_id(worker_id_);
      for (const auto& [id, token] : unacked_) {
        auto* l = req.add_leases();
        l->set_job_id(id);
        l->set_fencing_token(token);
        auto r = running_.find(token);
        l->set_running(true);
        l->set_progress(r != running_.end() && r->second.context ? r->second.context->progress() : 1.0);
        if (r != running_.end() && r->second.context) {
          l->set_log_append(r->second.context->TakeNewLog(kMaxLogPerHeartbeat));
        }
      }
    }
    v1::HeartbeatResponse resp;
    grpc::ClientContext ctx;
    AddCredentials(Endpoint(), &ctx);
    SetDeadline(&ctx, std::max<int64_t>(1000, interval));
    grpc::Status st = stub_->Heartbeat(&ctx, req, &resp);
    if (st.ok()) {
      attempt = 0;
      std::lock_guard lock(mu_);
      if (resp.drain() != draining_) {
        draining_ = resp.drain();
        if (draining_) {
          spdlog::info("qlab-worker: drained: finishing {} running job(s), taking no more",
                       running_.size());
        } else {
          spdlog::info("qlab-worker: undrained: taking jobs again ({} running)", running_.size());
        }
        cv_.notify_all();
      }
      for (int64_t id : resp.cancel_job_ids()) {
        auto current = unacked_.find(id);
        // The answer is about the lease this heartbeat reported: when the job has been leased
        // to us again since (a retry), the new lease is not the one to stop.
        const int64_t reported = ReportedToken(req, id);
        if (current != unacked_.end() && reported != 0 && reported != current->second) continue;
        const int64_t token = current == unacked_.end() ? reported : current->second;
        auto r = running_.find(token);
        if (r != running_.end() && !r->second.finished) {
          r->second.dropped = true;
          r->second.context->Cancel();
          spdlog::info("qlab-worker: job {} is no longer ours (cancelled or expired); stopping it", id);
        }
        const size_t unsent = std::erase_if(outbox_, [id, token](const v1::Completion& c) {
          return c.job_id() == id && c.fencing_token() == token;
        });
        if (unsent > 0) {
          spdlog::warn("qlab-worker: job {} finished here but its lease is gone (expired or "
                       "cancelled); its result is dropped", id);
        }
        unacked_.erase(id);
      }
    } else if (st.error_code() == grpc::NOT_FOUND) {
      RegisterWithRetry();
    } else if (attempt++ == 0) {
      spdlog::warn("qlab-worker: heartbeat: {}", st.error_message());
    }
    // After a failed heartbeat, try again on the RPC backoff rather than a whole interval later:
    // a restarted coordinator then hears from its workers within a second or two.
    const int64_t wait_ms = attempt > 0 ? std::min(interval, RetryDelayMs(attempt - 1)) : interval;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                 [&] { return sender_done_.load() || heartbeat_now_; });
    heartbeat_now_ = false;
  }
}

void Worker::SenderLoop() {
  int attempt = 0;
  // After Stop(), unsent results get this long to reach the coordinator.
  constexpr auto kFlushLimit = std::chrono::seconds(20);
  std::chrono::steady_clock::time_point give_up{};
  for (;;) {
    std::vector<v1::Completion> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !outbox_.empty() || sender_done_.load(); });
      if (outbox_.empty()) return;
      if (sender_done_ && give_up == std::chrono::steady_clock::time_point{}) {
        give_up = std::chrono::steady_clock::now() + kFlushLimit;
      }
      if (sender_done_ && std::chrono::steady_clock::now() > give_up) {
        spdlog::error("qlab-worker: {} result(s) could not be delivered; their leases will expire "
                      "and the jobs run again", outbox_.size());
        return;
      }
      size_t n = std::min<size_t>(outbox_.size(), 256);
      batch.assign(std::make_move_iterator(outbox_.begin()),
                   std::make_move_iterator(outbox_.begin() + n));
      outbox_.erase(outbox_.begin(), outbox_.begin() + n);
    }
    v1::CompleteRequest req;
    req.set_worker_id(worker_id());
    for (auto& c : batch) *req.add_completions() = c;
    v1::CompleteResponse resp;
    grpc::ClientContext ctx;
    AddCredentials(Endpoint(), &ctx);
    SetDeadline(&ctx, 10000);
    grpc::Status st = stub_->Complete(&ctx, req, &resp);
    if (st.ok()) {
      attempt = 0;
      std::lock_guard lock(mu_);
      for (const auto& ack : resp.acks()) {
        unacked_.erase(ack.job_id());
        if (!ack.accepted()) {
          spdlog::warn("qlab-worker: result of job {} not accepted: {}", ack.job_id(), ack.reason());
        }
      }
      continue;
    }
    if (st.error_code() == grpc::NOT_FOUND) RegisterWithRetry();
    if (st.error_code() == grpc::INVALID_ARGUMENT) {
      spdlog::error("qlab-worker: coordinator refused results: {}", st.error_message());
      std::lock_guard lock(mu_);
      for (const auto& c : batch) unacked_.erase(c.job_id());
      continue;
    }
    if (attempt == 0) spdlog::warn("qlab-worker: Complete: {}; retrying", st.error_message());
    {
      std::lock_guard lock(mu_);
      outbox_.insert(outbox_.begin(), std::make_move_iterator(batch.begin()),
                     std::make_move_iterator(batch.end()));
    }
    // A plain sleep, not Backoff(): after Stop() the outbox keeps retrying until kFlushLimit.
    std::this_thread::sleep_for(std::chrono::milliseconds(RetryDelayMs(attempt++)));
  }
}

}  // namespace qlab::worker
