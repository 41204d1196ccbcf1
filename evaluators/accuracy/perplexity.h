// Sliding-window perplexity (DESIGN.md section 10) without LibTorch: which windows a token
// stream is cut into, which positions of each window are scored, and the accumulation of the
// negative log-likelihoods. The model only has to score windows (ScoreFn).
//
// Definition. Tokens t[0..N), window length C (`context`), stride S <= C. Windows start at
// 0, S, 2S, ... while they fit (start + C <= N); if the last of them ends before N - 1 has been
// scored, one more window [N - C, N) is added. In each window, position j (1 <= j < C) is
// predicted from the window's tokens 0..j-1; a position counts only if no earlier window scored
// it. Hence with S == C (non-overlapping windows) the first token of every window is context
// only, and with S < C every position after S of a window is scored once with at least C - S
// tokens of context. Perplexity = exp(sum of NLL / number of scored positions).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/job_output.h"
#include "common/status.h"

namespace qlab::accuracy {

struct Window {
  int64_t start = 0;         // index of the window's first token in the stream
  int64_t first_scored = 1;  // first window position (1..C-1) that counts
};

struct WindowPlan {
  int64_t context = 0;
  std::vector<Window> windows;
  int64_t scored_positions = 0;  // total positions that count
};

// Plans the windows. INVALID_ARGUMENT when context < 2, stride < 1 or > context, or the stream
// is shorter than one window (the message gives both lengths).
StatusOr<WindowPlan> PlanWindows(int64_t num_tokens, int64_t context, int64_t stride);

// Scores a batch of windows: for each window (tokens [start, start + context)), writes the
// negative log-likelihood (natural log) of window positions 1..C-1 into nll[w][0..C-2].
using ScoreFn = std::function<Status(const std::vector<const int32_t*>& windows, int64_t context,
                                     std::vector<std::vector<double>>* nll)>;

struct PerplexityResult {
  double perplexity = 0;
  double mean_nll = 0;  // nats per scored token
  int64_t scored_positions = 0;
  double seconds = 0;       // wall time spent in score calls
  double tokens_per_s = 0;  // window tokens processed (batch x context) per second
  // Per window of the plan: the summed NLL of its scored positions. Two results of the same
  // plan pair up window by window (PairedNllIncrease).
  std::vector<double> window_nll;
};

// Runs the plan over `tokens` with `batch` windows per ScoreFn call. Reports progress in
// [progress_begin, progress_end] to `context_or_null` and stops with CANCELLED when it is
// cancelled. Sums NLL in double in window order, so the result is independent of `batch`
// up to the model's own arithmetic.
StatusOr<PerplexityResult> ComputePerplexity(const std::vector<int32_t>& tokens,
                                             const WindowPlan& plan, int batch,
                                             const ScoreFn& score, JobContext* context_or_null,
                                             double progress_begin = 0, double progress_end = 1);

// Mean NLL increase per scored token of `b` over `a` (nats; log(ppl_b / ppl_a)) and its
// standard error from the window-to-window variation of the paired differences (ratio
// estimator over windows): the noise that matters when two datatypes are compared on the same
// text. Zeros when the results do not match the plan. REQUIRES: a and b from the same plan.
struct NllIncrease {
  double mean = 0;
  double stderr_value = 0;
};
NllIncrease PairedNllIncrease(const WindowPlan& plan, const PerplexityResult& a,
                              const PerplexityResult& b);

// Perplexity of a unigram model estimated on `train` (add-one smoothing over `vocab_size`
// ids) on exactly the positions `plan` scores in `eval`: the baseline a language model must
// beat.
double UnigramPerplexity(const std::vector<int32_t>& train, const std::vector<int32_t>& eval,
                         const WindowPlan& plan, int64_t vocab_size);

}  // namespace qlab::accuracy
