// Search samplers for studies (DESIGN.md section 10, `search:` in a sweep file): propose the
// assignment of the next trial (Ask) and learn what came of each trial (Tell), for one or more
// objectives. NSGA-II for real searches, uniform random as the baseline to beat.
//
// The server drives one Sampler per study. It asks for trials 0, 1, 2, ... as slots free up,
// runs each as a job, and tells the outcome. The sampler holds nothing the server cannot
// rebuild: after a restart the server creates a Sampler with the same options and re-tells every
// recorded trial (running ones as kRunning) in index order; the next Ask then proposes what the
// old sampler would have. No I/O, no threads, no clock.
//
// Thread safety: a Sampler is not thread-safe; callers serialize Ask and Tell on one sampler.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "evaluators/search/pareto.h"

namespace qlab::search {

struct Objective {
  std::string metric;  // a metric name of the study's jobs, e.g. "perplexity"
  Direction direction = Direction::kMinimize;
};

// One decision variable: categorical when `choices` is non-empty (the sampler proposes an index
// into it), otherwise a float in [lower, upper].
struct Gene {
  std::string name;                  // non-empty, unique in the space
  std::vector<std::string> choices;  // distinct; at most 1,048,576
  double lower = 0, upper = 1;       // float genes: finite, lower < upper
  bool is_categorical() const { return !choices.empty(); }
};

struct SearchSpace {
  std::vector<Gene> genes;  // 1 to 100,000
};

// One value per gene, in gene order: a categorical gene holds its choice index (0 ..
// choices-1, as a double), a float gene its value.
using Assignment = std::vector<double>;

enum class TrialState { kRunning, kComplete, kFailed };

enum class SamplerKind { kNsga2, kRandom };

struct SamplerOptions {
  SamplerKind kind = SamplerKind::kNsga2;
  // Proposals are a function of the seed, the trial index and what was told; nothing else.
  uint64_t seed = 0;
  // The study's trial budget (0: unknown). Used only to choose population_size when it is 0.
  int64_t trials = 0;
  // NSGA-II population P: trial i belongs to generation i / P. 0: automatic,
  // clamp(trials / 10, 8, 50), or 20 when `trials` is 0; so a 200-trial study runs 10
  // generations of 20. Otherwise 2 to 10,000. With `parallel` trials in flight, P >= 2 *
  // parallel keeps most trials bred rather than drawn at random (see Ask).
  int population_size = 0;
  // Probability that a child mixes two parents rather than copying one. Default: 0.9.
  double crossover_prob = 0.9;
  // Per-gene mutation probability; negative: 1 / number of genes. Default: -1.
  double mutation_prob = -1;
  // Distribution indices (0 to 1,000) of SBX crossover and polynomial mutation on float genes:
  // larger keeps children closer to their parents. Defaults: 15 and 20, as in Deb's NSGA-II.
  double sbx_eta = 15, mutation_eta = 20;
};

// The number of distinct assignments of `space` when every gene is categorical (the product of
// the choice counts, saturating at UINT64_MAX); 0 when a gene is a float. A caller that wants no
// repeated trial stops there.
uint64_t CategoricalSpaceSize(const SearchSpace& space);

class Sampler {
 public:
  // On success a sampler over `space` for `objectives`. INVALID_ARGUMENT naming the field
  // ("space.genes[3].lower", "options.population_size", "objectives[1].metric") for: no genes
  // or more than 100,000; a gene without a name, with a duplicate name, with duplicate or more
  // than 1,048,576 choices, or (float) with non-finite bounds or lower >= upper; no objectives,
  // more than 16, or one with an empty or duplicate metric; population_size outside 0 or 2 to
  // 10,000; trials < 0; crossover_prob or a non-negative mutation_prob outside [0, 1]; an eta
  // outside [0, 1000]; an unknown kind.
  static StatusOr<std::unique_ptr<Sampler>> Create(SamplerOptions options, SearchSpace space,
                                                   std::vector<Objective> objectives);

  virtual ~Sampler() = default;

  // The assignment to run as trial `index` (0, 1, 2, ... in order).
  //
  // Deterministic: the random draws come from (seed, index), never from call history, so the
  // proposal depends only on the options, the index and what was told (and asked) before.
  // Asking an index already asked or told returns that assignment again.
  //
  // NSGA-II: generation g = index / P. While fewer than P complete trials exist in generations
  // before g (always in generation 0), the proposal is uniformly random. Otherwise the parents
  // are the P survivors of elitist NSGA-II selection (non-dominated sorting, then crowding
  // distance) folded generation by generation over the complete trials of generations 0 .. g-1
  // known now; trials of g and later never breed g. A child comes from two binary tournaments
  // on (rank, crowding), crossover (uniform for categorical genes, SBX for float genes) and
  // mutation (categorical: another choice; float: polynomial). Selections are memoized per
  // generation and redone only when a Tell changes a complete trial of an earlier generation.
  //
  // When every gene is categorical no proposal repeats an assignment asked or told before
  // (running, complete or failed): a repeated child is mutated again, at least one gene
  // changed, up to 32 times, then replaced by a random assignment not seen yet (random draws,
  // then for spaces of at most 2^20 assignments a scan from a random start). Once every
  // assignment has been seen (CategoricalSpaceSize) the space is exhausted and Ask returns a
  // uniformly random one, a repeat. Spaces with a float gene are not checked.
  // A negative index returns a random assignment and records nothing.
  virtual Assignment Ask(int64_t index) = 0;

  // Records what became of trial `index`. Called once or more per trial, with later states
  // (kRunning, then kComplete or kFailed); the last call wins. After a restart the caller
  // re-tells every recorded trial in index order.
  // `values`: one per objective, in objective order, as measured (the sampler applies each
  // direction); read only for kComplete. A complete trial with a non-finite value, the wrong
  // number of values, or a non-finite assignment value counts as failed. Failed trials are
  // never parents and, in categorical spaces, never proposed again.
  // Categorical values are rounded to the nearest choice index and float values clamped to the
  // gene's bounds. A negative index or an assignment of the wrong length is ignored.
  virtual void Tell(int64_t index, const Assignment& assignment, TrialState state,
                    const std::vector<double>& values = {}) = 0;

  // The resolved population size P (options.population_size, or the automatic one).
  virtual int population_size() const = 0;

  // Trial indices (ascending) of the parents that trials of `generation` breed from, as Ask
  // would use them now: fewer than P while not enough trials are complete; empty for
  // generation 0 and for the random sampler. For progress pages and tests.
  virtual std::vector<int64_t> Parents(int64_t generation) = 0;
};

}  // namespace qlab::search
