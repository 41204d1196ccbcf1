// A streamed export must equal the answer built whole from SQL rows: the CSV byte for byte,
// the JSON as parsed values, with and without filters, over params of every JSON type.
#include "server/results_export.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/results_csv.h"
#include "server/join_query.h"
#include "server/pareto_query.h"
#include "tests/support/temp_dir.h"

namespace qlab::server {
namespace {

class ResultsExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::JobStore::Open(dir_.File("q.db"));
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    storage::ExperimentRecord e;
    e.name = "exp";
    e.kind = "noop";
    e.spec_json = "{}";
    std::vector<storage::JobSpec> jobs(5000);
    for (int i = 0; i < 5000; ++i) {
      std::string p = "{\"label\": \"dt" + std::to_string(i % 10) + "\", \"seq\": " + std::to_string(i);
      if (i % 3 == 0) p += ", \"scale\": " + std::to_string(i * 0.125);
      if (i % 7 == 0) p += ", \"note\": \"a, \\\"quoted\\\" one\"";
      if (i % 11 == 0) p += ", \"flags\": [1, true, null]";
      if (i % 13 == 0) p += ", \"gone\": null, \"on\": false";
      jobs[i] = {"noop", p + "}"};
      jobs[i].max_attempts = 1;
    }
    auto created = store_->CreateExperiment(e, jobs, 1000);
    ASSERT_TRUE(created.ok());
    for (int i = 0; i < 5000; i += 2) {  // half succeed; some without every metric
      const int64_t id = created->first_job_id + i;
      std::vector<bool> granted;
      ASSERT_TRUE(store_->RecordLeases({{id, id, "w", 9000}}, 2000, &granted).ok());
      storage::CompletionRecord r;
      r.job_id = id;
      r.token = id;
      r.output.metrics = {{"mse", 1.0 / (i + 3)}, {"bits", 4.0 + (i % 5) * 0.25}};
      if (i % 4 == 0) r.output.metrics.push_back({"area", 100000.0 * (i % 9)});
      r.comparability.context_json = "{}";
      r.comparability.comparability_key = "c" + std::to_string(i % 3);
      r.comparability.environment_key = "e" + std::to_string(i % 2);
      r.comparability.backend = "native";
      std::vector<storage::CompletionAck> acks;
      ASSERT_TRUE(store_->Complete({r}, 3000, &acks).ok());
    }
  }

  std::string Streamed(const std::string& filter, ResultsExport::Format format) {
    auto e = ResultsExport::Start(*store_, "exp", filter, format);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    std::string out;
    for (;;) {
      auto more = (*e)->Next(&out);
      EXPECT_TRUE(more.ok());
      if (!*more) break;
    }
    return out;
  }

  std::vector<storage::ResultRow> Rows(const std::string& filter) {
    auto rows = ReadResultRows(*store_, 1, filter, false);
    EXPECT_TRUE(rows.ok());
    return *rows;
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::JobStore> store_;
};

TEST_F(ResultsExportTest, CsvEqualsTheWholeAnswerByteForByte) {
  for (const std::string filter : {"", "label in (dt1, dt2) and seq > 1200", "mse < 0.001",
                                   "note exists", "seq = 4999", "seq < 0", "state = succeeded"}) {
    std::vector<ResultLine> lines;
    for (const auto& r : Rows(filter)) {
      ResultLine line{r.job_id, r.experiment, r.kind, storage::JobStateName(r.state),
                      r.params_json, {}, r.comparability_key, r.environment_key, r.backend, r.flag};
      for (const auto& m : r.metrics) line.metrics.emplace_back(m.name, m.value);
      lines.push_back(std::move(line));
    }
    EXPECT_EQ(Streamed(filter, ResultsExport::Format::kCsv), ResultsCsv(lines)) << filter;
  }
}

TEST_F(ResultsExportTest, JsonEqualsTheWholeAnswer) {
  for (const std::string filter : {"", "scale exists and bits >= 4.5", "seq < 0", "state = pending"}) {
    nlohmann::json expected = nlohmann::json::array();
    for (const auto& r : Rows(filter)) {
      nlohmann::json metrics = nlohmann::json::object();
      for (const auto& m : r.metrics) metrics[m.name] = m.value;
      expected.push_back({{"job_id", r.job_id}, {"experiment", r.experiment}, {"kind", r.kind},
                          {"state", storage::JobStateName(r.state)},
                          {"params", nlohmann::json::parse(r.params_json)}, {"metrics", metrics},
                          {"comparability_key", r.comparability_key},
                          {"environment_key", r.environment_key}, {"backend", r.backend},
                          {"flag", r.flag}});
    }
    const std::string text = Streamed(filter, ResultsExport::Format::kJson);
    auto parsed = nlohmann::json::parse(text, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << filter << ": " << text.substr(0, 200);
    EXPECT_EQ(parsed, expected) << filter;
  }
}

TEST_F(ResultsExportTest, UnknownExperimentAndBadFilterAreRefused) {
  EXPECT_EQ(ResultsExport::Start(*store_, "nope", "", ResultsExport::Format::kCsv).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ResultsExport::Start(*store_, "exp", "seq >", ResultsExport::Format::kCsv).status().code(),
            StatusCode::kInvalidArgument);
}


// A front is remembered until the columns change: a job that succeeds after the first answer
// shows in the next one.
TEST_F(ResultsExportTest, RememberedFrontsFollowNewSuccesses) {
  ParetoQuery q{"exp", "bits", "mse"};
  q.max_points = 50;
  q.keys = "mix";  // one front over the environments, so that the new point beats all
  auto first = RunParetoQuery(*store_, q);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto again = RunParetoQuery(*store_, q);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->total_points, first->total_points);
  const int64_t id = 2;  // pending: only even offsets from the first job succeeded
  std::vector<bool> granted;
  ASSERT_TRUE(store_->RecordLeases({{id, 99999, "w", 9000}}, 2000, &granted).ok());
  ASSERT_TRUE(granted[0]);
  storage::CompletionRecord r;
  r.job_id = id;
  r.token = 99999;
  r.output.metrics = {{"mse", 1e-9}, {"bits", 1.0}};
  std::vector<storage::CompletionAck> acks;
  ASSERT_TRUE(store_->Complete({r}, 3000, &acks).ok());
  ASSERT_TRUE(acks[0].accepted);
  auto after = RunParetoQuery(*store_, q);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->total_points, first->total_points + 1);
  int64_t on = 0;
  for (const auto& p : after->points) on += p.on_frontier;
  ASSERT_EQ(on, 1) << "the new job dominates every other point";
  for (const auto& p : after->points) {
    if (p.on_frontier) EXPECT_EQ(p.job_id, id);
  }
}

}  // namespace
}  // namespace qlab::server
