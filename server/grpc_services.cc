#include "server/grpc_services.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/input_limits.h"
#include "proto/convert.h"
#include <spdlog/spdlog.h>

#include "server/comparability.h"
#include "server/grpc_common.h"
#include "server/resubmission.h"
#include "server/sweep.h"

namespace qlab::server {

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  grpc::StatusCode code;
  switch (status.code()) {
    case StatusCode::kCancelled: code = grpc::CANCELLED; break;
    case StatusCode::kInvalidArgument: code = grpc::INVALID_ARGUMENT; break;
    case StatusCode::kDeadlineExceeded: code = grpc::DEADLINE_EXCEEDED; break;
    case StatusCode::kNotFound: code = grpc::NOT_FOUND; break;
    case StatusCode::kAlreadyExists: code = grpc::ALREADY_EXISTS; break;
    case StatusCode::kPermissionDenied: code = grpc::PERMISSION_DENIED; break;
    case StatusCode::kResourceExhausted: code = grpc::RESOURCE_EXHAUSTED; break;
    case StatusCode::kFailedPrecondition: code = grpc::FAILED_PRECONDITION; break;
    case StatusCode::kAborted: code = grpc::ABORTED; break;
    case StatusCode::kOutOfRange: code = grpc::OUT_OF_RANGE; break;
    case StatusCode::kUnimplemented: code = grpc::UNIMPLEMENTED; break;
    case StatusCode::kUnavailable: code = grpc::UNAVAILABLE; break;
    case StatusCode::kDataLoss: code = grpc::DATA_LOSS; break;
    case StatusCode::kUnauthenticated: code = grpc::UNAUTHENTICATED; break;
    case StatusCode::kInternal: code = grpc::INTERNAL; break;
    default: code = grpc::UNKNOWN; break;
  }
  std::string message = status.message();
  if (message.size() > 2000) message = message.substr(0, 2000) + "...";
  return grpc::Status(code, message);
}

grpc::Status Authorize(const TokenAuth* auth, const grpc::ServerContext* ctx, Access access,
                       const char* method) {
  if (auth == nullptr) return grpc::Status::OK;
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find("authorization");
  std::string_view value = it == metadata.end() ? std::string_view()
                                                : std::string_view(it->second.data(), it->second.size());
  auto principal = auth->Check(value, access, "call", method);
  return principal.ok() ? grpc::Status::OK : ToGrpcStatus(principal.status());
}

StatusOr<int64_t> ParsePageToken(const std::string& token) {
  if (token.empty()) return int64_t{0};
  try {
    size_t used = 0;
    int64_t v = std::stoll(token, &used);
    if (used == token.size() && v >= 0) return v;
  } catch (...) {
  }
  return Status::InvalidArgument("page_token '" + token + "' is not a token this server issued");
}

namespace {

v1::Experiment ToProto(const storage::ExperimentRecord& e) {
  v1::Experiment out;
  out.set_id(e.id);
  out.set_name(e.name);
  out.set_owner(e.owner);
  out.set_kind(e.kind);
  out.set_created_unix_ms(e.created_unix_ms);
  out.set_sweep_json(e.spec_json);
  auto tags = nlohmann::json::parse(e.tags_json, nullptr, false);
  if (tags.is_array()) {
    for (const auto& t : tags) {
      if (t.is_string()) out.add_tags(t.get<std::string>());
    }
  }
  out.set_total_jobs(e.total);
  out.set_pending_jobs(e.pending);
  out.set_running_jobs(e.running);
  out.set_succeeded_jobs(e.succeeded);
  out.set_failed_jobs(e.failed);
  out.set_cancelled_jobs(e.cancelled);
  return out;
}

storage::Requirements FromProto(const v1::Requirements& r) {
  return {static_cast<int>(r.device_class()), r.device_model_pattern(), r.min_memory_bytes(),
          r.exclusive()};
}

void AttemptToProto(const storage::AttemptRecord& a, v1::Attempt* p) {
  p->set_fencing_token(a.token);
  p->set_worker_id(a.worker_id);
  p->set_leased_unix_ms(a.leased_unix_ms);
  p->set_started_unix_ms(a.started_unix_ms);
  p->set_finished_unix_ms(a.finished_unix_ms);
  p->set_lease_expiry_unix_ms(a.lease_expiry_unix_ms);
  p->set_outcome(a.outcome);
  p->set_error(a.error);
  p->set_failure_class(a.failure_class);
  p->set_log_bytes(a.log_bytes);
}

}  // namespace

Status JobServiceImpl::FillJob(const storage::JobRecord& r, bool detail, v1::Job* out) {
  out->set_id(r.id);
  out->set_experiment_id(r.experiment_id);
  out->set_experiment(r.experiment);
  auto* spec = out->mutable_spec();
  spec->set_kind(r.spec.kind);
  spec->set_params_json(r.spec.params_json);
  auto* req = spec->mutable_requirements();
  req->set_device_class(static_cast<v1::DeviceClass>(r.spec.requirements.device_class));
  req->set_device_model_pattern(r.spec.requirements.device_model_pattern);
  req->set_min_memory_bytes(r.spec.requirements.min_memory_bytes);
  req->set_exclusive(r.spec.requirements.exclusive);
  spec->set_priority(r.spec.priority);
  spec->set_max_attempts(r.spec.max_attempts);
  spec->set_timeout_s(r.spec.timeout_s);
  out->set_state(static_cast<v1::JobState>(r.state));
  out->set_attempts(r.attempts);
  out->set_last_error(r.last_error);
  out->set_failure_class(r.failure_class);
  out->set_worker_id(r.worker_id);
  out->set_created_unix_ms(r.created_unix_ms);
  out->set_started_unix_ms(r.started_unix_ms);
  out->set_finished_unix_ms(r.finished_unix_ms);
  out->set_comparability_key(r.comparability.comparability_key);
  out->set_environment_key(r.comparability.environment_key);
  out->set_backend(r.comparability.backend);
  out->set_flag(r.flag);
  if (detail) out->set_context_json(r.comparability.context_json);
  if (r.state == storage::JobState::kPending) {
    out->set_pending_reason(scheduler_->PendingReason(r.id));
  }
  if (r.state == storage::JobState::kLeased || r.state == storage::JobState::kRunning) {
    out->set_progress(scheduler_->Progress(r.id));
  } else if (r.state == storage::JobState::kSucceeded) {
    out->set_progress(1.0);
  }
  if (!detail) return Status::Ok();
  ASSIGN_OR_RETURN(auto attempts, store_->GetAttempts(r.id));
  for (const auto& a : attempts) AttemptToProto(a, out->add_attempt_history());
  ASSIGN_OR_RETURN(auto metrics, store_->GetMetrics(r.id));
  for (const auto& m : metrics) MetricToProto(m, out->add_metrics());
  return Status::Ok();
}

grpc::Status JobServiceImpl::SubmitExperiment(grpc::ServerContext* ctx,
                                              const v1::SubmitExperimentRequest* req,
                                              v1::SubmitExperimentResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kSubmit, "SubmitExperiment");
  auto sweep = ExpandSweep(req->sweep_json(), options_.max_sweep_jobs);
  if (!sweep.ok()) return ToGrpcStatus(sweep.status());
  sweep->experiment.owner = req->owner();
  resp->set_name(sweep->experiment.name);
  resp->set_job_count(static_cast<int64_t>(sweep->jobs.size()));
  if (sweep->study.has_value()) {
    resp->set_study_trials(sweep->study->trials);
    if (req->dry_run()) return grpc::Status::OK;
    if (studies_ == nullptr) {
      return ToGrpcStatus(Status::FailedPrecondition("this server runs no studies"));
    }
    auto id = studies_->CreateStudy(sweep->experiment, *sweep->study);
    if (!id.ok()) return ToGrpcStatus(id.status());
    resp->set_experiment_id(*id);
    return grpc::Status::OK;
  }
  auto existing = store_->GetExperiment(sweep->experiment.name, 0);
  if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) {
    return ToGrpcStatus(existing.status());
  }
  if (existing.ok()) return Resubmit(*existing, *req, std::move(sweep->jobs), resp);
  if (req->dry_run()) return grpc::Status::OK;
  auto created = scheduler_->SubmitExperiment(sweep->experiment, std::move(sweep->jobs));
  if (!created.ok()) return ToGrpcStatus(created.status());
  resp->set_experiment_id(created->experiment_id);
  resp->set_first_job_id(created->first_job_id);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::Resubmit(const storage::ExperimentRecord& existing,
                                      const v1::SubmitExperimentRequest& req,
                                      std::vector<storage::JobSpec> jobs,
                                      v1::SubmitExperimentResponse* resp) {
  resp->set_resubmitted(true);
  if (existing.kind != (jobs.empty() ? existing.kind : jobs.front().kind)) {
    return ToGrpcStatus(Status::InvalidArgument(
        "name: experiment '" + existing.name + "' exists with kind " + existing.kind +
        "; a resubmission must have the same kind (or choose another name)"));
  }
  auto old_jobs = store_->ExperimentJobs(existing.id);
  if (!old_jobs.ok()) return ToGrpcStatus(old_jobs.status());
  ResubmissionPlan plan = PlanResubmission(*old_jobs, std::move(jobs), req.force());
  resp->set_reused_count(plan.reused);
  resp->set_job_count(static_cast<int64_t>(plan.add.size() + plan.requeue.size()));
  resp->set_requeued_count(static_cast<int64_t>(plan.requeue.size()));
  resp->set_experiment_id(req.dry_run() ? 0 : existing.id);
  if (req.dry_run() || (plan.add.empty() && plan.requeue.empty())) return grpc::Status::OK;
  std::vector<int64_t> requeued;
  auto created = scheduler_->ExtendExperiment(existing, std::move(plan.add), plan.requeue, &requeued);
  if (!created.ok()) return ToGrpcStatus(created.status());
  resp->set_first_job_id(created->first_job_id);
  // A job cancelled or finished meanwhile stays as it is.
  resp->set_requeued_count(static_cast<int64_t>(requeued.size()));
  resp->set_job_count(resp->job_count() - static_cast<int64_t>(plan.requeue.size() - requeued.size()));
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::GetStudy(grpc::ServerContext* ctx, const v1::GetStudyRequest* req,
                                      v1::GetStudyResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "GetStudy");
  if (req->experiment().empty()) {
    return ToGrpcStatus(Status::InvalidArgument("experiment is required"));
  }
  if (studies_ == nullptr) return ToGrpcStatus(Status::NotFound("this server runs no studies"));
  auto report = studies_->Report(req->experiment());
  if (!report.ok()) return ToGrpcStatus(report.status());
  resp->set_study_json(report->dump());
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::SubmitJob(grpc::ServerContext* ctx, const v1::SubmitJobRequest* req,
                                       v1::Job* resp) {
  QLAB_AUTHORIZE(ctx, Access::kSubmit, "SubmitJob");
  if (req->experiment().empty()) {
    return ToGrpcStatus(Status::InvalidArgument("experiment is required"));
  }
  if (Status st = CheckSize(req->experiment().size(), kMaxNameBytes, "experiment"); !st.ok()) {
    return ToGrpcStatus(st);
  }
  const auto& s = req->spec();
  auto spec = MakeJobSpec(s.kind(), s.params_json(), FromProto(s.requirements()), s.priority(),
                          s.max_attempts(), s.timeout_s());
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  auto job = scheduler_->SubmitJob(req->experiment(), "", std::move(spec).value());
  if (!job.ok()) return ToGrpcStatus(job.status());
  return ToGrpcStatus(FillJob(*job, false, resp));
}

grpc::Status JobServiceImpl::GetJob(grpc::ServerContext* ctx, const v1::GetJobRequest* req,
                                    v1::Job* resp) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "GetJob");
  auto job = store_->GetJob(req->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  return ToGrpcStatus(FillJob(*job, true, resp));
}

grpc::Status JobServiceImpl::GetJobLog(grpc::ServerContext* ctx, const v1::GetJobLogRequest* req,
                                       v1::GetJobLogResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "GetJobLog");
  auto log = store_->GetAttemptLog(req->job_id(), req->attempt());
  if (!log.ok()) return ToGrpcStatus(log.status());
  auto job = store_->GetJob(req->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  resp->set_attempt(log->number);
  resp->set_attempts(log->count);
  resp->set_state(static_cast<v1::JobState>(job->state));
  AttemptToProto(log->attempt, resp->mutable_info());
  resp->mutable_info()->set_log_bytes(static_cast<int64_t>(log->log.size()));
  resp->set_log(std::move(log->log));
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::ListJobs(grpc::ServerContext* ctx, const v1::ListJobsRequest* req,
                                      v1::ListJobsResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "ListJobs");
  int page_size = req->page_size() == 0 ? 100 : req->page_size();
  if (page_size < 1 || page_size > 1000) {
    return ToGrpcStatus(Status::InvalidArgument("page_size must be in [1, 1000]"));
  }
  auto before = ParsePageToken(req->page_token());
  if (!before.ok()) return ToGrpcStatus(before.status());
  storage::JobFilter filter{req->experiment(), static_cast<int>(req->state()), req->kind()};
  auto jobs = store_->ListJobs(filter, *before, page_size + 1);
  if (!jobs.ok()) return ToGrpcStatus(jobs.status());
  auto total = store_->CountJobs(filter);
  if (!total.ok()) return ToGrpcStatus(total.status());
  resp->set_total_count(*total);
  for (int i = 0; i < static_cast<int>(jobs->size()) && i < page_size; ++i) {
    Status st = FillJob((*jobs)[i], false, resp->add_jobs());
    if (!st.ok()) return ToGrpcStatus(st);
  }
  if (static_cast<int>(jobs->size()) > page_size) {
    resp->set_next_page_token(std::to_string((*jobs)[page_size - 1].id));
  }
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::CancelJob(grpc::ServerContext* ctx, const v1::CancelJobRequest* req,
                                       v1::CancelJobResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kSubmit, "CancelJob");
  if ((req->job_id() > 0) == !req->experiment().empty()) {
    return ToGrpcStatus(Status::InvalidArgument("set exactly one of job_id and experiment"));
  }
  auto ids = scheduler_->Cancel(req->job_id(), req->experiment());
  if (!ids.ok()) return ToGrpcStatus(ids.status());
  resp->set_cancelled_count(static_cast<int64_t>(ids->size()));
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::WatchJob(grpc::ServerContext* ctx, const v1::WatchJobRequest* req,
                                      grpc::ServerWriter<v1::Job>* writer) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "WatchJob");
  std::string last;
  for (;;) {
    auto job = store_->GetJob(req->job_id());
    if (!job.ok()) return ToGrpcStatus(job.status());
    v1::Job proto;
    Status st = FillJob(*job, storage::IsTerminal(job->state), &proto);
    if (!st.ok()) return ToGrpcStatus(st);
    std::string now = proto.SerializeAsString();
    if (now != last) {
      if (!writer->Write(proto)) return grpc::Status::OK;  // client went away
      last = std::move(now);
    }
    if (storage::IsTerminal(job->state)) return grpc::Status::OK;
    if (ctx->IsCancelled()) return grpc::Status(grpc::CANCELLED, "watch cancelled");
    // Polling the database keeps the watch independent of the scheduler's locking; 200 ms is
    // well below what a person watching notices.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

grpc::Status JobServiceImpl::GetExperiment(grpc::ServerContext* ctx,
                                           const v1::GetExperimentRequest* req,
                                           v1::Experiment* resp) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "GetExperiment");
  if (req->name().empty() == (req->experiment_id() == 0)) {
    return ToGrpcStatus(Status::InvalidArgument("set exactly one of name and experiment_id"));
  }
  auto e = store_->GetExperiment(req->name(), req->experiment_id());
  if (!e.ok()) return ToGrpcStatus(e.status());
  *resp = ToProto(*e);
  return grpc::Status::OK;
}

grpc::Status JobServiceImpl::ListExperiments(grpc::ServerContext* ctx,
                                             const v1::ListExperimentsRequest*,
                                             v1::ListExperimentsResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kRead, "ListExperiments");
  auto list = store_->ListExperiments();
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (const auto& e : *list) *resp->add_experiments() = ToProto(e);
  return grpc::Status::OK;
}

// ---- WorkerService ---------------------------------------------------------------------------

grpc::Status WorkerServiceImpl::Register(grpc::ServerContext* ctx, const v1::RegisterRequest* req,
                                         v1::RegisterResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kWork, "Register");
  WorkerRegistration reg;
  reg.worker_id = req->worker_id();
  reg.host = req->host();
  for (const auto& d : req->devices()) {
    if (d.name().empty()) return ToGrpcStatus(Status::InvalidArgument("devices.name is required"));
    if (d.formats_size() > 1024) {
      return ToGrpcStatus(Status::InvalidArgument("devices.formats: at most 1024 datatypes"));
    }
    for (const auto& [format, level] : d.formats()) {
      if (format.empty() || format.size() > kMaxNameBytes || (level != "native" && level != "emulated")) {
        return ToGrpcStatus(Status::InvalidArgument(
            "devices.formats: each entry is a datatype name -> native | emulated"));
      }
    }
    reg.devices.push_back(DeviceFromProto(d));
  }
  for (const auto& k : req->kinds()) reg.kinds.insert(k);
  reg.slots = req->slots() > 0 ? req->slots() : 1;
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [k, v] : req->labels()) labels[k] = v;
  reg.labels_json = labels.dump();
  reg.version = req->version();
  auto id = scheduler_->RegisterWorker(std::move(reg));
  if (!id.ok()) return ToGrpcStatus(id.status());
  resp->set_worker_id(*id);
  resp->set_lease_ttl_ms(scheduler_->options().lease_ttl_ms);
  resp->set_heartbeat_interval_ms(scheduler_->options().heartbeat_interval_ms);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::AcquireLease(grpc::ServerContext* ctx,
                                             const v1::AcquireLeaseRequest* req,
                                             v1::AcquireLeaseResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kWork, "AcquireLease");
  int max_jobs = req->max_jobs() == 0 ? 1 : req->max_jobs();
  if (max_jobs < 1 || max_jobs > 1000) {
    return ToGrpcStatus(Status::InvalidArgument("max_jobs must be in [1, 1000]"));
  }
  if (req->wait_ms() < 0 || req->wait_ms() > 60000) {
    return ToGrpcStatus(Status::InvalidArgument("wait_ms must be in [0, 60000]"));
  }
  int64_t wait_ms = req->wait_ms();
  // Leave the reply time to travel before the client's deadline.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  ctx->deadline() - std::chrono::system_clock::now()).count() - 200;
  wait_ms = std::max<int64_t>(0, std::min<int64_t>(wait_ms, left));
  auto leases = scheduler_->AcquireLeases(req->worker_id(), max_jobs, wait_ms,
                                          [ctx] { return ctx->IsCancelled(); });
  if (!leases.ok()) return ToGrpcStatus(leases.status());
  for (const auto& l : *leases) {
    auto* p = resp->add_leases();
    p->set_job_id(l.job_id);
    p->set_fencing_token(l.token);
    p->set_kind(l.kind);
    p->set_params_json(l.params_json);
    p->set_device(l.device);
    p->set_lease_expiry_unix_ms(l.expiry_unix_ms);
    p->set_experiment(l.experiment);
    p->set_timeout_s(l.timeout_s);
  }
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                                          v1::HeartbeatResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kWork, "Heartbeat");
  std::vector<LeaseReport> reports;
  for (const auto& l : req->leases()) {
    reports.push_back({l.job_id(), l.fencing_token(), l.progress(), l.running(), l.log_append()});
  }
  auto reply = scheduler_->Heartbeat(req->worker_id(), reports);
  if (!reply.ok()) return ToGrpcStatus(reply.status());
  for (int64_t id : reply->cancel_job_ids) resp->add_cancel_job_ids(id);
  resp->set_lease_expiry_unix_ms(reply->lease_expiry_unix_ms);
  resp->set_drain(reply->drain);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Complete(grpc::ServerContext* ctx, const v1::CompleteRequest* req,
                                         v1::CompleteResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kWork, "Complete");
  std::vector<storage::CompletionRecord> records;
  records.reserve(req->completions_size());
  for (const auto& c : req->completions()) {
    storage::CompletionRecord r;
    r.job_id = c.job_id();
    r.token = c.fencing_token();
    switch (c.outcome()) {
      case v1::Completion::OUTCOME_SUCCEEDED: r.outcome = storage::CompletionOutcome::kSucceeded; break;
      case v1::Completion::OUTCOME_FAILED: r.outcome = storage::CompletionOutcome::kFailed; break;
      case v1::Completion::OUTCOME_RELEASED: r.outcome = storage::CompletionOutcome::kReleased; break;
      default:
        return ToGrpcStatus(Status::InvalidArgument("completions.outcome is required (job " +
                                                    std::to_string(c.job_id()) + ")"));
    }
    r.error = c.error();
    r.failure_class = c.failure_class();
    if (!r.failure_class.empty() && r.failure_class != storage::kJobError &&
        r.failure_class != storage::kCrash && r.failure_class != storage::kInfrastructure) {
      return ToGrpcStatus(Status::InvalidArgument(
          "completions.failure_class must be job_error, crash or infrastructure (job " +
          std::to_string(c.job_id()) + ")"));
    }
    r.log = c.log();
    r.started_unix_ms = c.started_unix_ms();
    r.finished_unix_ms = c.finished_unix_ms();
    for (const auto& m : c.metrics()) r.output.metrics.push_back(MetricFromProto(m));
    for (const auto& l : c.latency()) {
      LatencySampleSet s;
      s.arch_key = l.arch_key();
      s.device = l.device();
      s.batch = l.batch();
      s.samples_us.assign(l.samples_us().begin(), l.samples_us().end());
      s.median_us = l.median_us();
      s.mean_us = l.mean_us();
      s.p10_us = l.p10_us();
      s.p90_us = l.p90_us();
      s.min_us = l.min_us();
      s.stddev_us = l.stddev_us();
      s.cv = l.cv();
      s.unstable = l.unstable();
      s.context_json = l.context_json();
      r.output.latency.push_back(std::move(s));
    }
    for (const auto& a : c.artifacts()) {
      r.output.artifacts.push_back({a.name(), a.media_type(), a.content()});
    }
    if (r.outcome == storage::CompletionOutcome::kSucceeded && !c.context_json().empty()) {
      // The keys are hashed here, once, from the job's params as stored; a context that cannot
      // be read costs the job its keys, not its result.
      auto params = scheduler_->ParamsOf(r.job_id);
      auto keys = ComputeComparability(params.first, params.second, c.context_json());
      if (keys.ok()) {
        r.comparability = std::move(*keys);
      } else {
        spdlog::warn("qlab-server: job {}: context from worker {} dropped: {}", r.job_id,
                     req->worker_id(), keys.status().ToString());
      }
    }
    records.push_back(std::move(r));
  }
  auto acks = scheduler_->Complete(req->worker_id(), records);
  if (!acks.ok()) return ToGrpcStatus(acks.status());
  for (const auto& a : *acks) {
    auto* p = resp->add_acks();
    p->set_job_id(a.job_id);
    p->set_accepted(a.accepted);
    p->set_reason(a.reason);
  }
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReportCanary(grpc::ServerContext* ctx,
                                             const v1::ReportCanaryRequest* req,
                                             v1::ReportCanaryResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kWork, "ReportCanary");
  if (canary_monitor_ == nullptr) {
    return ToGrpcStatus(Status::Unimplemented("this server judges no canaries"));
  }
  if (req->worker_id().empty()) return ToGrpcStatus(Status::InvalidArgument("worker_id is required"));
  if (req->device().empty()) return ToGrpcStatus(Status::InvalidArgument("device is required"));
  auto v = canary_monitor_->Report(req->worker_id(), req->device(), req->canary(), req->median_us(),
                                   {req->samples_us().begin(), req->samples_us().end()});
  if (!v.ok()) return ToGrpcStatus(v.status());
  resp->set_verdict(v->verdict);
  resp->set_baseline_median_us(v->centre_us);
  resp->set_baseline_spread_us(v->spread_us);
  resp->set_z(v->z);
  resp->set_quarantined(v->quarantined);
  resp->set_next_canary_ms(v->next_canary_ms);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::DrainWorker(grpc::ServerContext* ctx, const v1::DrainWorkerRequest* req,
                                            v1::DrainWorkerResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kAdmin, "DrainWorker");
  if (req->worker_id().empty()) return ToGrpcStatus(Status::InvalidArgument("worker_id is required"));
  if (Status st = scheduler_->SetDraining(req->worker_id(), !req->undo()); !st.ok()) {
    return ToGrpcStatus(st);
  }
  for (const auto& w : scheduler_->Workers()) {
    if (w.record.id == req->worker_id()) resp->set_running_jobs(static_cast<int>(w.running_job_ids.size()));
  }
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ListWorkers(grpc::ServerContext* ctx, const v1::ListWorkersRequest*,
                                            v1::ListWorkersResponse* resp) {
  QLAB_AUTHORIZE(ctx, Access::kReadOrWork, "ListWorkers");
  std::vector<DeviceCanaryState> canaries;
  if (canary_monitor_ != nullptr) {
    auto latest = canary_monitor_->Latest();
    if (!latest.ok()) return ToGrpcStatus(latest.status());
    canaries = std::move(*latest);
  }
  for (const auto& w : scheduler_->Workers()) {
    auto* p = resp->add_workers();
    p->set_worker_id(w.record.id);
    p->set_host(w.record.host);
    for (const auto& d : DevicesFromJson(w.record.devices_json)) DeviceToProto(d, p->add_devices());
    auto kinds = nlohmann::json::parse(w.record.kinds_json, nullptr, false);
    if (kinds.is_array()) {
      for (const auto& k : kinds) p->add_kinds(k.get<std::string>());
    }
    p->set_slots(w.record.slots);
    p->set_last_heartbeat_unix_ms(w.record.last_heartbeat_unix_ms);
    p->set_live(w.live);
    p->set_draining(w.draining);
    for (int64_t id : w.running_job_ids) p->add_running_job_ids(id);
    for (const auto& c : canaries) {
      if (c.record.worker_id != w.record.id) continue;
      auto* dc = p->add_canaries();
      dc->set_device(c.record.device);
      dc->set_canary(c.record.canary);
      dc->set_verdict(c.record.verdict);
      dc->set_median_us(c.record.median_us);
      dc->set_baseline_median_us(c.record.baseline_median_us);
      dc->set_baseline_spread_us(c.record.baseline_spread_us);
      dc->set_z(c.record.z);
      dc->set_quarantined(w.quarantined.count(c.record.device) > 0);
      dc->set_measured_unix_ms(c.record.measured_unix_ms);
      dc->set_last_good_unix_ms(c.last_good_unix_ms);
      dc->set_history(static_cast<int32_t>(c.history));
    }
    auto labels = nlohmann::json::parse(w.record.labels_json, nullptr, false);
    if (labels.is_object()) {
      for (const auto& [k, v] : labels.items()) {
        if (v.is_string()) (*p->mutable_labels())[k] = v.get<std::string>();
      }
    }
  }
  return grpc::Status::OK;
}

}  // namespace qlab::server
