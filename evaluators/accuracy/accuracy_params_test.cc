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

}  // namespace
}  // namespace qlab::accuracy
