// The quantize job's params contract: validation messages name the field, a run returns the
// DESIGN.md metric names, tensor-name expansion for synthetic sources.
#include "evaluators/datatypes/quantize_job.h"

#include <gtest/gtest.h>

#include "evaluators/datatypes/registry.h"

namespace qlab::datatypes {
namespace {

using nlohmann::json;

json Base() {
  return json{{"distribution", "gaussian"}, {"shape", {64, 512}}, {"seed", 1},
              {"scale_search", "none"},     {"datatype", "int4_asym"}, {"group_size", 128}};
}

void ExpectInvalid(const json& params, const std::string& needle) {
  Status s = ValidateQuantizeParams(params);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << params.dump();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

TEST(QuantizeJob, ValidParams) {
  EXPECT_TRUE(ValidateQuantizeParams(Base()).ok());
  json p = Base();
  p["group_size"] = 0;
  EXPECT_TRUE(ValidateQuantizeParams(p).ok());
  p.erase("group_size");
  p["datatype"] = "nf4";
  p["unrelated_tag"] = "x";  // unknown keys that are not near a known one are ignored
  EXPECT_TRUE(ValidateQuantizeParams(p).ok());
  p["group_size"] = 64.0;  // YAML may produce integral floats
  EXPECT_TRUE(ValidateQuantizeParams(p).ok());
  for (const std::string& name : DatatypeNames()) {
    json q = Base();
    q["datatype"] = name;
    EXPECT_TRUE(ValidateQuantizeParams(q).ok()) << name;
  }
}

TEST(QuantizeJob, InvalidParamsNameTheField) {
  json p = Base();
  p["datatype"] = "int4";
  ExpectInvalid(p, "datatype");
  p = Base();
  p.erase("datatype");
  ExpectInvalid(p, "datatype");
  p = Base();
  p["group_size"] = -1;
  ExpectInvalid(p, "group_size");
  p["group_size"] = 100;  // does not divide 512
  ExpectInvalid(p, "group_size");
  p["group_size"] = "128";
  ExpectInvalid(p, "group_size");
  p = Base();
  p["shape"] = {64};
  ExpectInvalid(p, "shape");
  p["shape"] = {64, -2};
  ExpectInvalid(p, "shape");
  p["shape"] = {1 << 20, 1 << 20};
  ExpectInvalid(p, "shape");
  p = Base();
  p["distribution"] = "normal";
  ExpectInvalid(p, "distribution");
  p = Base();
  p["scale_search"] = "grid";
  ExpectInvalid(p, "scale_search");
  p = Base();
  p["safetensors"] = "/tmp/x.safetensors";
  ExpectInvalid(p, "exclusive");
  p = Base();
  p.erase("distribution");
  ExpectInvalid(p, "distribution or safetensors");
  p = Base();
  p["grop_size"] = 64;
  ExpectInvalid(p, "did you mean 'group_size'");
  p = Base();
  p["dtype"] = "e2m1";
  ExpectInvalid(p, "did you mean 'datatype'");
  p = Base();
  p["nu"] = -1;
  ExpectInvalid(p, "nu");
  p = Base();
  p["seed"] = -3;
  ExpectInvalid(p, "seed");
  ExpectInvalid(json::array({1, 2}), "object");
  json file = {{"safetensors", "/tmp/m.safetensors"}, {"datatype", "e2m1"}};
  ExpectInvalid(file, "tensor");
}

TEST(QuantizeJob, RunReturnsDesignMetricNames) {
  JobContext context;
  StatusOr<JobOutput> out = RunQuantizeJob(Base(), context);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::map<std::string, Metric> by_name;
  for (const Metric& m : out->metrics) by_name[m.name] = m;
  for (const char* name : {"mse", "sqnr_db", "max_abs_err", "bits_per_weight", "kl", "hw_cost",
                           "bit_sparsity", "bit_sparsity_p0", "bit_sparsity_p3"}) {
    EXPECT_TRUE(by_name.count(name)) << name;
  }
  EXPECT_DOUBLE_EQ(by_name["bits_per_weight"].value, 4.15625);
  EXPECT_FALSE(by_name.count("bit_sparsity_p4"));  // 4-bit codes: planes 0..3
  EXPECT_GT(by_name["hw_cost"].value, 0.9);
  EXPECT_TRUE(by_name["sqnr_db"].higher_is_better);
  EXPECT_FALSE(by_name["mse"].higher_is_better);
  EXPECT_GT(by_name["sqnr_db"].value, 15);
  EXPECT_EQ(by_name["sqnr_db"].unit, "dB");
  EXPECT_EQ(context.progress(), 1.0);
  // Deterministic: the same params give the same numbers.
  JobContext again;
  EXPECT_EQ(RunQuantizeJob(Base(), again)->metrics[0].value, by_name["mse"].value);
}

TEST(QuantizeJob, EveryDatatypeRunsOnEveryDistribution) {
  for (const std::string& name : DatatypeNames()) {
    for (const char* dist : {"gaussian", "student_t", "laplace"}) {
      json p = {{"distribution", dist}, {"shape", {4, 256}}, {"seed", 2}, {"datatype", name},
                {"group_size", 64}, {"outlier_fraction", 0.01}};
      JobContext context;
      StatusOr<JobOutput> out = RunQuantizeJob(p, context);
      ASSERT_TRUE(out.ok()) << name << " " << dist << ": " << out.status().ToString();
      EXPECT_GT(out->metrics[1].value, 3) << name << " " << dist;  // sqnr_db
    }
  }
  json p = Base();
  p["datatype"] = "sf4";
  p["sf4_nu"] = 3;
  p["scale_search"] = "mse";
  JobContext context;
  EXPECT_TRUE(RunQuantizeJob(p, context).ok());
  p["sf4_nu"] = 0;
  ExpectInvalid(p, "sf4_nu");
}

TEST(QuantizeJob, RunErrors) {
  JobContext context;
  json p = Base();
  p["datatype"] = "nope";
  EXPECT_EQ(RunQuantizeJob(p, context).status().code(), StatusCode::kInvalidArgument);
  JobContext cancelled;
  cancelled.Cancel();
  EXPECT_EQ(RunQuantizeJob(Base(), cancelled).status().code(), StatusCode::kCancelled);
}

TEST(QuantizeJob, ExpandTensorNames) {
  EXPECT_EQ(ExpandTensorNames(Base()).value(), std::vector<std::string>{""});
  json file = {{"safetensors", "/nonexistent.safetensors"},
               {"tensor", "model.layers.0.mlp.up_proj.weight"},
               {"datatype", "e2m1"}};
  EXPECT_EQ(ExpandTensorNames(file).value(),
            std::vector<std::string>{"model.layers.0.mlp.up_proj.weight"});
  json bad = Base();
  bad["datatype"] = 4;
  EXPECT_EQ(ExpandTensorNames(bad).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::datatypes
