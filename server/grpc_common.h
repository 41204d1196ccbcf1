// What the gRPC service files share inside the server: the authorization check every handler
// starts with and the page tokens of paged lists.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "common/status.h"
#include "server/auth.h"

namespace qlab::server {

// OK when `auth` is null (no --auth-file) or the call's bearer token has a role that allows
// `access`; else UNAUTHENTICATED or PERMISSION_DENIED naming `method`.
grpc::Status Authorize(const TokenAuth* auth, const grpc::ServerContext* ctx, Access access,
                       const char* method);

// A page token is the last id of the previous page; "" = from the start.
StatusOr<int64_t> ParsePageToken(const std::string& token);

}  // namespace qlab::server

// Every handler's first line: the caller's token must carry a role that allows `access`.
#define QLAB_AUTHORIZE(ctx, access, method)                                            \
  do {                                                                                 \
    if (grpc::Status denied = Authorize(auth_, ctx, access, method); !denied.ok()) {   \
      return denied;                                                                   \
    }                                                                                  \
  } while (0)
