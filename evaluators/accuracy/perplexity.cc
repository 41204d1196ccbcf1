// Window planning and NLL accumulation (see perplexity.h).
#include "evaluators/accuracy/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

namespace qlab::accuracy {

StatusOr<WindowPlan> PlanWindows(int64_t num_tokens, int64_t context, int64_t stride) {
  if (context < 2) {
    return Status::InvalidArgument("context must be >= 2, got " + std::to_string(context));
  }
  if (stride < 1 || stride > context) {
    return Status::InvalidArgument("stride must be in [1, context = " + std::to_string(context) +
                                   "], got " + std::to_string(stride));
  }
  if (num_tokens < context) {
    return Status::InvalidArgument("the evaluation text is " + std::to_string(num_tokens) +
                                   " tokens, shorter than one window of context " +
                                   std::to_string(context));
  }
  WindowPlan plan;
  plan.context = context;
  int64_t scored_until = 0;  // every position < scored_until has been scored (or is position 0)
  auto add = [&](int64_t start) {
    const int64_t first = std::max<int64_t>(1, scored_until - start);
    plan.windows.push_back({start, first});
    plan.scored_positions += context - first;
    scored_until = start + context;
  };
  int64_t start = 0;
  for (; start + context <= num_tokens; start += stride) add(start);
  if (scored_until < num_tokens) add(num_tokens - context);
  return plan;
}

StatusOr<PerplexityResult> ComputePerplexity(const std::vector<int32_t>& tokens,
                                             const WindowPlan& plan, int batch,
                                             const ScoreFn& score, JobContext* job,
                                             double progress_begin, double progress_end) {
  if (batch < 1) batch = 1;
  const int64_t c = plan.context;
  double sum_nll = 0;
  double seconds = 0;
  int64_t processed = 0;
  std::vector<std::vector<double>> nll;
  std::vector<double> window_nll;
  window_nll.reserve(plan.windows.size());
  for (size_t w0 = 0; w0 < plan.windows.size(); w0 += static_cast<size_t>(batch)) {
    if (job != nullptr && job->cancelled()) return Status::Cancelled("accuracy job cancelled");
    const size_t w1 = std::min(plan.windows.size(), w0 + static_cast<size_t>(batch));
    std::vector<const int32_t*> ptrs;
    for (size_t w = w0; w < w1; ++w) {
      if (plan.windows[w].start + c > static_cast<int64_t>(tokens.size())) {
        return Status::Internal("window plan does not match the token stream");
      }
      ptrs.push_back(tokens.data() + plan.windows[w].start);
    }
    nll.assign(ptrs.size(), {});
    const auto t0 = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(score(ptrs, c, &nll));
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    processed += static_cast<int64_t>(ptrs.size()) * c;
    for (size_t i = 0; i < ptrs.size(); ++i) {
      const Window& win = plan.windows[w0 + i];
      if (static_cast<int64_t>(nll[i].size()) != c - 1) {
        return Status::Internal("scorer returned " + std::to_string(nll[i].size()) +
                                " values for a window of " + std::to_string(c));
      }
      double window_sum = 0;
      for (int64_t j = win.first_scored; j < c; ++j) {
        window_sum += nll[i][static_cast<size_t>(j - 1)];
      }
      window_nll.push_back(window_sum);
      sum_nll += window_sum;
    }
    if (job != nullptr) {
      job->ReportProgress(progress_begin + (progress_end - progress_begin) *
                                               static_cast<double>(w1) /
                                               static_cast<double>(plan.windows.size()));
    }
  }
  PerplexityResult r;
  r.scored_positions = plan.scored_positions;
  r.mean_nll = plan.scored_positions > 0 ? sum_nll / static_cast<double>(plan.scored_positions) : 0;
  r.perplexity = std::exp(r.mean_nll);
  r.seconds = seconds;
  r.tokens_per_s = seconds > 0 ? static_cast<double>(processed) / seconds : 0;
  r.window_nll = std::move(window_nll);
  if (!std::isfinite(r.perplexity)) {
    return Status::Internal("perplexity is not finite (mean NLL " + std::to_string(r.mean_nll) +
                            "): the model produced NaN/Inf logits");
  }
  return r;
}

NllIncrease PairedNllIncrease(const WindowPlan& plan, const PerplexityResult& a,
                              const PerplexityResult& b) {
  NllIncrease r;
  const size_t w = plan.windows.size();
  if (w == 0 || a.window_nll.size() != w || b.window_nll.size() != w) return r;
  const double n = static_cast<double>(plan.scored_positions);
  double total = 0;
  for (size_t i = 0; i < w; ++i) total += b.window_nll[i] - a.window_nll[i];
  r.mean = total / n;
  if (w < 2) return r;
  double ss = 0;
  for (size_t i = 0; i < w; ++i) {
    const double count = static_cast<double>(plan.context - plan.windows[i].first_scored);
    const double resid = (b.window_nll[i] - a.window_nll[i]) - r.mean * count;
    ss += resid * resid;
  }
  r.stderr_value = std::sqrt(ss * static_cast<double>(w) / static_cast<double>(w - 1)) / n;
  return r;
}

double UnigramPerplexity(const std::vector<int32_t>& train, const std::vector<int32_t>& eval,
                         const WindowPlan& plan, int64_t vocab_size) {
  std::vector<double> counts(static_cast<size_t>(vocab_size), 1.0);  // add-one smoothing
  for (int32_t t : train) {
    if (t >= 0 && t < vocab_size) counts[static_cast<size_t>(t)] += 1;
  }
  const double total = static_cast<double>(train.size()) + static_cast<double>(vocab_size);
  double sum = 0;
  for (const Window& w : plan.windows) {
    for (int64_t j = w.first_scored; j < plan.context; ++j) {
      const int32_t t = eval[static_cast<size_t>(w.start + j)];
      const double p =
          (t >= 0 && t < vocab_size) ? counts[static_cast<size_t>(t)] / total : 1.0 / total;
      sum -= std::log(p);
    }
  }
  return std::exp(sum / static_cast<double>(std::max<int64_t>(1, plan.scored_positions)));
}

}  // namespace qlab::accuracy
