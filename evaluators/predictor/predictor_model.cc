// LibTorch training of the latency predictor (predictor_model.h explains the model).
#include "evaluators/predictor/predictor_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <torch/torch.h>

namespace qlab::predictor {
namespace {

constexpr int kBatchRows = 256;           // pretraining minibatch
constexpr int kFinetuneBatchRows = 512;   // target steps use every sample up to this many
constexpr double kWeightDecay = 1e-4;
constexpr double kFinetuneLrMultiplier = 0.3;
constexpr double kMinLogStd = 1e-3;

struct Standardizer {
  std::vector<double> mean, std;
};

struct Net {
  std::vector<torch::Tensor> trunk_w, trunk_b;  // layer l: [out, in], [out]
  torch::Tensor head_w, head_b;                 // [domains, hidden], [domains]

  torch::Tensor Features(const torch::Tensor& x) const {
    torch::Tensor h = x;
    for (size_t l = 0; l < trunk_w.size(); ++l) {
      h = torch::relu(torch::addmm(trunk_b[l], h, trunk_w[l].t()));
    }
    return h;
  }
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& domain) const {
    torch::Tensor h = Features(x);
    return (h * head_w.index_select(0, domain)).sum(1) + head_b.index_select(0, domain);
  }
  std::vector<torch::Tensor> TrunkParams() const {
    std::vector<torch::Tensor> p(trunk_w.begin(), trunk_w.end());
    p.insert(p.end(), trunk_b.begin(), trunk_b.end());
    return p;
  }
};

Net MakeNet(int width, int hidden, int layers, int domains) {
  Net net;
  int in = width;
  for (int l = 0; l < layers; ++l) {
    // He initialisation for ReLU layers; biases start at zero.
    net.trunk_w.push_back((torch::randn({hidden, in}) * std::sqrt(2.0 / in)).requires_grad_());
    net.trunk_b.push_back(torch::zeros({hidden}).requires_grad_());
    in = hidden;
  }
  net.head_w = (torch::randn({domains, hidden}) * std::sqrt(1.0 / hidden)).requires_grad_();
  net.head_b = torch::zeros({domains}).requires_grad_();
  return net;
}

// Standardized training rows of every domain, concatenated.
struct Rows {
  torch::Tensor x;       // [n, width] float
  torch::Tensor y;       // [n] float, standardized log latency
  torch::Tensor domain;  // [n] int64
};

torch::Tensor TrainingLoss(const torch::Tensor& pred, const torch::Tensor& y, const torch::Tensor& domain,
                   Loss kind) {
  torch::Tensor loss = torch::zeros({});
  if (kind != Loss::kRank) loss = loss + torch::mse_loss(pred, y);
  if (kind != Loss::kMse) {
    // RankNet: for every pair of one domain measured in a known order, the logistic loss of the
    // predicted order.
    torch::Tensor order = (y.unsqueeze(1) - y.unsqueeze(0)).sign();
    torch::Tensor mask = (domain.unsqueeze(1) == domain.unsqueeze(0)) & (order != 0);
    if (mask.any().item<bool>()) {
      torch::Tensor margin = (pred.unsqueeze(1) - pred.unsqueeze(0)) * order;
      loss = loss + torch::softplus(-margin).masked_select(mask).mean();
    }
  }
  return loss;
}

// `steps` Adam steps over `rows`, each on a minibatch of up to `batch` rows drawn in a seeded
// shuffled order (epoch after epoch).
Status Train(const Rows& rows, const std::vector<torch::Tensor>& params, double lr, int64_t steps,
             int batch, Loss loss_kind, const Net& net, std::mt19937_64& rng,
             JobContext& context, double progress_from, double progress_to) {
  const int64_t n = rows.x.size(0);
  if (steps <= 0 || n == 0) return Status::Ok();
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(lr).weight_decay(kWeightDecay));
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  int64_t cursor = n;
  for (int64_t step = 0; step < steps; ++step) {
    if (step % 64 == 0) {
      if (context.cancelled()) return Status::Cancelled("cancelled");
      context.ReportProgress(progress_from +
                             (progress_to - progress_from) * static_cast<double>(step) / steps);
    }
    const int64_t take = std::min<int64_t>(batch, n);
    if (cursor + take > n) {
      SeededShuffle(order, rng);
      cursor = 0;
    }
    torch::Tensor index = torch::from_blob(order.data() + cursor, {take}, torch::kInt64).clone();
    cursor += take;
    torch::Tensor pred = net.Forward(rows.x.index_select(0, index), rows.domain.index_select(0, index));
    torch::Tensor loss = TrainingLoss(pred, rows.y.index_select(0, index),
                              rows.domain.index_select(0, index), loss_kind);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  return Status::Ok();
}

// The target head as ridge regression on the pretrained trunk's features, shrunk toward the
// mean source head: argmin_w,b sum_i (h_i.w + b - y_i)^2 + prior * |(w, b) - mean source|^2.
// With few samples the head stays near what the sources agree on; with many, the data decide.
void FitTargetHeadTowardSources(Net& net, const Rows& rows, int target, double prior) {
  torch::NoGradGuard no_grad;
  torch::Tensor h = net.Features(rows.x).to(torch::kDouble);
  h = torch::cat({h, torch::ones({h.size(0), 1}, torch::kDouble)}, 1);
  torch::Tensor mean = torch::cat({net.head_w.slice(0, 0, target).mean(0),
                                   net.head_b.slice(0, 0, target).mean(0, /*keepdim=*/true)})
                           .to(torch::kDouble);
  torch::Tensor a = h.t().mm(h) + prior * torch::eye(h.size(1), torch::kDouble);
  torch::Tensor rhs = h.t().mv(rows.y.to(torch::kDouble)) + prior * mean;
  torch::Tensor solution = torch::linalg_solve(a, rhs.unsqueeze(1)).squeeze(1).to(torch::kFloat);
  net.head_w[target].copy_(solution.slice(0, 0, h.size(1) - 1));
  net.head_b[target].copy_(solution[h.size(1) - 1]);
}

// Least-squares affine map of the target head's output onto the target samples, folded into the
// head: a ranking loss fixes order but not scale, and this restores the scale from the samples.
void CalibrateTargetHead(Net& net, const Rows& rows, int target) {
  torch::NoGradGuard no_grad;
  torch::Tensor domain = torch::full({rows.x.size(0)}, target, torch::kInt64);
  torch::Tensor z = net.Forward(rows.x, domain).to(torch::kDouble);
  torch::Tensor y = rows.y.to(torch::kDouble);
  const double zm = z.mean().item<double>(), ym = y.mean().item<double>();
  const double var = (z - zm).pow(2).sum().item<double>();
  if (var <= 1e-12) return;
  const double slope = ((z - zm) * (y - ym)).sum().item<double>() / var;
  if (slope <= 0) return;  // never invert the predicted order
  const double offset = ym - slope * zm;
  net.head_w[target].mul_(slope);
  net.head_b[target].mul_(slope).add_(offset);
}

nlohmann::json ToJson(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  if (c.dim() == 1) return std::vector<double>(p, p + c.size(0));
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t r = 0; r < c.size(0); ++r) {
    rows.push_back(std::vector<double>(p + r * c.size(1), p + (r + 1) * c.size(1)));
  }
  return rows;
}

}  // namespace

StatusOr<FitOutput> FitPredictor(const FitInput& input, const PredictorParams& params,
                                 JobContext& context) {
  const int width = input.width;
  const int domains = static_cast<int>(input.sources.size()) + 1;
  const int target = domains - 1;
  std::vector<const EncodedRows*> all;
  for (const auto& s : input.sources) all.push_back(&s);
  all.push_back(&input.target_train);
  for (const EncodedRows* d : all) {
    if (d->features.size() != d->latency_us.size() * width) {
      return Status::InvalidArgument("predictor rows: features and latencies disagree");
    }
  }
  if (input.target_train.latency_us.size() < 2) {
    return Status::InvalidArgument("predictor rows: at least two target samples are needed");
  }

  // Column statistics over every training row.
  Standardizer x_scale{std::vector<double>(width, 0.0), std::vector<double>(width, 0.0)};
  size_t total = 0;
  for (const EncodedRows* d : all) {
    for (size_t r = 0; r < d->latency_us.size(); ++r, ++total) {
      for (int c = 0; c < width; ++c) x_scale.mean[c] += d->features[r * width + c];
    }
  }
  for (double& m : x_scale.mean) m /= static_cast<double>(total);
  for (const EncodedRows* d : all) {
    for (size_t r = 0; r < d->latency_us.size(); ++r) {
      for (int c = 0; c < width; ++c) {
        const double dev = d->features[r * width + c] - x_scale.mean[c];
        x_scale.std[c] += dev * dev;
      }
    }
  }
  for (double& s : x_scale.std) {
    s = std::sqrt(s / static_cast<double>(total));
    if (s < 1e-6) s = 1.0;  // a constant column carries no information; keep it at zero
  }
  std::vector<double> log_mean(domains), log_std(domains);
  for (int d = 0; d < domains; ++d) {
    const auto& lat = all[d]->latency_us;
    double m = 0, v = 0;
    for (double l : lat) m += std::log(l);
    m /= static_cast<double>(lat.size());
    for (double l : lat) v += (std::log(l) - m) * (std::log(l) - m);
    log_mean[d] = m;
    log_std[d] = std::max(kMinLogStd, std::sqrt(v / static_cast<double>(lat.size())));
  }

  auto standardize = [&](const std::vector<float>& features, size_t rows) {
    std::vector<float> z(features.size());
    for (size_t r = 0; r < rows; ++r) {
      for (int c = 0; c < width; ++c) {
        z[r * width + c] = static_cast<float>((features[r * width + c] - x_scale.mean[c]) / x_scale.std[c]);
      }
    }
    return torch::from_blob(z.data(), {static_cast<int64_t>(rows), width}, torch::kFloat).clone();
  };
  auto rows_of = [&](const std::vector<int>& domain_ids) {
    std::vector<torch::Tensor> xs;
    std::vector<float> y;
    std::vector<int64_t> dom;
    for (int d : domain_ids) {
      const EncodedRows& e = *all[d];
      xs.push_back(standardize(e.features, e.latency_us.size()));
      for (double l : e.latency_us) {
        y.push_back(static_cast<float>((std::log(l) - log_mean[d]) / log_std[d]));
        dom.push_back(d);
      }
    }
    Rows rows;
    rows.x = torch::cat(xs);
    rows.y = torch::from_blob(y.data(), {static_cast<int64_t>(y.size())}, torch::kFloat).clone();
    rows.domain = torch::from_blob(dom.data(), {static_cast<int64_t>(dom.size())}, torch::kInt64).clone();
    return rows;
  };

  torch::manual_seed(params.seed);
  std::mt19937_64 rng(params.seed ^ 0x9e3779b97f4a7c15ULL);
  Net net = MakeNet(width, params.hidden, params.layers, domains);
  const Rows target_rows = rows_of({target});

  if (!input.sources.empty()) {
    std::vector<int> source_ids(input.sources.size());
    std::iota(source_ids.begin(), source_ids.end(), 0);
    const Rows source_rows = rows_of(source_ids);
    const int64_t steps_per_epoch = (source_rows.x.size(0) + kBatchRows - 1) / kBatchRows;
    std::vector<torch::Tensor> pretrain_params = net.TrunkParams();
    pretrain_params.push_back(net.head_w);
    pretrain_params.push_back(net.head_b);
    RETURN_IF_ERROR(Train(source_rows, pretrain_params, params.lr, params.epochs * steps_per_epoch,
                          kBatchRows, params.loss, net, rng, context, 0.0, 0.8));
    FitTargetHeadTowardSources(net, target_rows, target, params.head_prior);
    std::vector<torch::Tensor> all_params = net.TrunkParams();
    all_params.push_back(net.head_w);
    all_params.push_back(net.head_b);
    RETURN_IF_ERROR(Train(target_rows, all_params, params.lr * kFinetuneLrMultiplier,
                          params.finetune_steps, kFinetuneBatchRows, params.loss, net, rng,
                          context, 0.8, 1.0));
  } else {
    std::vector<torch::Tensor> all_params = net.TrunkParams();
    all_params.push_back(net.head_w);
    all_params.push_back(net.head_b);
    RETURN_IF_ERROR(Train(target_rows, all_params, params.lr, params.finetune_steps,
                          kFinetuneBatchRows, params.loss, net, rng, context, 0.0, 1.0));
  }

  CalibrateTargetHead(net, target_rows, target);

  FitOutput out;
  {
    torch::NoGradGuard no_grad;
    const size_t n_test = input.target_test.features.size() / width;
    if (n_test > 0) {
      torch::Tensor x = standardize(input.target_test.features, n_test);
      torch::Tensor dom = torch::full({static_cast<int64_t>(n_test)}, target, torch::kInt64);
      torch::Tensor pred = net.Forward(x, dom).to(torch::kDouble).contiguous();
      const double* p = pred.data_ptr<double>();
      out.predicted_us.resize(n_test);
      for (size_t i = 0; i < n_test; ++i) {
        out.predicted_us[i] = std::exp(log_mean[target] + log_std[target] * p[i]);
      }
    }
    nlohmann::json trunk = nlohmann::json::array();
    for (size_t l = 0; l < net.trunk_w.size(); ++l) {
      trunk.push_back({{"weight", ToJson(net.trunk_w[l])}, {"bias", ToJson(net.trunk_b[l])}});
    }
    nlohmann::json heads = nlohmann::json::array();
    torch::Tensor hw = net.head_w.detach(), hb = net.head_b.detach();
    for (int d = 0; d < domains; ++d) {
      heads.push_back({{"weight", ToJson(hw[d])},
                       {"bias", hb[d].item<double>()},
                       {"log_mean", log_mean[d]},
                       {"log_std", log_std[d]}});
    }
    out.model = {{"feature_mean", x_scale.mean},
                 {"feature_std", x_scale.std},
                 {"trunk", std::move(trunk)},
                 {"heads", std::move(heads)}};
  }
  context.ReportProgress(1.0);
  return out;
}

}  // namespace qlab::predictor
