// qlab-accuracy-sweep SWEEP.yaml [--json-out FILE] [--set key=value ...]
//
// Expands a sweep file (name, kind: accuracy, params, axes; DESIGN.md section 10) into its
// cartesian product and runs every point with RunAccuracyJob in this process, one after the
// other, then prints a Markdown table (datatype, group size, bits/weight, perplexity, increase
// over the FP32 reference, tokens/s, wall time per job) and the sweep's total wall time.
// `--set key=value` overrides a fixed param (value parsed as JSON, else taken as a string).
// Built without yaml-cpp (a GPU machine with only LibTorch), it reads JSON sweep files.
#ifdef QLAB_HAVE_YAML
#include <yaml-cpp/yaml.h>
#endif

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/heap_tuning.h"
#include "common/job_output.h"
#include "evaluators/accuracy/accuracy_job.h"

namespace {

using nlohmann::json;

#ifdef QLAB_HAVE_YAML
json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const YAML::Node& item : node) out.push_back(YamlToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = node.as<std::string>();
      if (node.Tag() == "!") return s;  // quoted
      try {
        return json::parse(s);  // numbers, true/false, null
      } catch (const json::exception&) {
        return s;
      }
    }
    default:
      return nullptr;
  }
}
#endif

// The cartesian product of the axes, in file order with the last axis varying fastest.
std::vector<json> Expand(const json& params, const json& axes) {
  std::vector<json> points = {params};
  for (auto it = axes.begin(); it != axes.end(); ++it) {
    std::vector<json> next;
    for (const json& p : points) {
      for (const json& v : it.value()) {
        json q = p;
        q[it.key()] = v;
        next.push_back(q);
      }
    }
    points = std::move(next);
  }
  return points;
}

}  // namespace

int main(int argc, char** argv) {
  qlab::KeepLargeBuffersInHeap();  // evaluators allocate tens of MB per operator
  if (argc < 2) {
    std::cerr << "usage: qlab-accuracy-sweep SWEEP.yaml [--json-out FILE] [--set key=value]...\n";
    return 2;
  }
  json sweep;
  try {
#ifdef QLAB_HAVE_YAML
    sweep = YamlToJson(YAML::LoadFile(argv[1]));
#else
    std::ifstream in(argv[1]);
    if (!in) throw std::runtime_error("cannot open the file");
    sweep = json::parse(in);
#endif
  } catch (const std::exception& e) {
    std::cerr << "cannot read " << argv[1] << ": " << e.what() << "\n";
    return 2;
  }
  std::string json_out;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--json-out") {
      json_out = value;
    } else if (flag == "--set" && value.find('=') != std::string::npos) {
      const std::string key = value.substr(0, value.find('='));
      const std::string v = value.substr(value.find('=') + 1);
      try {
        sweep["params"][key] = json::parse(v);
      } catch (const json::exception&) {
        sweep["params"][key] = v;
      }
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (sweep.value("kind", "") != "accuracy") {
    std::cerr << argv[1] << ": kind must be accuracy\n";
    return 2;
  }
  const std::vector<json> points = Expand(sweep["params"], sweep.value("axes", json::object()));
  for (const json& p : points) {
    const qlab::Status s = qlab::ValidateAccuracyParams(p);
    if (!s.ok()) {
      std::cerr << "bad point " << p.dump() << ": " << s.ToString() << "\n";
      return 2;
    }
  }
  std::fprintf(stderr, "%s: %zu jobs\n", sweep.value("name", "?").c_str(), points.size());

  json results = json::array();
  const auto sweep_start = std::chrono::steady_clock::now();
  int failed = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    qlab::JobContext context;
    const auto start = std::chrono::steady_clock::now();
    auto out = qlab::RunAccuracyJob(points[i], context);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    json row = {{"params", points[i]}, {"seconds", seconds}};
    if (!out.ok()) {
      ++failed;
      row["error"] = out.status().ToString();
      std::fprintf(stderr, "[%zu/%zu] %s: %s\n", i + 1, points.size(),
                   points[i].value("datatype", "?").c_str(), out.status().ToString().c_str());
    } else {
      for (const qlab::Metric& m : out->metrics) {
        row["metrics"][m.name] = m.value;
        if (m.stderr_value > 0) row["stderr"][m.name] = m.stderr_value;
      }
      std::fprintf(stderr, "[%zu/%zu] %-12s g%-4s ppl %.3f (ref %.3f) %.1f s\n", i + 1,
                   points.size(), points[i].value("datatype", "?").c_str(),
                   points[i].contains("group_size") ? points[i]["group_size"].dump().c_str() : "-",
                   row["metrics"]["perplexity"].get<double>(),
                   row["metrics"]["perplexity_ref"].get<double>(), seconds);
    }
    results.push_back(row);
  }
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sweep_start).count();

  std::printf(
      "| datatype | group | bits/weight | perplexity | vs FP32 | ±2 SE | weight SQNR dB | "
      "tokens/s | job s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const json& r : results) {
    const json& p = r["params"];
    if (!r.contains("metrics")) {
      std::printf("| %s | %s | failed: %s |\n", p.value("datatype", "?").c_str(),
                  p.contains("group_size") ? p["group_size"].dump().c_str() : "-",
                  r["error"].get<std::string>().c_str());
      continue;
    }
    const json& m = r["metrics"];
    const double ppl = m["perplexity"], ref = m["perplexity_ref"];
    // The paired standard error of the NLL increase is, to first order, that of ppl / ref - 1.
    const double se = r.contains("stderr") ? r["stderr"].value("nll_increase", 0.0) : 0.0;
    std::printf("| %s | %s | %.3f | %.3f | %+.2f%% | %.2f%% | %.1f | %.0f | %.1f |\n",
                p["datatype"].is_string() ? p["datatype"].get<std::string>().c_str()
                                          : p["datatype"].dump().c_str(),
                p.contains("group_size") ? p["group_size"].dump().c_str() : "-",
                m["bits_per_weight"].get<double>(), ppl, 100.0 * (ppl / ref - 1.0),
                200.0 * se * ppl / ref,
                // A lossless format has no SQNR (the job reports zero_weight_error instead).
                m.value("weight_sqnr_db", INFINITY), m["tokens_per_s"].get<double>(),
                r["seconds"].get<double>());
  }
  if (!results.empty() && results[0].contains("metrics")) {
    std::printf("\nFP32 reference perplexity: %.3f (%g scored tokens, context %g)\n",
                results[0]["metrics"]["perplexity_ref"].get<double>(),
                results[0]["metrics"]["scored_tokens"].get<double>(),
                results[0]["metrics"]["context"].get<double>());
  }
  std::printf("%zu jobs, %d failed, %.1f s wall in all\n", points.size(), failed, total);
  if (!json_out.empty()) {
    std::ofstream(json_out)
        << json({{"sweep", sweep}, {"results", results}, {"total_seconds", total}}).dump(2) << "\n";
  }
  return failed == 0 ? 0 : 1;
}
