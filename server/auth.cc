#include "server/auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace qlab::server {
namespace {

constexpr size_t kMaxTokenBytes = 256;  // a presented token longer than this is not one of ours

std::string Hex(const unsigned char* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

int64_t MtimeNs(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kSubmitter: return "submitter";
    case Role::kWorker: return "worker";
    case Role::kAdmin: return "admin";
  }
  return "?";
}

StatusOr<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kViewer, Role::kSubmitter, Role::kWorker, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return Status::InvalidArgument("role '" + std::string(name) +
                                 "' is unknown; roles: viewer, submitter, worker, admin");
}

bool RoleAllows(Role role, Access access) {
  if (role == Role::kAdmin) return true;
  switch (access) {
    case Access::kRead: return role == Role::kViewer || role == Role::kSubmitter;
    case Access::kSubmit: return role == Role::kSubmitter;
    case Access::kWork: return role == Role::kWorker;
    case Access::kReadOrWork: return true;
    case Access::kAdmin: return false;
  }
  return false;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return Hex(digest, len);
}

StatusOr<std::shared_ptr<TokenAuth>> TokenAuth::Load(const std::string& path) {
  std::shared_ptr<TokenAuth> auth(new TokenAuth(path));
  std::lock_guard lock(auth->mu_);
  RETURN_IF_ERROR(auth->Reload());
  auth->last_check_ = std::chrono::steady_clock::now();
  return auth;
}

Status TokenAuth::Reload() const {
  const int64_t mtime = MtimeNs(path_);
  std::ifstream in(path_);
  if (!in) return Status::NotFound("cannot read the auth file '" + path_ + "'");
  std::map<std::string, Principal> by_hash;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream fields(line);
    std::string role_name, name, hash, extra;
    fields >> role_name >> name >> hash;
    auto where = [&] { return path_ + " line " + std::to_string(number) + ": "; };
    if (hash.empty() || (fields >> extra)) {
      return Status::InvalidArgument(where() + "expected 'ROLE NAME SHA256HEX'");
    }
    auto role = ParseRole(role_name);
    if (!role.ok()) return Status::InvalidArgument(where() + role.status().message());
    if (!IsHex64(hash)) {
      return Status::InvalidArgument(where() + "the hash must be 64 lower-case hex digits");
    }
    by_hash[hash] = Principal{name, *role};
  }
  by_hash_ = std::move(by_hash);
  file_mtime_ns_ = mtime;
  return Status::Ok();
}

void TokenAuth::ReloadIfChanged() const {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ < std::chrono::seconds(1)) return;
  last_check_ = now;
  if (MtimeNs(path_) == file_mtime_ns_) return;
  // A file being rewritten or broken keeps the tokens last read: auth never opens up.
  (void)Reload();
}

size_t TokenAuth::size() const {
  std::lock_guard lock(mu_);
  return by_hash_.size();
}

StatusOr<Principal> TokenAuth::Check(std::string_view authorization, Access access,
                                     std::string_view verb, std::string_view object) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.empty()) {
    return Status::Unauthenticated("no bearer token: send 'authorization: Bearer TOKEN' "
                                   "(qlab: QLAB_TOKEN or --token-file)");
  }
  if (authorization.substr(0, kBearer.size()) != kBearer ||
      authorization.size() > kBearer.size() + kMaxTokenBytes) {
    return Status::Unauthenticated("the authorization value is not 'Bearer TOKEN'");
  }
  const std::string hash = Sha256Hex(authorization.substr(kBearer.size()));
  Principal principal;
  {
    std::lock_guard lock(mu_);
    ReloadIfChanged();
    auto it = by_hash_.find(hash);
    if (it == by_hash_.end()) return Status::Unauthenticated("unknown token");
    principal = it->second;
  }
  if (!RoleAllows(principal.role, access)) {
    return Status::PermissionDenied("'" + principal.name + "' has role " +
                                    RoleName(principal.role) + ", which may not " +
                                    std::string(verb) + " " + std::string(object));
  }
  return principal;
}

StatusOr<std::string> CreateToken(const std::string& path, Role role, const std::string& name) {
  if (name.empty() || name.size() > 64 || name.find_first_of(" \t\r\n#") != std::string::npos) {
    return Status::InvalidArgument("--name must be 1..64 characters without spaces or '#'");
  }
  unsigned char random[32];
  if (RAND_bytes(random, sizeof(random)) != 1) return Status::Internal("no random bytes for a token");
  const std::string token = "qlab_" + Hex(random, sizeof(random));
  const mode_t old_mask = ::umask(077);  // a new file is readable by its owner only
  std::FILE* f = std::fopen(path.c_str(), "a");
  ::umask(old_mask);
  if (f == nullptr) return Status::InvalidArgument("cannot open the auth file '" + path + "'");
  const std::string line = std::string(RoleName(role)) + " " + name + " " + Sha256Hex(token) + "\n";
  const bool written = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  if (std::fclose(f) != 0 || !written) return Status::Internal("cannot write the auth file '" + path + "'");
  return token;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

}  // namespace qlab::server
