#include "server/join_query.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/pareto_query.h"
#include "tests/support/temp_dir.h"

namespace qlab::server {
namespace {

using nlohmann::json;

struct Job {
  std::string params;
  std::vector<Metric> metrics;
  bool fail = false;
};

// Two experiments on a real SQLite file: "acc" (accuracy-like: perplexity, lower is better)
// and "lat" (latency-like: median_us, and tokens_per_s where higher is better); both store
// bits_per_weight, so that name is prefixed in the join.
class JoinQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(storage::JobStore::Open(dir_.File("j.db"))).value();
    Add("acc", {
        {R"({"datatype": "int4", "group_size": 32, "seed": 1})",
         {{"perplexity", 6.0}, {"bits_per_weight", 4.5}}},
        {R"({"datatype": "int4", "group_size": 128, "seed": 1})",
         {{"perplexity", 6.4}, {"bits_per_weight", 4.125}}},
        {R"({"datatype": "nf4", "group_size": 32, "seed": 1})",
         {{"perplexity", 5.9}, {"bits_per_weight", 4.5}}},
        {R"({"datatype": "e2m1", "group_size": 32, "seed": 1})",  // no partner in lat
         {{"perplexity", 7.0}, {"bits_per_weight", 4.5}}},
        {R"({"datatype": "nf4", "seed": 1})", {{"perplexity", 9.0}}},  // lacks group_size
        {R"({"datatype": "int4", "group_size": 64, "seed": 1})", {}, /*fail=*/true},
    });
    Metric tps{"tokens_per_s", 0, "", 0, true};
    auto lat = [&](double us, double bits, double t) {
      Metric m = tps;
      m.value = t;
      return std::vector<Metric>{{"median_us", us}, {"bits_per_weight", bits}, m};
    };
    Add("lat", {
        // 128.0 equals the 128 of acc: params compare as JSON values.
        {R"({"datatype": "int4", "group_size": 128.0, "device": "cpu"})", lat(40, 4.125, 900)},
        {R"({"datatype": "int4", "group_size": 32, "device": "cpu"})", lat(50, 4.5, 800)},
        {R"({"datatype": "nf4", "group_size": 32, "device": "cpu"})", lat(80, 4.5, 500)},
        {R"({"datatype": "nf4", "group_size": "32", "device": "cpu"})", lat(1, 1, 1)},  // a string
        {R"({"datatype": "int4", "group_size": 64, "device": "cpu"})", lat(45, 4.25, 850)},
    });
  }

  void Add(const std::string& name, const std::vector<Job>& jobs) {
    storage::ExperimentRecord e{0, name, "", "noop"};
    std::vector<storage::JobSpec> specs;
    for (const auto& j : jobs) specs.push_back({"noop", j.params});
    auto created = store_->CreateExperiment(e, specs, 1);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    std::vector<storage::LeaseGrant> grants;
    std::vector<storage::CompletionRecord> done;
    for (size_t i = 0; i < jobs.size(); ++i) {
      const int64_t id = created->first_job_id + static_cast<int64_t>(i);
      grants.push_back({id, id, "w", 9});
      storage::CompletionRecord c{id, id};
      if (jobs[i].fail) {
        c.outcome = storage::CompletionOutcome::kFailed;
        c.error = "broken on purpose";
      }
      c.output.metrics = jobs[i].metrics;
      done.push_back(c);
    }
    std::vector<bool> granted;
    ASSERT_TRUE(store_->RecordLeases(grants, 1, &granted).ok());
    std::vector<storage::CompletionAck> acks;
    ASSERT_TRUE(store_->Complete(done, 2, &acks).ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::JobStore> store_;
};

const Metric* Find(const JoinedRow& r, const std::string& name) {
  for (const auto& m : r.metrics) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

TEST_F(JoinQueryTest, PairsRowsWithEqualParamsAndPrefixesSharedMetricNames) {
  auto j = RunJoinQuery(*store_, {"acc", "lat", {"datatype", "group_size"}});
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->experiment_a, "acc");
  EXPECT_EQ(j->experiment_b, "lat");
  EXPECT_EQ(j->metric_names, (std::vector<std::string>{"perplexity", "acc:bits_per_weight",
                                                       "median_us", "lat:bits_per_weight",
                                                       "tokens_per_s"}));
  EXPECT_EQ(j->a_metrics, 2u);
  // int4/32, int4/128 (against 128.0), nf4/32 and the failed int4/64: every state takes part.
  ASSERT_EQ(j->rows.size(), 4u);
  const JoinedRow& first = j->rows[0];
  EXPECT_EQ(json::parse(first.on_json), json::parse(R"({"datatype": "int4", "group_size": 32})"));
  EXPECT_EQ(first.on_json, R"({"datatype":"int4","group_size":32})") << "in `on` order";
  ASSERT_NE(Find(first, "perplexity"), nullptr);
  EXPECT_EQ(Find(first, "perplexity")->value, 6.0);
  EXPECT_EQ(Find(first, "median_us")->value, 50);
  EXPECT_EQ(Find(first, "acc:bits_per_weight")->value, 4.5);
  EXPECT_EQ(Find(first, "lat:bits_per_weight")->value, 4.5);
  EXPECT_TRUE(Find(first, "tokens_per_s")->higher_is_better);
  EXPECT_EQ(Find(first, "bits_per_weight"), nullptr);
  EXPECT_EQ(Find(j->rows[1], "median_us")->value, 40) << "128 pairs with 128.0";
  for (size_t i = 1; i < j->rows.size(); ++i) EXPECT_LT(j->rows[i - 1].job_id_a, j->rows[i].job_id_a);
  EXPECT_EQ(j->rows[3].state_a, storage::JobState::kFailed);
  EXPECT_EQ(j->rows[3].state_b, storage::JobState::kSucceeded);

  // Unmatched: e2m1 (no partner) and the row without group_size on A's side; the string "32"
  // on B's side.
  ASSERT_EQ(j->unmatched_a.size(), 2u);
  EXPECT_EQ(json::parse(j->unmatched_a[0].on_json)["datatype"], "e2m1");
  EXPECT_EQ(j->unmatched_a[1].on_json, R"({"datatype":"nf4"})") << "the keys it has";
  ASSERT_EQ(j->unmatched_b.size(), 1u);
  EXPECT_EQ(json::parse(j->unmatched_b[0].on_json)["group_size"], "32");
}

TEST_F(JoinQueryTest, OneKeyPairsEachWithEach) {
  auto j = RunJoinQuery(*store_, {"acc", "lat", {"datatype"}});
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  // int4: 3 rows of acc x 3 of lat; nf4: 2 x 2; e2m1 alone.
  EXPECT_EQ(j->rows.size(), 13u);
  EXPECT_EQ(j->unmatched_a.size(), 1u);
  EXPECT_TRUE(j->unmatched_b.empty());
}

TEST_F(JoinQueryTest, FilterAppliesToBothSides) {
  auto j = RunJoinQuery(*store_, {"acc", "lat", {"datatype", "group_size"}, "datatype = int4"});
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->rows.size(), 3u);  // int4 with 32, 128 and 64
  EXPECT_TRUE(j->unmatched_a.empty());
  EXPECT_TRUE(j->unmatched_b.empty());
  auto bad = RunJoinQuery(*store_, {"acc", "lat", {"datatype"}, "group_size >>> 3"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().rfind("filter", 0), 0u) << bad.status().message();
}

TEST_F(JoinQueryTest, BadInputIsRefusedNamingTheField) {
  auto code_and_message = [&](const JoinSpec& spec) {
    auto r = RunJoinQuery(*store_, spec);
    EXPECT_FALSE(r.ok());
    return std::pair{r.status().code(), r.status().message()};
  };
  auto [c1, m1] = code_and_message({"acc", "nope", {"datatype"}});
  EXPECT_EQ(c1, StatusCode::kInvalidArgument);
  EXPECT_EQ(m1.rfind("join:", 0), 0u) << m1;
  EXPECT_NE(m1.find("nope"), std::string::npos);
  auto [c2, m2] = code_and_message({"nope", "lat", {"datatype"}});
  EXPECT_EQ(c2, StatusCode::kNotFound) << m2;
  auto [c3, m3] = code_and_message({"acc", "lat", {}});
  EXPECT_EQ(c3, StatusCode::kInvalidArgument);
  EXPECT_EQ(m3.rfind("on:", 0), 0u) << m3;
  auto [c4, m4] = code_and_message({"acc", "lat", std::vector<std::string>(17, "k")});
  EXPECT_EQ(m4.rfind("on: at most 16", 0), 0u) << m4;
  auto [c5, m5] = code_and_message({"acc", "lat", {"datatype", std::string(300, 'k')}});
  EXPECT_EQ(m5.rfind("on:", 0), 0u) << m5;
  auto [c6, m6] = code_and_message({"acc", std::string(300, 'e'), {"datatype"}});
  EXPECT_EQ(m6.rfind("join", 0), 0u) << m6;
  auto [c7, m7] = code_and_message({"acc", "acc", {"datatype"}});
  EXPECT_EQ(m7.rfind("join:", 0), 0u) << m7;
  auto [c8, m8] = code_and_message({"acc", "lat", {"datatype", "datatype"}});
  EXPECT_NE(m8.find("named twice"), std::string::npos) << m8;
  auto [c9, m9] = code_and_message({"acc", "lat", {"datatype", ""}});
  EXPECT_NE(m9.find("empty"), std::string::npos) << m9;
  auto [c10, m10] = code_and_message({"acc", "", {"datatype"}});
  EXPECT_EQ(m10.rfind("join:", 0), 0u) << m10;
}

TEST_F(JoinQueryTest, AJoinOfTooManyPairsIsRefusedBeforeItIsBuilt) {
  // 500 x 500 rows with one shared key: 250,000 pairs, more than the bound.
  std::vector<Job> many(500, Job{R"({"k": 1})", {{"v", 1}}});
  Add("big-a", many);
  Add("big-b", many);
  auto r = RunJoinQuery(*store_, {"big-a", "big-b", {"k"}});
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("250000 rows"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().rfind("on:", 0), 0u);
}

TEST(SplitJoinKeysTest, CommasAndSpaces) {
  EXPECT_EQ(SplitJoinKeys("datatype, group_size"),
            (std::vector<std::string>{"datatype", "group_size"}));
  EXPECT_TRUE(SplitJoinKeys("  ").empty());
  EXPECT_EQ(SplitJoinKeys("a,,b"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(SplitJoinKeys(std::string(100000, ',')).size(), kMaxJoinKeys + 1);
}

TEST_F(JoinQueryTest, ResolvesPlainAndPrefixedMetricNames) {
  auto j = RunJoinQuery(*store_, {"acc", "lat", {"datatype", "group_size"}});
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(*ResolveJoinedMetric(*j, "perplexity", "x"), "perplexity");
  EXPECT_EQ(*ResolveJoinedMetric(*j, "acc:perplexity", "x"), "perplexity");
  EXPECT_EQ(*ResolveJoinedMetric(*j, "lat:bits_per_weight", "x"), "lat:bits_per_weight");
  auto ambiguous = ResolveJoinedMetric(*j, "bits_per_weight", "y");
  EXPECT_EQ(ambiguous.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ambiguous.status().message().rfind("y: metric 'bits_per_weight' is in both", 0), 0u)
      << ambiguous.status().message();
  EXPECT_FALSE(ResolveJoinedMetric(*j, "lat:perplexity", "x").ok()) << "perplexity is acc's";
  auto unknown = ResolveJoinedMetric(*j, "kl", "x");
  EXPECT_EQ(unknown.status().message().rfind("x: 'kl' is not a metric", 0), 0u);
}

TEST_F(JoinQueryTest, ParetoOverJoinedMetricsOfSucceededJobs) {
  ParetoQuery q{"acc", "median_us", "perplexity"};
  q.join = "lat";
  q.on = {"datatype", "group_size"};
  auto r = RunParetoQuery(*store_, q);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // The failed int4/64 of acc does not take part, so lat's int4/64 has no partner.
  ASSERT_EQ(r->points.size(), 3u);
  EXPECT_EQ(r->total_points, 3);
  EXPECT_FALSE(r->x_maximized);
  EXPECT_FALSE(r->y_maximized);
  // (40, 6.4) int4/128, (50, 6.0) int4/32, (80, 5.9) nf4/32: all on the front.
  EXPECT_EQ(r->points[0].x, 40);
  EXPECT_EQ(r->points[0].y, 6.4);
  for (const auto& p : r->points) {
    EXPECT_TRUE(p.on_frontier);
    EXPECT_GT(p.job_id_b, 0);
    EXPECT_TRUE(json::parse(p.params_json).contains("group_size")) << p.params_json;
    EXPECT_FALSE(json::parse(p.params_json).contains("seed")) << "only the on params";
  }
  EXPECT_EQ(r->unmatched_a.size(), 2u);
  ASSERT_EQ(r->unmatched_b.size(), 2u);  // the string "32" and int4/64
  EXPECT_EQ(json::parse(r->unmatched_b[1].on_json)["group_size"], 64);

  // Prefixed names and a metric whose own direction is "higher is better".
  q.x_metric = "lat:bits_per_weight";
  q.y_metric = "tokens_per_s";
  r = RunParetoQuery(*store_, q);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->y_maximized);
  int front = 0;
  for (const auto& p : r->points) front += p.on_frontier;
  EXPECT_EQ(front, 1);  // (4.125, 900) beats both others

  q.x_metric = "bits_per_weight";
  EXPECT_EQ(RunParetoQuery(*store_, q).status().message().rfind("x: metric 'bits_per_weight'", 0), 0u);
  q.x_metric = std::string(1000, 'm');
  EXPECT_EQ(RunParetoQuery(*store_, q).status().code(), StatusCode::kInvalidArgument);
  q.x_metric = "median_us";
  q.join = "";
  EXPECT_EQ(RunParetoQuery(*store_, q).status().message().rfind("join:", 0), 0u);
}

}  // namespace
}  // namespace qlab::server
