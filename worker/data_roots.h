// Worker data roots (DESIGN §10, `qlab-worker --data-root DIR`): the folders whose files jobs may
// name. Without roots a job may read any file the worker can; with them, a job whose params name
// a file outside every root fails before its evaluator opens anything.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "worker/executor.h"

namespace qlab::worker {

// Params that name a file or folder, in any job kind: quantize's `safetensors`, accuracy's
// `model`, `text`, `tokenizer` and `tokens`, predictor's `dataset_file`.
inline constexpr const char* kPathParams[] = {"safetensors", "model",  "text",
                                              "tokenizer",   "tokens", "dataset_file"};

class DataRoots {
 public:
  // The canonical form of each root. INVALID_ARGUMENT naming a root that is not an existing
  // folder. No roots: every path is allowed.
  static StatusOr<DataRoots> Make(const std::vector<std::string>& roots);

  bool empty() const { return roots_.empty(); }
  const std::vector<std::filesystem::path>& roots() const { return roots_; }

  // OK when every path param of `params` resolves, symlinks followed, to a place under a root;
  // for a folder (a Hugging Face model), so must each entry directly in it. Otherwise
  // INVALID_ARGUMENT "params.FIELD: 'PATH' is outside the worker's data roots (ROOTS)".
  Status CheckParams(const nlohmann::json& params) const;

  // Wraps each executor so that it first checks its job's params; a job that fails the check
  // ends FAILED with that error and its evaluator never runs. Returns `executors` unchanged
  // when there are no roots.
  ExecutorMap Guard(ExecutorMap executors) const;

 private:
  bool Contains(const std::filesystem::path& resolved) const;
  Status CheckPath(const std::string& field, const std::string& path) const;

  std::vector<std::filesystem::path> roots_;
};

}  // namespace qlab::worker
