// The latency dataset a predictor learns from: rows as `qlab dataset export` writes them (or
// ResultService.ExportDataset streams them), grouped into domains, merged and split.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "evaluators/predictor/predictor_params.h"

namespace qlab::predictor {

// One measured (architecture, device, batch). Other export columns are not needed here.
struct LatencyRow {
  std::string arch_key;  // "nb201:<index>" | "fbnet:<codes>"
  std::string device;    // as stored, e.g. "cpu:AMD EPYC"
  int batch = 1;
  double median_us = 0;
};

// Parses the text of a `qlab dataset export` file: CSV (header naming at least arch_key,
// device, batch, median_us, in any order) or JSON (an array of objects with those keys).
// INVALID_ARGUMENT naming the line or element for anything malformed, including a median that
// is not a positive finite number or a batch outside [1, 2^20].
StatusOr<std::vector<LatencyRow>> ParseDatasetExport(const std::string& text);
// Reads and parses a file. NOT_FOUND when it cannot be opened.
StatusOr<std::vector<LatencyRow>> ReadDatasetFile(const std::string& path);

struct Domain {
  std::string device;
  int batch = 1;
  bool operator==(const Domain&) const = default;
};

// One architecture's latency in one domain: the median of its rows' medians.
struct Sample {
  std::string arch_key;
  double latency_us = 0;
};

// What a predictor job trains and scores on.
struct PredictorTask {
  Domain target;
  std::vector<Sample> target_train;  // target_samples architectures
  std::vector<Sample> target_test;   // the held-out architectures scored
  std::vector<Domain> sources;       // sorted by (device, batch)
  std::vector<std::vector<Sample>> source_samples;  // per source, sorted by arch_key
};

// Fisher-Yates with an explicit draw, so that one seed gives one order on every standard
// library (std::shuffle's algorithm is unspecified): the target split and the minibatch order.
template <typename T>
void SeededShuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

// Keeps the rows of `params.space`, resolves the target device glob (exactly one device must
// match: INVALID_ARGUMENT listing the dataset's devices otherwise), selects the source domains,
// merges repeated measurements and splits the target's architectures with `params.seed`.
// FAILED_PRECONDITION when the target domain has too few architectures for target_samples plus
// one test architecture, or when source_devices is given and no domain matches it.
StatusOr<PredictorTask> BuildTask(const PredictorParams& params, const std::vector<LatencyRow>& rows);

}  // namespace qlab::predictor
