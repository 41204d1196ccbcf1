// The columns in memory must answer every filter exactly as SQLite answers its SQL: each
// expression here is run both ways over one real database file, before and after writes that
// the columns learn of by themselves (new jobs, successes, a job added to a loaded experiment).
#include "storage/experiment_columns.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "storage/job_rows.h"
#include "storage/job_store.h"
#include "tests/support/temp_dir.h"

namespace qlab::storage {
namespace {

// Params of every class SQLite compares: integers, reals, text (also text that looks like a
// number), booleans, JSON null, nested objects, and keys only some jobs have.
std::string ParamsOf(int i) {
  std::string p = "{\"x\": " + std::to_string(i % 10) + ", \"r\": " + std::to_string(i * 0.25);
  p += ", \"s\": \"" + std::string(i % 3 == 0 ? "e2m1" : i % 3 == 1 ? "nf4" : "10") + "\"";
  if (i % 4 == 0) p += ", \"b\": " + std::string(i % 8 == 0 ? "true" : "false");
  if (i % 5 == 0) p += ", \"n\": null";
  if (i % 6 == 0) p += ", \"o\": {\"k\": 1}";
  if (i % 7 == 0) p += ", \"mixed\": \"text\"";
  if (i % 7 == 1) p += ", \"mixed\": 3";
  return p + "}";
}

class ExperimentColumnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = JobStore::Open(dir_.File("q.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto reader = Connection::Open(dir_.File("q.db"), false, true);
    ASSERT_TRUE(reader.ok());
    reader_ = std::move(reader).value();
    first_a_ = Create("exp-a", "noop", 200);
    first_b_ = Create("exp-b", "quantize", 60);
  }

  int64_t Create(const std::string& name, const std::string& kind, int n) {
    ExperimentRecord e;
    e.name = name;
    e.kind = kind;
    e.spec_json = "{}";
    std::vector<JobSpec> jobs(n);
    for (int i = 0; i < n; ++i) {
      jobs[i].kind = kind;
      jobs[i].params_json = ParamsOf(i);
      jobs[i].max_attempts = 3;
    }
    auto created = store_->CreateExperiment(e, jobs, 1000);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created->first_job_id;
  }

  // Succeeds job `id` with metrics; every third one without "m2".
  void Succeed(int64_t id) {
    std::vector<bool> granted;
    ASSERT_TRUE(store_->RecordLeases({{id, ++token_, "w1", 5000}}, 2000, &granted).ok());
    ASSERT_TRUE(granted[0]);
    CompletionRecord r;
    r.job_id = id;
    r.token = token_;
    r.output.metrics = {{"m1", static_cast<double>(id % 17) * 0.5}};
    if (id % 3 != 0) r.output.metrics.push_back({"m2", -static_cast<double>(id % 11)});
    r.comparability.context_json = "{}";
    r.comparability.environment_key = id % 2 ? "env-odd" : "env-even";
    r.comparability.backend = id % 5 == 0 ? "fallback" : "native";
    std::vector<CompletionAck> acks;
    ASSERT_TRUE(store_->Complete({r}, 3000, &acks).ok());
    ASSERT_TRUE(acks[0].accepted) << acks[0].reason;
  }

  // Ids matching `expression` as SQLite answers the compiled SQL, newest first.
  std::vector<int64_t> BySql(const std::string& expression, const std::string& experiment) {
    auto compiled = CompileFilter(expression, store_->MetricNames());
    EXPECT_TRUE(compiled.ok()) << expression << ": " << compiled.status().ToString();
    auto s = reader_->Prepare("SELECT j.id FROM job j JOIN experiment e ON e.id = j.experiment_id "
                              "WHERE (:exp = '' OR e.name = :exp) AND " + compiled->sql +
                              " ORDER BY j.id DESC");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    (*s)->Bind((*s)->ParamIndex(":exp"), experiment);
    BindCompiled(*s, *compiled);
    std::vector<int64_t> ids;
    while (*(*s)->Step()) ids.push_back((*s)->Int(0));
    (*s)->Reset();
    return ids;
  }

  std::vector<int64_t> ByColumns(const std::string& expression, const std::string& experiment) {
    auto jobs = store_->ListJobs({experiment, 0, "", expression}, 0, 100000);
    EXPECT_TRUE(jobs.ok()) << jobs.status().ToString();
    std::vector<int64_t> ids;
    for (const auto& j : *jobs) ids.push_back(j.id);
    return ids;
  }

  void ExpectSameAnswers() {
    const char* expressions[] = {
        "x = 3", "x != 3", "x < 3", "x >= 7", "x between 2 and 4", "x in (1, 5, 9)",
        "x not in (1, 5, 9)", "r > 10.5", "r <= 2", "s = e2m1", "s = 10", "s = '10'", "s > nf3",
        "s < 5", "s in (nf4, 10)", "s not in (nf4)", "b = true", "b = false", "b != 1",
        "b exists", "not b exists", "n exists", "n = 0", "o exists", "o = '{\"k\":1}'",
        "mixed = 3", "mixed > 2", "mixed < text", "mixed in (3, text)", "mixed not in (3)",
        "missing = 1", "not missing = 1", "missing not in (1)", "m1 > 3", "m1 <= 1",
        "m2 < -5", "m2 exists", "not m2 exists", "metrics.m2 != -3", "m1 > 2 or m2 < -9",
        "not (x = 3 or s = nf4)", "not (m2 < -5)", "x = 3 and not (n exists)",
        "(x < 5 or b = true) and not (s = 10 or m1 > 6)", "kind = quantize", "kind != noop",
        "experiment = exp-b", "experiment in (exp-a) and x = 2", "params.x between 8 and 100",
        "params.s >= 'nf4'", "x >= 2.5", "r = 0.25", "x = '3'", "s between 1 and 20",
    };
    for (const char* e : expressions) {
      for (const std::string experiment : {"", "exp-a", "exp-b"}) {
        EXPECT_EQ(ByColumns(e, experiment), BySql(e, experiment))
            << "filter '" << e << "' over experiment '" << experiment << "'";
      }
      bool capped = false;
      auto count = store_->CountJobsUpTo({"", 0, "", e}, 1000000, &capped);
      ASSERT_TRUE(count.ok());
      EXPECT_EQ(*count, static_cast<int64_t>(BySql(e, "").size())) << e;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<Connection> reader_;
  int64_t first_a_ = 0, first_b_ = 0, token_ = 0;
};

TEST_F(ExperimentColumnsTest, EveryFilterAnswersAsSqlDoes) {
  for (int64_t id = first_a_; id < first_a_ + 120; ++id) Succeed(id);
  for (int64_t id = first_b_; id < first_b_ + 30; ++id) Succeed(id);
  ExpectSameAnswers();
}

TEST_F(ExperimentColumnsTest, ColumnsFollowWritesAfterTheyAreLoaded) {
  for (int64_t id = first_a_; id < first_a_ + 50; ++id) Succeed(id);
  ASSERT_EQ(ByColumns("m1 >= 0", "exp-a").size(), 50u);  // loads the columns of exp-a
  for (int64_t id = first_a_ + 50; id < first_a_ + 150; ++id) Succeed(id);
  // A job added to a loaded experiment, and one to a new experiment.
  JobSpec spec;
  spec.kind = "noop";
  spec.params_json = "{\"x\": 3, \"late\": \"yes\"}";
  spec.max_attempts = 1;
  auto added = store_->AddJob("exp-a", "", spec, 5000);
  ASSERT_TRUE(added.ok());
  Succeed(added->id);
  Create("exp-c", "noop", 10);
  EXPECT_EQ(ByColumns("m1 >= 0", "exp-a").size(), 151u);
  EXPECT_EQ(ByColumns("late = yes", "").front(), added->id);
  ExpectSameAnswers();
}

TEST_F(ExperimentColumnsTest, PagesNewestFirstAcrossExperimentsAndLiveFieldsUseSql) {
  for (int64_t id = first_a_; id < first_a_ + 200; ++id) Succeed(id);
  std::vector<int64_t> all = BySql("x < 10", "");
  std::vector<int64_t> paged;
  int64_t before = 0;
  for (;;) {
    auto page = store_->ListJobs({"", 0, "", "x < 10"}, before, 7);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (const auto& j : *page) paged.push_back(j.id);
    before = page->back().id;
  }
  EXPECT_EQ(paged, all);
  // State and worker change while a job lives: answered by SQL, the same way.
  auto live = store_->ListJobs({"", 0, "", "state = succeeded and x = 1"}, 0, 1000);
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->size(), BySql("state = succeeded and x = 1", "").size());
  EXPECT_EQ(live->size(), 20u);
}

TEST_F(ExperimentColumnsTest, MetricPairsMatchTheJoinOfTheTwoMetrics) {
  for (int64_t id = first_a_; id < first_a_ + 90; ++id) Succeed(id);
  auto pairs = store_->ReadMetricPairs(1, "m1", "m2", "x < 6");
  ASSERT_TRUE(pairs.ok()) << pairs.status().ToString();
  std::vector<int64_t> expected = BySql("experiment = exp-a and x < 6 and m1 exists and m2 exists", "");
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(pairs->ids, expected);
  ASSERT_FALSE(pairs->ids.empty());
  for (size_t i = 0; i < pairs->ids.size(); ++i) {
    const int64_t id = pairs->ids[i];
    EXPECT_EQ(pairs->x[i], static_cast<double>(id % 17) * 0.5);
    EXPECT_EQ(pairs->y[i], -static_cast<double>(id % 11));
    EXPECT_EQ(pairs->key_names[pairs->key[i]], id % 2 ? "env-odd" : "env-even");
    EXPECT_EQ(pairs->fallback[i] != 0, id % 5 == 0);
  }
  auto sql = store_->ReadMetricPairs(1, "m1", "m2", "x < 6 and state = succeeded");
  ASSERT_TRUE(sql.ok());
  EXPECT_EQ(sql->ids, pairs->ids);
  auto missing = store_->ReadMetricPairs(1, "m1", "nope", "");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->x_seen);
  EXPECT_FALSE(missing->y_seen);
}


// job_count (what experiment pages and the summary read) must equal counting the jobs, after
// every kind of write: a sweep, an added job, leases, successes, a cancellation.
TEST_F(ExperimentColumnsTest, JobCountsEqualCountingTheJobs) {
  for (int64_t id = first_a_; id < first_a_ + 40; ++id) Succeed(id);
  std::vector<bool> granted;
  ASSERT_TRUE(store_->RecordLeases({{first_a_ + 50, 900, "w1", 5000}}, 2000, &granted).ok());
  JobSpec spec;
  spec.kind = "other";
  spec.params_json = "{}";
  ASSERT_TRUE(store_->AddJob("exp-a", "", spec, 5000).ok());
  ASSERT_TRUE(store_->Cancel(0, "exp-b", 6000).ok());
  auto rows = [&](const std::string& sql) {
    std::vector<std::string> out;
    auto s = reader_->Prepare(sql);
    EXPECT_TRUE(s.ok());
    while (*(*s)->Step()) {
      out.push_back(std::to_string((*s)->Int(0)) + "/" + (*s)->Text(1) + "/" +
                    std::to_string((*s)->Int(2)) + "=" + std::to_string((*s)->Int(3)));
    }
    (*s)->Reset();
    return out;
  };
  const auto counted = rows("SELECT experiment_id, kind, state, COUNT(*) FROM job "
                            "GROUP BY experiment_id, kind, state ORDER BY 1, 2, 3");
  EXPECT_EQ(rows("SELECT experiment_id, kind, state, n FROM job_count WHERE n > 0 ORDER BY 1, 2, 3"),
            counted);
  EXPECT_EQ(counted.size(), 5u);  // a: noop pending, leased, succeeded, other pending; b: cancelled
  auto a = store_->GetExperiment("exp-a", 0);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->total, 201);
  EXPECT_EQ(a->succeeded, 40);
  EXPECT_EQ(a->running, 1);
}


// The metric names an experiment stored come back after a restart, in the order first stored,
// from experiment_metric (not from a scan of every result).
TEST_F(ExperimentColumnsTest, MetricNamesSurviveReopenInTheOrderFirstStored) {
  Succeed(first_a_ + 3);  // m1 only (3 % 3 == 0)
  Succeed(first_a_ + 4);  // m1, m2
  Succeed(first_b_ + 1);
  EXPECT_EQ(store_->ExperimentMetricNames(1), (std::vector<std::string>{"m1", "m2"}));
  reader_.reset();
  store_.reset();
  auto reopened = JobStore::Open(dir_.File("q.db"));
  ASSERT_TRUE(reopened.ok());
  store_ = std::move(reopened).value();
  EXPECT_EQ(store_->ExperimentMetricNames(1), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(store_->ExperimentMetricNames(2), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(store_->MetricNames(), (std::set<std::string>{"m1", "m2"}));
  EXPECT_TRUE(store_->ExperimentMetricNames(3).empty());
}


// Jobs that each bring their own param key would grow the columns as jobs times keys: past
// kMaxColumns the experiment is left to SQL, with the same answers.
TEST_F(ExperimentColumnsTest, AnExperimentWithTooManyDistinctKeysIsAnsweredBySql) {
  ExperimentRecord e;
  e.name = "wide";
  e.kind = "noop";
  e.spec_json = "{}";
  std::vector<JobSpec> jobs(ExperimentColumns::kMaxColumns + 100);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].kind = "noop";
    jobs[i].params_json = "{\"x\": " + std::to_string(i % 7) + ", \"k" + std::to_string(i) + "\": 1}";
  }
  auto created = store_->CreateExperiment(e, jobs, 1000);
  ASSERT_TRUE(created.ok());
  auto columns = store_->Columns(created->experiment_id);
  ASSERT_TRUE(columns.ok());
  EXPECT_FALSE((*columns)->complete());
  EXPECT_EQ((*columns)->size(), 0u) << "nothing held for it";
  for (const char* f : {"k5 = 1", "x = 3", "k1100 exists or x = 0"}) {
    EXPECT_EQ(ByColumns(f, "wide"), BySql(f, "wide")) << f;
    EXPECT_EQ(ByColumns(f, ""), BySql(f, "")) << f;
  }
  EXPECT_EQ(ByColumns("x = 3", "wide").size(), (jobs.size() + 3) / 7);
}

}  // namespace
}  // namespace qlab::storage
