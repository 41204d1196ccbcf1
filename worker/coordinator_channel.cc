#include "worker/coordinator_channel.h"

#include "common/credentials.h"
#include "worker/worker.h"

namespace qlab::worker {

std::shared_ptr<grpc::Channel> OpenCoordinatorChannel(const CoordinatorEndpoint& endpoint,
                                                      const grpc::ChannelArguments& args) {
  if (endpoint.tls_ca_pem.empty()) {
    return grpc::CreateCustomChannel(endpoint.address, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = endpoint.tls_ca_pem;
  return grpc::CreateCustomChannel(endpoint.address, grpc::SslCredentials(ssl), args);
}

Status ReadCredentials(const std::string& token_file, const std::string& tls_ca,
                       WorkerOptions* options) {
  ASSIGN_OR_RETURN(options->token, ReadBearerToken(token_file));
  if (!tls_ca.empty()) {
    ASSIGN_OR_RETURN(options->tls_ca_pem, ReadTextFile(tls_ca, "--tls-ca"));
  }
  return Status::Ok();
}

void AddCredentials(const CoordinatorEndpoint& endpoint, grpc::ClientContext* ctx) {
  if (!endpoint.token.empty()) ctx->AddMetadata("authorization", "Bearer " + endpoint.token);
}

}  // namespace qlab::worker
