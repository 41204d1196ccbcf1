// qlab-train-lm: the recipe steps of the model qlab ships (models/README.md), each a
// subcommand so that scripts/train_shipped_model.sh can run SentencePiece's spm_train between
// them:
//   corpus  decode the King James Bible of bible-kjv-text and write the fixed train/held-out split
//   train   tokenize the training text and train a llama2.c-format model
//   eval    held-out perplexity of a model (and of a unigram baseline), token file export
// This file only reads flags and wires library calls together.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "evaluators/accuracy/checkpoint.h"
#include "evaluators/accuracy/kjv_corpus.h"
#include "evaluators/accuracy/llama_model.h"
#include "evaluators/accuracy/lm_trainer.h"
#include "evaluators/accuracy/perplexity.h"
#include "evaluators/accuracy/tokenizer.h"

namespace {

using namespace qlab;            // NOLINT: a main file
using namespace qlab::accuracy;  // NOLINT

constexpr char kUsage[] = R"(usage:
  qlab-train-lm corpus [--bible /usr/lib/bible.data] [--heldout-every 20] --out-dir DIR
      writes DIR/train.txt and DIR/heldout.txt (one verse per line)
  qlab-train-lm train --train-text FILE --tokenizer FILE.model --out MODEL.bin
      [--dim 128] [--layers 4] [--heads 4] [--kv-heads 4] [--hidden 384] [--seq-len 256]
      [--steps 1000] [--batch 16] [--lr 1e-3] [--min-lr 1e-4] [--warmup 100]
      [--weight-decay 0.1] [--seed 1] [--threads 1] [--device cpu] [--log-every 50]
      [--log FILE]
  qlab-train-lm eval --model MODEL --tokenizer FILE.model --text FILE [--train-text FILE]
      [--context N] [--stride N] [--threads 1] [--tokens-out FILE] [--json-out FILE]
)";

// --key value pairs after the subcommand.
struct Flags {
  std::map<std::string, std::string> values;
  std::string Get(const std::string& key, const std::string& fallback = "") const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
  int64_t Int(const std::string& key, int64_t fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : std::stoll(it->second);
  }
  double Double(const std::string& key, double fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : std::stod(it->second);
  }
};

int Fail(const Status& status) {
  std::cerr << "qlab-train-lm: " << status.ToString() << "\n";
  return status.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

int Corpus(const Flags& flags) {
  const std::string out_dir = flags.Get("out-dir");
  if (out_dir.empty()) return Fail(Status::InvalidArgument("--out-dir is required"));
  auto text = DecodeBibleData(flags.Get("bible", kDefaultBibleData));
  if (!text.ok()) return Fail(text.status());
  auto verses = ParseVerses(*text);
  if (!verses.ok()) return Fail(verses.status());
  const CorpusSplit split =
      SplitByChapter(*verses, static_cast<int>(flags.Int("heldout-every", 20)));
  for (const auto& [name, body] :
       {std::pair{"train.txt", &split.train_text}, std::pair{"heldout.txt", &split.heldout_text}}) {
    std::ofstream out(out_dir + "/" + name, std::ios::binary | std::ios::trunc);
    out << *body;
    if (!out) return Fail(Status::Internal("cannot write " + out_dir + "/" + name));
  }
  std::printf(
      "%zu verses; train: %lld chapters, %lld verses, %zu bytes; held-out: %lld "
      "chapters, %lld verses, %zu bytes\n",
      verses->size(), static_cast<long long>(split.train_chapters),
      static_cast<long long>(split.train_verses), split.train_text.size(),
      static_cast<long long>(split.heldout_chapters), static_cast<long long>(split.heldout_verses),
      split.heldout_text.size());
  return 0;
}

StatusOr<std::vector<int32_t>> TokenizeFile(const Tokenizer& tokenizer, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return tokenizer.EncodeDocument(text);
}

int Train(const Flags& flags) {
  auto tokenizer = Tokenizer::Load(flags.Get("tokenizer"));
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  auto tokens = TokenizeFile(**tokenizer, flags.Get("train-text"));
  if (!tokens.ok()) return Fail(tokens.status());
  const int64_t heads = flags.Int("heads", 4);
  const ModelConfig config =
      Llama2cConfig(flags.Int("dim", 128), flags.Int("hidden", 384), flags.Int("layers", 4), heads,
                    flags.Int("kv-heads", heads), (*tokenizer)->vocab_size(),
                    flags.Int("seq-len", 256), /*shared_classifier=*/true);
  TrainOptions o;
  o.steps = flags.Int("steps", o.steps);
  o.batch_size = flags.Int("batch", o.batch_size);
  o.learning_rate = flags.Double("lr", o.learning_rate);
  o.min_learning_rate = flags.Double("min-lr", o.min_learning_rate);
  o.warmup_steps = flags.Int("warmup", o.warmup_steps);
  o.weight_decay = flags.Double("weight-decay", o.weight_decay);
  o.seed = static_cast<uint64_t>(flags.Int("seed", 1));
  o.threads = static_cast<int>(flags.Int("threads", 1));
  o.device = flags.Get("device", "cpu");
  o.log_every = flags.Int("log-every", o.log_every);
  std::ofstream log_file;
  if (!flags.Get("log").empty()) log_file.open(flags.Get("log"), std::ios::app);
  auto log = [&](const std::string& line) {
    std::cout << line << std::endl;
    if (log_file) log_file << line << std::endl;
  };
  const Status s = TrainLanguageModel(config, *tokens, o, flags.Get("out"), log);
  if (!s.ok()) return Fail(s);
  log("wrote " + flags.Get("out"));
  return 0;
}

int Eval(const Flags& flags) {
  auto tokenizer = Tokenizer::Load(flags.Get("tokenizer"));
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  auto checkpoint = Checkpoint::Open(flags.Get("model"));
  if (!checkpoint.ok()) return Fail(checkpoint.status());
  const ModelConfig& config = (*checkpoint)->config();
  auto tokens = TokenizeFile(**tokenizer, flags.Get("text"));
  if (!tokens.ok()) return Fail(tokens.status());
  if (!flags.Get("tokens-out").empty()) {
    const Status s = WriteTokenFile(flags.Get("tokens-out"), *tokens);
    if (!s.ok()) return Fail(s);
  }
  const int64_t context = flags.Int("context", config.max_seq_len);
  auto plan =
      PlanWindows(static_cast<int64_t>(tokens->size()), context, flags.Int("stride", context));
  if (!plan.ok()) return Fail(plan.status());
  ModelOptions options;
  options.threads = static_cast<int>(flags.Int("threads", 1));
  auto model = LlamaModel::Load(**checkpoint, options);
  if (!model.ok()) return Fail(model.status());
  auto result = ComputePerplexity(
      *tokens, *plan, 16,
      [&](const std::vector<const int32_t*>& w, int64_t c, std::vector<std::vector<double>>* nll) {
        return (*model)->ScoreWindows(w, c, nll);
      },
      nullptr);
  if (!result.ok()) return Fail(result.status());
  nlohmann::json out = {{"model", flags.Get("model")},
                        {"config", config.Summary()},
                        {"parameters", config.NumParameters()},
                        {"text", flags.Get("text")},
                        {"tokens", tokens->size()},
                        {"context", context},
                        {"stride", flags.Int("stride", context)},
                        {"scored_positions", result->scored_positions},
                        {"perplexity", result->perplexity},
                        {"mean_nll_nats", result->mean_nll},
                        {"tokens_per_s", result->tokens_per_s}};
  if (!flags.Get("train-text").empty()) {
    auto train = TokenizeFile(**tokenizer, flags.Get("train-text"));
    if (!train.ok()) return Fail(train.status());
    out["unigram_perplexity"] = UnigramPerplexity(*train, *tokens, *plan, config.vocab_size);
    out["train_tokens"] = train->size();
  }
  std::cout << out.dump(2) << std::endl;
  if (!flags.Get("json-out").empty()) {
    std::ofstream f(flags.Get("json-out"));
    f << out.dump(2) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  Flags flags;
  for (int i = 2; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) {
      std::cerr << "qlab-train-lm: expected --flag value, got '" << key << "'\n" << kUsage;
      return 2;
    }
    flags.values[key.substr(2)] = argv[++i];
  }
  try {
    if (command == "corpus") return Corpus(flags);
    if (command == "train") return Train(flags);
    if (command == "eval") return Eval(flags);
  } catch (const std::exception& e) {  // std::stoll on a malformed number
    std::cerr << "qlab-train-lm: bad flag value: " << e.what() << "\n";
    return 2;
  }
  std::cerr << kUsage;
  return 2;
}
