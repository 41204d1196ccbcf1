// Samplers: NSGA-II converges on ZDT1/ZDT2 and beats random search, on those and on a
// categorical problem shaped like per-layer datatype search; proposals are deterministic and
// survive a restart; categorical spaces get no repeats; failed trials never breed; bad options
// are refused naming the field.
#include "evaluators/search/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>

namespace qlab::search {
namespace {

struct Record {
  Assignment assignment;
  TrialState state = TrialState::kRunning;
  std::vector<double> values;
};

// How the simulated fleet runs trials: kSerial asks one and tells it; kBatch asks `width`, then
// tells them all in a shuffled order; kAsync keeps `width` in flight and tells a random one of
// them before asking the next.
enum class Schedule { kSerial, kBatch, kAsync };

std::string ScheduleName(Schedule schedule) {
  switch (schedule) {
    case Schedule::kSerial:
      return "Serial";
    case Schedule::kBatch:
      return "Batch";
    case Schedule::kAsync:
      return "Async";
  }
  return "?";
}

// Returns values, or nullopt for a failed trial.
using Evaluate = std::function<std::optional<std::vector<double>>(const Assignment&)>;

// Runs `trials` trials; the result is indexed by trial.
std::vector<Record> Drive(Sampler& sampler, int64_t trials, Schedule schedule, int width,
                          const Evaluate& evaluate, uint64_t order_seed = 1) {
  std::vector<Record> records(trials);
  std::mt19937_64 order(order_seed);
  std::vector<int64_t> in_flight;
  auto finish = [&](size_t slot) {
    const int64_t index = in_flight[slot];
    in_flight.erase(in_flight.begin() + slot);
    Record& r = records[index];
    std::optional<std::vector<double>> values = evaluate(r.assignment);
    r.state = values ? TrialState::kComplete : TrialState::kFailed;
    if (values) r.values = *values;
    sampler.Tell(index, r.assignment, r.state, r.values);
  };
  const int limit = schedule == Schedule::kSerial ? 1 : width;
  for (int64_t next = 0; next < trials || !in_flight.empty();) {
    if (next < trials && static_cast<int>(in_flight.size()) < limit) {
      records[next].assignment = sampler.Ask(next);
      in_flight.push_back(next++);
      continue;
    }
    if (schedule == Schedule::kBatch) {
      std::shuffle(in_flight.begin(), in_flight.end(), order);
      while (!in_flight.empty()) finish(0);
    } else {
      finish(order() % in_flight.size());
    }
  }
  return records;
}

std::vector<std::vector<double>> CompleteValues(const std::vector<Record>& records,
                                                std::vector<size_t>* which = nullptr) {
  std::vector<std::vector<double>> values;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].state != TrialState::kComplete) continue;
    values.push_back(records[i].values);
    if (which != nullptr) which->push_back(i);
  }
  return values;
}

const std::vector<Direction> kMinMin = {Direction::kMinimize, Direction::kMinimize};
const std::vector<Objective> kTwoObjectives = {{"f1", Direction::kMinimize},
                                               {"f2", Direction::kMinimize}};

// ---- ZDT1 / ZDT2 (Zitzler, Deb and Thiele 2000): 30 variables in [0, 1], g = 1 on the front.

constexpr int kZdtVariables = 30;

SearchSpace ZdtSpace() {
  SearchSpace space;
  for (int i = 0; i < kZdtVariables; ++i) space.genes.push_back({"x" + std::to_string(i)});
  return space;
}

double ZdtG(const Assignment& x) {
  double sum = 0;
  for (size_t i = 1; i < x.size(); ++i) sum += x[i];
  return 1 + 9 * sum / static_cast<double>(x.size() - 1);
}

Evaluate Zdt(int which) {
  return [which](const Assignment& x) -> std::optional<std::vector<double>> {
    const double g = ZdtG(x), ratio = x[0] / g;
    return std::vector<double>{x[0], g * (which == 1 ? 1 - std::sqrt(ratio) : 1 - ratio * ratio)};
  };
}

// The true fronts' hypervolumes for reference (1.1, 1.1): the box, 1.21, minus the area under
// the front over [0, 1]: 1/3 under f2 = 1 - sqrt(f1) (ZDT1), 2/3 under f2 = 1 - f1^2 (ZDT2).
constexpr double kZdtReference = 1.1;
constexpr double kZdt1TrueHv = 1.21 - 1.0 / 3;
constexpr double kZdt2TrueHv = 1.21 - 2.0 / 3;

struct FrontFigures {
  double hypervolume = 0;
  double worst_g_minus_1 = 0;  // distance of the front's worst point from the true front
  size_t front_size = 0;
};

FrontFigures MeasureZdtFront(const std::vector<Record>& records) {
  std::vector<size_t> which;
  const auto values = CompleteValues(records, &which);
  FrontFigures figures;
  figures.hypervolume = Hypervolume(values, {kZdtReference, kZdtReference}, kMinMin);
  for (size_t k : NondominatedIndices(values, kMinMin)) {
    figures.worst_g_minus_1 =
        std::max(figures.worst_g_minus_1, ZdtG(records[which[k]].assignment) - 1);
    ++figures.front_size;
  }
  return figures;
}

std::unique_ptr<Sampler> MakeSampler(SamplerKind kind, uint64_t seed, int population,
                                     SearchSpace space, std::vector<Objective> objectives) {
  SamplerOptions options;
  options.kind = kind;
  options.seed = seed;
  options.population_size = population;
  auto sampler = Sampler::Create(options, std::move(space), std::move(objectives));
  EXPECT_TRUE(sampler.ok()) << sampler.status().ToString();
  return std::move(sampler).value();
}

// 250 generations of 100: 25,000 evaluations, the budget of Deb et al. (2002).
constexpr int kZdtPopulation = 100;
constexpr int kZdtTrials = 250 * kZdtPopulation;

struct ZdtCase {
  int problem;
  Schedule schedule;
  double true_hv;
};

class ZdtTest : public testing::TestWithParam<ZdtCase> {};

TEST_P(ZdtTest, Nsga2ReachesAndCoversTheFront) {
  const ZdtCase c = GetParam();
  auto sampler = MakeSampler(SamplerKind::kNsga2, 1, kZdtPopulation, ZdtSpace(), kTwoObjectives);
  const auto records =
      Drive(*sampler, kZdtTrials, c.schedule, kZdtPopulation, Zdt(c.problem), /*order_seed=*/5);
  const FrontFigures f = MeasureZdtFront(records);
  std::printf(
      "ZDT%d %s: %d evaluations, front %zu points, max g-1 %.4f, HV %.4f of %.4f (%.2f%%)\n",
      c.problem, ScheduleName(c.schedule).c_str(), kZdtTrials, f.front_size, f.worst_g_minus_1,
      f.hypervolume, c.true_hv, 100 * f.hypervolume / c.true_hv);
  EXPECT_LT(f.worst_g_minus_1, 0.02);  // every front point within 0.02 of the true front in g
  EXPECT_GT(f.hypervolume, 0.99 * c.true_hv);
  EXPECT_GE(f.front_size, 100u);
}

// Batch (ask a generation, tell it in any order) proposes what serial does (checked below);
// asynchronous completion, the fleet's way, costs a selection per Ask, so only ZDT1 runs it.
INSTANTIATE_TEST_SUITE_P(Schedules, ZdtTest,
                         testing::Values(ZdtCase{1, Schedule::kSerial, kZdt1TrueHv},
                                         ZdtCase{1, Schedule::kBatch, kZdt1TrueHv},
                                         ZdtCase{1, Schedule::kAsync, kZdt1TrueHv},
                                         ZdtCase{2, Schedule::kSerial, kZdt2TrueHv},
                                         ZdtCase{2, Schedule::kBatch, kZdt2TrueHv}),
                         [](const testing::TestParamInfo<ZdtCase>& param_info) {
                           return "Zdt" + std::to_string(param_info.param.problem) +
                                  ScheduleName(param_info.param.schedule);
                         });

TEST(Nsga2, SerialAndBatchProposeAlike) {
  // A trial never breeds its own generation, so asking a generation at once and telling it in
  // any order proposes exactly what ask-one-tell-one does.
  auto serial = MakeSampler(SamplerKind::kNsga2, 4, 10, ZdtSpace(), kTwoObjectives);
  auto batch = MakeSampler(SamplerKind::kNsga2, 4, 10, ZdtSpace(), kTwoObjectives);
  const auto a = Drive(*serial, 300, Schedule::kSerial, 1, Zdt(1));
  const auto b = Drive(*batch, 300, Schedule::kBatch, 10, Zdt(1), 9);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i].assignment, b[i].assignment) << i;
}

TEST(Nsga2, BeatsRandomOnZdt1) {
  const int trials = 2000;
  auto nsga = MakeSampler(SamplerKind::kNsga2, 2, 40, ZdtSpace(), kTwoObjectives);
  auto random = MakeSampler(SamplerKind::kRandom, 2, 0, ZdtSpace(), kTwoObjectives);
  const double nsga_hv =
      MeasureZdtFront(Drive(*nsga, trials, Schedule::kAsync, 8, Zdt(1))).hypervolume;
  const double random_hv =
      MeasureZdtFront(Drive(*random, trials, Schedule::kAsync, 8, Zdt(1))).hypervolume;
  std::printf("ZDT1, %d trials: HV NSGA-II %.4f, random %.4f (true %.4f)\n", trials, nsga_hv,
              random_hv, kZdt1TrueHv);
  EXPECT_GT(nsga_hv, random_hv + 0.2);
}

// ---- A categorical problem shaped like per-layer datatype search: 28 layers, 6 formats each
// with a bit width and an error that shrinks 4x per bit, scaled by a per-layer sensitivity that
// spans e^-3 .. e^3. Objectives: total error (normalized to the all-2-bit error) and mean bits.

struct Toy {
  std::vector<double> bits = {2, 3, 4, 5, 6, 8};
  std::vector<std::vector<double>> error;  // [layer][choice]
  double worst = 0;
};

const Toy& ToyProblem() {
  static const Toy toy = [] {
    Toy t;
    std::mt19937_64 rng(2024);
    std::uniform_real_distribution<double> unit(0, 1);
    for (int layer = 0; layer < 28; ++layer) {
      const double sensitivity = std::exp(-3 + 6 * unit(rng));
      std::vector<double> row;
      for (double b : t.bits)
        row.push_back(sensitivity * std::pow(4.0, -b) * (0.7 + 0.6 * unit(rng)));
      t.worst += *std::max_element(row.begin(), row.end());
      t.error.push_back(row);
    }
    return t;
  }();
  return toy;
}

SearchSpace ToySpace() {
  SearchSpace space;
  for (int layer = 0; layer < 28; ++layer) {
    space.genes.push_back(
        {"layers." + std::to_string(layer), {"int2", "int3", "int4", "int5", "int6", "int8"}});
  }
  return space;
}

std::optional<std::vector<double>> ToyValues(const Assignment& a) {
  const Toy& toy = ToyProblem();
  double error = 0, bits = 0;
  for (size_t layer = 0; layer < a.size(); ++layer) {
    error += toy.error[layer][static_cast<size_t>(a[layer])];
    bits += toy.bits[static_cast<size_t>(a[layer])];
  }
  return std::vector<double>{error / toy.worst, bits / static_cast<double>(a.size())};
}

const std::vector<Objective> kToyObjectives = {{"error", Direction::kMinimize},
                                               {"bits_per_weight", Direction::kMinimize}};

// The front's supported points, for scale: for each trade-off weight w, every layer takes the
// format minimizing error + w * bits on its own (the problem is separable).
double SupportedFrontHypervolume(const std::vector<double>& reference) {
  const Toy& toy = ToyProblem();
  std::vector<std::vector<double>> front;
  for (double exponent = -12; exponent <= 2; exponent += 0.01) {
    const double weight = std::pow(10, exponent);
    Assignment a(toy.error.size());
    for (size_t layer = 0; layer < a.size(); ++layer) {
      double best = INFINITY;
      for (size_t c = 0; c < toy.bits.size(); ++c) {
        const double cost = toy.error[layer][c] / toy.worst + weight * toy.bits[c] / 28;
        if (cost < best) {
          best = cost;
          a[layer] = static_cast<double>(c);
        }
      }
    }
    front.push_back(*ToyValues(a));
  }
  return Hypervolume(front, reference, kMinMin);
}

TEST(Nsga2, BeatsRandomOnCategoricalLayers) {
  const std::vector<double> reference = {1.1, 8.5};
  double nsga_mean = 0, random_mean = 0;
  for (uint64_t seed : {1, 2, 3}) {
    auto nsga = MakeSampler(SamplerKind::kNsga2, seed, 20, ToySpace(), kToyObjectives);
    auto random = MakeSampler(SamplerKind::kRandom, seed, 0, ToySpace(), kToyObjectives);
    const auto a = Drive(*nsga, 200, Schedule::kAsync, 8, ToyValues, seed);
    const auto b = Drive(*random, 200, Schedule::kAsync, 8, ToyValues, seed);
    const double nsga_hv = Hypervolume(CompleteValues(a), reference, kMinMin);
    const double random_hv = Hypervolume(CompleteValues(b), reference, kMinMin);
    std::printf("layers seed %d: HV NSGA-II %.4f, random %.4f\n", static_cast<int>(seed), nsga_hv,
                random_hv);
    nsga_mean += nsga_hv / 3;
    random_mean += random_hv / 3;
  }
  std::printf(
      "layers, 200 trials, P 20, 8 in flight: mean HV NSGA-II %.4f, random %.4f; supported "
      "front %.4f\n",
      nsga_mean, random_mean, SupportedFrontHypervolume(reference));
  EXPECT_GT(nsga_mean, 1.04 * random_mean);  // measured: 1.09x
}

// ---- Determinism and restarts.

TEST(Sampler, SameSeedSameProposalsOtherSeedOthers) {
  for (SamplerKind kind : {SamplerKind::kNsga2, SamplerKind::kRandom}) {
    auto a = MakeSampler(kind, 7, 20, ToySpace(), kToyObjectives);
    auto b = MakeSampler(kind, 7, 20, ToySpace(), kToyObjectives);
    auto c = MakeSampler(kind, 8, 20, ToySpace(), kToyObjectives);
    const auto ra = Drive(*a, 120, Schedule::kAsync, 8, ToyValues, 3);
    const auto rb = Drive(*b, 120, Schedule::kAsync, 8, ToyValues, 3);
    const auto rc = Drive(*c, 120, Schedule::kAsync, 8, ToyValues, 3);
    int differing = 0;
    for (size_t i = 0; i < ra.size(); ++i) {
      EXPECT_EQ(ra[i].assignment, rb[i].assignment) << i;
      differing += ra[i].assignment != rc[i].assignment;
    }
    EXPECT_EQ(differing, 120);
    // Asking an index again repeats it.
    EXPECT_EQ(a->Ask(50), ra[50].assignment);
  }
}

// Runs a study with failures and trials in flight, stops after `asked` proposals, re-tells the
// record (in index order, running trials as kRunning) into a fresh sampler, and checks that the
// next proposals match those of the sampler that never stopped.
void CheckRestart(SearchSpace space, std::vector<Objective> objectives, const Evaluate& evaluate,
                  int population, int64_t asked) {
  SamplerOptions options;
  options.seed = 99;
  options.population_size = population;
  auto original = Sampler::Create(options, space, objectives).value();
  std::mt19937_64 order(17);
  std::map<int64_t, Record> record;
  std::vector<int64_t> in_flight;
  for (int64_t next = 0; next < asked;) {
    if (in_flight.size() < 8) {
      record[next].assignment = original->Ask(next);
      in_flight.push_back(next++);
      continue;
    }
    const size_t slot = order() % in_flight.size();
    const int64_t index = in_flight[slot];
    in_flight.erase(in_flight.begin() + slot);
    Record& r = record[index];
    auto values = evaluate(r.assignment);
    r.state = values && index % 7 != 3 ? TrialState::kComplete : TrialState::kFailed;
    if (values) r.values = *values;
    original->Tell(index, r.assignment, r.state, r.values);
  }
  auto restarted = Sampler::Create(options, space, objectives).value();
  for (const auto& [index, r] : record) restarted->Tell(index, r.assignment, r.state, r.values);
  for (int64_t index = asked; index < asked + 3; ++index) {
    EXPECT_EQ(restarted->Ask(index), original->Ask(index))
        << "after " << asked << ", index " << index;
  }
  EXPECT_EQ(restarted->Parents(asked / population), original->Parents(asked / population));
}

TEST(Sampler, RestartReproducesProposals) {
  for (int64_t asked : {5, 37, 64, 151}) {
    CheckRestart(ToySpace(), kToyObjectives, ToyValues, 20, asked);
    CheckRestart(ZdtSpace(), kTwoObjectives, Zdt(1), 10, asked);
  }
}

// ---- No repeats in categorical spaces; failed trials.

SearchSpace SmallSpace(const std::vector<int>& choice_counts) {
  SearchSpace space;
  for (size_t i = 0; i < choice_counts.size(); ++i) {
    Gene gene{"g" + std::to_string(i)};
    for (int c = 0; c < choice_counts[i]; ++c) gene.choices.push_back("c" + std::to_string(c));
    space.genes.push_back(gene);
  }
  return space;
}

std::optional<std::vector<double>> SmallValues(const Assignment& a) {
  double sum = 0, spread = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sum += a[i];
    spread += std::fabs(a[i] - static_cast<double>(i % 3));
  }
  if (static_cast<int>(sum) % 5 == 4) return std::nullopt;  // some fail
  return std::vector<double>{sum, spread};
}

TEST(Sampler, NoRepeatsUntilTheSpaceIsExhausted) {
  for (SamplerKind kind : {SamplerKind::kNsga2, SamplerKind::kRandom}) {
    for (const auto& counts :
         std::vector<std::vector<int>>{{2, 3, 2}, {3, 3, 3, 3, 3}, {1, 4, 1}}) {
      const SearchSpace space = SmallSpace(counts);
      const uint64_t size = CategoricalSpaceSize(space);
      auto sampler = MakeSampler(kind, 5, 4, space, kTwoObjectives);
      const auto records =
          Drive(*sampler, static_cast<int64_t>(size), Schedule::kAsync, 3, SmallValues);
      std::set<Assignment> distinct;
      for (const Record& r : records) distinct.insert(r.assignment);
      EXPECT_EQ(distinct.size(), size) << "space of " << size;
      // Exhausted: still a valid assignment, necessarily a repeat.
      const Assignment extra = sampler->Ask(static_cast<int64_t>(size));
      EXPECT_EQ(distinct.count(extra), 1u);
    }
  }
  EXPECT_EQ(CategoricalSpaceSize(SmallSpace({2, 3, 2})), 12u);
  EXPECT_EQ(CategoricalSpaceSize(ZdtSpace()), 0u);
  EXPECT_EQ(CategoricalSpaceSize(SmallSpace(std::vector<int>(70, 2))), UINT64_MAX);
}

TEST(Sampler, FailedTrialsAreNeitherRepeatedNorParents) {
  // Failed here: layer 0 at 2 bits, or a complete trial whose error is NaN (counted as failed).
  auto evaluate = [](const Assignment& a) -> std::optional<std::vector<double>> {
    if (a[0] == 0) return std::nullopt;
    auto values = ToyValues(a);
    if (a[1] == 5) (*values)[0] = std::nan("");
    return values;
  };
  auto sampler = MakeSampler(SamplerKind::kNsga2, 3, 20, ToySpace(), kToyObjectives);
  std::vector<Record> records(300);
  std::set<Assignment> seen;
  size_t complete = 0;
  for (int64_t i = 0; i < 300; ++i) {
    Record& r = records[i];
    r.assignment = sampler->Ask(i);
    EXPECT_TRUE(seen.insert(r.assignment).second) << "trial " << i << " repeats";
    auto values = evaluate(r.assignment);
    r.state = values ? TrialState::kComplete : TrialState::kFailed;
    if (values) r.values = *values;
    sampler->Tell(i, r.assignment, TrialState::kRunning);  // as recorded at dispatch
    sampler->Tell(i, r.assignment, r.state, r.values);
    complete += r.state == TrialState::kComplete && !std::isnan(r.values[0]);
    if (i % 20 == 19) {
      const auto parents = sampler->Parents(i / 20 + 1);
      EXPECT_EQ(parents.size(), std::min<size_t>(complete, 20));
      for (int64_t p : parents) {
        EXPECT_NE(records[p].assignment[0], 0) << "failed trial " << p << " is a parent";
        EXPECT_NE(records[p].assignment[1], 5) << "NaN trial " << p << " is a parent";
      }
    }
  }
}

TEST(Sampler, RandomUntilAPopulationIsComplete) {
  auto sampler = MakeSampler(SamplerKind::kNsga2, 3, 10, ZdtSpace(), kTwoObjectives);
  for (int64_t i = 0; i < 10; ++i) {
    const Assignment a = sampler->Ask(i);
    if (i < 6) sampler->Tell(i, a, TrialState::kComplete, *Zdt(1)(a));
  }
  EXPECT_EQ(sampler->Parents(1).size(), 6u);  // too few: generation 1 is drawn at random
  EXPECT_TRUE(sampler->Parents(0).empty());
  // A complete trial told again as failed leaves the parents.
  sampler->Tell(2, sampler->Ask(2), TrialState::kFailed);
  EXPECT_EQ(sampler->Parents(1), (std::vector<int64_t>{0, 1, 3, 4, 5}));
  // Generation 1's own trials do not breed generation 1.
  for (int64_t i = 10; i < 25; ++i) {
    const Assignment a = sampler->Ask(i);
    sampler->Tell(i, a, TrialState::kComplete, *Zdt(1)(a));
  }
  EXPECT_EQ(sampler->Parents(1).size(), 5u);
  EXPECT_EQ(sampler->Parents(2).size(), 10u);
  EXPECT_EQ(sampler->Parents(1000000).size(), 10u);
  EXPECT_EQ(sampler->Parents(INT64_MAX).size(), 10u);
}

// ---- Options.

TEST(Sampler, PopulationSizeRule) {
  auto population = [](int64_t trials, int explicit_size) {
    SamplerOptions options;
    options.trials = trials;
    options.population_size = explicit_size;
    return Sampler::Create(options, ZdtSpace(), kTwoObjectives).value()->population_size();
  };
  EXPECT_EQ(population(0, 0), 20);
  EXPECT_EQ(population(200, 0), 20);
  EXPECT_EQ(population(30, 0), 8);
  EXPECT_EQ(population(100000, 0), 50);
  EXPECT_EQ(population(200, 64), 64);
}

TEST(Sampler, RefusesBadOptionsNamingTheField) {
  struct Case {
    std::function<void(SamplerOptions&, SearchSpace&, std::vector<Objective>&)> spoil;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto&, SearchSpace& s, auto&) { s.genes.clear(); }, "space.genes"},
      {[](auto&, SearchSpace& s, auto&) { s.genes.resize(100001, s.genes[0]); }, "space.genes"},
      {[](auto&, SearchSpace& s, auto&) { s.genes[1].name = ""; }, "space.genes[1].name"},
      {[](auto&, SearchSpace& s, auto&) { s.genes[2].name = "g0"; }, "space.genes[2].name"},
      {[](auto&, SearchSpace& s, auto&) {
         s.genes[0].choices = {"a", "a"};
       },
       "space.genes[0].choices"},
      {[](auto&, SearchSpace& s, auto&) { s.genes[3].lower = 2; }, "space.genes[3].lower"},
      {[](auto&, SearchSpace& s, auto&) { s.genes[3].upper = INFINITY; }, "space.genes[3].upper"},
      {[](auto&, SearchSpace& s, auto&) { s.genes[3].lower = NAN; }, "space.genes[3].lower"},
      {[](auto&, auto&, std::vector<Objective>& o) { o.clear(); }, "objectives"},
      {[](auto&, auto&, std::vector<Objective>& o) { o[1].metric = ""; }, "objectives[1].metric"},
      {[](auto&, auto&, std::vector<Objective>& o) { o[1].metric = o[0].metric; },
       "objectives[1].metric"},
      {[](auto&, auto&, std::vector<Objective>& o) { o.resize(17, o[0]); }, "objectives"},
      {[](SamplerOptions& o, auto&, auto&) { o.population_size = -1; }, "options.population_size"},
      {[](SamplerOptions& o, auto&, auto&) { o.population_size = 1; }, "options.population_size"},
      {[](SamplerOptions& o, auto&, auto&) { o.population_size = 10001; },
       "options.population_size"},
      {[](SamplerOptions& o, auto&, auto&) { o.trials = -5; }, "options.trials"},
      {[](SamplerOptions& o, auto&, auto&) { o.crossover_prob = 1.5; }, "options.crossover_prob"},
      {[](SamplerOptions& o, auto&, auto&) { o.crossover_prob = NAN; }, "options.crossover_prob"},
      {[](SamplerOptions& o, auto&, auto&) { o.mutation_prob = 2; }, "options.mutation_prob"},
      {[](SamplerOptions& o, auto&, auto&) { o.mutation_prob = NAN; }, "options.mutation_prob"},
      {[](SamplerOptions& o, auto&, auto&) { o.sbx_eta = -1; }, "options.sbx_eta"},
      {[](SamplerOptions& o, auto&, auto&) { o.mutation_eta = 1e9; }, "options.mutation_eta"},
      {[](SamplerOptions& o, auto&, auto&) { o.kind = static_cast<SamplerKind>(7); },
       "options.kind"},
  };
  for (const Case& c : cases) {
    SamplerOptions options;
    SearchSpace space = SmallSpace({3, 2, 4});
    space.genes.push_back({"rate", {}, 0.0, 1.0});
    std::vector<Objective> objectives = kToyObjectives;
    c.spoil(options, space, objectives);
    auto sampler = Sampler::Create(options, space, objectives);
    ASSERT_FALSE(sampler.ok()) << c.field;
    EXPECT_EQ(sampler.status().code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(sampler.status().message().rfind(c.field, 0), 0u)
        << "want '" << c.field << "', got: " << sampler.status().message();
  }
  // The edges that are fine.
  SamplerOptions options;
  options.mutation_prob = 0;
  options.crossover_prob = 1;
  SearchSpace space = SmallSpace({1});
  EXPECT_TRUE(Sampler::Create(options, space, kToyObjectives).ok());
}

TEST(Sampler, IgnoresMalformedTells) {
  auto sampler = MakeSampler(SamplerKind::kNsga2, 1, 2, SmallSpace({3, 3}), kTwoObjectives);
  sampler->Tell(-1, {0, 0}, TrialState::kComplete, {1, 1});
  sampler->Tell(0, {0}, TrialState::kComplete, {1, 1});            // wrong length: ignored
  sampler->Tell(1, {7, -2}, TrialState::kComplete, {1, 1});        // clamped to {2, 0}
  sampler->Tell(2, {1, 1}, TrialState::kComplete, {1});            // one value: failed
  sampler->Tell(3, {1, NAN}, TrialState::kComplete, {1, 1});       // failed
  sampler->Tell(4, {2, 2}, TrialState::kComplete, {1, INFINITY});  // failed
  EXPECT_EQ(sampler->Parents(1), (std::vector<int64_t>{1}));
  EXPECT_EQ(sampler->Ask(1), (Assignment{2, 0}));
}

}  // namespace
}  // namespace qlab::search
