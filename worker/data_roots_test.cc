#include "worker/data_roots.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace qlab::worker {
namespace {
namespace fs = std::filesystem;

class DataRootsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(Root() / "hf");
    std::ofstream(Root() / "weights.safetensors") << "x";
    std::ofstream(Root() / "hf" / "config.json") << "{}";
    std::ofstream(outside_.File("secret")) << "x";
    fs::create_directories(dir_.path() / "root2");  // shares the root's name as a prefix
    std::ofstream(dir_.File("root2/file")) << "x";
  }
  fs::path Root() const { return dir_.path() / "root"; }
  DataRoots Roots() const {
    auto roots = DataRoots::Make({Root().string()});
    EXPECT_TRUE(roots.ok()) << roots.status().ToString();
    return *roots;
  }
  Status Check(const std::string& field, const std::string& path) const {
    return Roots().CheckParams({{field, path}, {"datatype", "nf4"}});
  }

  testing::TempDir dir_, outside_;
};

TEST_F(DataRootsTest, FilesUnderARootPass) {
  EXPECT_TRUE(Check("safetensors", (Root() / "weights.safetensors").string()).ok());
  EXPECT_TRUE(Check("model", (Root() / "hf").string()).ok());
  EXPECT_TRUE(Check("tokens", (Root() / "hf" / ".." / "weights.safetensors").string()).ok());
  // A file that does not exist yet fails later, in the evaluator, with its own message.
  EXPECT_TRUE(Check("dataset_file", (Root() / "missing.csv").string()).ok());
  // Params that name no file are not paths.
  EXPECT_TRUE(Roots().CheckParams({{"datatype", "/etc/passwd"}, {"model", 3}}).ok());
}

TEST_F(DataRootsTest, FilesOutsideEveryRootFailNamingTheField) {
  for (const char* field : kPathParams) {
    Status st = Check(field, "/etc/passwd");
    ASSERT_FALSE(st.ok()) << field;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(st.message().rfind(std::string("params.") + field + ": '/etc/passwd' is outside", 0), 0u)
        << st.message();
  }
  EXPECT_FALSE(Check("model", (Root() / ".." / "root2" / "file").string()).ok());
  EXPECT_FALSE(Check("model", dir_.File("root2/file")).ok()) << "a sibling sharing the root's name";
  EXPECT_FALSE(Check("text", (Root() / ".." / ".." / "etc" / "passwd").string()).ok());
  EXPECT_FALSE(Check("text", "relative/../../../etc/passwd").ok());
}

TEST_F(DataRootsTest, SymlinksAreFollowed) {
  fs::create_symlink(outside_.File("secret"), Root() / "innocent.safetensors");
  Status st = Check("safetensors", (Root() / "innocent.safetensors").string());
  EXPECT_FALSE(st.ok());
  // A model folder whose entry points outside fails, naming that entry.
  fs::create_symlink(outside_.File("secret"), Root() / "hf" / "model.safetensors");
  st = Check("model", (Root() / "hf").string());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("model.safetensors"), std::string::npos) << st.message();
  // A link from outside into a root is fine: where it resolves is what counts.
  fs::create_symlink(Root() / "weights.safetensors", outside_.File("link"));
  EXPECT_TRUE(Check("safetensors", outside_.File("link")).ok());
}

TEST_F(DataRootsTest, NoRootsAllowEverythingAndBadRootsAreRefused) {
  auto none = DataRoots::Make({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(none->CheckParams({{"model", "/etc/passwd"}}).ok());
  auto missing = DataRoots::Make({dir_.File("nope")});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--data-root"), std::string::npos);
  EXPECT_FALSE(DataRoots::Make({dir_.File("root2/file")}).ok()) << "a file is not a root";
  auto two = DataRoots::Make({Root().string(), outside_.path().string()});
  ASSERT_TRUE(two.ok());
  EXPECT_TRUE(two->CheckParams({{"model", outside_.File("secret")}}).ok());
}

class RecordingExecutor final : public JobExecutor {
 public:
  explicit RecordingExecutor(bool* ran) : ran_(ran) {}
  StatusOr<JobOutput> Execute(const LeasedJob&, JobContext&) override {
    *ran_ = true;
    return JobOutput{};
  }

 private:
  bool* ran_;
};

TEST_F(DataRootsTest, GuardedExecutorsNeverRunAJobThatNamesAnOutsideFile) {
  DataRoots roots = Roots();
  bool ran = false;
  ExecutorMap executors;
  executors["quantize"] = std::make_unique<RecordingExecutor>(&ran);
  ExecutorMap guarded = roots.Guard(std::move(executors));
  JobContext context;
  LeasedJob job;
  job.kind = "quantize";
  job.params_json = R"({"safetensors": "/etc/passwd"})";
  auto out = guarded.at("quantize")->Execute(job, context);
  EXPECT_FALSE(ran);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("params.safetensors"), std::string::npos);
  job.params_json = nlohmann::json({{"safetensors", (Root() / "weights.safetensors").string()}}).dump();
  EXPECT_TRUE(guarded.at("quantize")->Execute(job, context).ok());
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace qlab::worker
