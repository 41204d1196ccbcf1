// Accuracy job params: what the server accepts and what it refuses, without files.
#include "evaluators/accuracy/accuracy_params.h"

#include <gtest/gtest.h>

#include "evaluators/accuracy/accuracy_job.h"

namespace qlab::accuracy {
namespace {

using nlohmann::json;

json Valid() {
  return {{"model", "models/kjv/model.bin"},
          {"tokens", "models/kjv/heldout.tok"},
          {"datatype", "int4_asym"},
          {"group_size", 128}};
}

std::string Error(const json& params) {
  const Status s = ValidateAccuracyParams(params);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << params.dump();
  return s.message();
}

TEST(AccuracyParams, DefaultsAndNormalisation) {
  json p = Valid();
  p["device"] = "cuda";
  p["scale_search"] = "mse";
  p["group_size"] = 128.0;  // YAML may give floats
  auto parsed = ParseAccuracyParams(p);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->device, "cuda:0");
  EXPECT_EQ(parsed->quantizer.group_size, 128);
  EXPECT_EQ(parsed->quantizer.scale_search, datatypes::ScaleSearch::kMse);
  EXPECT_EQ(parsed->context, 0);
  EXPECT_EQ(parsed->stride, 0);
  EXPECT_EQ(parsed->dtype, "float32");
  EXPECT_FALSE(parsed->quantize_head);

  json text = Valid();
  text.erase("tokens");
  text["text"] = "heldout.txt";
  text["tokenizer"] = "tokenizer.model";
  text["context"] = 128;
  text["stride"] = 64;
  EXPECT_TRUE(ValidateAccuracyParams(text).ok());
}

TEST(AccuracyParams, RefusesBadSweeps) {
  json p = Valid();
  p.erase("model");
  EXPECT_NE(Error(p).find("model"), std::string::npos);

  p = Valid();
  p["text"] = "a.txt";
  EXPECT_NE(Error(p).find("not both"), std::string::npos);

  p = Valid();
  p.erase("tokens");
  p["text"] = "a.txt";
  EXPECT_NE(Error(p).find("tokenizer"), std::string::npos);

  p = Valid();
  p["datatype"] = "int4_banana";
  EXPECT_NE(Error(p).find("int4_banana"), std::string::npos);

  p = Valid();
  p["grop_size"] = 64;
  EXPECT_NE(Error(p).find("did you mean 'group_size'"), std::string::npos);

  p = Valid();
  p["colour"] = "blue";
  EXPECT_NE(Error(p).find("unknown field 'colour'"), std::string::npos);

  p = Valid();
  p["context"] = 64;
  p["stride"] = 128;
  EXPECT_NE(Error(p).find("stride"), std::string::npos);

  p = Valid();
  p["group_size"] = -3;
  EXPECT_NE(Error(p).find("group_size"), std::string::npos);

  p = Valid();
  p["device"] = "tpu:0";
  EXPECT_NE(Error(p).find("device"), std::string::npos);

  p = Valid();
  p["dtype"] = "int8";
  EXPECT_NE(Error(p).find("dtype"), std::string::npos);

  p = Valid();
  p["quantize_head"] = "yes";
  EXPECT_NE(Error(p).find("quantize_head"), std::string::npos);

  p = Valid();
  p["context"] = 1;
  EXPECT_NE(Error(p).find("context"), std::string::npos);

  EXPECT_NE(Error(json::array()).find("object"), std::string::npos);
}

TEST(AccuracyParams, PerTensorMapsPickTheMostSpecificPattern) {
  json p = Valid();
  p["datatype"] = {{"*", "int4_asym"},
                   {"*.mlp.*", "nf4"},
                   {"model.layers.0.mlp.down_proj.weight", "int8_asym"},
                   {"*.self_attn.o_proj.weight", "keep"}};
  p["group_size"] = {{"*.mlp.*", 64}};
  auto parsed = ParseAccuracyParams(p);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto format = [&](const std::string& name) {
    auto f = ResolveTensorFormat(*parsed, name);
    EXPECT_TRUE(f.ok()) << name << ": " << f.status().ToString();
    return f.ok() ? *f : TensorFormat{};
  };
  EXPECT_EQ(format("model.layers.0.self_attn.q_proj.weight").datatype,
            datatypes::Datatype::kInt4Asym);
  EXPECT_EQ(format("model.layers.0.self_attn.q_proj.weight").quantizer.group_size, -1);
  EXPECT_EQ(format("model.layers.1.mlp.up_proj.weight").datatype, datatypes::Datatype::kNf4);
  EXPECT_EQ(format("model.layers.1.mlp.up_proj.weight").quantizer.group_size, 64);
  EXPECT_EQ(format("model.layers.0.mlp.down_proj.weight").datatype,
            datatypes::Datatype::kInt8Asym);
  EXPECT_TRUE(format("model.layers.3.self_attn.o_proj.weight").keep);

  // Without a catch-all, a tensor no pattern names is refused, naming it.
  p["datatype"] = {{"*.mlp.*", "nf4"}};
  parsed = ParseAccuracyParams(p);
  ASSERT_TRUE(parsed.ok());
  auto missing = ResolveTensorFormat(*parsed, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("model.layers.0.self_attn.q_proj.weight"),
            std::string::npos);

  // Equally specific patterns that disagree are refused, not silently ordered.
  p["datatype"] = {{"*mlp*", "nf4"}, {"*s.0*", "int8_asym"}};
  parsed = ParseAccuracyParams(p);
  ASSERT_TRUE(parsed.ok());
  auto tie = ResolveTensorFormat(*parsed, "model.layers.0.mlp.up_proj.weight");
  EXPECT_NE(tie.status().message().find("disagree"), std::string::npos) << tie.status().ToString();

  // A uniform fp32 job is a baseline: nothing quantized.
  p["datatype"] = "fp32";
  p.erase("group_size");
  parsed = ParseAccuracyParams(p);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(ResolveTensorFormat(*parsed, "model.layers.0.mlp.up_proj.weight")->keep);
}

TEST(AccuracyParams, RefusesBadPerTensorMaps) {
  json p = Valid();
  p["datatype"] = {{"*", "int4_banana"}};
  EXPECT_NE(Error(p).find("datatype['*']"), std::string::npos);
  p["datatype"] = {{"*", 4}};
  EXPECT_NE(Error(p).find("datatype['*']"), std::string::npos);
  p["datatype"] = json::object();
  EXPECT_NE(Error(p).find("datatype"), std::string::npos);
  p["datatype"] = {{std::string(300, 'x'), "nf4"}};
  EXPECT_NE(Error(p).find("characters"), std::string::npos);
  p = Valid();
  p["group_size"] = {{"*", -2}};
  EXPECT_NE(Error(p).find("group_size['*']"), std::string::npos);
  p["group_size"] = {{"*", "big"}};
  EXPECT_NE(Error(p).find("group_size['*']"), std::string::npos);
  json big = json::object();
  for (size_t i = 0; i <= kMaxTensorPatternRules; ++i) big["t" + std::to_string(i)] = "nf4";
  p = Valid();
  p["datatype"] = big;
  EXPECT_NE(Error(p).find("entries"), std::string::npos);
}

}  // namespace
}  // namespace qlab::accuracy
