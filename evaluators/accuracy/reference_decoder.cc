// run.c's forward pass (see reference_decoder.h).
#include "evaluators/accuracy/reference_decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>

namespace qlab::accuracy {
namespace {

// out[rows] = W[rows x cols] * x[cols], as run.c's matmul.
void MatVec(const std::vector<float>& w, const float* x, int64_t rows, int64_t cols, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    float sum = 0;
    const float* row = w.data() + r * cols;
    for (int64_t i = 0; i < cols; ++i) sum += row[i] * x[i];
    out[r] = sum;
  }
}

void RmsNorm(const float* x, const std::vector<float>& weight, int64_t n, double eps, float* out) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (x[i] * scale);
}

void Rope(float* v, int64_t heads, int64_t head_dim, int64_t pos, const ModelConfig& c) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* x = v + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const double freq = std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / head_dim);
      const double angle = static_cast<double>(pos) * freq;
      const float co = static_cast<float>(std::cos(angle)), si = static_cast<float>(std::sin(angle));
      float& a = c.rope_interleaved ? x[2 * i] : x[i];
      float& b = c.rope_interleaved ? x[2 * i + 1] : x[i + half];
      const float a0 = a, b0 = b;
      a = a0 * co - b0 * si;
      b = a0 * si + b0 * co;
    }
  }
}

}  // namespace

StatusOr<ReferenceDecoder> ReferenceDecoder::Create(const ModelConfig& config,
                                                    const TensorProvider& provider) {
  RETURN_IF_ERROR(ValidateConfig(config));
  if (config.rope_scaling != RopeScaling::kNone) {
    return Status::InvalidArgument("the reference decoder implements RoPE without scaling only");
  }
  ReferenceDecoder d;
  d.config_ = config;
  std::map<std::string, TensorSpec> specs;
  for (const TensorSpec& s : RequiredTensors(config)) specs[s.name] = s;
  auto read = [&](const std::string& name, std::vector<float>* out) -> Status {
    const auto it = specs.find(name);
    if (it == specs.end()) return Status::NotFound("no tensor " + name);
    ASSIGN_OR_RETURN(*out, provider(it->second));
    if (static_cast<int64_t>(out->size()) != it->second.NumElements()) {
      return Status::InvalidArgument("tensor '" + name + "' has " + std::to_string(out->size()) +
                                     " values, expected " +
                                     std::to_string(it->second.NumElements()));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(read("model.embed_tokens.weight", &d.embedding_));
  RETURN_IF_ERROR(read("model.norm.weight", &d.final_norm_));
  if (config.shared_classifier) {
    d.head_ = d.embedding_;
  } else {
    RETURN_IF_ERROR(read("lm_head.weight", &d.head_));
  }
  for (int64_t l = 0; l < config.n_layers; ++l) {
    Layer layer;
    auto name = [&](const char* what) { return LayerTensorName(l, what); };
    RETURN_IF_ERROR(read(name("input_layernorm"), &layer.attn_norm));
    RETURN_IF_ERROR(read(name("self_attn.q_proj"), &layer.wq));
    RETURN_IF_ERROR(read(name("self_attn.k_proj"), &layer.wk));
    RETURN_IF_ERROR(read(name("self_attn.v_proj"), &layer.wv));
    RETURN_IF_ERROR(read(name("self_attn.o_proj"), &layer.wo));
    RETURN_IF_ERROR(read(name("post_attention_layernorm"), &layer.mlp_norm));
    RETURN_IF_ERROR(read(name("mlp.gate_proj"), &layer.w_gate));
    RETURN_IF_ERROR(read(name("mlp.up_proj"), &layer.w_up));
    RETURN_IF_ERROR(read(name("mlp.down_proj"), &layer.w_down));
    d.layers_.push_back(std::move(layer));
  }
  return d;
}

std::vector<double> ReferenceDecoder::WindowNll(const int32_t* tokens, int64_t context) const {
  const ModelConfig& c = config_;
  const int64_t dim = c.dim, hd = c.head_dim, kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;
  std::vector<float> x(dim), xb(dim), q(c.n_heads * hd), att(context), out(c.n_heads * hd),
      h1(c.hidden_dim), h2(c.hidden_dim), logits(c.vocab_size);
  std::vector<std::vector<float>> key_cache(c.n_layers, std::vector<float>(context * kv_dim)),
      value_cache(c.n_layers, std::vector<float>(context * kv_dim));
  std::vector<double> nll;
  nll.reserve(static_cast<size_t>(context - 1));
  for (int64_t pos = 0; pos + 1 < context; ++pos) {
    std::memcpy(x.data(), embedding_.data() + static_cast<int64_t>(tokens[pos]) * dim, dim * sizeof(float));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const Layer& L = layers_[static_cast<size_t>(l)];
      RmsNorm(x.data(), L.attn_norm, dim, c.norm_eps, xb.data());
      float* k = key_cache[l].data() + pos * kv_dim;
      float* v = value_cache[l].data() + pos * kv_dim;
      MatVec(L.wq, xb.data(), c.n_heads * hd, dim, q.data());
      MatVec(L.wk, xb.data(), kv_dim, dim, k);
      MatVec(L.wv, xb.data(), kv_dim, dim, v);
      Rope(q.data(), c.n_heads, hd, pos, c);
      Rope(k, c.n_kv_heads, hd, pos, c);
      for (int64_t h = 0; h < c.n_heads; ++h) {
        const float* qh = q.data() + h * hd;
        const int64_t kvh = h / group;
        float max_score = -INFINITY;
        for (int64_t t = 0; t <= pos; ++t) {
          const float* kt = key_cache[l].data() + t * kv_dim + kvh * hd;
          float s = 0;
          for (int64_t i = 0; i < hd; ++i) s += qh[i] * kt[i];
          att[t] = s / std::sqrt(static_cast<float>(hd));
          max_score = std::max(max_score, att[t]);
        }
        float sum = 0;
        for (int64_t t = 0; t <= pos; ++t) sum += (att[t] = std::exp(att[t] - max_score));
        float* oh = out.data() + h * hd;
        std::fill(oh, oh + hd, 0.0f);
        for (int64_t t = 0; t <= pos; ++t) {
          const float* vt = value_cache[l].data() + t * kv_dim + kvh * hd;
          const float a = att[t] / sum;
          for (int64_t i = 0; i < hd; ++i) oh[i] += a * vt[i];
        }
      }
      MatVec(L.wo, out.data(), dim, c.n_heads * hd, xb.data());
      for (int64_t i = 0; i < dim; ++i) x[i] += xb[i];
      RmsNorm(x.data(), L.mlp_norm, dim, c.norm_eps, xb.data());
      MatVec(L.w_gate, xb.data(), c.hidden_dim, dim, h1.data());
      MatVec(L.w_up, xb.data(), c.hidden_dim, dim, h2.data());
      for (int64_t i = 0; i < c.hidden_dim; ++i) h1[i] = h1[i] / (1.0f + std::exp(-h1[i])) * h2[i];
      MatVec(L.w_down, h1.data(), dim, c.hidden_dim, xb.data());
      for (int64_t i = 0; i < dim; ++i) x[i] += xb[i];
    }
    RmsNorm(x.data(), final_norm_, dim, c.norm_eps, xb.data());
    MatVec(head_, xb.data(), c.vocab_size, dim, logits.data());
    double max_logit = logits[0];
    for (float l : logits) max_logit = std::max<double>(max_logit, l);
    double sum = 0;
    for (float l : logits) sum += std::exp(l - max_logit);
    nll.push_back(max_logit + std::log(sum) - logits[tokens[pos + 1]]);
  }
  return nll;
}

}  // namespace qlab::accuracy
