// The training corpus of the shipped model: the King James Bible as Debian's bible-kjv-text
// package installs it (/usr/lib/bible.data, Chip Chapin's "Bible Retrieval System" format:
// windows of Unix-compress LZW text), decoded without the package's reader program, and the
// fixed train / held-out split.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace qlab::accuracy {

inline constexpr char kDefaultBibleData[] = "/usr/lib/bible.data";

struct Verse {
  std::string book;  // abbreviation as in the file: "Ge", "Ex", ..., "Rev"
  int chapter = 0;
  int verse = 0;
  std::string text;  // the verse, without its reference
};

// Decodes the data file. NOT_FOUND (no file: install bible-kjv-text), DATA_LOSS (bad magic,
// version, window table, or LZW stream). The result is the file's text: a title line, then one
// "Ge1:1 In the beginning ..." line per verse.
StatusOr<std::string> DecodeBibleData(const std::string& path);

// Splits decoded text into verses, in canonical order. DATA_LOSS when a line lacks a reference.
StatusOr<std::vector<Verse>> ParseVerses(const std::string& text);

// The split: chapters are numbered 0, 1, 2, ... in canonical order over the whole Bible
// (1,189 chapters); chapter k is held out iff k % heldout_every == heldout_every - 1. Each side
// is one verse per line. REQUIRES: heldout_every >= 2.
struct CorpusSplit {
  std::string train_text;
  std::string heldout_text;
  int64_t train_verses = 0, heldout_verses = 0;
  int64_t train_chapters = 0, heldout_chapters = 0;
};
CorpusSplit SplitByChapter(const std::vector<Verse>& verses, int heldout_every);

}  // namespace qlab::accuracy
