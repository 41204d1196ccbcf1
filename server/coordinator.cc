#include "server/coordinator.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "common/credentials.h"
#include "server/http_api.h"

namespace qlab::server {

Status SplitHostPort(const std::string& address, const std::string& field, std::string* host,
                     int* port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return Status::InvalidArgument(field + " must be HOST:PORT, got '" + address + "'");
  }
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  try {
    size_t used = 0;
    *port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1 || *port < 0 || *port > 65535) throw 0;
  } catch (...) {
    return Status::InvalidArgument(field + " has a bad port in '" + address + "'");
  }
  return Status::Ok();
}

Coordinator::Coordinator(CoordinatorOptions options) : options_(std::move(options)) {}

Status Coordinator::CheckExposure(const std::string& grpc_host, const std::string& http_host) const {
  if (auth_ || options_.insecure_no_auth) return Status::Ok();
  for (const auto& [flag, host] : {std::pair<const char*, std::string>{"--grpc-listen", grpc_host},
                                   {"--http-listen", http_host}}) {
    if (!host.empty() && !IsLoopbackHost(host)) {
      return Status::InvalidArgument(
          std::string(flag) + " " + host + " is reachable from other machines and there is no "
          "--auth-file: create tokens with 'qlab-server token create', or accept an open "
          "server with --insecure-no-auth");
    }
  }
  return Status::Ok();
}

Coordinator::~Coordinator() { Shutdown(); }

Status Coordinator::Start() {
  std::string grpc_host, http_host;
  int grpc_port = 0, http_port = 0;
  RETURN_IF_ERROR(SplitHostPort(options_.grpc_listen, "--grpc-listen", &grpc_host, &grpc_port));
  if (!options_.http_listen.empty()) {
    RETURN_IF_ERROR(SplitHostPort(options_.http_listen, "--http-listen", &http_host, &http_port));
  }
  if (!options_.auth_file.empty()) {
    ASSIGN_OR_RETURN(auth_, TokenAuth::Load(options_.auth_file));
    spdlog::info("qlab-server: {} token(s) from {}", auth_->size(), options_.auth_file);
  }
  RETURN_IF_ERROR(CheckExposure(grpc_host, http_host));
  if (options_.tls_cert.empty() != options_.tls_key.empty()) {
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  }
  if (!options_.tls_cert.empty()) {
    ASSIGN_OR_RETURN(tls_cert_pem_, ReadTextFile(options_.tls_cert, "--tls-cert"));
    ASSIGN_OR_RETURN(tls_key_pem_, ReadTextFile(options_.tls_key, "--tls-key"));
  }
  ASSIGN_OR_RETURN(store_, storage::JobStore::Open(options_.db_path));
  if (options_.max_db_bytes > 0) {
    RETURN_IF_ERROR(store_->writer().Run([this](storage::Connection& conn) {
      return storage::LimitDatabaseSize(conn, options_.max_db_bytes);
    }));
  }
  store_->writer().SetCommitObserver(
      [this](int closures, double seconds) { metrics_.ObserveWriteBatch(closures, seconds); });
  scheduler_ = std::make_unique<Scheduler>(store_.get(), &clock_, options_.scheduler);
  scheduler_->SetCompletionObserver([this](const Scheduler::JobEnd& end) {
    metrics_.ObserveJob(end);
    // A finished job may be a study's trial: its study can propose the next one now rather than
    // at the runner's next tick. (Set before the runner exists; Wake only signals.)
    if (studies_) studies_->Wake();
  });
  RETURN_IF_ERROR(scheduler_->Start());

  job_service_ = std::make_unique<JobServiceImpl>(scheduler_.get(), store_.get(), options_.services,
                                                  auth_.get());
  studies_ = std::make_unique<StudyRunner>(store_.get(), scheduler_.get(), &clock_);
  job_service_->SetStudyRunner(studies_.get());
  worker_service_ = std::make_unique<WorkerServiceImpl>(scheduler_.get(), auth_.get());
  canaries_ = std::make_unique<CanaryMonitor>(store_.get(), scheduler_.get(), &clock_,
                                              options_.canaries);
  canaries_->SetObserver([this](const CanaryVerdict& v) {
    metrics_.ObserveCanary(v.verdict, v.flagged_results);
  });
  worker_service_->SetCanaryMonitor(canaries_.get());
  result_service_ = std::make_unique<ResultServiceImpl>(store_.get(), auth_.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!tls_cert_pem_.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({tls_key_pem_, tls_cert_pem_});
    credentials = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(options_.grpc_listen, credentials, &bound_port);
  builder.RegisterService(job_service_.get());
  builder.RegisterService(worker_service_.get());
  builder.RegisterService(result_service_.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(metrics_.MakeRpcInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || bound_port == 0) {
    return Status::Unavailable("cannot listen for gRPC on " + options_.grpc_listen);
  }
  std::string shown_host = grpc_host.find(':') != std::string::npos ? "[" + grpc_host + "]" : grpc_host;
  grpc_address_ = shown_host + ":" + std::to_string(bound_port);
  spdlog::info("qlab-server: gRPC listening on {}{}{}", grpc_address_,
               tls_cert_pem_.empty() ? "" : " (TLS)", auth_ ? " (bearer tokens required)" : "");

  if (!options_.http_listen.empty()) RETURN_IF_ERROR(StartHttp());
  studies_->Start();

  reaper_ = std::thread([this] {
    while (!stopping_.load()) {
      auto expired = scheduler_->ExpireLeases();
      if (!expired.ok()) {
        spdlog::warn("lease expiry failed: {}", expired.status().ToString());
      } else if (*expired > 0) {
        spdlog::info("{} lease(s) expired", *expired);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.reap_interval_ms));
    }
  });
  if (options_.warm_columns_jobs > 0) {
    warmer_ = std::thread([this] {
      const auto t0 = std::chrono::steady_clock::now();
      auto warmed = store_->WarmColumns(options_.warm_columns_jobs, stopping_);
      if (!warmed.ok()) {
        spdlog::warn("reading experiments' columns: {}", warmed.status().ToString());
      } else if (*warmed > 0) {
        spdlog::info("experiments' columns read: {} jobs in {:.1f} s", *warmed,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    });
  }
  started_ = true;
  return Status::Ok();
}

Status Coordinator::StartHttp() {
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(SplitHostPort(options_.http_listen, "--http-listen", &host, &port));
  if (!options_.tls_cert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
    if (!tls->is_valid()) {
      return Status::InvalidArgument("--tls-cert/--tls-key: the HTTP server cannot use '" +
                                     options_.tls_cert + "' and '" + options_.tls_key + "'");
    }
    http_server_ = std::move(tls);
  } else {
    http_server_ = std::make_unique<httplib::Server>();
  }
  // Small JSON replies on kept-alive connections otherwise wait ~40 ms for delayed ACKs.
  http_server_->set_tcp_nodelay(true);
  HttpApiOptions http_options;
  http_options.web_root = options_.web_root;
  http_options.auth = auth_.get();
  http_options.render_metrics = [this] { return metrics_.Render(*scheduler_, *store_); };
  http_options.study_report = [this](const std::string& name) { return studies_->Report(name); };
  RegisterHttpRoutes(*http_server_, scheduler_.get(), store_.get(), http_options);
  int bound = port == 0 ? http_server_->bind_to_any_port(host)
                        : (http_server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return Status::Unavailable("cannot listen for HTTP on " + options_.http_listen);
  std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  http_address_ = shown_host + ":" + std::to_string(bound);
  http_thread_ = std::thread([this] { http_server_->listen_after_bind(); });
  spdlog::info("qlab-server: HTTP (dashboard, /api/v1, /metrics) on {}://{}/",
               options_.tls_cert.empty() ? "http" : "https", http_address_);
  return Status::Ok();
}

void Coordinator::Shutdown() {
  if (stopping_.exchange(true)) return;
  if (studies_) studies_->Stop();  // proposes nothing more
  if (scheduler_) scheduler_->Shutdown();  // wakes long polls so gRPC can drain
  if (grpc_server_) grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (http_server_) http_server_->stop();
  if (http_thread_.joinable()) http_thread_.join();
  if (reaper_.joinable()) reaper_.join();
  if (warmer_.joinable()) warmer_.join();  // stops between experiments
  grpc_server_.reset();
  studies_.reset();
  scheduler_.reset();
  store_.reset();  // drains the writer queue, closes the file
  if (started_) spdlog::info("qlab-server: stopped");
}

}  // namespace qlab::server
