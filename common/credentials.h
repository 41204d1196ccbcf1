// Reading what clients authenticate with (DESIGN §10): a bearer token from --token-file or env
// QLAB_TOKEN, and PEM files for TLS. Shared by qlab, qlab-worker and qlab-server.
#pragma once

#include <string>

#include "common/status.h"

namespace qlab {

// The token in `token_file` when given, else env QLAB_TOKEN; surrounding whitespace (a
// trailing newline) trimmed; "" when neither is set. INVALID_ARGUMENT naming an unreadable file.
StatusOr<std::string> ReadBearerToken(const std::string& token_file);

// The whole of a small text file such as a PEM certificate. INVALID_ARGUMENT "FLAG: cannot
// read 'PATH'" when it cannot be read.
StatusOr<std::string> ReadTextFile(const std::string& path, const std::string& flag);

}  // namespace qlab
