// bible.data decoder and corpus split (see kjv_corpus.h).
//
// File layout (tsl.h of the bible-kjv sources): "EC" magic, "02" version, an 80-byte
// description, big-endian int32 window size and window count, then count + 1 big-endian int32
// file offsets of the compressed windows. Each window is an independent compress(1) stream
// without the 3-byte header: LZW, 9- to 16-bit codes, block mode (code 256 clears the table),
// codes read in groups of n_bits bytes as compress does. Every window but the last expands to
// exactly the window size.
#include "evaluators/accuracy/kjv_corpus.h"

#include <cctype>
#include <sstream>

#include "evaluators/accuracy/tokenizer.h"

namespace qlab::accuracy {
namespace {

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// compress(1) decompression of one headerless block-mode stream with up to 16-bit codes.
StatusOr<std::string> DecompressLzw(const unsigned char* in, size_t size) {
  constexpr int kInitBits = 9, kMaxBits = 16;
  constexpr int kClear = 256, kFirst = 257;
  std::vector<uint16_t> prefix(1 << kMaxBits, 0);
  std::vector<unsigned char> suffix(1 << kMaxBits, 0);
  for (int i = 0; i < 256; ++i) suffix[static_cast<size_t>(i)] = static_cast<unsigned char>(i);

  int n_bits = kInitBits;
  int max_code = (1 << n_bits) - 1;
  int free_ent = kFirst;
  bool clear_pending = false;
  size_t pos = 0;
  int bit_offset = 0, bit_size = 0;  // within `group`
  unsigned char group[kMaxBits];
  // compress reads codes in groups of n_bits bytes (8 codes) and starts a new group whenever
  // the code width changes or the table is cleared, discarding the rest of the old group.
  auto next_code = [&]() -> int {
    if (clear_pending || bit_offset >= bit_size || free_ent > max_code) {
      if (free_ent > max_code) {
        ++n_bits;
        max_code = n_bits == kMaxBits ? (1 << kMaxBits) : (1 << n_bits) - 1;
      }
      if (clear_pending) {
        n_bits = kInitBits;
        max_code = (1 << n_bits) - 1;
        clear_pending = false;
      }
      const size_t want = static_cast<size_t>(n_bits);
      const size_t got = pos + want > size ? size - pos : want;
      if (got == 0) return -1;
      for (size_t i = 0; i < got; ++i) group[i] = in[pos + i];
      pos += got;
      bit_offset = 0;
      bit_size = static_cast<int>(got) * 8 - (n_bits - 1);
    }
    int code = 0;
    for (int b = 0; b < n_bits; ++b) {
      const int bit = bit_offset + b;
      code |= ((group[bit >> 3] >> (bit & 7)) & 1) << b;
    }
    bit_offset += n_bits;
    return code;
  };

  std::string out;
  int old_code = next_code();
  if (old_code < 0) return out;
  if (old_code > 255)
    return Status::DataLoss("LZW stream starts with code " + std::to_string(old_code));
  int fin_char = old_code;
  out.push_back(static_cast<char>(fin_char));
  std::string stack;
  for (int code = next_code(); code >= 0; code = next_code()) {
    if (code == kClear) {
      clear_pending = true;
      free_ent = kFirst - 1;
      code = next_code();
      if (code < 0) break;
    }
    const int in_code = code;
    stack.clear();
    if (code >= free_ent) {
      if (code > free_ent)
        return Status::DataLoss("LZW code " + std::to_string(code) + " ahead of the table");
      stack.push_back(static_cast<char>(fin_char));
      code = old_code;
    }
    while (code >= 256) {
      stack.push_back(static_cast<char>(suffix[static_cast<size_t>(code)]));
      code = prefix[static_cast<size_t>(code)];
    }
    fin_char = suffix[static_cast<size_t>(code)];
    stack.push_back(static_cast<char>(fin_char));
    out.append(stack.rbegin(), stack.rend());
    if (free_ent < (1 << kMaxBits)) {
      prefix[static_cast<size_t>(free_ent)] = static_cast<uint16_t>(old_code);
      suffix[static_cast<size_t>(free_ent)] = static_cast<unsigned char>(fin_char);
      ++free_ent;
    }
    old_code = in_code;
  }
  return out;
}

}  // namespace

StatusOr<std::string> DecodeBibleData(const std::string& path) {
  auto bytes_or = ReadFileToString(path);
  if (!bytes_or.ok()) {
    return Status::NotFound("cannot read '" + path +
                            "' (the King James Bible of Debian's bible-kjv-text package): " +
                            bytes_or.status().message());
  }
  const std::string& bytes = *bytes_or;
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 92 || bytes.compare(0, 4, "EC02") != 0) {
    return Status::DataLoss("'" + path + "' is not a bible-kjv-text data file (magic EC02)");
  }
  const uint32_t window_size = BigEndian32(u + 84);
  const uint32_t windows = BigEndian32(u + 88);
  if (window_size == 0 || window_size > (1u << 24) || windows == 0 || windows > 4096 ||
      92 + 4 * (static_cast<size_t>(windows) + 1) > bytes.size()) {
    return Status::DataLoss("'" + path + "' has a bad window table");
  }
  std::string text;
  for (uint32_t w = 0; w < windows; ++w) {
    const uint32_t begin = BigEndian32(u + 92 + 4 * w);
    const uint32_t end = BigEndian32(u + 92 + 4 * (w + 1));
    if (begin > end || end > bytes.size()) {
      return Status::DataLoss("'" + path + "': window " + std::to_string(w) + " out of range");
    }
    ASSIGN_OR_RETURN(std::string part, DecompressLzw(u + begin, end - begin));
    if (w + 1 < windows && part.size() != window_size) {
      return Status::DataLoss("'" + path + "': window " + std::to_string(w) + " expands to " +
                              std::to_string(part.size()) + " bytes, expected " +
                              std::to_string(window_size));
    }
    text += part;
  }
  return text;
}

StatusOr<std::vector<Verse>> ParseVerses(const std::string& text) {
  std::vector<Verse> verses;
  std::istringstream in(text);
  std::string line;
  bool first = true;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (first) {  // title line
      first = false;
      continue;
    }
    if (line.empty()) continue;
    // "Ge1:1 text", "1Co13:4 text", "Rev22:21 text"
    size_t i = 0;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
    while (i < line.size() && std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
    Verse v;
    v.book = line.substr(0, i);
    const size_t colon = line.find(':', i);
    const size_t space = line.find(' ', i);
    if (v.book.empty() || colon == std::string::npos || space == std::string::npos ||
        colon > space) {
      return Status::DataLoss("line " + std::to_string(line_no) +
                              " has no verse reference: " + line.substr(0, 40));
    }
    v.chapter = std::stoi(line.substr(i, colon - i));
    v.verse = std::stoi(line.substr(colon + 1, space - colon - 1));
    v.text = line.substr(space + 1);
    while (!v.text.empty() && (v.text.back() == '\r' || v.text.back() == ' ')) v.text.pop_back();
    verses.push_back(std::move(v));
  }
  return verses;
}

CorpusSplit SplitByChapter(const std::vector<Verse>& verses, int heldout_every) {
  CorpusSplit split;
  int64_t chapter_index = -1;
  std::string last_book;
  int last_chapter = -1;
  bool heldout = false;
  for (const Verse& v : verses) {
    if (v.book != last_book || v.chapter != last_chapter) {
      ++chapter_index;
      last_book = v.book;
      last_chapter = v.chapter;
      heldout = chapter_index % heldout_every == heldout_every - 1;
      (heldout ? split.heldout_chapters : split.train_chapters)++;
    }
    std::string& side = heldout ? split.heldout_text : split.train_text;
    side += v.text;
    side += '\n';
    (heldout ? split.heldout_verses : split.train_verses)++;
  }
  return split;
}

}  // namespace qlab::accuracy
