#include "server/auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace qlab::server {
namespace {

TEST(AuthTest, Sha256OfKnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthTest, RolesAllowWhatDesignSaysTheyMay) {
  EXPECT_TRUE(RoleAllows(Role::kViewer, Access::kRead));
  EXPECT_FALSE(RoleAllows(Role::kViewer, Access::kSubmit));
  EXPECT_FALSE(RoleAllows(Role::kViewer, Access::kWork));
  EXPECT_TRUE(RoleAllows(Role::kSubmitter, Access::kRead));
  EXPECT_TRUE(RoleAllows(Role::kSubmitter, Access::kSubmit));
  EXPECT_FALSE(RoleAllows(Role::kSubmitter, Access::kWork));
  EXPECT_FALSE(RoleAllows(Role::kWorker, Access::kRead));
  EXPECT_FALSE(RoleAllows(Role::kWorker, Access::kSubmit));
  EXPECT_TRUE(RoleAllows(Role::kWorker, Access::kWork));
  for (Role r : {Role::kViewer, Role::kSubmitter, Role::kWorker, Role::kAdmin}) {
    EXPECT_TRUE(RoleAllows(r, Access::kReadOrWork));
    EXPECT_EQ(RoleAllows(r, Access::kAdmin), r == Role::kAdmin);
  }
  for (Access a : {Access::kRead, Access::kSubmit, Access::kWork}) EXPECT_TRUE(RoleAllows(Role::kAdmin, a));
}

TEST(AuthTest, CreatedTokensAreCheckedByRoleAndStoredOnlyHashed) {
  testing::TempDir dir;
  const std::string file = dir.File("auth");
  auto viewer = CreateToken(file, Role::kViewer, "alice");
  auto worker = CreateToken(file, Role::kWorker, "gpu-1");
  ASSERT_TRUE(viewer.ok() && worker.ok());
  EXPECT_EQ(viewer->rfind("qlab_", 0), 0u);
  EXPECT_EQ(viewer->size(), 5u + 64u);
  EXPECT_NE(*viewer, *worker);
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.find(*viewer), std::string::npos) << "tokens are never stored in clear";
  EXPECT_NE(text.find("viewer alice " + Sha256Hex(*viewer)), std::string::npos) << text;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto auth = TokenAuth::Load(file);
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  auto alice = (*auth)->Check("Bearer " + *viewer, Access::kRead, "call", "GetJob");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->name, "alice");
  auto denied = (*auth)->Check("Bearer " + *viewer, Access::kSubmit, "call", "SubmitExperiment");
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(), "'alice' has role viewer, which may not call SubmitExperiment");
  EXPECT_TRUE((*auth)->Check("Bearer " + *worker, Access::kWork, "call", "x").ok());
  for (const std::string& bad : std::vector<std::string>{std::string(), "Bearer", "Bearer ", "bearer " + *viewer, *viewer,
                                 "Bearer " + *viewer + "x", "Bearer " + std::string(10000, 'a')}) {
    EXPECT_EQ((*auth)->Check(bad, Access::kRead, "call", "x").status().code(), StatusCode::kUnauthenticated)
        << bad;
  }
}

TEST(AuthTest, TheFileIsReadAgainWhenItChanges) {
  testing::TempDir dir;
  const std::string file = dir.File("auth");
  std::ofstream(file) << "# tokens\n\n";
  auto auth = TokenAuth::Load(file);
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ((*auth)->size(), 0u);
  auto token = CreateToken(file, Role::kSubmitter, "ci");
  ASSERT_TRUE(token.ok());
  bool seen = false;
  for (int i = 0; i < 40 && !seen; ++i) {
    seen = (*auth)->Check("Bearer " + *token, Access::kSubmit, "call", "x").ok();
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(seen) << "a token created while the server runs works within seconds";
  // A broken rewrite keeps the tokens last read.
  std::ofstream(file, std::ios::app) << "nonsense line\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE((*auth)->Check("Bearer " + *token, Access::kSubmit, "call", "x").ok());
}

TEST(AuthTest, MalformedFilesNameTheLine) {
  testing::TempDir dir;
  const std::string file = dir.File("auth");
  for (const std::string& line : std::vector<std::string>{"viewer alice", "ruler alice " + std::string(64, 'a'),
                                  "viewer alice " + std::string(63, 'a'),
                                  "viewer alice " + std::string(64, 'A'),
                                  "viewer alice " + std::string(64, 'a') + " extra"}) {
    std::ofstream(file) << "# ok\n" << line << "\n";
    auto auth = TokenAuth::Load(file);
    ASSERT_FALSE(auth.ok()) << line;
    EXPECT_NE(auth.status().message().find("line 2"), std::string::npos) << auth.status().message();
  }
  EXPECT_EQ(TokenAuth::Load(dir.File("missing")).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(CreateToken(file, Role::kAdmin, "two words").ok());
  EXPECT_FALSE(ParseRole("root").ok());
}

TEST(AuthTest, LoopbackHosts) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"}) EXPECT_TRUE(IsLoopbackHost(h)) << h;
  for (const char* h : {"0.0.0.0", "::", "10.0.0.1", "example.org", "128.0.0.1"}) EXPECT_FALSE(IsLoopbackHost(h)) << h;
}

}  // namespace
}  // namespace qlab::server
