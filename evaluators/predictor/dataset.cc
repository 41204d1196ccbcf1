#include "evaluators/predictor/dataset.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/glob.h"
#include "common/text_format.h"
#include "evaluators/latency/sample_stats.h"

namespace qlab::predictor {
namespace {

Status CheckMedian(double median, const std::string& where) {
  if (!std::isfinite(median) || median <= 0) {
    return Status::InvalidArgument(where + ": median_us must be a positive number");
  }
  return Status::Ok();
}

// The batch of a row from its decimal text, in either format: an integer in [1, 2^20].
StatusOr<int> CheckBatch(const std::string& text, const std::string& where) {
  char* end = nullptr;
  const long b = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || b < 1 || b > 1 << 20) {
    return Status::InvalidArgument(where + ": batch must be a positive integer, got '" + text +
                                   "'");
  }
  return static_cast<int>(b);
}

StatusOr<std::vector<LatencyRow>> ParseJsonExport(const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array()) {
    return Status::InvalidArgument("dataset: not a JSON array of rows");
  }
  std::vector<LatencyRow> rows;
  rows.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const auto& o = doc[i];
    const std::string where = "dataset[" + std::to_string(i) + "]";
    if (!o.is_object() || !o.contains("arch_key") || !o["arch_key"].is_string() ||
        !o.contains("device") || !o["device"].is_string() || !o.contains("batch") ||
        !o["batch"].is_number_integer() || !o.contains("median_us") || !o["median_us"].is_number()) {
      return Status::InvalidArgument(
          where + ": needs arch_key and device (strings), batch (integer) and median_us (number)");
    }
    // The integer's decimal text: the same check, bound and message as a CSV field.
    ASSIGN_OR_RETURN(const int batch, CheckBatch(o["batch"].dump(), where));
    LatencyRow row{o["arch_key"].get<std::string>(), o["device"].get<std::string>(), batch,
                   o["median_us"].get<double>()};
    RETURN_IF_ERROR(CheckMedian(row.median_us, where));
    rows.push_back(std::move(row));
  }
  return rows;
}

StatusOr<std::vector<LatencyRow>> ParseCsvExport(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::string error;
  if (!ParseCsv(text, records, error)) return Status::InvalidArgument("dataset: " + error);
  if (records.empty()) return Status::InvalidArgument("dataset: empty file");
  const auto& header = records[0];
  auto column = [&](const char* name) -> int {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int arch_key = column("arch_key"), device = column("device"), batch = column("batch"),
            median = column("median_us");
  if (arch_key < 0 || device < 0 || batch < 0 || median < 0) {
    return Status::InvalidArgument(
        "dataset: the CSV header must name arch_key, device, batch and median_us (as `qlab "
        "dataset export` writes them)");
  }
  const size_t needed = static_cast<size_t>(std::max({arch_key, device, batch, median})) + 1;
  std::vector<LatencyRow> rows;
  rows.reserve(records.size() - 1);
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& f = records[r];
    const std::string where = "dataset record " + std::to_string(r + 1);
    if (f.size() < needed) return Status::InvalidArgument(where + ": too few fields");
    LatencyRow row;
    row.arch_key = f[arch_key];
    row.device = f[device];
    ASSIGN_OR_RETURN(row.batch, CheckBatch(f[batch], where));
    char* end = nullptr;
    row.median_us = std::strtod(f[median].c_str(), &end);
    if (f[median].empty() || *end != '\0') {
      return Status::InvalidArgument(where + ": median_us is not a number: '" + f[median] + "'");
    }
    RETURN_IF_ERROR(CheckMedian(row.median_us, where));
    rows.push_back(std::move(row));
  }
  return rows;
}

// One sample per architecture, sorted by arch_key.
std::vector<Sample> Merge(const std::map<std::string, std::vector<double>>& by_arch) {
  std::vector<Sample> out;
  out.reserve(by_arch.size());
  for (const auto& [key, medians] : by_arch) {
    std::vector<double> sorted = medians;
    std::sort(sorted.begin(), sorted.end());
    out.push_back({key, latency::QuantileOfSorted(sorted, 0.5)});
  }
  return out;
}

}  // namespace

StatusOr<std::vector<LatencyRow>> ParseDatasetExport(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') return ParseJsonExport(text);
  return ParseCsvExport(text);
}

StatusOr<std::vector<LatencyRow>> ReadDatasetFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("dataset_file: cannot open '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  auto rows = ParseDatasetExport(text.str());
  if (!rows.ok()) return Status::InvalidArgument(path + ": " + rows.status().message());
  return rows;
}

StatusOr<PredictorTask> BuildTask(const PredictorParams& params,
                                  const std::vector<LatencyRow>& rows) {
  const std::string prefix = std::string(SpaceName(params.space)) + ":";
  // (device, batch) -> arch_key -> medians, only rows of the requested space.
  std::map<std::pair<std::string, int>, std::map<std::string, std::vector<double>>> domains;
  for (const auto& row : rows) {
    if (row.arch_key.rfind(prefix, 0) != 0) continue;
    domains[{row.device, row.batch}][row.arch_key].push_back(row.median_us);
  }
  std::vector<std::string> devices;
  for (const auto& [domain, archs] : domains) {
    if (devices.empty() || devices.back() != domain.first) devices.push_back(domain.first);
  }
  auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
    return s.empty() ? std::string("none") : s;
  };

  std::vector<std::string> target_matches;
  for (const auto& d : devices) {
    if (GlobMatch(params.target_device, d)) target_matches.push_back(d);
  }
  if (target_matches.size() != 1) {
    return Status::InvalidArgument(
        "target_device: '" + params.target_device + "' matches " +
        (target_matches.empty() ? std::string("no device") : list(target_matches)) + " of the " +
        std::string(SpaceName(params.space)) + " dataset; it must match exactly one (devices: " +
        list(devices) + ")");
  }
  PredictorTask task;
  task.target = {target_matches[0], params.target_batch};
  auto target_it = domains.find({task.target.device, task.target.batch});
  const size_t available = target_it == domains.end() ? 0 : target_it->second.size();
  if (available < static_cast<size_t>(params.target_samples) + 1) {
    return Status::FailedPrecondition(
        "target_samples: the target domain (" + task.target.device + ", batch " +
        std::to_string(task.target.batch) + ") has " + std::to_string(available) +
        " architectures; target_samples " + std::to_string(params.target_samples) +
        " needs at least one more to test on");
  }

  std::vector<Sample> target = Merge(target_it->second);
  std::mt19937_64 rng(params.seed);
  SeededShuffle(target, rng);
  task.target_train.assign(target.begin(), target.begin() + params.target_samples);
  size_t test_end = target.size();
  if (params.test_samples > 0) {
    test_end = std::min(test_end, static_cast<size_t>(params.target_samples + params.test_samples));
  }
  task.target_test.assign(target.begin() + params.target_samples, target.begin() + test_end);

  for (const auto& [domain, archs] : domains) {
    const Domain d{domain.first, domain.second};
    if (d == task.target) continue;
    const bool device_ok = std::any_of(params.source_devices.begin(), params.source_devices.end(),
                                       [&](const std::string& g) { return GlobMatch(g, d.device); });
    const bool batch_ok = params.source_batches.empty() ||
                          std::find(params.source_batches.begin(), params.source_batches.end(),
                                    d.batch) != params.source_batches.end();
    if (!device_ok || !batch_ok) continue;
    task.sources.push_back(d);
    task.source_samples.push_back(Merge(archs));
  }
  if (!params.source_devices.empty() && task.sources.empty()) {
    return Status::FailedPrecondition(
        "source_devices: no (device, batch) of the dataset other than the target matches " +
        list(params.source_devices) + " (devices: " + list(devices) + ")");
  }
  return task;
}

}  // namespace qlab::predictor
