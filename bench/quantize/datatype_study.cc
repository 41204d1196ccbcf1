// datatype_study: quantises the same synthetic Student-t(nu) weights with every registry datatype
// and prints, as Markdown, (1) a table of MSE / SQNR / KL / bits per weight / hw_cost at group
// 128 (and at the MX/NV formats' own block sizes), (2) the pairwise MSE ordering of the formats
// the RaZeR, BitMoD and Student-Float papers compare, checked over several seeds, and (3) the
// Pareto sets over (bits per weight, MSE) and (hw_cost, MSE). bench/results/datatypes-student-t.md
// records one run with the discussion.
//
//   datatype_study [--nu 5] [--rows 512] [--cols 4096] [--seeds 3]
//   datatype_study --hw-cost-table    (the per-datatype table of docs/hardware-cost.md)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "evaluators/datatypes/evaluate.h"
#include "evaluators/datatypes/hw_cost.h"
#include "evaluators/datatypes/registry.h"
#include "evaluators/datatypes/synthetic.h"

namespace qlab::bench {
namespace {

using namespace qlab::datatypes;

struct Row {
  std::string name;
  int64_t group = 0;
  double bits = 0, cost = 0;
  std::vector<double> mse;  // per seed
  double sqnr_db = 0, kl = 0;
  double MeanMse() const {
    double s = 0;
    for (double m : mse) s += m;
    return s / mse.size();
  }
};

// Non-dominated rows when minimising (x(row), mean MSE).
template <typename X>
std::vector<const Row*> Pareto(const std::vector<Row>& rows, X x) {
  std::vector<const Row*> front;
  for (const Row& a : rows) {
    bool dominated = false;
    for (const Row& b : rows) {
      if (&a == &b) continue;
      const bool no_worse = x(b) <= x(a) && b.MeanMse() <= a.MeanMse();
      const bool better = x(b) < x(a) || b.MeanMse() < a.MeanMse();
      if (no_worse && better) dominated = true;
    }
    if (!dominated) front.push_back(&a);
  }
  std::sort(front.begin(), front.end(), [&](const Row* p, const Row* q) { return x(*p) < x(*q); });
  return front;
}

int PrintHwCostTable() {
  std::printf("| datatype | operand | LUT | mult | exp/align | decoder | SV | zero | scale/g | "
              "variable | hw_cost |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int i = 0; i < kNumDatatypes; ++i) {
    const Quantizer q = Quantizer::Create(static_cast<Datatype>(i), {}).value();
    const HardwareCost c = EstimateHardwareCost(q, q.traits().default_group_size);
    char operand[32];
    if (c.float_operand) {
      std::snprintf(operand, sizeof(operand), "FP s%de%d", c.operand_sig_bits, c.operand_exp_bits);
    } else {
      std::snprintf(operand, sizeof(operand), "INT %d", c.operand_sig_bits);
    }
    std::printf("| %s | %s | %s | %.0f | %.1f | %.1f | %.1f | %.0f | %.2f | %.1f | %.4f |\n",
                q.traits().name, operand, c.lut_decoder ? "yes" : "", c.multiplier_fae,
                c.exponent_fae, c.decoder_fae, c.special_value_fae, c.zero_point_fae,
                c.scale_fae, c.total_fae - c.fixed_fae, c.relative);
  }
  return 0;
}

int Main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--hw-cost-table") return PrintHwCostTable();
  double nu = 5;
  int64_t rows = 512, cols = 4096;
  int seeds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--nu") nu = std::atof(argv[i + 1]);
    else if (flag == "--rows") rows = std::atoll(argv[i + 1]);
    else if (flag == "--cols") cols = std::atoll(argv[i + 1]);
    else if (flag == "--seeds") seeds = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::vector<std::vector<float>> tensors;
  for (int s = 1; s <= seeds; ++s) {
    SyntheticSpec spec;
    spec.distribution = Distribution::kStudentT;
    spec.nu = nu;
    spec.rows = rows;
    spec.cols = cols;
    spec.seed = static_cast<uint64_t>(s);
    tensors.push_back(GenerateSynthetic(spec).value());
  }
  std::vector<Row> table;
  for (int i = 0; i < kNumDatatypes; ++i) {
    const DatatypeTraits& t = GetTraits(static_cast<Datatype>(i));
    std::vector<int64_t> groups = {128};
    if (t.default_group_size != 128 && t.family != Family::kPassthrough) {
      groups.push_back(t.default_group_size);
    }
    for (int64_t g : groups) {
      QuantizerOptions options;
      options.group_size = g;
      const Quantizer q = Quantizer::Create(t.type, options).value();
      Row row;
      row.name = t.name;
      row.group = t.family == Family::kPassthrough ? 0 : g;
      for (const std::vector<float>& w : tensors) {
        QuantizationReport r = EvaluateQuantization(q, w.data(), rows, cols).value();
        row.mse.push_back(r.mse);
        row.sqnr_db += r.sqnr_db / seeds;
        row.kl += r.kl / seeds;
        row.bits = r.bits_per_weight;
      }
      row.cost = EstimateHardwareCost(q, g).relative;
      table.push_back(row);
    }
  }
  std::sort(table.begin(), table.end(),
            [](const Row& a, const Row& b) { return a.MeanMse() < b.MeanMse(); });

  std::printf("Student-t(nu=%g) weights [%lld, %lld], %d seeds, absmax scales (RTN), mean over "
              "seeds.\n\n",
              nu, static_cast<long long>(rows), static_cast<long long>(cols), seeds);
  std::printf("| datatype | group | bits/weight | hw_cost | MSE | SQNR dB | KL nats |\n"
              "|---|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& r : table) {
    std::printf("| %s | %s | %.4f | %.4f | %.5g | %.2f | %.4f |\n", r.name.c_str(),
                r.group == 0 ? "-" : std::to_string(r.group).c_str(), r.bits, r.cost,
                r.MeanMse(), r.sqnr_db, r.kl);
  }

  // The papers' comparison set at g128: pairwise orderings, with the seed agreement.
  const std::vector<std::string> set = {"int4_asym", "e2m1",      "nf4",       "sf4",
                                        "e2m1_sr",   "e2m1_sp",   "razer_fp4", "bitmod_fp4"};
  std::map<std::string, const Row*> g128;
  for (const Row& r : table) {
    if (r.group == 128) g128[r.name] = &r;
  }
  std::printf("\nPairwise at g128 (row has lower MSE than column on k of %d seeds):\n\n| |",
              seeds);
  for (const std::string& c : set) std::printf(" %s |", c.c_str());
  std::printf("\n|---|");
  for (size_t i = 0; i < set.size(); ++i) std::printf("---:|");
  std::printf("\n");
  for (const std::string& a : set) {
    std::printf("| %s |", a.c_str());
    for (const std::string& b : set) {
      if (a == b) {
        std::printf(" - |");
        continue;
      }
      int wins = 0;
      for (int s = 0; s < seeds; ++s) wins += g128[a]->mse[s] < g128[b]->mse[s];
      std::printf(" %d |", wins);
    }
    std::printf("\n");
  }

  auto print_front = [&](const char* title, auto x, const char* xname) {
    std::printf("\nPareto set, %s vs MSE (all rows above):\n\n| datatype | group | %s | MSE |\n"
                "|---|---:|---:|---:|\n",
                title, xname);
    for (const Row* r : Pareto(table, x)) {
      std::printf("| %s | %s | %.4f | %.5g |\n", r->name.c_str(),
                  r->group == 0 ? "-" : std::to_string(r->group).c_str(), x(*r), r->MeanMse());
    }
  };
  print_front("bits per weight", [](const Row& r) { return r.bits; }, "bits/weight");
  print_front("hw_cost", [](const Row& r) { return r.cost; }, "hw_cost");
  // Restricted to about 4 bits per weight, where the papers compete.
  std::vector<Row> four;
  for (const Row& r : table) {
    if (r.bits >= 4 && r.bits <= 4.5) four.push_back(r);
  }
  std::printf("\nPareto set among 4.0-4.5 bits/weight, hw_cost vs MSE:\n\n"
              "| datatype | group | hw_cost | bits/weight | MSE |\n|---|---:|---:|---:|---:|\n");
  for (const Row* r : Pareto(four, [](const Row& r) { return r.cost; })) {
    std::printf("| %s | %lld | %.4f | %.4f | %.5g |\n", r->name.c_str(),
                static_cast<long long>(r->group), r->cost, r->bits, r->MeanMse());
  }
  return 0;
}

}  // namespace
}  // namespace qlab::bench

int main(int argc, char** argv) { return qlab::bench::Main(argc, argv); }
