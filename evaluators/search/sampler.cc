// The NSGA-II and random samplers behind Sampler (sampler.h). One implementation serves both:
// they share the trial records, the per-index random streams and the no-repeat rule; only the
// way a proposal is made differs.
#include "evaluators/search/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_set>
#include <utility>

namespace qlab::search {
namespace {

constexpr size_t kMaxGenes = 100000;
constexpr size_t kMaxChoices = 1 << 20;
constexpr size_t kMaxObjectives = 16;
constexpr int kMaxPopulation = 10000;
constexpr double kMaxEta = 1000;
constexpr int kMutationRetries = 32;
constexpr int kRandomRetries = 64;
constexpr uint64_t kScanLimit = uint64_t{1} << 20;  // spaces this small are scanned when crowded

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// SplitMix64 stream with its own uniform mappings: the standard library's distributions differ
// between implementations, and proposals must not change with the compiler.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    const uint64_t z = SplitMix64(state_);
    state_ += 0x9e3779b97f4a7c15ULL;
    return z;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  // [0, n), unbiased: draws below 2^64 mod n are rejected (as arc4random_uniform does).
  uint64_t Below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;
    while (true) {
      const uint64_t r = Next();
      if (r >= threshold) return r % n;
    }
  }
  bool Bernoulli(double p) { return Uniform() < p; }

 private:
  uint64_t state_;
};

struct Trial {
  Assignment assignment;      // as asked, or as last told
  bool usable = false;        // told complete with finite values: may be a parent
  std::vector<double> costs;  // objective values turned to minimization, when usable
};

// A parent with its standing in the selection that kept it.
struct Member {
  int64_t index;
  const Trial* trial;  // in trials_, whose nodes never move and are never erased
  int rank;            // 0: first front
  double crowding;     // infinity at the ends of a front
};

Status ValidateOptions(const SamplerOptions& o) {
  if (o.kind != SamplerKind::kNsga2 && o.kind != SamplerKind::kRandom) {
    return Status::InvalidArgument("options.kind: unknown sampler kind");
  }
  if (o.population_size != 0 && (o.population_size < 2 || o.population_size > kMaxPopulation)) {
    return Status::InvalidArgument("options.population_size must be 0 (automatic) or 2 to " +
                                   std::to_string(kMaxPopulation) + ", got " +
                                   std::to_string(o.population_size));
  }
  if (o.trials < 0) return Status::InvalidArgument("options.trials must be >= 0");
  if (!(o.crossover_prob >= 0 && o.crossover_prob <= 1)) {
    return Status::InvalidArgument("options.crossover_prob must be in [0, 1]");
  }
  if (!(o.mutation_prob < 0) && !(o.mutation_prob <= 1)) {  // NaN fails both
    return Status::InvalidArgument(
        "options.mutation_prob must be in [0, 1], or negative for 1 / number of genes");
  }
  if (!(o.sbx_eta >= 0 && o.sbx_eta <= kMaxEta)) {
    return Status::InvalidArgument("options.sbx_eta must be in [0, 1000]");
  }
  if (!(o.mutation_eta >= 0 && o.mutation_eta <= kMaxEta)) {
    return Status::InvalidArgument("options.mutation_eta must be in [0, 1000]");
  }
  return Status::Ok();
}

Status ValidateSpace(const SearchSpace& space) {
  if (space.genes.empty()) return Status::InvalidArgument("space.genes: the space has no genes");
  if (space.genes.size() > kMaxGenes) {
    return Status::InvalidArgument("space.genes: " + std::to_string(space.genes.size()) +
                                   " genes, at most " + std::to_string(kMaxGenes));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < space.genes.size(); ++i) {
    const Gene& gene = space.genes[i];
    const std::string field = "space.genes[" + std::to_string(i) + "]";
    if (gene.name.empty()) return Status::InvalidArgument(field + ".name is empty");
    if (!names.insert(gene.name).second) {
      return Status::InvalidArgument(field + ".name: duplicate gene '" + gene.name + "'");
    }
    if (gene.is_categorical()) {
      if (gene.choices.size() > kMaxChoices) {
        return Status::InvalidArgument(field + ".choices: more than " +
                                       std::to_string(kMaxChoices));
      }
      std::set<std::string> distinct(gene.choices.begin(), gene.choices.end());
      if (distinct.size() != gene.choices.size()) {
        return Status::InvalidArgument(field + ".choices: duplicate choice");
      }
      continue;
    }
    if (!std::isfinite(gene.lower)) return Status::InvalidArgument(field + ".lower is not finite");
    if (!std::isfinite(gene.upper)) return Status::InvalidArgument(field + ".upper is not finite");
    if (!(gene.lower < gene.upper)) {
      return Status::InvalidArgument(field + ".lower must be below .upper (gene '" + gene.name +
                                     "' has no choices, so it is a float)");
    }
  }
  return Status::Ok();
}

Status ValidateObjectives(const std::vector<Objective>& objectives) {
  if (objectives.empty()) return Status::InvalidArgument("objectives: none given");
  if (objectives.size() > kMaxObjectives) {
    return Status::InvalidArgument("objectives: at most " + std::to_string(kMaxObjectives));
  }
  std::set<std::string> metrics;
  for (size_t i = 0; i < objectives.size(); ++i) {
    const std::string field = "objectives[" + std::to_string(i) + "]";
    if (objectives[i].metric.empty()) return Status::InvalidArgument(field + ".metric is empty");
    if (!metrics.insert(objectives[i].metric).second) {
      return Status::InvalidArgument(field + ".metric: duplicate '" + objectives[i].metric + "'");
    }
    const Direction d = objectives[i].direction;
    if (d != Direction::kMinimize && d != Direction::kMaximize) {
      return Status::InvalidArgument(field + ".direction: unknown");
    }
  }
  return Status::Ok();
}

class SamplerImpl final : public Sampler {
 public:
  SamplerImpl(SamplerOptions options, SearchSpace space, std::vector<Objective> objectives)
      : options_(options), space_(std::move(space)), objectives_(std::move(objectives)) {
    population_ = options_.population_size;
    if (population_ == 0) {
      population_ = options_.trials == 0
                        ? 20
                        : static_cast<int>(std::clamp<int64_t>(options_.trials / 10, 8, 50));
    }
    mutation_prob_ = options_.mutation_prob < 0 ? 1.0 / static_cast<double>(space_.genes.size())
                                                : options_.mutation_prob;
    space_size_ = CategoricalSpaceSize(space_);
    for (size_t i = 0; i < space_.genes.size(); ++i) {
      if (space_.genes[i].choices.size() > 1) mutable_genes_.push_back(i);
    }
  }

  Assignment Ask(int64_t index) override {
    if (index < 0) {
      Rng rng(SeedFor(index));
      return RandomAssignment(rng);
    }
    if (auto it = trials_.find(index); it != trials_.end()) return it->second.assignment;
    Rng rng(SeedFor(index));
    Assignment proposal;
    const std::vector<Member>* parents = nullptr;
    if (options_.kind == SamplerKind::kNsga2) parents = &ParentsOf(index / population_);
    if (parents != nullptr && parents->size() >= static_cast<size_t>(population_)) {
      proposal = Breed(*parents, rng);
    } else {
      proposal = FreshRandom(rng);
    }
    if (space_size_ != 0) seen_.insert(Hash(proposal));
    trials_[index].assignment = proposal;
    return proposal;
  }

  void Tell(int64_t index, const Assignment& assignment, TrialState state,
            const std::vector<double>& values) override {
    if (index < 0 || assignment.size() != space_.genes.size()) return;
    Trial& trial = trials_[index];
    const bool was_usable = trial.usable;
    bool finite = true;
    trial.assignment = Sanitize(assignment, &finite);
    trial.usable = state == TrialState::kComplete && finite && values.size() == objectives_.size();
    trial.costs.clear();
    for (size_t m = 0; trial.usable && m < values.size(); ++m) {
      if (!std::isfinite(values[m])) trial.usable = false;
      const bool maximize = objectives_[m].direction == Direction::kMaximize;
      trial.costs.push_back(maximize ? -values[m] : values[m]);
    }
    if (!trial.usable) trial.costs.clear();
    if (space_size_ != 0) seen_.insert(Hash(trial.assignment));
    if (was_usable || trial.usable) Invalidate(index / population_);
  }

  int population_size() const override { return population_; }

  std::vector<int64_t> Parents(int64_t generation) override {
    std::vector<int64_t> indices;
    if (options_.kind != SamplerKind::kNsga2 || generation <= 0) return indices;
    // Generations past the last trial all share its parents; the cap keeps generation * P finite.
    generation = std::min(generation, std::numeric_limits<int64_t>::max() / population_);
    for (const Member& m : ParentsOf(generation)) indices.push_back(m.index);
    std::sort(indices.begin(), indices.end());
    return indices;
  }

 private:
  uint64_t SeedFor(int64_t index) const {
    return SplitMix64(options_.seed ^ SplitMix64(static_cast<uint64_t>(index)));
  }

  uint64_t Hash(const Assignment& a) const {
    uint64_t h = 0x8f1bbcdcca62c1d6ULL;
    for (double v : a) h = SplitMix64(h ^ static_cast<uint64_t>(v));
    return h;
  }
  bool Seen(const Assignment& a) const { return seen_.count(Hash(a)) != 0; }

  Assignment Sanitize(const Assignment& in, bool* finite) const {
    Assignment out(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      const Gene& gene = space_.genes[i];
      if (!std::isfinite(in[i])) {
        *finite = false;
        out[i] = gene.is_categorical() ? 0 : gene.lower;
      } else if (gene.is_categorical()) {
        out[i] = std::clamp(std::round(in[i]), 0.0, static_cast<double>(gene.choices.size() - 1));
      } else {
        out[i] = std::clamp(in[i], gene.lower, gene.upper);
      }
    }
    return out;
  }

  // Selections of generations `generation` and later may have used this trial's generation.
  void Invalidate(int64_t generation) {
    memo_.erase(memo_.lower_bound(generation), memo_.end());
    covered_ = std::min(covered_, generation);
  }

  // Parents of `generation`: selection folded over every generation before it that holds a
  // usable trial. memo_[h] is the population after folding in generation h; it covers every
  // generation below covered_.
  const std::vector<Member>& ParentsOf(int64_t generation) {
    const int64_t p = population_;
    if (covered_ < generation) {
      auto it = trials_.lower_bound(covered_ * p);
      const auto end = trials_.lower_bound(generation * p);
      while (it != end) {
        const int64_t h = it->first / p;
        std::vector<Member> pool;
        for (; it != end && it->first / p == h; ++it) {
          if (it->second.usable) pool.push_back({it->first, &it->second, 0, 0});
        }
        if (pool.empty()) continue;
        auto previous = memo_.lower_bound(h);
        if (previous != memo_.begin()) {
          const std::vector<Member>& parents = std::prev(previous)->second;
          pool.insert(pool.end(), parents.begin(), parents.end());
        }
        memo_[h] = Select(std::move(pool));
      }
      covered_ = generation;
    }
    static const std::vector<Member> kNone;
    auto it = memo_.lower_bound(generation);
    return it == memo_.begin() ? kNone : std::prev(it)->second;
  }

  // Elitist NSGA-II survival: whole fronts while they fit, the last one cut by crowding.
  // Ties (equal crowding, equal values) go to the earlier trial, so selection is a function of
  // the pool alone.
  std::vector<Member> Select(std::vector<Member> pool) const {
    std::sort(pool.begin(), pool.end(),
              [](const Member& a, const Member& b) { return a.index < b.index; });
    const size_t n = pool.size(), m = objectives_.size();
    std::vector<double> costs(n * m);  // row i: pool[i]'s costs, contiguous for the sorts
    for (size_t i = 0; i < n; ++i) {
      const std::vector<double>& c = pool[i].trial->costs;
      std::copy(c.begin(), c.end(), costs.begin() + i * m);
    }
    std::vector<std::vector<size_t>> fronts = SortFronts(costs, n);
    std::vector<Member> survivors;
    const size_t target = std::min(n, static_cast<size_t>(population_));
    for (size_t rank = 0; survivors.size() < target; ++rank) {
      std::vector<size_t>& front = fronts[rank];
      std::sort(front.begin(), front.end());
      const std::vector<double> crowding = Crowding(front, costs);
      std::vector<size_t> order(front.size());
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      if (survivors.size() + front.size() > target) {
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
          return crowding[a] != crowding[b] ? crowding[a] > crowding[b] : a < b;
        });
        order.resize(target - survivors.size());
      }
      for (size_t k : order) {
        const Member& chosen = pool[front[k]];
        survivors.push_back({chosen.index, chosen.trial, static_cast<int>(rank), crowding[k]});
      }
    }
    return survivors;
  }

  // Non-dominated sorting by sequential search (ENS-SS, Zhang et al. 2015): in lexicographic
  // order nothing later dominates anything earlier, so each point joins the first front none of
  // whose members dominates it. Cheaper than Deb's all pairs: in an asynchronous study the
  // parents are redone on most Asks. With two objectives the last member of a front (the
  // lowest second value) dominates the point if any member does.
  std::vector<std::vector<size_t>> SortFronts(const std::vector<double>& costs, size_t n) const {
    const size_t m = objectives_.size();
    auto row = [&](size_t i) { return costs.data() + i * m; };
    auto dominates = [&](size_t a, size_t b) {
      bool better = false;
      for (size_t d = 0; d < m; ++d) {
        if (row(a)[d] > row(b)[d]) return false;
        if (row(a)[d] < row(b)[d]) better = true;
      }
      return better;
    };
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      for (size_t d = 0; d < m; ++d) {
        if (row(a)[d] != row(b)[d]) return row(a)[d] < row(b)[d];
      }
      return a < b;
    });
    std::vector<std::vector<size_t>> fronts;
    for (size_t i : order) {
      size_t k = 0;
      for (; k < fronts.size(); ++k) {
        const std::vector<size_t>& front = fronts[k];
        bool dominated = false;
        if (m == 2) {
          dominated = dominates(front.back(), i);
        } else {
          for (size_t j = front.size(); j-- > 0 && !dominated;) dominated = dominates(front[j], i);
        }
        if (!dominated) break;
      }
      if (k == fronts.size()) fronts.emplace_back();
      fronts[k].push_back(i);
    }
    return fronts;
  }

  // Crowding distance of each member of `front` (Deb et al. 2002): the sum over objectives of
  // the normalized gap between its neighbours; infinite at the ends.
  std::vector<double> Crowding(const std::vector<size_t>& front,
                               const std::vector<double>& costs) const {
    const double inf = std::numeric_limits<double>::infinity();
    if (front.size() <= 2) return std::vector<double>(front.size(), inf);
    const size_t m = objectives_.size();
    std::vector<double> distance(front.size(), 0);
    std::vector<size_t> order(front.size());
    for (size_t d = 0; d < m; ++d) {
      auto value = [&](size_t k) { return costs[front[k] * m + d]; };
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return value(a) != value(b) ? value(a) < value(b) : a < b;
      });
      const double range = value(order.back()) - value(order.front());
      distance[order.front()] = distance[order.back()] = inf;
      if (range <= 0) continue;
      for (size_t k = 1; k + 1 < order.size(); ++k) {
        distance[order[k]] += (value(order[k + 1]) - value(order[k - 1])) / range;
      }
    }
    return distance;
  }

  const Member& Tournament(const std::vector<Member>& parents, Rng& rng) const {
    const Member& a = parents[rng.Below(parents.size())];
    const Member& b = parents[rng.Below(parents.size())];
    if (a.rank != b.rank) return a.rank < b.rank ? a : b;
    return b.crowding > a.crowding ? b : a;
  }

  Assignment Breed(const std::vector<Member>& parents, Rng& rng) const {
    const Assignment& first = Tournament(parents, rng).trial->assignment;
    const Assignment& second = Tournament(parents, rng).trial->assignment;
    Assignment child = first;
    if (rng.Bernoulli(options_.crossover_prob)) {
      for (size_t i = 0; i < child.size(); ++i) {
        if (space_.genes[i].is_categorical()) {
          if (rng.Bernoulli(0.5)) child[i] = second[i];
        } else {
          child[i] = Sbx(space_.genes[i], first[i], second[i], rng);
        }
      }
    }
    if (space_size_ == 0) {
      Mutate(child, rng);
      return child;
    }
    for (int attempt = 0; attempt < kMutationRetries; ++attempt) {
      Assignment mutant = child;
      Mutate(mutant, rng);
      if (attempt > 0 && !mutable_genes_.empty()) {
        const size_t gene = mutable_genes_[rng.Below(mutable_genes_.size())];
        mutant[gene] = OtherChoice(space_.genes[gene], mutant[gene], rng);
      }
      if (!Seen(mutant)) return mutant;
    }
    return FreshRandom(rng);
  }

  // Simulated binary crossover (Deb and Agrawal 1995, the bounded form of Deb's NSGA-II code):
  // each gene crosses with probability 1/2; the child takes one of the two offspring values.
  double Sbx(const Gene& gene, double x1, double x2, Rng& rng) const {
    if (!rng.Bernoulli(0.5) || std::fabs(x1 - x2) <= 1e-14) return x1;
    const double y1 = std::min(x1, x2), y2 = std::max(x1, x2);
    const double eta = options_.sbx_eta;
    const double u = rng.Uniform();
    auto spread = [&](double beta) {
      const double alpha = 2.0 - std::pow(beta, -(eta + 1.0));
      return u <= 1.0 / alpha ? std::pow(u * alpha, 1.0 / (eta + 1.0))
                              : std::pow(1.0 / (2.0 - u * alpha), 1.0 / (eta + 1.0));
    };
    const double low_beta = spread(1.0 + 2.0 * (y1 - gene.lower) / (y2 - y1));
    const double high_beta = spread(1.0 + 2.0 * (gene.upper - y2) / (y2 - y1));
    double c1 = 0.5 * ((y1 + y2) - low_beta * (y2 - y1));
    double c2 = 0.5 * ((y1 + y2) + high_beta * (y2 - y1));
    c1 = std::clamp(c1, gene.lower, gene.upper);
    c2 = std::clamp(c2, gene.lower, gene.upper);
    return rng.Bernoulli(0.5) ? c1 : c2;
  }

  void Mutate(Assignment& a, Rng& rng) const {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!rng.Bernoulli(mutation_prob_)) continue;
      const Gene& gene = space_.genes[i];
      a[i] = gene.is_categorical() ? OtherChoice(gene, a[i], rng) : Polynomial(gene, a[i], rng);
    }
  }

  static double OtherChoice(const Gene& gene, double current, Rng& rng) {
    const uint64_t n = gene.choices.size();
    if (n < 2) return current;
    uint64_t pick = rng.Below(n - 1);
    if (pick >= static_cast<uint64_t>(current)) ++pick;
    return static_cast<double>(pick);
  }

  // Polynomial mutation, bounded form (Deb and Deb 2014), as in Deb's NSGA-II code.
  double Polynomial(const Gene& gene, double x, Rng& rng) const {
    const double range = gene.upper - gene.lower;
    const double eta = options_.mutation_eta;
    const double power = 1.0 / (eta + 1.0);
    const double u = rng.Uniform();
    double delta;
    if (u < 0.5) {
      const double xy = 1.0 - (x - gene.lower) / range;
      delta = std::pow(2.0 * u + (1.0 - 2.0 * u) * std::pow(xy, eta + 1.0), power) - 1.0;
    } else {
      const double xy = 1.0 - (gene.upper - x) / range;
      delta = 1.0 - std::pow(2.0 * (1.0 - u) + 2.0 * (u - 0.5) * std::pow(xy, eta + 1.0), power);
    }
    return std::clamp(x + delta * range, gene.lower, gene.upper);
  }

  Assignment RandomAssignment(Rng& rng) const {
    Assignment a(space_.genes.size());
    for (size_t i = 0; i < a.size(); ++i) {
      const Gene& gene = space_.genes[i];
      a[i] = gene.is_categorical()
                 ? static_cast<double>(rng.Below(gene.choices.size()))
                 : std::min(gene.upper, gene.lower + rng.Uniform() * (gene.upper - gene.lower));
    }
    return a;
  }

  // A uniformly random assignment, not one seen before when the space is categorical and not
  // exhausted.
  Assignment FreshRandom(Rng& rng) const {
    Assignment a = RandomAssignment(rng);
    if (space_size_ == 0) return a;
    for (int attempt = 0; attempt < kRandomRetries && Seen(a); ++attempt) a = RandomAssignment(rng);
    if (!Seen(a) || space_size_ > kScanLimit || seen_.size() >= space_size_) return a;
    // A crowded small space: walk the assignments in mixed-radix order from a random start.
    const uint64_t start = rng.Below(space_size_);
    Assignment candidate(a.size());
    for (uint64_t k = 0; k < space_size_; ++k) {
      uint64_t code = (start + k) % space_size_;
      for (size_t i = 0; i < candidate.size(); ++i) {
        const uint64_t n = space_.genes[i].choices.size();
        candidate[i] = static_cast<double>(code % n);
        code /= n;
      }
      if (!Seen(candidate)) return candidate;
    }
    return a;
  }

  const SamplerOptions options_;
  const SearchSpace space_;
  const std::vector<Objective> objectives_;
  int population_;
  double mutation_prob_;
  uint64_t space_size_;                // 0: a float gene, no repeat checks
  std::vector<size_t> mutable_genes_;  // genes with more than one choice

  std::map<int64_t, Trial> trials_;    // asked or told, by index
  std::unordered_set<uint64_t> seen_;  // hashes of categorical assignments asked or told
  std::map<int64_t, std::vector<Member>> memo_;
  int64_t covered_ = 0;
};

}  // namespace

uint64_t CategoricalSpaceSize(const SearchSpace& space) {
  uint64_t size = 1;
  for (const Gene& gene : space.genes) {
    if (!gene.is_categorical()) return 0;
    const uint64_t n = gene.choices.size();
    if (size > std::numeric_limits<uint64_t>::max() / n)
      return std::numeric_limits<uint64_t>::max();
    size *= n;
  }
  return size;
}

StatusOr<std::unique_ptr<Sampler>> Sampler::Create(SamplerOptions options, SearchSpace space,
                                                   std::vector<Objective> objectives) {
  RETURN_IF_ERROR(ValidateOptions(options));
  RETURN_IF_ERROR(ValidateSpace(space));
  RETURN_IF_ERROR(ValidateObjectives(objectives));
  return std::unique_ptr<Sampler>(
      new SamplerImpl(options, std::move(space), std::move(objectives)));
}

}  // namespace qlab::search
