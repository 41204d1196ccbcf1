// The bible-kjv-text decoder and the corpus split.
#include "evaluators/accuracy/kjv_corpus.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "evaluators/accuracy/test_util.h"

namespace qlab::accuracy {
namespace {

TEST(KjvCorpus, DecodesTheInstalledBible) {
  if (!std::filesystem::exists(kDefaultBibleData)) GTEST_SKIP() << "bible-kjv-text missing";
  auto text = DecodeBibleData(kDefaultBibleData);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  auto verses = ParseVerses(*text);
  ASSERT_TRUE(verses.ok()) << verses.status().ToString();
  ASSERT_EQ(verses->size(), 31102u);  // every verse of the KJV
  EXPECT_EQ(verses->front().book, "Ge");
  EXPECT_EQ(verses->front().text, "In the beginning God created the heaven and the earth.");
  EXPECT_EQ(verses->back().book, "Rev");
  EXPECT_EQ(verses->back().chapter, 22);
  EXPECT_EQ(verses->back().verse, 21);
  EXPECT_EQ(verses->back().text, "The grace of our Lord Jesus Christ be with you all. Amen.");

  const CorpusSplit split = SplitByChapter(*verses, 25);
  EXPECT_EQ(split.train_chapters + split.heldout_chapters, 1189);
  EXPECT_EQ(split.heldout_chapters, 1189 / 25);
  EXPECT_EQ(split.train_verses + split.heldout_verses, 31102);
  // Chapter 24 (0-based) is Genesis 25, the first held-out chapter.
  EXPECT_EQ(split.heldout_text.rfind("Then again Abraham took a wife", 0), 0u);
}

TEST(KjvCorpus, ParseAndSplitSmallText) {
  auto verses = ParseVerses("Title line\nGe1:1 A.\nGe1:2 B.\nGe2:1 C.\n1Co3:4 D.\n");
  ASSERT_TRUE(verses.ok());
  ASSERT_EQ(verses->size(), 4u);
  EXPECT_EQ((*verses)[3].book, "1Co");
  EXPECT_EQ((*verses)[3].chapter, 3);
  EXPECT_EQ((*verses)[3].verse, 4);
  const CorpusSplit split = SplitByChapter(*verses, 2);  // chapters 1 and 3 held out
  EXPECT_EQ(split.train_text, "A.\nB.\nD.\n");
  EXPECT_EQ(split.heldout_text, "C.\n");
  EXPECT_EQ(ParseVerses("Title\nno reference here\n").status().code(), StatusCode::kDataLoss);
}

TEST(KjvCorpus, BadDataFile) {
  const std::string dir = testing::MakeTempDir();
  testing::WriteFile(dir + "/bible.data", std::string(200, 'x'));
  EXPECT_EQ(DecodeBibleData(dir + "/bible.data").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeBibleData(dir + "/absent").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace qlab::accuracy
