// SentencePiece through the dlopen()ed shim, on the tokenizer qlab ships (models/kjv), and the
// int32 token files.
#include "evaluators/accuracy/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "evaluators/accuracy/test_util.h"

namespace qlab::accuracy {
namespace {

const std::string kTokenizer = std::string(QLAB_SOURCE_DIR) + "/models/kjv/tokenizer.model";

TEST(Tokenizer, RoundTrip) {
  if (!std::filesystem::exists(kTokenizer)) GTEST_SKIP() << kTokenizer << " not present";
  auto tok = Tokenizer::Load(kTokenizer);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->vocab_size(), 1024);
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);
  const std::string text = "In the beginning God created the heaven and the earth.";
  auto ids = (*tok)->Encode(text);
  ASSERT_TRUE(ids.ok());
  EXPECT_GT(ids->size(), 5u);
  EXPECT_LT(ids->size(), text.size());  // pieces are longer than characters
  auto back = (*tok)->Decode(*ids);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
  // Characters never seen in training still round trip through <unk>-free byte-level text?
  // No: BPE without byte fallback maps them to unk (id 0).
  auto unknown = (*tok)->Encode("\xE2\x82\xAC");  // euro sign
  ASSERT_TRUE(unknown.ok());
  EXPECT_NE(std::find(unknown->begin(), unknown->end(), 0), unknown->end());
}

TEST(Tokenizer, DocumentIsBosThenLinesWithoutBlankOnes) {
  if (!std::filesystem::exists(kTokenizer)) GTEST_SKIP() << kTokenizer << " not present";
  auto tok = Tokenizer::Load(kTokenizer);
  ASSERT_TRUE(tok.ok());
  auto doc = (*tok)->EncodeDocument("Jesus wept.\n\n   \nAmen.\n");
  auto a = (*tok)->Encode("Jesus wept.");
  auto b = (*tok)->Encode("Amen.");
  ASSERT_TRUE(doc.ok() && a.ok() && b.ok());
  std::vector<int32_t> expected = {1};
  expected.insert(expected.end(), a->begin(), a->end());
  expected.insert(expected.end(), b->begin(), b->end());
  EXPECT_EQ(*doc, expected);
}

TEST(Tokenizer, BadFiles) {
  const std::string dir = testing::MakeTempDir();
  EXPECT_EQ(Tokenizer::Load(dir + "/absent.model").status().code(), StatusCode::kNotFound);
  testing::WriteFile(dir + "/bad.model", "not a protobuf");
  EXPECT_EQ(Tokenizer::Load(dir + "/bad.model").status().code(), StatusCode::kInvalidArgument);
}

TEST(TokenFile, RoundTripAndBadSize) {
  const std::string dir = testing::MakeTempDir();
  const std::vector<int32_t> tokens = {1, 5, 1023, 0, 77};
  ASSERT_TRUE(WriteTokenFile(dir + "/t.tok", tokens).ok());
  EXPECT_EQ(ReadTokenFile(dir + "/t.tok").value(), tokens);
  testing::WriteFile(dir + "/odd.tok", "abcde");
  EXPECT_EQ(ReadTokenFile(dir + "/odd.tok").status().code(), StatusCode::kInvalidArgument);
  testing::WriteFile(dir + "/empty.tok", "");
  EXPECT_EQ(ReadTokenFile(dir + "/empty.tok").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTokenFile(dir + "/absent.tok").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace qlab::accuracy
