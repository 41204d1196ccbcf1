// How a worker reaches its coordinator: the address, the bearer token every call carries and the
// CA that signed the coordinator's certificate (DESIGN §10: QLAB_TOKEN or --token-file,
// --tls-ca). One place, so the lease loop and the dataset reader connect the same way.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace qlab::worker {

struct CoordinatorEndpoint {
  std::string address = "127.0.0.1:7070";
  std::string token;       // "" = send none
  std::string tls_ca_pem;  // "" = plaintext
};

std::shared_ptr<grpc::Channel> OpenCoordinatorChannel(const CoordinatorEndpoint& endpoint,
                                                      const grpc::ChannelArguments& args);

struct WorkerOptions;

// Fills options->token from `token_file` (else env QLAB_TOKEN) and options->tls_ca_pem from the
// file `tls_ca` (when given). INVALID_ARGUMENT naming an unreadable file.
Status ReadCredentials(const std::string& token_file, const std::string& tls_ca,
                       WorkerOptions* options);

// Adds the bearer token to a call's metadata.
void AddCredentials(const CoordinatorEndpoint& endpoint, grpc::ClientContext* ctx);

}  // namespace qlab::worker
