// gRPC front of the coordinator: JobService and WorkerService (grpc_services.cc), ResultService
// (result_service.cc).
//
// Handlers are thin: check the request, convert it to storage records, call the Scheduler or
// JobStore, convert the Status once (ToGrpcStatus). The client's deadline bounds long polls.
#pragma once

#include <grpcpp/grpcpp.h>

#include "qlab/v1/job_service.grpc.pb.h"
#include "qlab/v1/result_service.grpc.pb.h"
#include "qlab/v1/worker_service.grpc.pb.h"
#include "server/auth.h"
#include "server/canary_monitor.h"
#include "server/scheduler.h"
#include "server/study_runner.h"
#include "storage/job_store.h"

namespace qlab::server {

// The one place a qlab::Status becomes a grpc::Status; messages are cut at 2,000 bytes.
grpc::Status ToGrpcStatus(const Status& status);

struct ServiceOptions {
  // A million-job sweep is one request (accepted in about 8 s on two cores,
  // bench/results/dashboard.md); past that a sweep is refused before it is expanded.
  int64_t max_sweep_jobs = 1'000'000;
};

class JobServiceImpl final : public qlab::v1::JobService::Service {
 public:
  // `auth` null: every call is allowed (no --auth-file).
  JobServiceImpl(Scheduler* scheduler, storage::JobStore* store, ServiceOptions options,
                 const TokenAuth* auth = nullptr)
      : scheduler_(scheduler), store_(store), options_(options), auth_(auth) {}
  grpc::Status SubmitExperiment(grpc::ServerContext*, const v1::SubmitExperimentRequest*,
                                v1::SubmitExperimentResponse*) override;
  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest*, v1::Job*) override;
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest*, v1::Job*) override;
  grpc::Status GetJobLog(grpc::ServerContext*, const v1::GetJobLogRequest*,
                         v1::GetJobLogResponse*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*,
                        v1::ListJobsResponse*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest*,
                         v1::CancelJobResponse*) override;
  grpc::Status WatchJob(grpc::ServerContext*, const v1::WatchJobRequest*,
                        grpc::ServerWriter<v1::Job>*) override;
  grpc::Status GetExperiment(grpc::ServerContext*, const v1::GetExperimentRequest*,
                             v1::Experiment*) override;
  grpc::Status ListExperiments(grpc::ServerContext*, const v1::ListExperimentsRequest*,
                               v1::ListExperimentsResponse*) override;
  grpc::Status GetStudy(grpc::ServerContext*, const v1::GetStudyRequest*,
                        v1::GetStudyResponse*) override;
  // Sweeps with `search` need one; without it they are refused (FAILED_PRECONDITION).
  void SetStudyRunner(StudyRunner* runner) { studies_ = runner; }

 private:
  Status FillJob(const storage::JobRecord& r, bool detail, v1::Job* out);
  grpc::Status Resubmit(const storage::ExperimentRecord& existing,
                        const v1::SubmitExperimentRequest& req, std::vector<storage::JobSpec> jobs,
                        v1::SubmitExperimentResponse* resp);
  StudyRunner* studies_ = nullptr;
  Scheduler* scheduler_;
  storage::JobStore* store_;
  ServiceOptions options_;
  const TokenAuth* auth_;
};

class WorkerServiceImpl final : public qlab::v1::WorkerService::Service {
 public:
  explicit WorkerServiceImpl(Scheduler* scheduler, const TokenAuth* auth = nullptr)
      : scheduler_(scheduler), auth_(auth) {}
  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest*,
                        v1::RegisterResponse*) override;
  grpc::Status AcquireLease(grpc::ServerContext*, const v1::AcquireLeaseRequest*,
                            v1::AcquireLeaseResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*,
                         v1::HeartbeatResponse*) override;
  grpc::Status Complete(grpc::ServerContext*, const v1::CompleteRequest*,
                        v1::CompleteResponse*) override;
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse*) override;
  grpc::Status DrainWorker(grpc::ServerContext*, const v1::DrainWorkerRequest*,
                           v1::DrainWorkerResponse*) override;
  grpc::Status ReportCanary(grpc::ServerContext*, const v1::ReportCanaryRequest*,
                            v1::ReportCanaryResponse*) override;
  // Without one, ReportCanary is UNIMPLEMENTED and workers list no canaries.
  void SetCanaryMonitor(CanaryMonitor* monitor) { canary_monitor_ = monitor; }

 private:
  CanaryMonitor* canary_monitor_ = nullptr;
  Scheduler* scheduler_;
  const TokenAuth* auth_;
};

class ResultServiceImpl final : public qlab::v1::ResultService::Service {
 public:
  explicit ResultServiceImpl(storage::JobStore* store, const TokenAuth* auth = nullptr)
      : store_(store), auth_(auth) {}
  grpc::Status QueryResults(grpc::ServerContext*, const v1::QueryResultsRequest*,
                            v1::QueryResultsResponse*) override;
  grpc::Status Pareto(grpc::ServerContext*, const v1::ParetoRequest*,
                      v1::ParetoResponse*) override;
  grpc::Status GetArtifacts(grpc::ServerContext*, const v1::GetArtifactsRequest*,
                            v1::GetArtifactsResponse*) override;
  grpc::Status ExportDataset(grpc::ServerContext*, const v1::ExportDatasetRequest*,
                             grpc::ServerWriter<v1::DatasetRow>*) override;
  grpc::Status Compare(grpc::ServerContext*, const v1::CompareRequest*,
                       v1::CompareResponse*) override;
  grpc::Status ExportResults(grpc::ServerContext*, const v1::ExportResultsRequest*,
                             grpc::ServerWriter<v1::ExportResultsChunk>*) override;

 private:
  storage::JobStore* store_;
  const TokenAuth* auth_;
};

}  // namespace qlab::server
