// Study search blocks: what is accepted, what is refused (naming the field), the trial params an
// assignment makes, and the report's front and hypervolume.
#include "server/study_spec.h"

#include <gtest/gtest.h>

#include <set>

namespace qlab::server {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

ojson AccuracyStudy() {
  return ojson::parse(R"({
    "name": "mp", "kind": "accuracy",
    "params": {"model": "m.bin", "tokens": "t.tok", "group_size": 128},
    "search": {
      "trials": 50, "parallel": 4, "seed": 3,
      "objectives": [{"metric": "perplexity"}, {"metric": "bits_per_weight", "direction": "min"}],
      "space": {"datatype": {"per": "tensor", "choices": ["int4_asym", "nf4", "keep"],
                             "genes": ["model.layers.0.mlp.up_proj.weight",
                                       "model.layers.0.mlp.down_proj.weight"]}}}})");
}

std::string Error(const ojson& sweep) {
  auto spec = ParseStudySweep(sweep);
  EXPECT_FALSE(spec.ok()) << sweep.dump();
  return spec.status().message();
}

TEST(StudySpec, PerTensorStudyBuildsMapsForEachTrial) {
  auto spec = ParseStudySweep(AccuracyStudy());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->trials, 50);
  EXPECT_EQ(spec->parallel, 4);
  EXPECT_EQ(spec->sampler.seed, 3u);
  const search::SearchSpace space = SearchSpaceOf(*spec);
  ASSERT_EQ(space.genes.size(), 2u);
  EXPECT_EQ(space.genes[0].choices.size(), 3u);

  auto job = TrialJobSpec(*spec, {2, 1});
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  const json params = json::parse(job->params_json);
  EXPECT_EQ(params["datatype"]["model.layers.0.mlp.up_proj.weight"], "keep");
  EXPECT_EQ(params["datatype"]["model.layers.0.mlp.down_proj.weight"], "nf4");
  EXPECT_EQ(params["group_size"], 128);
  EXPECT_FALSE(TrialJobSpec(*spec, {0}).ok());     // too few genes
  EXPECT_FALSE(TrialJobSpec(*spec, {0, 7}).ok());  // no such choice

  // The stored form reads back to the same study.
  auto again = StudySpecFromJson(StudySpecToJson(*spec));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(StudySpecToJson(*again), StudySpecToJson(*spec));
  EXPECT_EQ(TrialJobSpec(*again, {2, 1})->params_json, job->params_json);
}

TEST(StudySpec, RefusesBadSearchBlocksNamingTheField) {
  ojson s = AccuracyStudy();
  s["search"]["space"]["datatype"]["choices"][1] = "int4_banana";
  EXPECT_NE(Error(s).find("search.space.datatype.choices[1]"), std::string::npos) << Error(s);

  s = AccuracyStudy();
  s["search"]["space"]["datatype"].erase("genes");
  EXPECT_NE(Error(s).find("search.space.datatype.genes"), std::string::npos);

  s = AccuracyStudy();
  s["params"]["datatype"] = "nf4";
  EXPECT_NE(Error(s).find("repeats params.datatype"), std::string::npos);

  s = AccuracyStudy();
  s["axes"] = {{"context", {128, 256}}};
  EXPECT_NE(Error(s).find("axes"), std::string::npos);

  s = AccuracyStudy();
  s["search"]["reference"] = {1.0};
  EXPECT_NE(Error(s).find("search.reference"), std::string::npos);

  s = AccuracyStudy();
  s["search"]["parallel"] = 0;
  EXPECT_NE(Error(s).find("search.parallel"), std::string::npos);

  s = AccuracyStudy();
  s["search"]["objectives"].push_back({{"metric", "perplexity"}});
  EXPECT_NE(Error(s).find("search.objectives[2].metric"), std::string::npos);

  // Wrong types are refused naming the field, never thrown out of the parser.
  s = AccuracyStudy();
  s["search"]["sampler"] = 5;
  EXPECT_NE(Error(s).find("search.sampler"), std::string::npos);
  s = AccuracyStudy();
  s["search"]["objectives"][0]["direction"] = {1};
  EXPECT_NE(Error(s).find("search.objectives[0].direction"), std::string::npos);

  s = AccuracyStudy();
  s["search"]["init"] = "sensitivity";
  EXPECT_NE(Error(s).find("search.init"), std::string::npos);

  s = AccuracyStudy();
  s["search"]["space"]["datatype"]["genes"].push_back("model.layers.0.mlp.up_proj.weight");
  EXPECT_NE(Error(s).find("search.space.datatype.genes[2]"), std::string::npos);

  s = AccuracyStudy();
  json genes = json::array();
  for (size_t i = 0; i <= kMaxStudyGenes; ++i) genes.push_back("t" + std::to_string(i));
  s["search"]["space"]["datatype"]["genes"] = ojson::parse(genes.dump());
  EXPECT_NE(Error(s).find("search.space.datatype.genes"), std::string::npos);
}

TEST(StudySpec, ReportHasTheFrontAndItsHypervolume) {
  ojson sweep = AccuracyStudy();
  sweep["search"]["reference"] = {30.0, 9.0};
  auto spec = ParseStudySweep(sweep);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  auto view = [](int64_t trial, storage::JobState state, std::vector<double> values) {
    TrialView v;
    v.trial = trial;
    v.job_id = 100 + trial;
    v.state = state;
    v.assignment = {0, 1};
    v.values = std::move(values);
    return v;
  };
  const std::vector<TrialView> trials = {
      view(0, storage::JobState::kSucceeded, {27.0, 4.0}),
      view(1, storage::JobState::kSucceeded, {26.9, 8.0}),
      view(2, storage::JobState::kSucceeded, {27.5, 4.5}),  // dominated by trial 0
      view(3, storage::JobState::kFailed, {}),
      view(4, storage::JobState::kRunning, {}),
  };
  const json r = StudyReport("mp", *spec, false, trials);
  EXPECT_EQ(r["front"], json({0, 1}));
  // (30-27)*(9-4) + (27-26.9)*(9-8)
  EXPECT_NEAR(r["hypervolume"].get<double>(), 15.0 + 0.1, 1e-9);
  EXPECT_EQ(r["counts"]["proposed"], 5);
  EXPECT_EQ(r["counts"]["succeeded"], 3);
  EXPECT_EQ(r["counts"]["failed"], 1);
  EXPECT_EQ(r["counts"]["in_flight"], 1);
  EXPECT_FALSE(r["reference_derived"].get<bool>());
  EXPECT_EQ(r["trials"][2]["assignment"]["datatype"]["model.layers.0.mlp.down_proj.weight"], "nf4");
  EXPECT_TRUE(r["trials"][3]["values"].is_null());
  // The front's growth, trial by trial.
  EXPECT_EQ(r["hypervolume_by_trial"].back()[1].get<double>(), r["hypervolume"].get<double>());
  EXPECT_NEAR(r["hypervolume_by_trial"][0][1].get<double>(), 15.0, 1e-9);
}

// A report stays bounded: past kMaxReportAssignmentCells only front trials carry assignments,
// and more than four objectives are refused (exact hypervolume would be too costly per call).
TEST(StudySpec, ReportAndObjectivesAreBounded) {
  ojson sweep = AccuracyStudy();
  for (const char* m : {"a", "b", "c"}) sweep["search"]["objectives"].push_back({{"metric", m}});
  EXPECT_NE(Error(sweep).find("search.objectives"), std::string::npos);

  sweep = AccuracyStudy();
  json genes = json::array();
  for (int i = 0; i < 1000; ++i) genes.push_back("model.layers." + std::to_string(i) + ".mlp.up_proj.weight");
  sweep["search"]["space"]["datatype"]["genes"] = ojson::parse(genes.dump());
  sweep["search"]["reference"] = {30.0, 9.0};
  auto spec = ParseStudySweep(sweep);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  std::vector<TrialView> trials;
  for (int64_t i = 0; i < 1100; ++i) {  // 1,100 x 1,000 genes: past the bound
    TrialView v;
    v.trial = i;
    v.job_id = i + 1;
    v.state = storage::JobState::kSucceeded;
    v.assignment.assign(1000, static_cast<double>(i % 3));
    v.values = {27.0 + static_cast<double>(i % 7) * 0.1, 4.0 + static_cast<double>(i % 5)};
    trials.push_back(std::move(v));
  }
  const json r = StudyReport("mp", *spec, false, trials);
  std::set<int64_t> front;
  for (const json& t : r["front"]) front.insert(t.get<int64_t>());
  ASSERT_FALSE(front.empty());
  for (const json& t : r["trials"]) {
    EXPECT_EQ(t["assignment"].is_null(), front.count(t["trial"].get<int64_t>()) == 0) << t["trial"];
  }
}

}  // namespace
}  // namespace qlab::server
