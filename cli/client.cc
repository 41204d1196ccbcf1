#include "cli/client.h"

#include <chrono>
#include <cstdio>

#include "common/credentials.h"

namespace qlab::cli {
StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadTextFile(options.tls_ca, "--tls-ca"));
    credentials = grpc::SslCredentials(ssl);
  }
  auto client = std::unique_ptr<Client>(new Client());
  client->token_ = options.token;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  client->channel_ = grpc::CreateCustomChannel(options.server, credentials, args);
  client->jobs_ = v1::JobService::NewStub(client->channel_);
  client->results_ = v1::ResultService::NewStub(client->channel_);
  client->workers_ = v1::WorkerService::NewStub(client->channel_);
  return client;
}

std::unique_ptr<grpc::ClientContext> Client::StreamCtx() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  return ctx;
}

std::unique_ptr<grpc::ClientContext> Client::Ctx(int seconds) const {
  auto ctx = StreamCtx();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

int ExitFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return 0;
    case grpc::INVALID_ARGUMENT:
    case grpc::NOT_FOUND:
    case grpc::ALREADY_EXISTS:
    case grpc::FAILED_PRECONDITION:
    case grpc::OUT_OF_RANGE: return 2;
    case grpc::UNAUTHENTICATED:
    case grpc::PERMISSION_DENIED: return 4;
    default: return 3;
  }
}

Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  if (status.error_code() == grpc::UNAVAILABLE) {
    return Status::Unavailable("cannot reach the server (" + status.error_message() + ")");
  }
  return Status(static_cast<StatusCode>(status.error_code()), status.error_message());
}

int Fail(const grpc::Status& st, const std::string& what) { return Fail(FromGrpc(st), what); }

int Fail(const Status& st, const std::string& what) {
  std::fprintf(stderr, "qlab%s%s: %s\n", what.empty() ? "" : " ", what.c_str(), st.message().c_str());
  return ExitFor(static_cast<grpc::StatusCode>(st.code()));
}

const char* StateName(v1::JobState s) {
  switch (s) {
    case v1::JOB_STATE_PENDING: return "PENDING";
    case v1::JOB_STATE_LEASED: return "LEASED";
    case v1::JOB_STATE_RUNNING: return "RUNNING";
    case v1::JOB_STATE_SUCCEEDED: return "SUCCEEDED";
    case v1::JOB_STATE_FAILED: return "FAILED";
    case v1::JOB_STATE_CANCELLED: return "CANCELLED";
    default: return "UNSPECIFIED";
  }
}

bool ParseState(const std::string& name, v1::JobState* out) {
  for (int s = 1; s <= 6; ++s) {
    std::string n = StateName(static_cast<v1::JobState>(s));
    std::string lower;
    for (char c : n) lower += static_cast<char>(std::tolower(c));
    if (name == n || name == lower) {
      *out = static_cast<v1::JobState>(s);
      return true;
    }
  }
  return false;
}

std::string ParamText(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }
std::string Ago(int64_t unix_ms) {
  if (unix_ms == 0) return "";
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  double s = (now - unix_ms) / 1000.0;
  char buf[32];
  if (s < 120) std::snprintf(buf, sizeof(buf), "%.0fs ago", s);
  else if (s < 7200) std::snprintf(buf, sizeof(buf), "%.0fm ago", s / 60);
  else std::snprintf(buf, sizeof(buf), "%.1fh ago", s / 3600);
  return buf;
}
}  // namespace qlab::cli
