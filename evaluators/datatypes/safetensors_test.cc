// Safetensors reader: valid files in F32/F16/BF16, globs, and every kind of bad file the issue
// names (truncated, lying header, bad JSON, unknown tensor, NaN weights through the job).
#include "evaluators/datatypes/safetensors.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evaluators/datatypes/minifloat.h"
#include "evaluators/datatypes/quantize_job.h"

namespace qlab::datatypes {
namespace {

using nlohmann::json;

class TempFile {
 public:
  explicit TempFile(const std::string& bytes) {
    char name[] = "/tmp/qlab_safetensors_XXXXXX";
    const int fd = ::mkstemp(name);
    path_ = name;
    ::close(fd);
    std::ofstream(path_, std::ios::binary).write(bytes.data(), bytes.size());
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

std::string FileBytes(const json& header, const std::string& data) {
  const std::string h = header.dump();
  return Le64(h.size()) + h + data;
}

template <typename T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Three tensors: a [2, 4] F32 matrix, a [4] F16 vector and a [2, 2, 2] BF16 tensor.
std::string GoodFile() {
  const std::vector<float> f32 = {1, -2, 3, -4, 0.5f, 0.25f, 8, -8};
  std::vector<uint16_t> f16, bf16;
  for (float v : {1.0f, 0.5f, -3.0f, 65504.0f}) f16.push_back(FloatToFp16Bits(v));
  for (int i = 0; i < 8; ++i) bf16.push_back(FloatToBf16Bits(static_cast<float>(i) - 3.5f));
  const std::string data = Bytes(f32) + Bytes(f16) + Bytes(bf16);
  json h = {{"__metadata__", {{"format", "pt"}}},
            {"model.layers.0.mlp.weight", {{"dtype", "F32"}, {"shape", {2, 4}}, {"data_offsets", {0, 32}}}},
            {"model.layers.0.norm", {{"dtype", "F16"}, {"shape", {4}}, {"data_offsets", {32, 40}}}},
            {"model.layers.1.mlp.weight", {{"dtype", "BF16"}, {"shape", {2, 2, 2}}, {"data_offsets", {40, 56}}}}};
  return FileBytes(h, data);
}

TEST(Safetensors, ReadsEveryFloatDtype) {
  TempFile file(GoodFile());
  auto f = SafetensorsFile::Open(file.path());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ((*f)->tensors().size(), 3u);
  EXPECT_EQ((*f)->tensors()[0].name, "model.layers.0.mlp.weight");
  WeightMatrix m = (*f)->ReadMatrix("model.layers.0.mlp.weight").value();
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 4);
  EXPECT_EQ(m.values, (std::vector<float>{1, -2, 3, -4, 0.5f, 0.25f, 8, -8}));
  m = (*f)->ReadMatrix("model.layers.0.norm").value();
  EXPECT_EQ(m.rows, 1);
  EXPECT_EQ(m.values, (std::vector<float>{1, 0.5f, -3, 65504}));
  m = (*f)->ReadMatrix("model.layers.1.mlp.weight").value();
  EXPECT_EQ(m.rows, 4);  // [2, 2, 2] -> [4, 2]
  EXPECT_EQ(m.cols, 2);
  EXPECT_EQ(m.values[0], -3.5f);
  EXPECT_EQ((*f)->Match("model.layers.*.mlp.weight"),
            (std::vector<std::string>{"model.layers.0.mlp.weight", "model.layers.1.mlp.weight"}));
  EXPECT_TRUE((*f)->Match("*.attn.*").empty());
  Status missing = (*f)->ReadMatrix("lm_head.weight").status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("lm_head.weight"), std::string::npos);
}

TEST(Safetensors, RejectsBadFiles) {
  const std::string good = GoodFile();
  EXPECT_EQ(SafetensorsFile::Open("/nonexistent/x.safetensors").status().code(),
            StatusCode::kNotFound);
  // Truncated: data cut short, header cut short, fewer than 8 bytes.
  for (size_t keep : {good.size() - 1, size_t{40}, size_t{5}}) {
    TempFile f(good.substr(0, keep));
    EXPECT_EQ(SafetensorsFile::Open(f.path()).status().code(), StatusCode::kDataLoss) << keep;
  }
  // Lying header: offsets past the data; shape disagreeing with the offsets; a huge length.
  json h = {{"w", {{"dtype", "F32"}, {"shape", {2, 4}}, {"data_offsets", {0, 64}}}}};
  TempFile past(FileBytes(h, std::string(32, '\0')));
  EXPECT_EQ(SafetensorsFile::Open(past.path()).status().code(), StatusCode::kDataLoss);
  h = {{"w", {{"dtype", "F32"}, {"shape", {3, 4}}, {"data_offsets", {0, 32}}}}};
  TempFile shape(FileBytes(h, std::string(32, '\0')));
  Status s = SafetensorsFile::Open(shape.path()).status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("48 bytes"), std::string::npos) << s.message();
  TempFile huge(Le64(uint64_t{1} << 40) + "{}");
  EXPECT_EQ(SafetensorsFile::Open(huge.path()).status().code(), StatusCode::kDataLoss);
  TempFile not_json(Le64(5) + "{oops");
  EXPECT_EQ(SafetensorsFile::Open(not_json.path()).status().code(), StatusCode::kDataLoss);
  h = {{"w", {{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}};
  TempFile negative(FileBytes(h, std::string(4, '\0')));
  EXPECT_EQ(SafetensorsFile::Open(negative.path()).status().code(), StatusCode::kDataLoss);
  h = {{"w", {{"dtype", "I64"}, {"shape", {1}}, {"data_offsets", {0, 8}}}}};
  TempFile ints(FileBytes(h, std::string(8, '\0')));
  auto f = SafetensorsFile::Open(ints.path());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->ReadMatrix("w").status().code(), StatusCode::kInvalidArgument);
}

TEST(Safetensors, EmptyTensorsReadAndHugeDimensionsAreRefused) {
  // Found with tests/fuzz (safetensors): an empty F32 tensor was read with memcpy from a null
  // vector (undefined behaviour), and a dimension of 2^63 after a zero one passed the size check
  // and came out as a negative shape.
  json h = {{"empty", {{"dtype", "F32"}, {"shape", {0, 4}}, {"data_offsets", {0, 0}}}},
            {"none", {{"dtype", "BF16"}, {"shape", {3, 0}}, {"data_offsets", {0, 0}}}}};
  TempFile empty(FileBytes(h, ""));
  auto f = SafetensorsFile::Open(empty.path());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  for (const char* name : {"empty", "none"}) {
    auto m = (*f)->ReadMatrix(name);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->rows, 0) << name;
    EXPECT_TRUE(m->values.empty()) << name;
  }
  for (const json& shape : {json{0, uint64_t{1} << 63}, json{0, ~uint64_t{0}, ~uint64_t{0}},
                            json{uint64_t{1} << 51, 0}}) {
    h = {{"w", {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {0, 0}}}}};
    TempFile huge(FileBytes(h, ""));
    Status s = SafetensorsFile::Open(huge.path()).status();
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << shape.dump();
    EXPECT_NE(s.message().find("impossibly large"), std::string::npos) << s.message();
  }
}

TEST(Safetensors, QuantizeJobOnAFile) {
  // 4 x 256 F32 weights: glob expansion, a run, and NaN/Inf reported as an error.
  std::vector<float> w(4 * 256);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.1f * i);
  std::vector<float> bad = w;
  bad[7] = NAN;
  bad[9] = INFINITY;
  json h = {{"a.weight", {{"dtype", "F32"}, {"shape", {4, 256}}, {"data_offsets", {0, 4096}}}},
            {"b.weight", {{"dtype", "F32"}, {"shape", {4, 256}}, {"data_offsets", {4096, 8192}}}}};
  TempFile file(FileBytes(h, Bytes(w) + Bytes(bad)));
  json params = {{"safetensors", file.path()}, {"tensor", "*.weight"}, {"datatype", "e2m1"}};
  EXPECT_EQ(ExpandTensorNames(params).value(),
            (std::vector<std::string>{"a.weight", "b.weight"}));
  params["tensor"] = "*.bias";
  EXPECT_EQ(ExpandTensorNames(params).status().code(), StatusCode::kNotFound);
  JobContext context;
  params["tensor"] = "a.weight";
  StatusOr<JobOutput> out = RunQuantizeJob(params, context);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->metrics[0].name, "mse");
  EXPECT_GT(out->metrics[0].value, 0);
  params["tensor"] = "b.weight";
  Status s = RunQuantizeJob(params, context).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("1 NaN and 1 Inf"), std::string::npos) << s.message();
  params["tensor"] = "c.weight";
  EXPECT_EQ(RunQuantizeJob(params, context).status().code(), StatusCode::kNotFound);
  params["tensor"] = "*.weight";  // a glob matching two tensors cannot be one job
  EXPECT_EQ(RunQuantizeJob(params, context).status().code(), StatusCode::kInvalidArgument);
  params["tensor"] = "a.weight";
  params["group_size"] = 100;
  EXPECT_EQ(RunQuantizeJob(params, context).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlab::datatypes
