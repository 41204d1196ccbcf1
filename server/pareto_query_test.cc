#include "server/pareto_query.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace qlab::server {
namespace {

// 60 succeeded jobs: bits in {2, 3, ..., 7} x 10 seeds; mse = 1/bits + seed/1000, so the
// frontier is the seed-0 job of each bit width (6 points).
class ParetoQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(storage::JobStore::Open(dir_.File("p.db"))).value();
    storage::ExperimentRecord e{0, "sweep", "", "noop"};
    std::vector<storage::JobSpec> jobs;
    for (int bits = 2; bits <= 7; ++bits) {
      for (int seed = 0; seed < 10; ++seed) {
        jobs.push_back({"noop", "{\"bits\": " + std::to_string(bits) + ", \"seed\": " +
                                    std::to_string(seed) + "}"});
      }
    }
    auto created = store_->CreateExperiment(e, jobs, 1);
    ASSERT_TRUE(created.ok());
    std::vector<storage::LeaseGrant> grants;
    std::vector<storage::CompletionRecord> done;
    for (int i = 0; i < 60; ++i) {
      int64_t id = created->first_job_id + i;
      grants.push_back({id, id, "w", 9});
      storage::CompletionRecord c{id, id};
      c.output.metrics = {{"bits_per_weight", 2.0 + i / 10}, {"mse", 1.0 / (2 + i / 10) + (i % 10) / 1000.0},
                          {"other", 1}};
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

TEST_F(ParetoQueryTest, FrontierOfAllPoints) {
  auto r = RunParetoQuery(*store_, {"sweep", "bits_per_weight", "mse"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->total_points, 60);
  ASSERT_EQ(r->points.size(), 60u);
  int frontier = 0;
  for (const auto& p : r->points) {
    if (p.on_frontier) {
      ++frontier;
      EXPECT_NE(p.params_json.find("\"seed\": 0}"), std::string::npos) << p.params_json;
    }
  }
  EXPECT_EQ(frontier, 6);
  EXPECT_LE(r->points.front().x, r->points.back().x);
}

TEST_F(ParetoQueryTest, MaxPointsKeepsTheWholeFrontierAndThinsTheRest) {
  ParetoQuery q{"sweep", "bits_per_weight", "mse"};
  q.max_points = 16;
  auto r = RunParetoQuery(*store_, q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total_points, 60);
  EXPECT_EQ(r->points.size(), 16u);
  int frontier = 0;
  for (const auto& p : r->points) frontier += p.on_frontier;
  EXPECT_EQ(frontier, 6);
}

TEST_F(ParetoQueryTest, FilterAndErrors) {
  ParetoQuery q{"sweep", "bits_per_weight", "mse"};
  q.filter = "bits >= 5";
  auto r = RunParetoQuery(*store_, q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total_points, 30);
  auto missing = RunParetoQuery(*store_, {"sweep", "bits_per_weight", "sqnr_db"});
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("sqnr_db"), std::string::npos);
  EXPECT_EQ(RunParetoQuery(*store_, {"nope", "a", "b"}).status().code(), StatusCode::kNotFound);
}

// Figures from two environments, and three from a fallback kernel that would dominate them.
TEST(ParetoKeysTest, GroupsByEnvironmentAndLeavesOutFallbacks) {
  testing::TempDir dir;
  auto store = std::move(storage::JobStore::Open(dir.File("k.db"))).value();
  std::vector<storage::JobSpec> jobs;
  for (int i = 0; i < 9; ++i) jobs.push_back({"kernel_bench", "{\"i\": " + std::to_string(i) + "}"});
  auto created = store->CreateExperiment({0, "kernels", "", "kernel_bench"}, jobs, 1);
  ASSERT_TRUE(created.ok());
  std::vector<storage::LeaseGrant> grants;
  std::vector<storage::CompletionRecord> done;
  for (int i = 0; i < 9; ++i) {
    const int64_t id = created->first_job_id + i;
    grants.push_back({id, id, "w", 9, "cpu"});
    storage::CompletionRecord c{id, id};
    const bool fallback = i >= 6;
    // Two environments of three points each, every point on its own environment's front.
    c.output.metrics = {{"bits", 2.0 + i % 3}, {"us", fallback ? 0.1 : 10.0 - i % 3 + (i < 3 ? 0 : 5)}};
    c.comparability = {"k" + std::to_string(i), i < 3 ? "env-a" : "env-b",
                       "{\"device\": {\"model\": \"" + std::string(i < 3 ? "A" : "B") + "\"}}",
                       fallback ? "fallback" : "native"};
    done.push_back(c);
  }
  std::vector<bool> granted;
  ASSERT_TRUE(store->RecordLeases(grants, 1, &granted).ok());
  std::vector<storage::CompletionAck> acks;
  ASSERT_TRUE(store->Complete(done, 2, &acks).ok());

  ParetoQuery q{"kernels", "bits", "us"};
  auto grouped = RunParetoQuery(*store, q);
  ASSERT_TRUE(grouped.ok()) << grouped.status().ToString();
  EXPECT_EQ(grouped->excluded_fallbacks, 3);
  EXPECT_EQ(grouped->total_points, 6);
  ASSERT_EQ(grouped->key_groups.size(), 2u);
  EXPECT_NE(grouped->warning.find("one front per environment"), std::string::npos);
  EXPECT_NE(grouped->key_groups[0].summary.find(grouped->key_groups[0].key == "env-a" ? "A" : "B"),
            std::string::npos);
  int on = 0;
  for (const auto& p : grouped->points) on += p.on_frontier;
  EXPECT_EQ(on, 6) << "each environment's points are its own front";

  q.keys = "mix";
  auto mixed = RunParetoQuery(*store, q);
  ASSERT_TRUE(mixed.ok());
  on = 0;
  for (const auto& p : mixed->points) {
    on += p.on_frontier;
    if (p.on_frontier) EXPECT_EQ(p.key, "env-a") << "env-b is dominated when mixed";
  }
  EXPECT_EQ(on, 3);
  EXPECT_NE(mixed->warning.find("keys=mix"), std::string::npos);

  q.include_fallbacks = true;
  auto with_fallbacks = RunParetoQuery(*store, q);
  ASSERT_TRUE(with_fallbacks.ok());
  EXPECT_EQ(with_fallbacks->excluded_fallbacks, 0);
  EXPECT_EQ(with_fallbacks->total_points, 9);

  q.keys = "any";
  EXPECT_EQ(RunParetoQuery(*store, q).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::server
