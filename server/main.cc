// qlab-server: reads flags (with QLAB_* environment equivalents) and runs a Coordinator until
// SIGINT or SIGTERM.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <fstream>

#include "common/signals.h"
#include "server/auth.h"
#include "server/coordinator.h"
#include "storage/backup.h"

int main(int argc, char** argv) {
  qlab::server::CoordinatorOptions options;
  CLI::App app{"qlab-server: the qlab coordinator (gRPC job/worker/result services, dashboard, "
               "metrics, one SQLite file)"};
  app.add_option("--db", options.db_path, "SQLite database file")->envname("QLAB_DB")
      ->capture_default_str();
  app.add_option("--grpc-listen", options.grpc_listen, "gRPC address HOST:PORT (port 0: any)")
      ->envname("QLAB_GRPC_LISTEN")->capture_default_str();
  app.add_option("--http-listen", options.http_listen,
                 "HTTP address HOST:PORT for dashboard, API and /metrics (port 0: any)")
      ->envname("QLAB_HTTP_LISTEN")->capture_default_str();
  app.add_option("--lease-ttl-ms", options.scheduler.lease_ttl_ms,
                 "a lease not heartbeaten for this long expires")
      ->envname("QLAB_LEASE_TTL_MS")->capture_default_str()->check(CLI::Range(100, 3'600'000));
  app.add_option("--max-attempts", options.scheduler.default_max_attempts,
                 "evaluator crashes per job before it FAILS as poison (sweeps may set their own)")
      ->envname("QLAB_MAX_ATTEMPTS")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--max-infra-failures", options.scheduler.max_infra_failures,
                 "attempts a job may lose to lost workers and expired leases before it FAILS")
      ->envname("QLAB_MAX_INFRA_FAILURES")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--max-sweep-jobs", options.services.max_sweep_jobs,
                 "largest sweep accepted in one submission")
      ->envname("QLAB_MAX_SWEEP_JOBS")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  app.add_option("--warm-columns-jobs", options.warm_columns_jobs,
                 "after start, read the newest experiments' params and metrics into memory "
                 "(filters and Pareto fronts answer from them) up to this many jobs; 0 = on first use")
      ->envname("QLAB_WARM_COLUMNS_JOBS")->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  app.add_option("--web-root", options.web_root, "folder of the dashboard's static files")
      ->envname("QLAB_WEB_ROOT");
#ifdef QLAB_DEFAULT_WEB_ROOT
  // A build tree serves the dashboard from its source checkout unless told otherwise.
  if (std::ifstream(std::string(QLAB_DEFAULT_WEB_ROOT) + "/index.html")) {
    options.web_root = QLAB_DEFAULT_WEB_ROOT;
  }
#endif
  app.add_option("--auth-file", options.auth_file,
                 "token file (ROLE NAME SHA256 lines): every call needs a bearer token")
      ->envname("QLAB_AUTH_FILE");
  app.add_flag("--insecure-no-auth", options.insecure_no_auth,
               "allow a listen address that is not loopback without --auth-file");
  app.add_option("--tls-cert", options.tls_cert, "PEM certificate: serve gRPC and HTTP over TLS")
      ->envname("QLAB_TLS_CERT");
  app.add_option("--tls-key", options.tls_key, "PEM private key of --tls-cert")
      ->envname("QLAB_TLS_KEY");
  int64_t max_db_mb = 0;
  app.add_option("--max-db-size-mb", max_db_mb,
                 "cap the database file; past it submissions are refused (RESOURCE_EXHAUSTED)")
      ->envname("QLAB_MAX_DB_SIZE_MB")->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  std::string port_file;
  app.add_option("--port-file", port_file,
                 "write {\"grpc\": HOST:PORT, \"http\": HOST:PORT} here once listening");
  std::string backup_to;
  auto* backup = app.add_subcommand(
      "backup", "copy the database (--db) to a new file, safely while a server runs on it");
  backup->add_option("--to", backup_to, "the backup file to create")->required();
  auto* token = app.add_subcommand("token", "bearer tokens of --auth-file");
  token->require_subcommand(1);
  auto* token_create = token->add_subcommand(
      "create", "append a new token to the auth file and print it (the only time it is shown)");
  std::string token_file, token_role, token_name;
  token_create->add_option("--auth-file", token_file, "the token file (created when missing)")
      ->required();
  token_create->add_option("--role", token_role, "viewer|submitter|worker|admin")->required();
  token_create->add_option("--name", token_name, "who or what holds it, e.g. alice, gpu-worker")
      ->required();
  CLI11_PARSE(app, argc, argv);
  if (token_create->parsed()) {
    auto role = qlab::server::ParseRole(token_role);
    auto created = role.ok() ? qlab::server::CreateToken(token_file, *role, token_name)
                             : qlab::StatusOr<std::string>(role.status());
    if (!created.ok()) {
      spdlog::error("qlab-server token create: {}", created.status().message());
      return 2;
    }
    std::printf("%s\n", created->c_str());
    return 0;
  }
  if (backup->parsed()) {
    qlab::Status st = qlab::storage::BackupDatabase(options.db_path, backup_to);
    if (!st.ok()) {
      spdlog::error("qlab-server backup: {}", st.message());
      return 1;
    }
    spdlog::info("qlab-server backup: {} -> {}", options.db_path, backup_to);
    return 0;
  }

  options.scheduler.heartbeat_interval_ms = std::max<int64_t>(50, options.scheduler.lease_ttl_ms / 3);
  options.scheduler.worker_live_ms = options.scheduler.lease_ttl_ms;

  options.max_db_bytes = max_db_mb << 20;
  qlab::server::Coordinator coordinator(options);
  qlab::Status st = coordinator.Start();
  if (!st.ok()) {
    spdlog::error("qlab-server: {}", st.ToString());
    return st.code() == qlab::StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << "{\"grpc\": \"" << coordinator.grpc_address() << "\", \"http\": \""
                       << coordinator.http_address() << "\"}\n";
    std::rename(tmp.c_str(), port_file.c_str());  // readers never see a half-written file
  }
  int sig = qlab::WaitForTerminationSignal();
  spdlog::info("qlab-server: signal {} received, shutting down", sig);
  coordinator.Shutdown();
  return 0;
}
