// The CLI's connection to the coordinator and the conventions every command shares: exit
// codes, error printing, job-state names.
//
// Exit codes (DESIGN §10): 0 success; 1 an experiment waited on did not fully succeed; 2 bad
// input (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, a bad flag or file); 3 the server could
// not be reached or failed; 4 UNAUTHENTICATED or PERMISSION_DENIED (a missing, unknown or
// under-privileged token).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "qlab/v1/job_service.grpc.pb.h"
#include "qlab/v1/result_service.grpc.pb.h"
#include "qlab/v1/worker_service.grpc.pb.h"

namespace qlab::cli {

struct ClientOptions {
  std::string server = "127.0.0.1:7070";
  std::string token;    // sent as `authorization: Bearer TOKEN` when not empty
  std::string tls_ca;   // PEM file of the CA that signed the server's certificate; "" = plaintext
};

class Client {
 public:
  // INVALID_ARGUMENT when the CA file cannot be read.
  static StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  // A context for one call: its deadline and the bearer token.
  std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30) const;
  // The same without a deadline, for streams that last as long as their data.
  std::unique_ptr<grpc::ClientContext> StreamCtx() const;

  v1::JobService::Stub& jobs() { return *jobs_; }
  v1::ResultService::Stub& results() { return *results_; }
  v1::WorkerService::Stub& workers() { return *workers_; }

 private:
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::ResultService::Stub> results_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

int ExitFor(grpc::StatusCode code);
Status FromGrpc(const grpc::Status& status);
// Prints "qlab WHAT: message" on stderr; returns the exit code for the status.
int Fail(const grpc::Status& st, const std::string& what);
int Fail(const Status& st, const std::string& what);

const char* StateName(v1::JobState s);
bool ParseState(const std::string& name, v1::JobState* out);
// A param's value as a table cell: strings bare, everything else as JSON.
std::string ParamText(const nlohmann::json& v);
// "12s ago", "5m ago", "2.0h ago"; "" for 0.
std::string Ago(int64_t unix_ms);

}  // namespace qlab::cli
