// qlab study NAME, and the part of `qlab submit` that prepares a study's search block.
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <map>
#include <thread>

#include "cli/commands.h"
#include "cli/table.h"

#ifdef QLAB_CLI_MODEL_SHAPES
#include "evaluators/accuracy/checkpoint.h"
#endif

namespace qlab::cli {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

// The keys a `per: tensor` or `per: layer` map needs, read from the model's header or config.
StatusOr<std::vector<std::string>> ModelGenes(const std::string& model, const std::string& per) {
#ifdef QLAB_CLI_MODEL_SHAPES
  ASSIGN_OR_RETURN(const accuracy::ModelConfig config, accuracy::ReadModelShapes(model));
  std::vector<std::string> genes;
  if (per == "layer") {
    for (int64_t l = 0; l < config.n_layers; ++l) {
      genes.push_back("model.layers." + std::to_string(l) + ".*");
    }
    return genes;
  }
  for (const accuracy::TensorSpec& spec : accuracy::RequiredTensors(config)) {
    if (spec.role == accuracy::TensorRole::kBlockLinear) genes.push_back(spec.name);
  }
  return genes;
#else
  (void)model;
  (void)per;
  return Status::FailedPrecondition(
      "this qlab was built without the accuracy evaluator's model reader: list the genes "
      "(tensor names) in search.space yourself");
#endif
}

// Summary of one assignment value: a scalar as is, a map as its choices counted.
std::string AssignmentText(const json& value) {
  if (!value.is_object()) return value.is_string() ? value.get<std::string>() : value.dump();
  std::map<std::string, int> counts;
  for (const auto& [gene, choice] : value.items()) {
    counts[choice.is_string() ? choice.get<std::string>() : choice.dump()]++;
  }
  std::string text;
  for (const auto& [choice, n] : counts) {
    text += (text.empty() ? "" : " ") + choice + "x" + std::to_string(n);
  }
  return text;
}

StatusOr<json> FetchStudy(Client& c, const std::string& name, grpc::Status* rpc_status) {
  v1::GetStudyRequest req;
  req.set_experiment(name);
  v1::GetStudyResponse resp;
  *rpc_status = c.jobs().GetStudy(c.Ctx().get(), req, &resp);
  if (!rpc_status->ok()) return Status::Unavailable(rpc_status->error_message());
  json report = json::parse(resp.study_json(), nullptr, /*allow_exceptions=*/false);
  if (!report.is_object()) return Status::DataLoss("the server sent a study that is not JSON");
  return report;
}

std::string ProgressLine(const json& r) {
  const json& n = r["counts"];
  char line[320];
  std::snprintf(line, sizeof(line),
                "study %s (%s, seed %s): %lld/%lld trials proposed, %lld succeeded, %lld failed, "
                "%lld in flight%s",
                r.value("experiment", "").c_str(), r.value("sampler", "").c_str(),
                r["seed"].dump().c_str(), (long long)n.value("proposed", 0),
                (long long)r.value("trials_budget", 0), (long long)n.value("succeeded", 0),
                (long long)n.value("failed", 0), (long long)n.value("in_flight", 0),
                r.value("done", false) ? ", done" : "");
  return line;
}

}  // namespace

// The model file to read the tensors from: as written when it exists from here, else found
// from the sweep file's folder upwards (experiments/ name repository paths such as
// models/kjv/model.bin, which the worker resolves from its own working directory).
std::string LocateModel(const std::string& model, const std::string& sweep_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::path(model).is_absolute() || fs::exists(model, ec)) return model;
  fs::path dir = fs::absolute(fs::path(sweep_file), ec).parent_path();
  for (int depth = 0; depth < 16 && !dir.empty(); ++depth) {
    if (fs::exists(dir / model, ec)) return (dir / model).string();
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  return model;
}

Status FillStudyGenes(ojson& sweep, const std::string& sweep_file) {
  if (!sweep.contains("search") || !sweep["search"].is_object()) return Status::Ok();
  ojson& search = sweep["search"];
  if (!search.contains("space") || !search["space"].is_object()) return Status::Ok();
  for (auto& [param, entry] : search["space"].items()) {
    if (!entry.is_object() || !entry.contains("per") || entry.contains("genes")) continue;
    const std::string per = entry["per"].is_string() ? entry["per"].get<std::string>() : "";
    if (per != "tensor" && per != "layer") continue;
    const ojson& params = sweep.contains("params") ? sweep["params"] : ojson::object();
    if (!params.is_object() || !params.contains("model") || !params["model"].is_string()) {
      return Status::InvalidArgument("search.space." + param + ".per: " + per +
                                     " needs params.model (the model whose tensors to list)");
    }
    auto genes = ModelGenes(LocateModel(params["model"].get<std::string>(), sweep_file), per);
    if (!genes.ok()) {
      return Status(genes.status().code(),
                    "search.space." + param + ".per: " + genes.status().message());
    }
    entry["genes"] = *genes;
  }
  return Status::Ok();
}

int WaitForStudy(Client& c, const std::string& name, bool quiet) {
  std::string last;
  for (;;) {
    grpc::Status rpc;
    auto report = FetchStudy(c, name, &rpc);
    if (!report.ok()) {
      if (rpc.error_code() == grpc::UNAVAILABLE) {  // a restarting server: keep waiting
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      return rpc.ok() ? Fail(report.status(), "submit --wait") : Fail(rpc, "submit --wait");
    }
    const std::string line = ProgressLine(*report);
    if (!quiet && line != last) {
      std::fprintf(stderr, "%s\n", line.c_str());
      last = line;
    }
    if ((*report)["done"].get<bool>()) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int CmdStudy(Client& c, const std::string& name, bool as_json) {
  grpc::Status rpc;
  auto report = FetchStudy(c, name, &rpc);
  if (!rpc.ok()) return Fail(rpc, "study");
  if (!report.ok()) return Fail(report.status(), "study");
  const json& r = *report;
  if (as_json) {
    std::printf("%s\n", r.dump(2).c_str());
    return 0;
  }
  std::printf("%s\n", ProgressLine(r).c_str());
  std::string objectives, reference;
  for (size_t i = 0; i < r["objectives"].size(); ++i) {
    const json& o = r["objectives"][i];
    objectives += (i ? ", " : "") + o.value("metric", "") + " (" + o.value("direction", "") + ")";
    if (i < r["reference"].size()) {
      reference += (i ? ", " : "") + FormatShort(r["reference"][i].get<double>());
    }
  }
  std::printf("objectives: %s\n", objectives.c_str());
  std::printf("front: %zu trials, hypervolume %s (reference point [%s]%s)\n", r["front"].size(),
              FormatShort(r.value("hypervolume", 0.0)).c_str(), reference.c_str(),
              r.value("reference_derived", false) ? ", from the trials" : ", as given");
  std::vector<std::string> header = {"trial", "job"};
  for (const json& o : r["objectives"]) header.push_back(o.value("metric", ""));
  header.push_back("assignment");
  std::map<int64_t, const json*> by_trial;
  for (const json& t : r["trials"]) by_trial[t.value("trial", int64_t{-1})] = &t;
  std::vector<std::vector<std::string>> rows;
  for (const json& index : r["front"]) {
    const auto it = by_trial.find(index.get<int64_t>());
    if (it == by_trial.end()) continue;
    const json& t = *it->second;
    std::vector<std::string> row = {std::to_string(t.value("trial", 0)),
                                    std::to_string(t.value("job_id", 0))};
    for (const json& v : t["values"]) row.push_back(FormatShort(v.get<double>()));
    std::string assignment;
    for (const auto& [param, value] : t["assignment"].items()) {
      assignment += (assignment.empty() ? "" : "; ") + param + ": " + AssignmentText(value);
    }
    row.push_back(assignment);
    rows.push_back(std::move(row));
  }
  std::printf("%s", FormatTable(header, rows).c_str());
  return 0;
}

}  // namespace qlab::cli
