// SentencePiece tokenizers (Debian's libsentencepiece) behind a qlab::Status interface, and the
// one rule for turning an evaluation text into token ids, shared by the trainer and the
// accuracy job so that both see the same token stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace qlab::accuracy {

// An opened `.model` file. Immutable after Load; Encode/Decode are thread-safe
// (SentencePieceProcessor's const methods are).
class Tokenizer {
 public:
  // NOT_FOUND when the file cannot be read, INVALID_ARGUMENT when it is not a SentencePiece
  // model.
  static StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path);
  ~Tokenizer();

  int vocab_size() const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;  // -1 when the model has none

  // Token ids of `text` (no BOS/EOS). INTERNAL if SentencePiece fails.
  StatusOr<std::vector<int32_t>> Encode(const std::string& text) const;
  StatusOr<std::string> Decode(const std::vector<int32_t>& ids) const;

  // The evaluation/training token stream of a text: BOS (when the model has one), then each
  // non-empty line encoded separately (so a line break is a token boundary, as in the training
  // data), concatenated. Lines are encoded line by line to keep SentencePiece's memory linear.
  StatusOr<std::vector<int32_t>> EncodeDocument(const std::string& text) const;

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a whole file. NOT_FOUND when it cannot be opened.
StatusOr<std::string> ReadFileToString(const std::string& path);

// Reads raw little-endian int32 token ids. NOT_FOUND (no file), INVALID_ARGUMENT (size not a
// multiple of 4, or empty).
StatusOr<std::vector<int32_t>> ReadTokenFile(const std::string& path);

// Writes raw little-endian int32 token ids. INTERNAL on I/O errors.
Status WriteTokenFile(const std::string& path, const std::vector<int32_t>& tokens);

}  // namespace qlab::accuracy
