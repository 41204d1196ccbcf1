#include "worker/data_roots.h"

#include <algorithm>
#include <memory>
#include <system_error>

namespace qlab::worker {
namespace fs = std::filesystem;

namespace {

// A model folder holds a few dozen files; a folder with more entries than this is not one.
constexpr int kMaxFolderEntries = 10000;

class GuardedExecutor final : public JobExecutor {
 public:
  GuardedExecutor(const DataRoots* roots, std::unique_ptr<JobExecutor> inner)
      : roots_(roots), inner_(std::move(inner)) {}

  StatusOr<JobOutput> Execute(const LeasedJob& job, JobContext& context) override {
    auto params = nlohmann::json::parse(job.params_json, nullptr, /*allow_exceptions=*/false);
    if (params.is_object()) RETURN_IF_ERROR(roots_->CheckParams(params));
    return inner_->Execute(job, context);
  }

 private:
  const DataRoots* roots_;
  std::unique_ptr<JobExecutor> inner_;
};

}  // namespace

StatusOr<DataRoots> DataRoots::Make(const std::vector<std::string>& roots) {
  DataRoots out;
  for (const auto& root : roots) {
    if (root.empty()) continue;
    std::error_code ec;
    fs::path canonical = fs::canonical(root, ec);
    if (ec || !fs::is_directory(canonical, ec)) {
      return Status::InvalidArgument("--data-root '" + root + "' is not an existing folder");
    }
    out.roots_.push_back(std::move(canonical));
  }
  return out;
}

bool DataRoots::Contains(const fs::path& resolved) const {
  for (const auto& root : roots_) {
    // Component-wise, so that /data does not contain /data2.
    auto [r, p] = std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
    if (r == root.end()) return true;
  }
  return false;
}

Status DataRoots::CheckPath(const std::string& field, const std::string& path) const {
  auto outside = [&](const std::string& what) {
    std::string roots;
    for (const auto& r : roots_) roots += (roots.empty() ? "" : ", ") + r.string();
    return Status::InvalidArgument("params." + field + ": '" + what +
                                   "' is outside the worker's data roots (" + roots + ")");
  };
  std::error_code ec;
  // Existing prefixes are resolved through their symlinks; a missing tail stays as written.
  fs::path resolved = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec || !Contains(resolved)) return outside(path);
  if (!fs::is_directory(resolved, ec)) return Status::Ok();
  int entries = 0;
  for (fs::directory_iterator it(resolved, ec), end; !ec && it != end; it.increment(ec)) {
    if (++entries > kMaxFolderEntries) {
      return Status::InvalidArgument("params." + field + ": '" + path + "' holds more than " +
                                     std::to_string(kMaxFolderEntries) + " entries");
    }
    fs::path entry = fs::weakly_canonical(it->path(), ec);
    if (ec || !Contains(entry)) return outside(it->path().string());
  }
  if (ec) return Status::InvalidArgument("params." + field + ": cannot list '" + path + "': " + ec.message());
  return Status::Ok();
}

Status DataRoots::CheckParams(const nlohmann::json& params) const {
  if (roots_.empty()) return Status::Ok();
  for (const char* field : kPathParams) {
    auto it = params.find(field);
    if (it == params.end() || !it->is_string()) continue;
    RETURN_IF_ERROR(CheckPath(field, it->get<std::string>()));
  }
  return Status::Ok();
}

ExecutorMap DataRoots::Guard(ExecutorMap executors) const {
  if (roots_.empty()) return executors;
  ExecutorMap out;
  for (auto& [kind, executor] : executors) {
    out[kind] = std::make_unique<GuardedExecutor>(this, std::move(executor));
  }
  return out;
}

}  // namespace qlab::worker
