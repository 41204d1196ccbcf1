// qlab-naive-decode: perplexity of a Llama checkpoint the way llama2.c's run.c computes a
// forward pass — one token at a time, a KV cache, plain loops, one thread — over the same
// windows as the accuracy job. It is the naive baseline the accuracy evaluator's tokens/s is
// measured against (bench/results/mixed-precision.md), and an independent implementation whose
// perplexity must agree with the LibTorch model's.
//
//   qlab-naive-decode MODEL TOKENS [--context N] [--max-tokens N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "evaluators/accuracy/checkpoint.h"
#include "evaluators/accuracy/perplexity.h"
#include "evaluators/accuracy/tokenizer.h"

namespace qlab::accuracy {
namespace {

struct Layer {
  std::vector<float> attn_norm, wq, wk, wv, wo, mlp_norm, w_gate, w_up, w_down;
};

struct Weights {
  std::vector<float> embedding, final_norm, head;
  std::vector<Layer> layers;
};

StatusOr<Weights> Load(const Checkpoint& ckpt) {
  const ModelConfig& c = ckpt.config();
  std::map<std::string, TensorSpec> specs;
  for (const TensorSpec& s : RequiredTensors(c)) specs[s.name] = s;
  auto read = [&](const std::string& name) -> StatusOr<std::vector<float>> {
    const auto it = specs.find(name);
    if (it == specs.end()) return Status::NotFound("no tensor " + name);
    return ckpt.ReadTensor(it->second);
  };
  Weights w;
  ASSIGN_OR_RETURN(w.embedding, read("model.embed_tokens.weight"));
  ASSIGN_OR_RETURN(w.final_norm, read("model.norm.weight"));
  if (c.shared_classifier) {
    w.head = w.embedding;
  } else {
    ASSIGN_OR_RETURN(w.head, read("lm_head.weight"));
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    Layer layer;
    auto name = [&](const char* what) { return LayerTensorName(l, what); };
    ASSIGN_OR_RETURN(layer.attn_norm, read(name("input_layernorm")));
    ASSIGN_OR_RETURN(layer.wq, read(name("self_attn.q_proj")));
    ASSIGN_OR_RETURN(layer.wk, read(name("self_attn.k_proj")));
    ASSIGN_OR_RETURN(layer.wv, read(name("self_attn.v_proj")));
    ASSIGN_OR_RETURN(layer.wo, read(name("self_attn.o_proj")));
    ASSIGN_OR_RETURN(layer.mlp_norm, read(name("post_attention_layernorm")));
    ASSIGN_OR_RETURN(layer.w_gate, read(name("mlp.gate_proj")));
    ASSIGN_OR_RETURN(layer.w_up, read(name("mlp.up_proj")));
    ASSIGN_OR_RETURN(layer.w_down, read(name("mlp.down_proj")));
    w.layers.push_back(std::move(layer));
  }
  return w;
}

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

// One window, one token at a time; returns the NLL of positions first_scored..context-1.
double ScoreWindow(const Weights& w, const ModelConfig& c, const int32_t* tokens, int64_t context,
                   int64_t first_scored) {
  const int64_t dim = c.dim, hd = c.head_dim, kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;
  std::vector<float> x(dim), xb(dim), q(c.n_heads * hd), att(context), out(c.n_heads * hd),
      h1(c.hidden_dim), h2(c.hidden_dim), logits(c.vocab_size);
  std::vector<std::vector<float>> key_cache(c.n_layers, std::vector<float>(context * kv_dim)),
      value_cache(c.n_layers, std::vector<float>(context * kv_dim));
  double nll = 0;
  for (int64_t pos = 0; pos + 1 < context; ++pos) {
    std::memcpy(x.data(), w.embedding.data() + static_cast<int64_t>(tokens[pos]) * dim, dim * sizeof(float));
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const Layer& L = w.layers[l];
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
    if (pos + 1 < first_scored) continue;
    RmsNorm(x.data(), w.final_norm, dim, c.norm_eps, xb.data());
    MatVec(w.head, xb.data(), c.vocab_size, dim, logits.data());
    double max_logit = logits[0];
    for (float l : logits) max_logit = std::max<double>(max_logit, l);
    double sum = 0;
    for (float l : logits) sum += std::exp(l - max_logit);
    nll += max_logit + std::log(sum) - logits[tokens[pos + 1]];
  }
  return nll;
}

int Main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: qlab-naive-decode MODEL TOKENS [--context N] [--max-tokens N]\n");
    return 2;
  }
  int64_t context = 0, max_tokens = 0;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--context") == 0) context = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--max-tokens") == 0) max_tokens = std::atoll(argv[i + 1]);
  }
  auto ckpt = Checkpoint::Open(argv[1]);
  if (!ckpt.ok()) return std::fprintf(stderr, "%s\n", ckpt.status().ToString().c_str()), 1;
  const ModelConfig& c = (*ckpt)->config();
  auto weights = Load(**ckpt);
  if (!weights.ok()) return std::fprintf(stderr, "%s\n", weights.status().ToString().c_str()), 1;
  auto tokens = ReadTokenFile(argv[2]);
  if (!tokens.ok()) return std::fprintf(stderr, "%s\n", tokens.status().ToString().c_str()), 1;
  if (max_tokens > 0 && static_cast<int64_t>(tokens->size()) > max_tokens) tokens->resize(max_tokens);
  if (context <= 0) context = c.max_seq_len;
  auto plan = PlanWindows(static_cast<int64_t>(tokens->size()), context, context);
  if (!plan.ok()) return std::fprintf(stderr, "%s\n", plan.status().ToString().c_str()), 1;
  const auto start = std::chrono::steady_clock::now();
  double nll = 0;
  for (const Window& window : plan->windows) {
    nll += ScoreWindow(*weights, c, tokens->data() + window.start, context, window.first_scored);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double window_tokens = static_cast<double>(plan->windows.size() * context);
  std::printf("perplexity %.6f over %lld scored tokens; %.0f tokens/s (%zu windows of %lld, "
              "one token at a time, 1 thread, %.2f s)\n",
              std::exp(nll / plan->scored_positions), (long long)plan->scored_positions,
              window_tokens / seconds, plan->windows.size(), (long long)context, seconds);
  return 0;
}

}  // namespace
}  // namespace qlab::accuracy

int main(int argc, char** argv) { return qlab::accuracy::Main(argc, argv); }
