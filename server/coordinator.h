// Coordinator: one qlab-server process — the store, the scheduler, the gRPC services, the
// HTTP endpoint and the lease reaper, started and stopped together.
//
// Used by main.cc and by tests and benchmarks that want a real server in-process.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "server/clock.h"
#include "server/grpc_services.h"
#include "server/scheduler.h"
#include "server/study_runner.h"
#include "server/server_metrics.h"
#include "storage/job_store.h"

namespace httplib {
class Server;
}

namespace qlab::server {

struct CoordinatorOptions {
  std::string db_path = "./qlab.db";
  std::string grpc_listen = "127.0.0.1:7070";  // port 0 picks a free port
  std::string http_listen = "127.0.0.1:7080";  // "" disables HTTP
  SchedulerOptions scheduler;
  ServiceOptions services;
  int64_t reap_interval_ms = 250;              // how often expired leases are looked for
  std::string web_root;                        // folder of the dashboard's static files
  // Auth and TLS (DESIGN §10). Without an auth file, a listen address that is not loopback is
  // refused unless insecure_no_auth.
  std::string auth_file;
  bool insecure_no_auth = false;
  std::string tls_cert, tls_key;               // PEM files; both or neither
  // Cap on the database file (0: none); past it submissions get RESOURCE_EXHAUSTED, as on a
  // full disk, while reads go on.
  int64_t max_db_bytes = 0;
  CanaryOptions canaries;                      // how drift canaries are judged
  // After it starts serving, read the columns of the newest experiments (filters and fronts
  // answer from them) until this many jobs are held, so that no user waits for the read
  // (seconds for a million jobs); 0 = only when first asked.
  int64_t warm_columns_jobs = 2'000'000;
};

class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator();

  // Opens the database, rebuilds the scheduler and starts serving. Errors: UNAVAILABLE when a
  // port cannot be bound or the file cannot be opened; what JobStore::Open returns otherwise.
  Status Start();
  // Stops accepting RPCs, lets in-flight ones finish (up to 5 s), flushes the writer. Idempotent.
  void Shutdown();

  // "host:port" actually bound (after Start).
  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }
  Scheduler& scheduler() { return *scheduler_; }
  storage::JobStore& store() { return *store_; }

 private:
  Status StartHttp();
  Status CheckExposure(const std::string& grpc_host, const std::string& http_host) const;

  CoordinatorOptions options_;
  SystemClock clock_;
  ServerMetrics metrics_;
  std::shared_ptr<TokenAuth> auth_;
  std::string tls_cert_pem_, tls_key_pem_;
  std::unique_ptr<storage::JobStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<StudyRunner> studies_;
  std::unique_ptr<JobServiceImpl> job_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<CanaryMonitor> canaries_;
  std::unique_ptr<ResultServiceImpl> result_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<httplib::Server> http_server_;
  std::thread http_thread_;
  std::thread reaper_;
  std::thread warmer_;
  std::atomic<bool> stopping_{false};
  std::string grpc_address_, http_address_;
  bool started_ = false;
};

// Splits "host:port" (IPv6 as "[::1]:port"). INVALID_ARGUMENT naming `field` when malformed.
Status SplitHostPort(const std::string& address, const std::string& field, std::string* host,
                     int* port);

}  // namespace qlab::server
