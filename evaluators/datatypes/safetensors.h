// Read-only, memory-mapped access to .safetensors files (Hugging Face format: 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then the
// data). The header is checked against the file before any tensor is read, so a truncated file
// or a header whose offsets or shapes lie is an error, never a read past the end.
// Part of qlab_quantize_job (the header is JSON).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace qlab::datatypes {

struct SafetensorInfo {
  std::string name;
  std::string dtype;            // "F32", "F16", "BF16", "I64", ... as in the header
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

// A weight matrix read from a file: leading dimensions flattened into rows, the last dimension
// is cols (a 1-D tensor is [1, n], a scalar [1, 1]).
struct WeightMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;  // [rows, cols] row-major
};

// An open file. Immutable after Open; thread-safe.
class SafetensorsFile {
 public:
  // NOT_FOUND when the file cannot be opened; DATA_LOSS when it is shorter than its header says,
  // the header is not valid JSON / not the documented schema, or a tensor's data_offsets lie
  // outside the data section or disagree with dtype x shape.
  static StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  // Every tensor, sorted by name.
  const std::vector<SafetensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const SafetensorInfo* Find(const std::string& name) const;
  // Names matching a shell glob (fnmatch: * ? [..], '*' also matches '.'), sorted.
  std::vector<std::string> Match(const std::string& glob) const;

  // The tensor converted to float. NOT_FOUND for an unknown name (the message lists a few
  // names), INVALID_ARGUMENT for a dtype other than F32/F16/BF16. NaN/Inf values are copied as
  // they are: the quantizer counts and rejects them.
  StatusOr<WeightMatrix> ReadMatrix(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  uint64_t data_size_ = 0;
  std::vector<SafetensorInfo> tensors_;
};

}  // namespace qlab::datatypes
