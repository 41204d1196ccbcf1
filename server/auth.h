// Bearer-token auth of the coordinator (DESIGN §10): a token file of hashed tokens with roles,
// and the rule of which role may make which call.
//
// The file holds one line per token, `ROLE NAME SHA256HEX` (the hex SHA-256 of the token; the
// token itself is never stored), '#' comments and blank lines allowed. It is read again when
// it changes, so `qlab-server token create` takes effect on a running server within a second.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"

namespace qlab::server {

enum class Role { kViewer, kSubmitter, kWorker, kAdmin };

// What a call does, and so which roles may make it.
enum class Access {
  kRead,        // every read RPC and GET route: viewer, submitter, admin
  kSubmit,      // SubmitExperiment, SubmitJob, CancelJob: submitter, admin
  kWork,        // WorkerService's lease protocol: worker, admin
  kReadOrWork,  // what workers also read (ExportDataset, GetArtifacts, ListWorkers): all roles
  kAdmin,       // admin only
};

const char* RoleName(Role role);
StatusOr<Role> ParseRole(std::string_view name);
bool RoleAllows(Role role, Access access);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

struct Principal {
  std::string name;
  Role role = Role::kViewer;
};

class TokenAuth {
 public:
  // Reads `path`. INVALID_ARGUMENT naming the file and line for a malformed line, an unknown
  // role or a hash that is not 64 hex digits; NOT_FOUND when the file cannot be read.
  static StatusOr<std::shared_ptr<TokenAuth>> Load(const std::string& path);

  // The principal of an `authorization` value "Bearer TOKEN" when its role allows `access`.
  // UNAUTHENTICATED when the value is missing, malformed or names no known token;
  // PERMISSION_DENIED naming the principal, its role and "`verb` `object`" when the role may
  // not. The message is built only on refusal: every RPC passes here.
  StatusOr<Principal> Check(std::string_view authorization, Access access, std::string_view verb,
                            std::string_view object) const;

  size_t size() const;

 private:
  explicit TokenAuth(std::string path) : path_(std::move(path)) {}
  Status Reload() const;          // under mu_
  void ReloadIfChanged() const;   // at most once a second

  const std::string path_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Principal> by_hash_;  // hex SHA-256 -> principal
  mutable std::chrono::steady_clock::time_point last_check_{};
  mutable int64_t file_mtime_ns_ = -1;
};

// Appends `ROLE NAME SHA256HEX` for a new random token to `path` (created 0600 when missing)
// and returns the token: the only time it exists in clear. INVALID_ARGUMENT for a name with
// whitespace or longer than 64 bytes.
StatusOr<std::string> CreateToken(const std::string& path, Role role, const std::string& name);

// True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost.
bool IsLoopbackHost(const std::string& host);

}  // namespace qlab::server
