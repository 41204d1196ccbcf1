// Safetensors reader (see safetensors.h): mmap, validate the whole header, convert on read.
#include "evaluators/datatypes/safetensors.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "evaluators/datatypes/minifloat.h"

namespace qlab::datatypes {
namespace {

// Headers of real checkpoints are a few MB; a larger "length" is a corrupt or hostile file.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
// Elements of one tensor (and each of its dimensions): a petabyte of F8 is no real tensor.
constexpr uint64_t kMaxElements = uint64_t{1} << 50;

int DtypeBytes(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" ||
      dtype == "F8_E5M2") {
    return 1;
  }
  return 0;
}

Status ParseHeader(const std::string& text, uint64_t data_size,
                   std::vector<SafetensorInfo>* tensors) {
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Status::DataLoss(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) return Status::DataLoss("header is not a JSON object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const nlohmann::json& entry = it.value();
    const std::string where = "tensor '" + it.key() + "': ";
    if (!entry.is_object() || !entry.contains("dtype") || !entry["dtype"].is_string() ||
        !entry.contains("shape") || !entry["shape"].is_array() ||
        !entry.contains("data_offsets") || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2) {
      return Status::DataLoss(where + "needs dtype, shape and data_offsets [begin, end]");
    }
    SafetensorInfo info;
    info.name = it.key();
    info.dtype = entry["dtype"].get<std::string>();
    const int bytes = DtypeBytes(info.dtype);
    if (bytes == 0) return Status::DataLoss(where + "unknown dtype " + info.dtype);
    uint64_t numel = 1;
    for (const nlohmann::json& d : entry["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) {
        return Status::DataLoss(where + "shape must hold non-negative integers");
      }
      const uint64_t dim = d.get<uint64_t>();
      // Every dimension, not only their product, stays below 2^50: after a zero dimension the
      // product cannot grow, and a dimension of 2^63 would turn negative as an int64_t.
      if (dim > kMaxElements || (dim != 0 && numel > kMaxElements / dim)) {
        return Status::DataLoss(where + "shape is impossibly large");
      }
      numel *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    const nlohmann::json& off = entry["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      return Status::DataLoss(where + "data_offsets must be non-negative integers");
    }
    info.begin = off[0].get<uint64_t>();
    info.end = off[1].get<uint64_t>();
    if (info.begin > info.end || info.end > data_size) {
      return Status::DataLoss(where + "data_offsets [" + std::to_string(info.begin) + ", " +
                              std::to_string(info.end) + "] lie outside the " +
                              std::to_string(data_size) + "-byte data section (truncated file?)");
    }
    if (info.end - info.begin != numel * bytes) {
      return Status::DataLoss(where + "shape x dtype is " + std::to_string(numel * bytes) +
                              " bytes but data_offsets span " +
                              std::to_string(info.end - info.begin));
    }
    tensors->push_back(std::move(info));
  }
  std::sort(tensors->begin(), tensors->end(),
            [](const SafetensorInfo& a, const SafetensorInfo& b) { return a.name < b.name; });
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::NotFound("cannot open safetensors file '" + path + "': " +
                            std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::NotFound("'" + path + "' is not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  if (size < 8) {
    ::close(fd);
    return Status::DataLoss("'" + path + "' is truncated: " + std::to_string(size) +
                            " bytes, no header length");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file alive
  if (map == MAP_FAILED) {
    return Status::Internal("mmap of '" + path + "' failed: " + std::strerror(errno));
  }
  file->map_ = static_cast<const uint8_t*>(map);
  file->map_size_ = size;
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file->map_[i];
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return Status::DataLoss("'" + path + "' is truncated or corrupt: header length " +
                            std::to_string(header_len) + " but the file has " +
                            std::to_string(size) + " bytes");
  }
  const std::string header(reinterpret_cast<const char*>(file->map_ + 8), header_len);
  file->data_ = file->map_ + 8 + header_len;
  file->data_size_ = size - 8 - header_len;
  Status s = ParseHeader(header, file->data_size_, &file->tensors_);
  if (!s.ok()) return s.WithContext(path);
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

const SafetensorInfo* SafetensorsFile::Find(const std::string& name) const {
  auto it = std::lower_bound(
      tensors_.begin(), tensors_.end(), name,
      [](const SafetensorInfo& t, const std::string& n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

std::vector<std::string> SafetensorsFile::Match(const std::string& glob) const {
  std::vector<std::string> names;
  for (const SafetensorInfo& t : tensors_) {
    if (::fnmatch(glob.c_str(), t.name.c_str(), 0) == 0) names.push_back(t.name);
  }
  return names;
}

StatusOr<WeightMatrix> SafetensorsFile::ReadMatrix(const std::string& name) const {
  const SafetensorInfo* info = Find(name);
  if (info == nullptr) {
    std::string some;
    for (size_t i = 0; i < tensors_.size() && i < 5; ++i) some += (i ? ", " : "") + tensors_[i].name;
    return Status::NotFound("no tensor '" + name + "' in '" + path_ + "' (" +
                            std::to_string(tensors_.size()) + " tensors: " + some +
                            (tensors_.size() > 5 ? ", ..." : "") + ")");
  }
  if (info->dtype != "F32" && info->dtype != "F16" && info->dtype != "BF16") {
    return Status::InvalidArgument("tensor '" + name + "' has dtype " + info->dtype +
                                   "; only F32, F16 and BF16 weights can be quantized");
  }
  WeightMatrix m;
  m.cols = info->shape.empty() ? 1 : info->shape.back();
  int64_t numel = 1;
  for (int64_t d : info->shape) numel *= d;
  m.rows = m.cols == 0 ? 0 : numel / m.cols;
  m.values.resize(numel);
  const uint8_t* src = data_ + info->begin;
  if (numel == 0) return m;  // values.data() may be null: no memcpy
  if (info->dtype == "F32") {
    std::memcpy(m.values.data(), src, numel * sizeof(float));  // little-endian host
  } else {
    const bool half = info->dtype == "F16";
    for (int64_t i = 0; i < numel; ++i) {
      uint16_t bits;
      std::memcpy(&bits, src + 2 * i, 2);
      m.values[i] = half ? Fp16BitsToFloat(bits) : Bf16BitsToFloat(bits);
    }
  }
  return m;
}

}  // namespace qlab::datatypes
