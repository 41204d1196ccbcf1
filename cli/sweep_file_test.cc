#include "cli/sweep_file.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace qlab::cli {
namespace {

TEST(SweepFileTest, YamlOfTheDesignBecomesTypedJson) {
  auto json = SweepTextToJson(R"(
name: w4-gaussian
kind: quantize
params: {distribution: gaussian, shape: [256, 4096], seed: 1, scale_search: none}
axes:
  datatype: [int4_asym, int8_asym, e2m1, nf4]
  group_size: [32, 128]
  flag: [true, "true", 1.5]
)");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  auto j = nlohmann::ordered_json::parse(*json);
  EXPECT_EQ(j["name"], "w4-gaussian");
  EXPECT_EQ(j["params"]["shape"][1], 4096);
  EXPECT_TRUE(j["params"]["seed"].is_number_integer());
  EXPECT_EQ(j["axes"]["group_size"][0], 32);
  EXPECT_EQ(j["axes"]["flag"][0], true);
  EXPECT_EQ(j["axes"]["flag"][1], "true") << "quoted scalars stay strings";
  EXPECT_EQ(j["axes"]["flag"][2], 1.5);
  // Axis order is kept: it fixes the order of the jobs.
  EXPECT_EQ(j["axes"].begin().key(), "datatype");
}

TEST(SweepFileTest, JsonPassesThrough) {
  auto json = SweepTextToJson(R"({"name": "a", "kind": "noop", "params": {"x": 1}})");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, R"({"name":"a","kind":"noop","params":{"x":1}})");
}

TEST(SweepFileTest, MalformedTextIsInvalidArgumentWithPosition) {
  auto bad = SweepTextToJson("name: a\nkind: [noop\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("line"), std::string::npos);
  EXPECT_FALSE(SweepTextToJson("{\"name\": ").ok());
  EXPECT_FALSE(SweepTextToJson("- just\n- a list\n").ok());
  EXPECT_EQ(ReadSweepFile("/nonexistent/sweep.yaml").status().code(), StatusCode::kInvalidArgument);
}

TEST(SweepFileTest, HostileNestingIsRefusedNotRecursedInto) {
  // A 100,000-deep JSON file once crashed the CLI in the JSON writer's recursion.
  auto deep_json = SweepTextToJson(R"({"name": "a", "params": {"x": )" + std::string(100000, '[') +
                                   std::string(100000, ']') + "}}");
  ASSERT_FALSE(deep_json.ok());
  EXPECT_EQ(deep_json.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deep_json.status().message().find("nests deeper than 64"), std::string::npos);
  // YAML flow collections: yaml-cpp's own depth guard or ours, never a crash.
  auto deep_yaml = SweepTextToJson("name: a\nparams: {x: " + std::string(100000, '[') +
                                   std::string(100000, ']') + "}\n");
  EXPECT_FALSE(deep_yaml.ok());
  EXPECT_EQ(deep_yaml.status().code(), StatusCode::kInvalidArgument);
  auto yaml_past_ours = SweepTextToJson("name: a\nparams: {x: " + std::string(100, '[') +
                                        std::string(100, ']') + "}\n");
  ASSERT_FALSE(yaml_past_ours.ok());
  EXPECT_NE(yaml_past_ours.status().message().find("nests deeper than 64"), std::string::npos);
}

TEST(SweepFileTest, YamlThatIsNotUtf8IsInvalidArgument) {
  // Found by tests/fuzz (sweep_text): the JSON writer threw on the byte 0xFF and ended the CLI.
  auto bad = SweepTextToJson(
      "name: a\nkind: noop\ntags: [2026-12-\xff\xff\xff\x01"
      "07]\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("UTF-8"), std::string::npos);
  EXPECT_FALSE(SweepTextToJson("name: \x99\n").ok());
  auto utf8 = SweepTextToJson("name: \xc3\xa9t\xc3\xa9\n");
  ASSERT_TRUE(utf8.ok()) << utf8.status().ToString();
  EXPECT_EQ(*utf8, "{\"name\":\"\xc3\xa9t\xc3\xa9\"}");
}

TEST(SweepFileTest, AliasCyclesAndAliasBombsAreRefused) {
  // Found by tests/fuzz (sweep_text): `&p [*p]` is a sequence holding itself, and the
  // conversion to JSON recursed until the stack overflowed.
  auto cycle = SweepTextToJson("name: a\nkind: noop\nparams: &p [*p]\n");
  ASSERT_FALSE(cycle.ok());
  EXPECT_EQ(cycle.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cycle.status().message().find("nests deeper than 64"), std::string::npos)
      << cycle.status().message();
  // Ten aliases per line over nine lines: 10^9 values from 400 bytes.
  std::string bomb = "name: a\nkind: noop\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    const std::string prev = "*l" + std::to_string(i - 1);
    bomb += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", " : "") + prev;
    bomb += "]\n";
  }
  auto expanded = SweepTextToJson(bomb);
  ASSERT_FALSE(expanded.ok());
  EXPECT_NE(expanded.status().message().find("more values once its aliases are expanded"),
            std::string::npos)
      << expanded.status().message();
  // Without aliases a file cannot hold more values than bytes: long lists stay fine.
  std::string list = "name: a\nkind: noop\naxes: {seq: [0";
  for (int i = 1; i < 20000; ++i) list += "," + std::to_string(i % 10);
  auto long_list = SweepTextToJson(list + "]}\n");
  ASSERT_TRUE(long_list.ok()) << long_list.status().ToString();
  // Aliases that expand modestly still work.
  auto fine = SweepTextToJson("name: a\nkind: noop\nparams: &p {x: 1}\naxes: {copy: [*p, *p]}\n");
  ASSERT_TRUE(fine.ok()) << fine.status().ToString();
  EXPECT_EQ(*fine,
            R"({"name":"a","kind":"noop","params":{"x":1},"axes":{"copy":[{"x":1},{"x":1}]}})");
}

}  // namespace
}  // namespace qlab::cli
