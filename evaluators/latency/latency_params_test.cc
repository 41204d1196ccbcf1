// Latency job parameters: accepted forms, every bad-input rule naming its field, expansion.
#include "evaluators/latency/latency_params.h"

#include <gtest/gtest.h>

namespace qlab::latency {
namespace {

using nlohmann::json;

const char* kIndex0 =
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
    "skip_connect~2|";

TEST(LatencyParamsTest, Nb201Selectors) {
  auto one = ParseLatencyParams({{"space", "nb201"}, {"arch_index", 123}});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->archs.size(), 1u);
  EXPECT_EQ(one->archs[0].Key(), "nb201:123");
  EXPECT_EQ(one->batch, 1);
  EXPECT_EQ(one->device, "cpu");
  EXPECT_EQ(one->threads, 1);
  EXPECT_TRUE(one->pin);
  EXPECT_EQ(one->DatasetName(), "cifar10");

  auto by_string = ParseLatencyParams({{"space", "nb201"}, {"arch", kIndex0}});
  ASSERT_TRUE(by_string.ok());
  EXPECT_EQ(by_string->archs[0].nb201_index, 0);
  EXPECT_EQ(by_string->archs[0].Text(), kIndex0);

  auto list = ParseLatencyParams({{"space", "nb201"}, {"arch_indices", {5, 0, 15624, 5}}});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->archs.size(), 4u);  // duplicates are measured again (repeatability)
  EXPECT_EQ(list->archs[2].nb201_index, 15624);

  auto range = ParseLatencyParams({{"space", "nb201"}, {"arch_range", {10, 20}}});
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->archs.size(), 10u);
  EXPECT_EQ(range->archs.front().nb201_index, 10);

  auto all = ParseLatencyParams({{"space", "nb201"}, {"sweep", "nb201-all"}});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->archs.size(), 15625u);
  auto uniq = ParseLatencyParams({{"space", "nb201"}, {"sweep", "nb201-unique"}});
  EXPECT_EQ(uniq->archs.size(), 6466u);
  auto all_unique =
      ParseLatencyParams({{"space", "nb201"}, {"sweep", "nb201-all"}, {"unique", true}});
  EXPECT_EQ(all_unique->archs.size(), 6466u);
}

TEST(LatencyParamsTest, FbnetForms) {
  json codes = {7, 8, 1, 8, 4, 8, 8, 8, 7, 4, 1, 4, 7, 3, 2, 7, 3, 2, 4, 2, 4, 5};
  auto a = ParseLatencyParams({{"space", "fbnet"}, {"arch", codes}});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->archs[0].Key(), "fbnet:7-8-1-8-4-8-8-8-7-4-1-4-7-3-2-7-3-2-4-2-4-5");
  EXPECT_EQ(a->DatasetName(), "cifar100");
  json named = json::array();
  for (int i = 0; i < 22; ++i) named.push_back(i % 2 ? "skip" : "k5_e6");
  auto b = ParseLatencyParams({{"space", "fbnet"},
                               {"archs", {named, "0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0"}},
                               {"dataset", "ImageNet"}});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->archs.size(), 2u);
  EXPECT_EQ(b->archs[0].fbnet[1], 8);
  EXPECT_EQ(b->fbnet_dataset, nas::FbnetDataset::kImageNet);
}

TEST(LatencyParamsTest, OptionsAndProtocolOverrides) {
  auto s = ParseLatencyParams({{"space", "nb201"},
                               {"arch_index", 1},
                               {"dataset", "ImageNet16-120"},
                               {"batch", 8},
                               {"device", "cuda"},
                               {"threads", 2},
                               {"seed", 7},
                               {"protocol", "reference"},
                               {"min_runs", 30},
                               {"cv_gate", 0.1},
                               {"remeasure", false}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->nb201_dataset, nas::Nb201Dataset::kImageNet16_120);
  EXPECT_EQ(s->batch, 8);
  EXPECT_EQ(s->device, "cuda:0");
  EXPECT_EQ(s->threads, 2);
  EXPECT_EQ(s->seed, 7u);
  EXPECT_EQ(s->protocol.min_runs, 30);
  EXPECT_DOUBLE_EQ(s->protocol.min_time_s, 0.5);  // from the reference preset
  EXPECT_DOUBLE_EQ(s->protocol.cv_gate, 0.1);
  EXPECT_FALSE(s->protocol.remeasure);
}

// Every bad input is INVALID_ARGUMENT and the message starts with the field to fix.
TEST(LatencyParamsTest, BadInputNamesTheField) {
  struct Case {
    json params;
    const char* field;
  };
  json fb22 = json(std::vector<int>(22, 0));
  const Case cases[] = {
      {json::array(), "params"},
      {{{"arch_index", 1}}, "space"},
      {{{"space", "nb101"}, {"arch_index", 1}}, "space"},
      {{{"space", 201}, {"arch_index", 1}}, "space"},
      {{{"space", "nb201"}}, "arch"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"arch", kIndex0}}, "arch"},
      {{{"space", "nb201"}, {"arch_index", -1}}, "arch_index"},
      {{{"space", "nb201"}, {"arch_index", 15625}}, "arch_index"},
      {{{"space", "nb201"}, {"arch_index", 1.5}}, "arch_index"},
      {{{"space", "nb201"}, {"arch_index", "7"}}, "arch_index"},
      {{{"space", "nb201"}, {"arch_indices", {1, 2, 99999}}}, "arch_indices[2]"},
      {{{"space", "nb201"}, {"arch_indices", json::array()}}, "arch_indices"},
      {{{"space", "nb201"}, {"arch_range", {5, 5}}}, "arch_range[1]"},
      {{{"space", "nb201"}, {"arch_range", {0, 15626}}}, "arch_range[1]"},
      {{{"space", "nb201"}, {"arch", "|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"}},
       "arch"},
      {{{"space", "nb201"}, {"arch", "|none~0|+|none~0|none~1|"}}, "arch"},
      {{{"space", "nb201"}, {"arch", 5}}, "arch"},
      {{{"space", "nb201"}, {"archs", {kIndex0, "bogus"}}}, "archs[1]"},
      {{{"space", "nb201"}, {"sweep", "nb201-some"}}, "sweep"},
      {{{"space", "fbnet"}, {"arch_index", 3}}, "arch_index"},
      {{{"space", "fbnet"}, {"arch", json(std::vector<int>(21, 0))}}, "arch"},
      {{{"space", "fbnet"}, {"arch", json(std::vector<int>(22, 9))}}, "arch[0]"},
      {{{"space", "fbnet"}, {"arch", "k3_e1-k9_e9"}}, "arch"},
      {{{"space", "fbnet"}, {"archs", {fb22, {"k3_e1", "k7"}}}}, "archs[1][1]"},
      {{{"space", "fbnet"}, {"arch", fb22}, {"unique", true}}, "unique"},
      {{{"space", "fbnet"}, {"arch", fb22}, {"dataset", "cifar10"}}, "dataset"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"dataset", "imagenet"}}, "dataset"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"batch", 0}}, "batch"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"batch", -4}}, "batch"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"batch", "1"}}, "batch"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"device", "gpu"}}, "device"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"device", "cuda:x"}}, "device"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"threads", -1}}, "threads"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"seed", -1}}, "seed"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"pin", "yes"}}, "pin"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"protocol", "fast"}}, "protocol"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"min_runs", 0}}, "min_runs"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"max_runs", 5}}, "max_runs"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"min_time_s", -1}}, "min_time_s"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"cv_gate", 0}}, "cv_gate"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"remeasure", 1}}, "remeasure"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"retry_unstable", -1}}, "retry_unstable"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"retry_unstable", 11}}, "retry_unstable"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"archs_per_job", 0}}, "archs_per_job"},
      {{{"space", "nb201"}, {"arch_index", 1}, {"min_time", 1}}, "min_time"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.params.dump());
    Status s = ValidateLatencyParams(c.params);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message().rfind(std::string(c.field) + ":", 0), 0u) << s.message();
  }
}

TEST(LatencyParamsTest, ExpandNb201AllCoversTheSpaceOnce) {
  auto jobs = ExpandNb201All(1000, {{"dataset", "cifar100"}, {"threads", 2}});
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 16u);  // 15 x 1000 + 625
  std::vector<int> seen;
  for (const json& job : *jobs) {
    ASSERT_TRUE(ValidateLatencyParams(job).ok()) << job.dump().substr(0, 200);
    EXPECT_FALSE(job.contains("sweep"));
    EXPECT_FALSE(job.contains("archs_per_job"));
    EXPECT_EQ(job["dataset"], "cifar100");
    EXPECT_EQ(job["space"], "nb201");
    for (const json& i : job["arch_indices"]) seen.push_back(i.get<int>());
  }
  EXPECT_EQ(jobs->back()["arch_indices"].size(), 625u);
  ASSERT_EQ(seen.size(), 15625u);
  for (int i = 0; i < 15625; ++i) ASSERT_EQ(seen[i], i);

  auto unique = ExpandNb201All(5000, json::object(), /*unique_only=*/true);
  ASSERT_TRUE(unique.ok());
  EXPECT_EQ(unique->size(), 2u);  // 6466 = 5000 + 1466

  EXPECT_EQ(ExpandNb201All(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandNb201All(100, {{"arch_index", 3}}).status().message().rfind("arch_index:", 0),
            0u);
  EXPECT_EQ(ExpandNb201All(100, {{"space", "fbnet"}}).status().message().rfind("space:", 0), 0u);
  EXPECT_EQ(ExpandNb201All(100, {{"batch", 0}}).status().message().rfind("batch:", 0), 0u);
}

TEST(LatencyParamsTest, ExpandLatencyJobsKeepsOrderAndFbnetLists) {
  json fb = json(std::vector<int>(22, 3));
  auto jobs = ExpandLatencyJobs(
      {{"space", "fbnet"}, {"archs", {fb, fb, fb}}, {"archs_per_job", 2}, {"batch", 4}});
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0]["archs"].size(), 2u);
  EXPECT_EQ((*jobs)[1]["archs"][0], fb);
  EXPECT_EQ((*jobs)[1]["batch"], 4);
  auto single =
      ExpandLatencyJobs({{"space", "nb201"}, {"arch_range", {0, 2000}}, {"archs_per_job", 250}});
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->size(), 8u);
  EXPECT_EQ((*single)[7]["arch_indices"][249], 1999);
}

}  // namespace
}  // namespace qlab::latency
