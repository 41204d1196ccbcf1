// Study search blocks, trial params and reports (see study_spec.h).
#include "server/study_spec.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "common/input_limits.h"
#include "common/param_keys.h"
#include "evaluators/search/pareto.h"
#include "server/job_kinds.h"
#include "server/sweep.h"

namespace qlab::server {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

Status Invalid(const std::string& field, const std::string& message) {
  return Status::InvalidArgument(field + ": " + message);
}

// An optional integer field of the search block, named "search.KEY" in errors (absent or null:
// *out unchanged). YAML may give 8.0 for 8.
Status ReadSearchInt(const ojson& search, const char* key, int64_t lo, int64_t hi, int64_t* out) {
  const auto it = search.find(key);
  if (it == search.end() || it->is_null()) return Status::Ok();
  return ReadIntValue(json(*it), std::string("search.") + key, lo, hi, out);
}

// An optional string field of `object` (absent: *out unchanged). A present non-string is
// refused naming `field`: nlohmann's value() would throw on it, inside a request handler.
Status ReadOptionalString(const ojson& object, const char* key, const std::string& field,
                          std::string* out) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  if (!it->is_string()) return Invalid(field, "must be a string, got " + it->dump());
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadStringList(const ojson& list, const std::string& field, size_t max_items,
                      std::vector<std::string>* out) {
  if (!list.is_array() || list.empty() || list.size() > max_items) {
    return Invalid(field, "must be a list of 1 to " + std::to_string(max_items) + " strings");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = field + "[" + std::to_string(i) + "]";
    if (!list[i].is_string()) return Invalid(where, "must be a string");
    const std::string value = list[i].get<std::string>();
    if (value.empty() || value.size() > kMaxNameBytes) {
      return Invalid(where, "must have 1 to " + std::to_string(kMaxNameBytes) + " characters");
    }
    if (!seen.insert(value).second) return Invalid(where, "'" + value + "' is listed twice");
    out->push_back(value);
  }
  return Status::Ok();
}

Status ReadStudyParam(const std::string& name, const ojson& entry, StudyParam* param) {
  const std::string field = "search.space." + name;
  if (name.empty() || name.size() > kMaxNameBytes) return Invalid(field, "bad param name");
  if (!entry.is_object()) {
    return Invalid(field, "must be an object {choices: [...], per: tensor|layer|pattern}");
  }
  static const std::set<std::string> kKnown = {"per", "choices", "genes", "patterns"};
  for (const auto& [key, value] : entry.items()) {
    if (!kKnown.count(key)) return Invalid(field + "." + key, "unknown field");
  }
  param->param = name;
  if (entry.contains("per")) {
    if (!entry["per"].is_string()) return Invalid(field + ".per", "must be tensor, layer or pattern");
    param->per = entry["per"].get<std::string>();
    if (param->per != "tensor" && param->per != "layer" && param->per != "pattern") {
      return Invalid(field + ".per", "must be tensor, layer or pattern, got '" + param->per + "'");
    }
  }
  const auto choices = entry.find("choices");
  if (choices == entry.end() || !choices->is_array() || choices->empty() ||
      choices->size() > kMaxStudyChoices) {
    return Invalid(field + ".choices",
                   "must be a list of 1 to " + std::to_string(kMaxStudyChoices) + " values");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < choices->size(); ++i) {
    const ojson& c = (*choices)[i];
    const std::string where = field + ".choices[" + std::to_string(i) + "]";
    if (!c.is_string() && !c.is_number() && !c.is_boolean()) {
      return Invalid(where, "must be a string, number or boolean");
    }
    if (!seen.insert(c.dump()).second) return Invalid(where, c.dump() + " is listed twice");
    param->choices.push_back(json::parse(c.dump()));
  }
  if (param->per.empty()) {
    if (entry.contains("genes") || entry.contains("patterns")) {
      return Invalid(field, "genes and patterns need per: tensor, layer or pattern");
    }
    return Status::Ok();
  }
  if (param->per == "pattern") {
    if (!entry.contains("patterns")) return Invalid(field + ".patterns", "required with per: pattern");
    if (entry.contains("genes")) return Invalid(field + ".genes", "per: pattern takes patterns");
    return ReadStringList(entry["patterns"], field + ".patterns", kMaxStudyGenes, &param->genes);
  }
  if (!entry.contains("genes")) {
    return Invalid(field + ".genes",
                   "required with per: " + param->per +
                       " (`qlab submit` fills it from params.model; give the tensor names "
                       "yourself when submitting otherwise)");
  }
  return ReadStringList(entry["genes"], field + ".genes", kMaxStudyGenes, &param->genes);
}

// The value a param takes under choice `choice` for every gene.
json UniformValue(const StudyParam& param, size_t choice) {
  if (param.per.empty()) return param.choices[choice];
  json map = json::object();
  for (const std::string& gene : param.genes) map[gene] = param.choices[choice];
  return map;
}

// The search block read and checked field by field, without validating its choices as job
// params (ParseStudySweep does that).
StatusOr<StudySpec> ReadStudySweep(const ojson& sweep) {
  StudySpec spec;
  RETURN_IF_ERROR(ReadOptionalString(sweep, "kind", "kind", &spec.kind));
  const JobKind* kind = FindJobKind(spec.kind);
  if (kind == nullptr) return Status::InvalidArgument("kind '" + spec.kind + "' is unknown");
  if (kind->expand) {
    return Status::InvalidArgument("search: kind " + spec.kind +
                                   " expands one point into several jobs; a study's trial is "
                                   "one job");
  }
  if (sweep.contains("axes") && !sweep["axes"].empty()) {
    return Status::InvalidArgument(
        "axes: a study (search) takes no axes; put fixed values in params, searched ones in "
        "search.space");
  }
  spec.params = json::parse(sweep.value("params", ojson::object()).dump());
  if (!spec.params.is_object()) return Status::InvalidArgument("params must be an object");
  spec.requirements = json::parse(sweep.value("requirements", ojson()).dump());
  if (sweep.contains("priority")) spec.priority = sweep["priority"].get<int>();
  if (sweep.contains("max_attempts")) spec.max_attempts = sweep["max_attempts"].get<int>();
  if (sweep.contains("timeout_s")) spec.timeout_s = sweep["timeout_s"].get<int>();

  const ojson& search = sweep["search"];
  if (!search.is_object()) return Status::InvalidArgument("search must be an object");
  static const std::set<std::string> kKnown = {"sampler",    "trials",    "parallel",
                                               "seed",       "population", "objectives",
                                               "reference",  "space"};
  for (const auto& [key, value] : search.items()) {
    if (!kKnown.count(key)) return Invalid("search." + key, "unknown field");
  }
  std::string sampler = "nsga2";
  RETURN_IF_ERROR(ReadOptionalString(search, "sampler", "search.sampler", &sampler));
  if (sampler == "nsga2") {
    spec.sampler.kind = search::SamplerKind::kNsga2;
  } else if (sampler == "random") {
    spec.sampler.kind = search::SamplerKind::kRandom;
  } else {
    return Invalid("search.sampler", "must be nsga2 or random, got '" + sampler + "'");
  }
  if (!search.contains("trials") || search["trials"].is_null()) {
    return Invalid("search.trials", "required");
  }
  RETURN_IF_ERROR(ReadSearchInt(search, "trials", 1, kMaxStudyTrials, &spec.trials));
  int64_t parallel = 8, seed = 0, population = 0;
  RETURN_IF_ERROR(ReadSearchInt(search, "parallel", 1, kMaxStudyParallel, &parallel));
  RETURN_IF_ERROR(ReadSearchInt(search, "seed", 0, std::numeric_limits<int64_t>::max(), &seed));
  RETURN_IF_ERROR(ReadSearchInt(search, "population", 0, 10000, &population));
  if (population == 1) return Invalid("search.population", "must be 0 (automatic) or at least 2");
  spec.parallel = static_cast<int>(parallel);
  spec.sampler.seed = static_cast<uint64_t>(seed);
  spec.sampler.trials = spec.trials;
  spec.sampler.population_size = static_cast<int>(population);

  const auto objectives = search.find("objectives");
  if (objectives == search.end() || !objectives->is_array() || objectives->empty() ||
      objectives->size() > kMaxStudyObjectives) {
    return Invalid("search.objectives", "must be a list of 1 to " +
                                            std::to_string(kMaxStudyObjectives) +
                                            " {metric, direction: min|max}");
  }
  for (size_t i = 0; i < objectives->size(); ++i) {
    const ojson& o = (*objectives)[i];
    const std::string where = "search.objectives[" + std::to_string(i) + "]";
    if (!o.is_object() || !o.contains("metric") || !o["metric"].is_string()) {
      return Invalid(where, "must be {metric: NAME, direction: min|max}");
    }
    for (const auto& [key, value] : o.items()) {
      if (key != "metric" && key != "direction") return Invalid(where + "." + key, "unknown field");
    }
    search::Objective objective;
    objective.metric = o["metric"].get<std::string>();
    if (objective.metric.empty() || objective.metric.size() > kMaxNameBytes) {
      return Invalid(where + ".metric", "must be a metric name");
    }
    std::string direction = "min";
    RETURN_IF_ERROR(ReadOptionalString(o, "direction", where + ".direction", &direction));
    if (direction == "max") {
      objective.direction = search::Direction::kMaximize;
    } else if (direction != "min") {
      return Invalid(where + ".direction", "must be min or max, got '" + direction + "'");
    }
    for (const auto& other : spec.objectives) {
      if (other.metric == objective.metric) return Invalid(where + ".metric", "listed twice");
    }
    spec.objectives.push_back(objective);
  }
  if (search.contains("reference")) {
    const ojson& ref = search["reference"];
    if (!ref.is_array() || ref.size() != spec.objectives.size()) {
      return Invalid("search.reference", "must list one number per objective");
    }
    for (size_t i = 0; i < ref.size(); ++i) {
      if (!ref[i].is_number() || !std::isfinite(ref[i].get<double>())) {
        return Invalid("search.reference[" + std::to_string(i) + "]", "must be a finite number");
      }
      spec.reference.push_back(ref[i].get<double>());
    }
  }

  const auto space = search.find("space");
  if (space == search.end() || !space->is_object() || space->empty() ||
      space->size() > kMaxStudyParams) {
    return Invalid("search.space", "must map 1 to " + std::to_string(kMaxStudyParams) +
                                       " params to {choices: [...]}");
  }
  for (const auto& [name, entry] : space->items()) {
    StudyParam param;
    RETURN_IF_ERROR(ReadStudyParam(name, entry, &param));
    if (spec.params.contains(name)) {
      return Invalid("search.space." + name, "repeats params." + name + " (one or the other)");
    }
    spec.space.push_back(std::move(param));
  }
  if (const size_t genes = GeneCount(spec); genes > kMaxStudyGenes) {
    return Invalid("search.space", "has " + std::to_string(genes) + " genes; at most " +
                                       std::to_string(kMaxStudyGenes));
  }
  return spec;
}

}  // namespace

StatusOr<StudySpec> ParseStudySweep(const ojson& sweep) {
  ASSIGN_OR_RETURN(StudySpec spec, ReadStudySweep(sweep));
  // Every choice must make valid params: each param's choices in turn, the others at their
  // first choice. A bad one is refused now, naming it, not at its first trial.
  const JobKind* kind = FindJobKind(spec.kind);
  for (size_t p = 0; p < spec.space.size(); ++p) {
    for (size_t c = 0; c < spec.space[p].choices.size(); ++c) {
      json params = spec.params;
      for (size_t q = 0; q < spec.space.size(); ++q) {
        params[spec.space[q].param] = UniformValue(spec.space[q], q == p ? c : 0);
      }
      auto specs = SpecsForPoint(*kind, ojson::parse(params.dump()),
                                 ojson::parse(spec.requirements.dump()), spec.priority,
                                 spec.max_attempts);
      if (!specs.ok()) {
        return Invalid("search.space." + spec.space[p].param + ".choices[" + std::to_string(c) + "]",
                       specs.status().message());
      }
    }
  }
  RETURN_IF_ERROR(MakeSampler(spec).status());
  return spec;
}

std::string StudySpecToJson(const StudySpec& spec) {
  ojson sweep = ojson::object();
  sweep["kind"] = spec.kind;
  sweep["params"] = ojson::parse(spec.params.dump());
  if (!spec.requirements.is_null()) sweep["requirements"] = ojson::parse(spec.requirements.dump());
  sweep["priority"] = spec.priority;
  sweep["max_attempts"] = spec.max_attempts;
  if (spec.timeout_s > 0) sweep["timeout_s"] = spec.timeout_s;
  ojson search = ojson::object();
  search["sampler"] = spec.sampler.kind == search::SamplerKind::kRandom ? "random" : "nsga2";
  search["trials"] = spec.trials;
  search["parallel"] = spec.parallel;
  search["seed"] = spec.sampler.seed;
  search["population"] = spec.sampler.population_size;
  ojson objectives = ojson::array();
  for (const auto& o : spec.objectives) {
    objectives.push_back(
        {{"metric", o.metric},
         {"direction", o.direction == search::Direction::kMaximize ? "max" : "min"}});
  }
  search["objectives"] = objectives;
  if (!spec.reference.empty()) search["reference"] = spec.reference;
  ojson space = ojson::object();
  for (const StudyParam& p : spec.space) {
    ojson entry = ojson::object();
    if (!p.per.empty()) entry["per"] = p.per;
    entry["choices"] = ojson::parse(json(p.choices).dump());
    if (!p.per.empty()) entry[p.per == "pattern" ? "patterns" : "genes"] = p.genes;
    space[p.param] = entry;
  }
  search["space"] = space;
  sweep["search"] = search;
  return sweep.dump();
}

StatusOr<StudySpec> StudySpecFromJson(const std::string& text) {
  ojson sweep = ojson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (sweep.is_discarded() || !sweep.is_object() || !sweep.contains("search")) {
    return Status::DataLoss("stored study spec is not a sweep with search");
  }
  // Checked in full when it was submitted; the runner and every report read it again, so only
  // its structure is read here (a trial's job is still validated when it is made).
  return ReadStudySweep(sweep);
}

size_t GeneCount(const StudySpec& spec) {
  size_t genes = 0;
  for (const StudyParam& p : spec.space) genes += p.per.empty() ? 1 : p.genes.size();
  return genes;
}

search::SearchSpace SearchSpaceOf(const StudySpec& spec) {
  search::SearchSpace space;
  for (const StudyParam& p : spec.space) {
    std::vector<std::string> choices;
    for (const json& c : p.choices) choices.push_back(c.dump());
    if (p.per.empty()) {
      space.genes.push_back({p.param, choices});
      continue;
    }
    for (const std::string& gene : p.genes) space.genes.push_back({p.param + "/" + gene, choices});
  }
  return space;
}

StatusOr<std::unique_ptr<search::Sampler>> MakeSampler(const StudySpec& spec) {
  return search::Sampler::Create(spec.sampler, SearchSpaceOf(spec), spec.objectives);
}

namespace {

// {param: choice} or {param: {gene: choice}} of an assignment; null when it does not fit.
json AssignedValues(const StudySpec& spec, const search::Assignment& assignment) {
  json values = json::object();
  size_t g = 0;
  auto choice = [&](const StudyParam& p) -> const json* {
    if (g >= assignment.size()) return nullptr;
    const double index = assignment[g++];
    if (!(index >= 0) || index >= static_cast<double>(p.choices.size())) return nullptr;
    return &p.choices[static_cast<size_t>(index)];
  };
  for (const StudyParam& p : spec.space) {
    if (p.per.empty()) {
      const json* c = choice(p);
      if (c == nullptr) return nullptr;
      values[p.param] = *c;
      continue;
    }
    json map = json::object();
    for (const std::string& gene : p.genes) {
      const json* c = choice(p);
      if (c == nullptr) return nullptr;
      map[gene] = *c;
    }
    values[p.param] = map;
  }
  if (g != assignment.size()) return nullptr;
  return values;
}

}  // namespace

StatusOr<storage::JobSpec> TrialJobSpec(const StudySpec& spec, const search::Assignment& assignment) {
  const json values = AssignedValues(spec, assignment);
  if (values.is_null()) return Status::Internal("assignment does not fit the study's space");
  json params = spec.params;
  for (const auto& [param, value] : values.items()) params[param] = value;
  const JobKind* kind = FindJobKind(spec.kind);
  if (kind == nullptr) return Status::Internal("study kind '" + spec.kind + "' is unknown");
  ASSIGN_OR_RETURN(std::vector<storage::JobSpec> specs,
                   SpecsForPoint(*kind, ojson::parse(params.dump()),
                                 ojson::parse(spec.requirements.dump()), spec.priority,
                                 spec.max_attempts));
  if (specs.size() != 1) return Status::Internal("a trial expanded to several jobs");
  specs[0].timeout_s = spec.timeout_s;
  return std::move(specs[0]);
}

json StudyReport(const std::string& experiment, const StudySpec& spec, bool done,
                 const std::vector<TrialView>& trials) {
  std::vector<search::Direction> directions;
  json objectives = json::array();
  for (const auto& o : spec.objectives) {
    directions.push_back(o.direction);
    objectives.push_back(
        {{"metric", o.metric},
         {"direction", o.direction == search::Direction::kMaximize ? "max" : "min"}});
  }
  // Completed trials with every objective, in trial order.
  std::vector<std::vector<double>> points;
  std::vector<int64_t> point_trial;
  int64_t succeeded = 0, failed = 0, running = 0;
  for (const TrialView& t : trials) {
    switch (t.state) {
      case storage::JobState::kSucceeded: ++succeeded; break;
      case storage::JobState::kFailed:
      case storage::JobState::kCancelled: ++failed; break;
      default: ++running; break;
    }
    if (t.state == storage::JobState::kSucceeded && t.values.size() == spec.objectives.size()) {
      points.push_back(t.values);
      point_trial.push_back(t.trial);
    }
  }
  // The reference point: as given, else the worst value seen per objective pushed out by a
  // tenth of the range (or of the value), so every measured point counts.
  std::vector<double> reference = spec.reference;
  const bool derived = reference.empty();
  if (derived && !points.empty()) {
    for (size_t k = 0; k < spec.objectives.size(); ++k) {
      double lo = points[0][k], hi = points[0][k];
      for (const auto& p : points) {
        lo = std::min(lo, p[k]);
        hi = std::max(hi, p[k]);
      }
      const double margin = hi > lo ? 0.1 * (hi - lo) : std::max(1e-9, 0.1 * std::fabs(hi));
      reference.push_back(directions[k] == search::Direction::kMinimize ? hi + margin : lo - margin);
    }
  }
  json report = json::object();
  report["experiment"] = experiment;
  report["kind"] = spec.kind;
  report["sampler"] = spec.sampler.kind == search::SamplerKind::kRandom ? "random" : "nsga2";
  report["trials_budget"] = spec.trials;
  report["parallel"] = spec.parallel;
  report["seed"] = spec.sampler.seed;
  report["done"] = done;
  report["counts"] = {{"proposed", trials.size()},
                      {"succeeded", succeeded},
                      {"failed", failed},
                      {"in_flight", running}};
  report["objectives"] = objectives;
  report["reference"] = reference;
  report["reference_derived"] = derived;
  json front = json::array();
  json hv_by_trial = json::array();
  double hypervolume = 0;
  if (!points.empty() && reference.size() == spec.objectives.size()) {
    for (size_t i : search::NondominatedIndices(points, directions)) front.push_back(point_trial[i]);
    hypervolume = search::Hypervolume(points, reference, directions);
    // The front's growth: hypervolume of the first n completed trials, at most 200 steps, where
    // each costs O(n log n) (two or three objectives).
    if (spec.objectives.size() <= 3) {
      const size_t step = std::max<size_t>(1, points.size() / 200);
      for (size_t n = step; n <= points.size(); n += step) {
        const std::vector<std::vector<double>> prefix(points.begin(), points.begin() + n);
        hv_by_trial.push_back(
            {point_trial[n - 1], search::Hypervolume(prefix, reference, directions)});
      }
      if (points.size() % step != 0) hv_by_trial.push_back({point_trial.back(), hypervolume});
    }
  }
  std::sort(front.begin(), front.end());
  report["front"] = front;
  report["hypervolume"] = hypervolume;
  report["hypervolume_by_trial"] = hv_by_trial;
  const size_t genes = GeneCount(spec);
  const bool every_assignment = trials.size() * genes <= kMaxReportAssignmentCells;
  std::set<int64_t> on_front;
  for (const json& trial : front) on_front.insert(trial.get<int64_t>());
  size_t assignment_budget = kMaxReportAssignmentCells / std::max<size_t>(1, genes);
  json rows = json::array();
  for (const TrialView& t : trials) {
    const bool with_assignment =
        every_assignment || (on_front.count(t.trial) > 0 && assignment_budget > 0);
    if (!every_assignment && with_assignment) --assignment_budget;
    json row = {{"trial", t.trial},
                {"job_id", t.job_id},
                {"state", storage::JobStateName(t.state)},
                {"assignment", with_assignment ? AssignedValues(spec, t.assignment) : json(nullptr)}};
    row["values"] = t.values.size() == spec.objectives.size() ? json(t.values) : json(nullptr);
    if (!t.error.empty()) row["error"] = t.error;
    rows.push_back(std::move(row));
  }
  report["trials"] = rows;
  return report;
}

}  // namespace qlab::server
