// Checkpoint readers and the llama2.c writer (see checkpoint.h).
//
// llama2.c legacy layout (run.c, "version 0"), all little-endian:
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//     (vocab_size < 0: the classifier is stored separately, |vocab_size| is the vocabulary)
//   float32 token_embedding[vocab][dim]
//   float32 rms_att[L][dim], wq[L][dim][dim], wk[L][kv_dim][dim], wv[L][kv_dim][dim],
//           wo[L][dim][dim], rms_ffn[L][dim], w1[L][hidden][dim], w2[L][dim][hidden],
//           w3[L][hidden][dim], rms_final[dim]
//   float32 freq_cis_real[seq_len][head_size/2], freq_cis_imag[seq_len][head_size/2] (unused)
//   float32 wcls[vocab][dim]                      (only when vocab_size < 0)
// where kv_dim = dim * n_kv_heads / n_heads, head_size = dim / n_heads. Matrices are [out][in].
#include "evaluators/accuracy/checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "evaluators/datatypes/safetensors.h"

namespace qlab::accuracy {
namespace {

namespace fs = std::filesystem;
using datatypes::SafetensorsFile;

constexpr int32_t kLlama2cVersionedMagic = 0x616b3432;  // "ak42": export.py version >= 1
constexpr int64_t kMaxDim = int64_t{1} << 20;           // sanity bound on header fields

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// llama2.c arrays in file order. Each entry covers all layers of one kind (or one tensor).
struct Llama2cArray {
  std::string what;  // per-layer suffix, or full name when !per_layer
  bool per_layer;
};

const std::vector<Llama2cArray>& Llama2cOrder() {
  static const std::vector<Llama2cArray> kOrder = {
      {"model.embed_tokens.weight", false},
      {"input_layernorm", true},
      {"self_attn.q_proj", true},
      {"self_attn.k_proj", true},
      {"self_attn.v_proj", true},
      {"self_attn.o_proj", true},
      {"post_attention_layernorm", true},
      {"mlp.gate_proj", true},
      {"mlp.down_proj", true},
      {"mlp.up_proj", true},
      {"model.norm.weight", false},
  };
  return kOrder;
}

// Bytes of every tensor `config` requires, as float32.
uint64_t TensorBytes(const ModelConfig& config) {
  uint64_t bytes = 0;
  for (const TensorSpec& spec : RequiredTensors(config)) {
    bytes += static_cast<uint64_t>(spec.NumElements()) * sizeof(float);
  }
  return bytes;
}

// Tensors a config.json may require beyond those its folder holds and still have the missing
// ones named; past it the check compares counts without listing them.
constexpr uint64_t kMaxMissingTensors = 4096;

// The number of tensors RequiredTensors(config) lists, without listing them.
uint64_t NumRequiredTensors(const ModelConfig& config) {
  ModelConfig one_layer = config, no_layer = config;
  one_layer.n_layers = 1;
  no_layer.n_layers = 0;
  const uint64_t fixed = RequiredTensors(no_layer).size();
  return fixed +
         (RequiredTensors(one_layer).size() - fixed) * static_cast<uint64_t>(config.n_layers);
}

// ---------------------------------------------------------------------------------------------
// llama2.c

class Llama2cCheckpoint : public Checkpoint {
 public:
  ~Llama2cCheckpoint() override {
    if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
  }
  const char* format() const override { return "llama2c"; }

  static StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Status::NotFound("cannot open model '" + path + "': " + std::strerror(errno));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return Status::NotFound("cannot stat model '" + path + "'");
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < 7 * sizeof(int32_t)) {
      ::close(fd);
      return Status::DataLoss("'" + path + "' is " + std::to_string(size) +
                              " bytes: too short for a llama2.c header (28 bytes)");
    }
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) {
      return Status::Internal("mmap of '" + path + "' failed: " + std::strerror(errno));
    }
    std::unique_ptr<Llama2cCheckpoint> ckpt(new Llama2cCheckpoint());
    ckpt->path_ = path;
    ckpt->map_ = static_cast<const uint8_t*>(map);
    ckpt->map_size_ = size;
    RETURN_IF_ERROR(ckpt->ParseHeader());
    return std::unique_ptr<Checkpoint>(std::move(ckpt));
  }

  StatusOr<std::vector<float>> ReadTensor(const TensorSpec& spec) const override {
    auto it = offsets_.find(spec.name);
    if (it == offsets_.end()) {
      return Status::NotFound("tensor '" + spec.name + "' is not part of llama2.c checkpoint '" +
                              path_ + "'");
    }
    const int64_t n = spec.NumElements();
    std::vector<float> out(static_cast<size_t>(n));
    std::memcpy(out.data(), map_ + it->second, static_cast<size_t>(n) * sizeof(float));
    return out;
  }

 private:
  Llama2cCheckpoint() = default;

  Status ParseHeader() {
    int32_t h[7];
    std::memcpy(h, map_, sizeof(h));
    if (h[0] == kLlama2cVersionedMagic) {
      int32_t version = 0;
      if (map_size_ >= 8) std::memcpy(&version, map_ + 4, 4);
      return Status::Unimplemented(
          "'" + path_ + "' is a versioned llama2.c export (magic ak42, version " +
          std::to_string(version) +
          "); export it with llama2.c's legacy format (export.py --version 0), which run.c reads");
    }
    const std::string what = "'" + path_ + "' is not a llama2.c checkpoint: ";
    const char* names[] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                           "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; ++i) {
      const int64_t v = i == 5 ? std::abs(int64_t{h[i]}) : h[i];
      if (v <= 0 || v > kMaxDim) {
        return Status::DataLoss(what + "header field " + names[i] + " = " + std::to_string(h[i]));
      }
    }
    if (h[0] % h[3] != 0 || h[3] % h[4] != 0) {
      return Status::DataLoss(what + "dim " + std::to_string(h[0]) + ", n_heads " +
                              std::to_string(h[3]) + ", n_kv_heads " + std::to_string(h[4]) +
                              " are inconsistent");
    }
    config_ = Llama2cConfig(h[0], h[1], h[2], h[3], h[4], std::abs(h[5]), h[6], h[5] > 0);
    RETURN_IF_ERROR(ValidateConfig(config_).WithContext(path_));
    // The file must hold every layer's arrays. Checked before the tensors are listed: a
    // 28-byte header may claim 2^20 layers, millions of entries for nothing.
    ModelConfig one_layer = config_, no_layer = config_;
    one_layer.n_layers = 1;
    no_layer.n_layers = 0;
    const uint64_t layer_bytes = TensorBytes(one_layer) - TensorBytes(no_layer);
    if (static_cast<uint64_t>(config_.n_layers) > map_size_ / layer_bytes) {
      return Status::DataLoss("'" + path_ + "' is " + std::to_string(map_size_) +
                              " bytes but its llama2.c header (" + config_.Summary() +
                              ") implies " + std::to_string(layer_bytes) + " bytes per layer");
    }

    // Offsets of every tensor, in file order; the RoPE tables sit before the classifier.
    uint64_t offset = 7 * sizeof(int32_t);
    const std::vector<TensorSpec> specs = RequiredTensors(config_);
    for (const TensorSpec& spec : specs) {
      if (spec.role == TensorRole::kHead) {
        offset += static_cast<uint64_t>(config_.max_seq_len * config_.head_dim) * sizeof(float);
      }
      offsets_[spec.name] = offset;
      offset += static_cast<uint64_t>(spec.NumElements()) * sizeof(float);
    }
    if (config_.shared_classifier) {
      offset += static_cast<uint64_t>(config_.max_seq_len * config_.head_dim) * sizeof(float);
    }
    if (offset != map_size_) {
      // run.c itself tolerates a missing RoPE table at the end of a shared-classifier file.
      const uint64_t without_rope =
          offset - static_cast<uint64_t>(config_.max_seq_len * config_.head_dim) * 4;
      if (!(config_.shared_classifier && map_size_ == without_rope)) {
        return Status::DataLoss("'" + path_ + "' is " + std::to_string(map_size_) +
                                " bytes but its llama2.c header (" + config_.Summary() +
                                (config_.shared_classifier ? ", shared" : ", unshared") +
                                " classifier) implies " + std::to_string(offset) + " bytes");
      }
    }
    return Status::Ok();
  }

  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  std::map<std::string, uint64_t> offsets_;  // tensor name -> byte offset of its data
};

// ---------------------------------------------------------------------------------------------
// Hugging Face

constexpr const char* kSupportedArchitectures[] = {"LlamaForCausalLM", "MistralForCausalLM"};
// Same block-linear shapes as Llama (q/k/v biases aside): readable for shapes, not for weights.
constexpr const char* kShapeOnlyArchitectures[] = {"Qwen2ForCausalLM"};

StatusOr<nlohmann::json> ReadJsonFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open '" + path.string() + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument("'" + path.string() + "' is not valid JSON: " + e.what());
  }
}

// Reads config.json into a ModelConfig. nlohmann exceptions are converted by the caller.
Status ParseHfConfig(const nlohmann::json& j, const std::string& where, ModelConfig* c,
                     bool shapes_only = false) {
  auto get_int = [&](const char* key, int64_t* out, bool required) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      return required ? Status::InvalidArgument(where + ": '" + key + "' is missing")
                      : Status::Ok();
    }
    if (!it->is_number_integer()) {
      return Status::InvalidArgument(where + ": '" + key + "' must be an integer, got " +
                                     it->dump());
    }
    *out = it->get<int64_t>();
    return Status::Ok();
  };
  auto get_double = [&](const char* key, double* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::Ok();
    if (!it->is_number()) {
      return Status::InvalidArgument(where + ": '" + key + "' must be a number");
    }
    *out = it->get<double>();
    return Status::Ok();
  };

  std::string arch;
  if (auto it = j.find("architectures");
      it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
    arch = (*it)[0].get<std::string>();
  } else if (auto mt = j.find("model_type"); mt != j.end() && mt->is_string()) {
    const std::string model_type = mt->get<std::string>();
    arch = model_type == "llama"     ? "LlamaForCausalLM"
           : model_type == "mistral" ? "MistralForCausalLM"
           : model_type == "qwen2"   ? "Qwen2ForCausalLM"
                                     : "model_type " + model_type;
  }
  const bool shape_arch = shapes_only && std::find(std::begin(kShapeOnlyArchitectures),
                                                   std::end(kShapeOnlyArchitectures),
                                                   arch) != std::end(kShapeOnlyArchitectures);
  if (!shape_arch && std::find(std::begin(kSupportedArchitectures), std::end(kSupportedArchitectures), arch) ==
                         std::end(kSupportedArchitectures)) {
    return Status::InvalidArgument(where + ": unknown architecture '" + arch +
                                   "'; supported: LlamaForCausalLM, MistralForCausalLM");
  }
  c->architecture = arch;
  c->rope_interleaved = false;

  RETURN_IF_ERROR(get_int("hidden_size", &c->dim, true));
  RETURN_IF_ERROR(get_int("intermediate_size", &c->hidden_dim, true));
  RETURN_IF_ERROR(get_int("num_hidden_layers", &c->n_layers, true));
  RETURN_IF_ERROR(get_int("num_attention_heads", &c->n_heads, true));
  c->n_kv_heads = c->n_heads;
  RETURN_IF_ERROR(get_int("num_key_value_heads", &c->n_kv_heads, false));
  RETURN_IF_ERROR(get_int("vocab_size", &c->vocab_size, true));
  c->max_seq_len = 2048;
  RETURN_IF_ERROR(get_int("max_position_embeddings", &c->max_seq_len, false));
  c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
  RETURN_IF_ERROR(get_int("head_dim", &c->head_dim, false));
  c->norm_eps = 1e-6;
  RETURN_IF_ERROR(get_double("rms_norm_eps", &c->norm_eps));
  RETURN_IF_ERROR(get_double("rope_theta", &c->rope_theta));
  c->shared_classifier = false;
  if (auto it = j.find("tie_word_embeddings"); it != j.end() && it->is_boolean()) {
    c->shared_classifier = it->get<bool>();
  }
  if (auto it = j.find("hidden_act");
      it != j.end() && it->is_string() && it->get<std::string>() != "silu") {
    return Status::InvalidArgument(where + ": hidden_act '" + it->get<std::string>() +
                                   "' is not supported (SwiGLU with silu only)");
  }
  for (const char* bias : {"attention_bias", "mlp_bias"}) {
    if (shapes_only) break;  // biases do not change the weights' shapes
    if (auto it = j.find(bias); it != j.end() && it->is_boolean() && it->get<bool>()) {
      return Status::InvalidArgument(where + ": " + bias + " = true is not supported");
    }
  }
  if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    if (!it->is_object())
      return Status::InvalidArgument(where + ": rope_scaling must be an object");
    std::string type = it->value("rope_type", it->value("type", std::string("default")));
    if (type == "default") {
      c->rope_scaling = RopeScaling::kNone;
    } else if (type == "linear" || type == "llama3") {
      c->rope_scaling = type == "linear" ? RopeScaling::kLinear : RopeScaling::kLlama3;
      c->rope_factor = it->value("factor", 1.0);
      c->rope_low_freq_factor = it->value("low_freq_factor", 1.0);
      c->rope_high_freq_factor = it->value("high_freq_factor", 4.0);
      c->rope_original_max_positions = it->value("original_max_position_embeddings", int64_t{8192});
      if (!(c->rope_factor > 0)) {
        return Status::InvalidArgument(where + ": rope_scaling.factor must be > 0");
      }
    } else {
      return Status::InvalidArgument(where + ": rope_scaling type '" + type +
                                     "' is not supported (default, linear, llama3)");
    }
  }
  if (auto it = j.find("torch_dtype"); it != j.end() && it->is_string()) {
    const std::string t = it->get<std::string>();
    c->stored_dtype = t == "bfloat16" ? "BF16" : t == "float16" ? "F16" : "F32";
  }
  return ValidateConfig(*c).WithContext(where);
}

class HfCheckpoint : public Checkpoint {
 public:
  const char* format() const override { return "huggingface"; }

  static StatusOr<std::unique_ptr<Checkpoint>> Open(const fs::path& dir) {
    std::unique_ptr<HfCheckpoint> ckpt(new HfCheckpoint());
    ckpt->dir_ = dir;
    const fs::path config_path = dir / "config.json";
    if (!fs::exists(config_path)) {
      return Status::NotFound("model folder '" + dir.string() +
                              "' has no config.json (a Hugging Face folder needs config.json "
                              "and *.safetensors)");
    }
    try {
      ASSIGN_OR_RETURN(nlohmann::json config, ReadJsonFile(config_path));
      if (!config.is_object()) {
        return Status::InvalidArgument(config_path.string() + " is not a JSON object");
      }
      RETURN_IF_ERROR(ParseHfConfig(config, config_path.string(), &ckpt->config_));
      RETURN_IF_ERROR(ckpt->OpenShards());
    } catch (const std::exception& e) {
      return Status::InvalidArgument("reading '" + dir.string() + "': " + e.what());
    }
    RETURN_IF_ERROR(ckpt->CheckTensors());
    return std::unique_ptr<Checkpoint>(std::move(ckpt));
  }

  StatusOr<std::vector<float>> ReadTensor(const TensorSpec& spec) const override {
    auto it = where_.find(spec.name);
    if (it == where_.end()) {
      return Status::NotFound("tensor '" + spec.name + "' not found in '" + dir_.string() + "'");
    }
    ASSIGN_OR_RETURN(datatypes::WeightMatrix m, it->second->ReadMatrix(spec.name));
    return std::move(m.values);
  }

 private:
  HfCheckpoint() = default;

  Status OpenShards() {
    std::vector<std::string> files;
    const fs::path index_path = dir_ / "model.safetensors.index.json";
    std::map<std::string, std::string> index;  // tensor -> shard file, from the index
    if (fs::exists(index_path)) {
      ASSIGN_OR_RETURN(nlohmann::json idx, ReadJsonFile(index_path));
      auto wm = idx.find("weight_map");
      if (wm == idx.end() || !wm->is_object()) {
        return Status::InvalidArgument(index_path.string() + " has no weight_map object");
      }
      for (auto it = wm->begin(); it != wm->end(); ++it) {
        if (!it->is_string()) {
          return Status::InvalidArgument(index_path.string() + ": weight_map['" + it.key() +
                                         "'] must be a file name");
        }
        index[it.key()] = it->get<std::string>();
        files.push_back(it->get<std::string>());
      }
      std::sort(files.begin(), files.end());
      files.erase(std::unique(files.begin(), files.end()), files.end());
    } else {
      for (const fs::directory_entry& e : fs::directory_iterator(dir_)) {
        if (e.path().extension() == ".safetensors") files.push_back(e.path().filename());
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) {
        return Status::NotFound("model folder '" + dir_.string() + "' has no *.safetensors file");
      }
    }
    for (const std::string& name : files) {
      ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file,
                       SafetensorsFile::Open((dir_ / name).string()));
      for (const datatypes::SafetensorInfo& info : file->tensors()) {
        auto idx = index.find(info.name);
        // With an index, a tensor belongs to the shard the index names; stray copies elsewhere
        // are ignored as Hugging Face's loader ignores them.
        if (!index.empty() && (idx == index.end() || idx->second != name)) continue;
        if (where_.count(info.name) != 0) {
          return Status::InvalidArgument("tensor '" + info.name + "' appears in two files of '" +
                                         dir_.string() + "'");
        }
        where_[info.name] = file.get();
      }
      files_.push_back(std::move(file));
    }
    return Status::Ok();
  }

  // Every required tensor present with the configured shape and a float dtype.
  Status CheckTensors() const {
    // Counted before they are listed: config.json may claim 2^24 layers, 151 million names.
    const uint64_t required = NumRequiredTensors(config_);
    if (required > where_.size() + kMaxMissingTensors) {
      return Status::NotFound("model folder '" + dir_.string() + "' holds " +
                              std::to_string(where_.size()) + " tensors but config.json (" +
                              config_.Summary() + ") implies " + std::to_string(required));
    }
    std::vector<std::string> missing;
    for (const TensorSpec& spec : RequiredTensors(config_)) {
      auto it = where_.find(spec.name);
      if (it == where_.end()) {
        missing.push_back(spec.name);
        continue;
      }
      const datatypes::SafetensorInfo* info = it->second->Find(spec.name);
      if (info->dtype != "F32" && info->dtype != "F16" && info->dtype != "BF16") {
        return Status::InvalidArgument("tensor '" + spec.name + "' has dtype " + info->dtype +
                                       "; expected F32, F16 or BF16");
      }
      if (info->shape != spec.shape) {
        return Status::InvalidArgument("tensor '" + spec.name + "' has shape " +
                                       ShapeString(info->shape) + " but config.json implies " +
                                       ShapeString(spec.shape));
      }
    }
    if (!missing.empty()) {
      std::string list;
      for (size_t i = 0; i < missing.size() && i < 4; ++i) list += (i ? ", " : "") + missing[i];
      if (missing.size() > 4) list += ", ... (" + std::to_string(missing.size()) + " in all)";
      return Status::NotFound("model folder '" + dir_.string() + "' lacks tensor(s) " + list);
    }
    return Status::Ok();
  }

  fs::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> where_;  // tensor name -> file holding it
};

}  // namespace

int64_t TensorSpec::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t ModelConfig::NumParameters() const {
  int64_t n = 0;
  for (const TensorSpec& s : RequiredTensors(*this)) n += s.NumElements();
  return n;
}

std::string ModelConfig::Summary() const {
  std::ostringstream s;
  s << "dim " << dim << ", " << n_layers << " layers, " << n_heads << " heads (kv " << n_kv_heads
    << "), hidden " << hidden_dim << ", vocab " << vocab_size << ", seq " << max_seq_len;
  return s.str();
}

Status ValidateConfig(const ModelConfig& c) {
  const std::pair<const char*, int64_t> fields[] = {{"dim", c.dim},
                                                    {"hidden_dim", c.hidden_dim},
                                                    {"n_layers", c.n_layers},
                                                    {"n_heads", c.n_heads},
                                                    {"n_kv_heads", c.n_kv_heads},
                                                    {"head_dim", c.head_dim},
                                                    {"vocab_size", c.vocab_size},
                                                    {"max_seq_len", c.max_seq_len}};
  for (const auto& [name, value] : fields) {
    if (value <= 0 || value > kMaxDim * 16) {
      return Status::InvalidArgument(std::string("model config: ") + name + " = " +
                                     std::to_string(value) + " is out of range");
    }
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    return Status::InvalidArgument("model config: n_heads " + std::to_string(c.n_heads) +
                                   " is not a multiple of n_kv_heads " +
                                   std::to_string(c.n_kv_heads));
  }
  if (c.head_dim % 2 != 0) {
    return Status::InvalidArgument("model config: head_dim " + std::to_string(c.head_dim) +
                                   " must be even for rotary embeddings");
  }
  if (!(c.norm_eps > 0) || !(c.rope_theta > 0)) {
    return Status::InvalidArgument("model config: norm_eps and rope_theta must be > 0");
  }
  return Status::Ok();
}

std::string LayerTensorName(int64_t layer, const std::string& what) {
  return "model.layers." + std::to_string(layer) + "." + what + ".weight";
}

std::vector<TensorSpec> RequiredTensors(const ModelConfig& c) {
  const int64_t q_dim = c.n_heads * c.head_dim;
  const int64_t kv_dim = c.n_kv_heads * c.head_dim;
  std::map<std::string, std::vector<int64_t>> layer_shapes = {
      {"input_layernorm", {c.dim}},
      {"self_attn.q_proj", {q_dim, c.dim}},
      {"self_attn.k_proj", {kv_dim, c.dim}},
      {"self_attn.v_proj", {kv_dim, c.dim}},
      {"self_attn.o_proj", {c.dim, q_dim}},
      {"post_attention_layernorm", {c.dim}},
      {"mlp.gate_proj", {c.hidden_dim, c.dim}},
      {"mlp.down_proj", {c.dim, c.hidden_dim}},
      {"mlp.up_proj", {c.hidden_dim, c.dim}},
  };
  std::vector<TensorSpec> specs;
  for (const Llama2cArray& a : Llama2cOrder()) {
    if (!a.per_layer) {
      if (a.what == "model.embed_tokens.weight") {
        specs.push_back({a.what, {c.vocab_size, c.dim}, TensorRole::kEmbedding});
      } else {
        specs.push_back({a.what, {c.dim}, TensorRole::kNorm});
      }
      continue;
    }
    const bool is_norm = a.what.find("layernorm") != std::string::npos;
    for (int64_t l = 0; l < c.n_layers; ++l) {
      specs.push_back({LayerTensorName(l, a.what), layer_shapes.at(a.what),
                       is_norm ? TensorRole::kNorm : TensorRole::kBlockLinear});
    }
  }
  if (!c.shared_classifier) {
    specs.push_back({"lm_head.weight", {c.vocab_size, c.dim}, TensorRole::kHead});
  }
  return specs;
}

ModelConfig Llama2cConfig(int64_t dim, int64_t hidden_dim, int64_t n_layers, int64_t n_heads,
                          int64_t n_kv_heads, int64_t vocab_size, int64_t max_seq_len,
                          bool shared_classifier) {
  ModelConfig c;
  c.architecture = "llama2c";
  c.dim = dim;
  c.hidden_dim = hidden_dim;
  c.n_layers = n_layers;
  c.n_heads = n_heads;
  c.n_kv_heads = n_kv_heads;
  c.head_dim = n_heads > 0 ? dim / n_heads : 0;
  c.vocab_size = vocab_size;
  c.max_seq_len = max_seq_len;
  c.norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.rope_interleaved = true;
  c.shared_classifier = shared_classifier;
  c.stored_dtype = "F32";
  return c;
}

StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return Status::NotFound("model '" + path + "' does not exist");
  }
  if (fs::is_directory(st)) return HfCheckpoint::Open(path);
  if (path.size() >= 12 && path.substr(path.size() - 12) == ".safetensors") {
    return Status::InvalidArgument("model '" + path +
                                   "' is a bare .safetensors file; give the folder that holds "
                                   "it and its config.json");
  }
  return Llama2cCheckpoint::Open(path);
}

StatusOr<ModelConfig> ReadModelShapes(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return Status::NotFound("model '" + path + "' does not exist");
  const bool is_json = !fs::is_directory(st) && path.size() >= 5 && path.substr(path.size() - 5) == ".json";
  if (!fs::is_directory(st) && !is_json) {
    ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(path));
    return ckpt->config();
  }
  const fs::path config_path = is_json ? fs::path(path) : fs::path(path) / "config.json";
  ModelConfig config;
  try {
    // A config.json is a few kilobytes; anything near this is not one.
    if (fs::file_size(config_path, ec) > (uint64_t{1} << 20)) {
      return Status::InvalidArgument("'" + config_path.string() + "' is over 1 MiB: not a config.json");
    }
    ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(config_path));
    if (!j.is_object()) return Status::InvalidArgument(config_path.string() + " is not a JSON object");
    RETURN_IF_ERROR(ParseHfConfig(j, config_path.string(), &config, /*shapes_only=*/true));
  } catch (const std::exception& e) {
    return Status::InvalidArgument("reading '" + config_path.string() + "': " + e.what());
  }
  RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

Status WriteLlama2cCheckpoint(const std::string& path, const ModelConfig& config,
                              const TensorProvider& provider) {
  RETURN_IF_ERROR(ValidateConfig(config));
  if (!config.rope_interleaved || config.rope_theta != 10000.0 || config.norm_eps != 1e-5 ||
      config.head_dim * config.n_heads != config.dim || config.rope_scaling != RopeScaling::kNone) {
    return Status::InvalidArgument(
        "llama2.c files imply interleaved RoPE with theta 10000, RMSNorm eps 1e-5 and "
        "head_dim = dim / n_heads; this model differs (" +
        config.Summary() + ")");
  }
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return Status::Internal("cannot create '" + tmp + "'");
  const int32_t header[7] = {
      static_cast<int32_t>(config.dim),
      static_cast<int32_t>(config.hidden_dim),
      static_cast<int32_t>(config.n_layers),
      static_cast<int32_t>(config.n_heads),
      static_cast<int32_t>(config.n_kv_heads),
      static_cast<int32_t>(config.shared_classifier ? config.vocab_size : -config.vocab_size),
      static_cast<int32_t>(config.max_seq_len)};
  out.write(reinterpret_cast<const char*>(header), sizeof(header));
  auto write_rope_tables = [&] {
    const std::vector<float> zeros(static_cast<size_t>(config.max_seq_len * config.head_dim), 0.f);
    out.write(reinterpret_cast<const char*>(zeros.data()),
              static_cast<std::streamsize>(zeros.size() * sizeof(float)));
  };
  for (const TensorSpec& spec : RequiredTensors(config)) {
    if (spec.role == TensorRole::kHead) write_rope_tables();
    ASSIGN_OR_RETURN(std::vector<float> values, provider(spec));
    if (static_cast<int64_t>(values.size()) != spec.NumElements()) {
      out.close();
      std::remove(tmp.c_str());
      return Status::InvalidArgument(
          "tensor '" + spec.name + "' has " + std::to_string(values.size()) + " values, shape " +
          ShapeString(spec.shape) + " needs " + std::to_string(spec.NumElements()));
    }
    out.write(reinterpret_cast<const char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(float)));
  }
  if (config.shared_classifier) write_rope_tables();
  out.close();
  if (!out) {
    std::remove(tmp.c_str());
    return Status::Internal("writing '" + tmp + "' failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Internal("cannot rename '" + tmp + "' to '" + path +
                            "': " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace qlab::accuracy
