#include "storage/filter_expression.h"

#include <gtest/gtest.h>

#include "storage/job_store.h"
#include "tests/support/temp_dir.h"

namespace qlab::storage {
namespace {

TEST(FilterExpressionTest, CompilesNamesOperatorsAndBinds) {
  auto f = CompileFilter("datatype in (e2m1, nf4) and mse < 0.01", {"mse"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_NE(f->sql.find("json_extract(j.params_json"), std::string::npos);
  EXPECT_NE(f->sql.find("FROM result r"), std::string::npos);
  EXPECT_NE(f->sql.find(" IN ("), std::string::npos);
  ASSERT_EQ(f->binds.size(), 5u);  // path, e2m1, nf4, metric name, 0.01
  EXPECT_EQ(std::get<std::string>(f->binds[0].second), "$.\"datatype\"");
  EXPECT_EQ(std::get<double>(f->binds[4].second), 0.01);
}

TEST(FilterExpressionTest, StatesMapToNumbersAndEmptyIsNoFilter) {
  auto f = CompileFilter("state in (failed, CANCELLED)", {});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(std::get<int64_t>(f->binds[0].second), 5);
  EXPECT_EQ(std::get<int64_t>(f->binds[1].second), 6);
  EXPECT_TRUE(CompileFilter("   ", {})->sql.empty());
}

TEST(FilterExpressionTest, MalformedExpressionsNameThePosition) {
  for (const char* bad : {"mse <", "(kind = a", "kind = a or", "datatype in e2m1", "a between 1 2",
                          "state = sleeping", "\"open", "x ! 3", "x @ 3"}) {
    auto f = CompileFilter(bad, {});
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find("filter:"), std::string::npos) << f.status().message();
  }
}

TEST(FilterExpressionTest, HostileNestingAndLengthAreRefusedNotRecursedInto) {
  // 60,000 '(' once overflowed the stack of the coordinator's request thread.
  std::string parens = std::string(60000, '(') + "kind = a" + std::string(60000, ')');
  std::string nots;
  for (int i = 0; i < 3000; ++i) nots += "not ";
  nots += "kind = a";
  for (const std::string& bad : {parens.substr(0, 8000) + "kind = a" + std::string(8000, ')'), nots,
                                 parens, std::string(kMaxFilterBytes + 1, ' ')}) {
    auto f = CompileFilter(bad, {});
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_NE(CompileFilter(nots, {}).status().message().find("nested deeper than 64"), std::string::npos);
  EXPECT_NE(CompileFilter(parens, {}).status().message().find("longer than 16384 bytes"),
            std::string::npos);
  // At the bound it still compiles, and depth is released when a group closes.
  std::string deepest = std::string(kMaxFilterNesting, '(') + "kind = a" + std::string(kMaxFilterNesting, ')');
  EXPECT_TRUE(CompileFilter(deepest, {}).ok()) << CompileFilter(deepest, {}).status().ToString();
  EXPECT_FALSE(CompileFilter("(" + deepest + ")", {}).ok());
  EXPECT_TRUE(CompileFilter(deepest + " and " + deepest, {}).ok());
}

// The compiled SQL run against a real store: OR, IN, ranges, not, exists.
TEST(FilterExpressionTest, SelectsTheRightJobs) {
  testing::TempDir dir;
  auto store = JobStore::Open(dir.File("f.db"));
  ASSERT_TRUE(store.ok());
  ExperimentRecord e;
  e.name = "e";
  e.kind = "quantize";
  std::vector<JobSpec> jobs;
  const char* types[] = {"int4_asym", "e2m1", "nf4", "e2m1"};
  int groups[] = {32, 128, 128, 32};
  for (int i = 0; i < 4; ++i) {
    jobs.push_back({"quantize", std::string("{\"datatype\": \"") + types[i] +
                                    "\", \"group_size\": " + std::to_string(groups[i]) + "}"});
  }
  auto created = (*store)->CreateExperiment(e, jobs, 1);
  ASSERT_TRUE(created.ok());
  int64_t first = created->first_job_id;
  std::vector<bool> granted;
  ASSERT_TRUE((*store)->RecordLeases({{first, 1, "w", 9}, {first + 1, 2, "w", 9}}, 1, &granted).ok());
  CompletionRecord a{first, 1}, b{first + 1, 2};
  a.output.metrics = {{"mse", 0.02}};
  b.output.metrics = {{"mse", 0.005}, {"kl", 1.0}};
  std::vector<CompletionAck> acks;
  ASSERT_TRUE((*store)->Complete({a, b}, 2, &acks).ok());

  auto count = [&](const std::string& expr) {
    auto n = (*store)->CountJobs({"", 0, "", expr});
    EXPECT_TRUE(n.ok()) << expr << ": " << n.status().ToString();
    return n.ok() ? *n : -1;
  };
  EXPECT_EQ(count("datatype = e2m1"), 2);
  EXPECT_EQ(count("datatype in (e2m1, nf4) and group_size >= 64"), 2);
  EXPECT_EQ(count("mse < 0.01 or datatype = nf4"), 2);
  EXPECT_EQ(count("mse between 0.001 and 0.05"), 2);
  EXPECT_EQ(count("metrics.kl exists"), 1);
  EXPECT_EQ(count("not (datatype = e2m1)"), 2);
  EXPECT_EQ(count("datatype not in (e2m1)"), 2);
  EXPECT_EQ(count("state = pending"), 2);
  EXPECT_EQ(count("params.group_size = 32 and kind = quantize"), 2);
  auto rows = (*store)->QueryResults(created->experiment_id, 0, 100, "mse < 0.01");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].job_id, first + 1);
  EXPECT_EQ((*store)->CountJobs({"", 0, "", "mse <"}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::storage
