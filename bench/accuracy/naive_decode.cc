// qlab-naive-decode: perplexity of a Llama checkpoint the way llama2.c's run.c computes a
// forward pass (evaluators/accuracy/reference_decoder.h) over the same windows as the accuracy
// job: the naive baseline of the accuracy evaluator's tokens/s (bench/results/mixed-precision.md),
// whose perplexity must agree with the LibTorch model's.
//
//   qlab-naive-decode MODEL TOKENS [--context N] [--max-tokens N]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "evaluators/accuracy/checkpoint.h"
#include "evaluators/accuracy/perplexity.h"
#include "evaluators/accuracy/reference_decoder.h"
#include "evaluators/accuracy/tokenizer.h"

namespace qlab::accuracy {
namespace {

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
  auto decoder = ReferenceDecoder::Create(
      c, [&](const TensorSpec& spec) { return (*ckpt)->ReadTensor(spec); });
  if (!decoder.ok()) return std::fprintf(stderr, "%s\n", decoder.status().ToString().c_str()), 1;
  auto tokens = ReadTokenFile(argv[2]);
  if (!tokens.ok()) return std::fprintf(stderr, "%s\n", tokens.status().ToString().c_str()), 1;
  if (max_tokens > 0 && static_cast<int64_t>(tokens->size()) > max_tokens) tokens->resize(max_tokens);
  if (context <= 0) context = c.max_seq_len;
  auto plan = PlanWindows(static_cast<int64_t>(tokens->size()), context, context);
  if (!plan.ok()) return std::fprintf(stderr, "%s\n", plan.status().ToString().c_str()), 1;
  const auto start = std::chrono::steady_clock::now();
  double nll = 0;
  for (const Window& window : plan->windows) {
    const std::vector<double> window_nll = decoder->WindowNll(tokens->data() + window.start, context);
    for (int64_t j = window.first_scored; j < context; ++j) nll += window_nll[static_cast<size_t>(j - 1)];
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
