// FBNet space tables and parsing (HW-NAS-Bench's FBNet_Infer, FBNetV1 setting).
#include "evaluators/latency/fbnet.h"

#include <cctype>

#include "common/text_format.h"

namespace qlab::nas {
namespace {

constexpr std::array<FbnetBlock, kFbnetNumOps> kBlocks = {{
    {"k3_e1", 1, 3, 1},
    {"k3_e1_g2", 1, 3, 2},
    {"k3_e3", 3, 3, 1},
    {"k3_e6", 6, 3, 1},
    {"k5_e1", 1, 5, 1},
    {"k5_e1_g2", 1, 5, 2},
    {"k5_e3", 3, 5, 1},
    {"k5_e6", 6, 5, 1},
    {"skip", 0, 0, 0},
}};
static_assert(kBlocks[kFbnetSkipCode].expansion == 0, "row 8 must be the skip block");

// FBNetV1 stages: layers per stage and output channels; strides depend on the dataset.
constexpr std::array<int, 7> kLayersPerStage = {1, 4, 4, 4, 4, 4, 1};
constexpr std::array<int, 7> kStageChannels = {16, 24, 32, 64, 112, 184, 352};
constexpr std::array<int, 7> kCifarStrides = {1, 1, 2, 2, 1, 2, 1};
constexpr std::array<int, 7> kImageNetStrides = {1, 2, 2, 2, 1, 2, 1};
constexpr int kStemChannels = 16;

}  // namespace

const FbnetBlock& FbnetBlockOf(int code) { return kBlocks[static_cast<size_t>(code)]; }

StatusOr<FbnetDataset> ParseFbnetDataset(std::string_view name) {
  if (EqualsIgnoreCase(name, "cifar100")) return FbnetDataset::kCifar100;
  if (EqualsIgnoreCase(name, "ImageNet")) return FbnetDataset::kImageNet;
  return Status::InvalidArgument("unknown FBNet dataset \"" + std::string(name.substr(0, 64)) +
                                 "\" (known: cifar100, ImageNet)");
}

std::string_view FbnetDatasetName(FbnetDataset dataset) {
  return dataset == FbnetDataset::kCifar100 ? "cifar100" : "ImageNet";
}

FbnetMacro FbnetMacroOf(FbnetDataset dataset) {
  if (dataset == FbnetDataset::kCifar100) return {32, 1, 1504, 100};
  return {224, 2, 1984, 1000};
}

std::array<FbnetLayer, kFbnetNumLayers> FbnetLayers(FbnetDataset dataset) {
  const auto& strides = dataset == FbnetDataset::kCifar100 ? kCifarStrides : kImageNetStrides;
  const FbnetMacro macro = FbnetMacroOf(dataset);
  std::array<FbnetLayer, kFbnetNumLayers> layers{};
  int h = macro.input_hw / macro.stem_stride;
  int c = kStemChannels;
  int l = 0;
  for (size_t stage = 0; stage < kLayersPerStage.size(); ++stage) {
    for (int i = 0; i < kLayersPerStage[stage]; ++i, ++l) {
      // The first layer of a stage changes channels and applies the stage stride.
      const int stride = i == 0 ? strides[stage] : 1;
      layers[l] = {c, kStageChannels[stage], stride, h};
      c = kStageChannels[stage];
      h = (h + stride - 1) / stride;  // k3/p1, k5/p2 and 1x1/p0 convs all give ceil(h / s)
    }
  }
  return layers;
}

StatusOr<int> FbnetOpCodeFromName(std::string_view name) {
  for (int c = 0; c < kFbnetNumOps; ++c) {
    if (kBlocks[c].name == name) return c;
  }
  return Status::InvalidArgument("unknown FBNet op \"" + std::string(name.substr(0, 64)) +
                                 "\" (known: codes 0..8 or k3_e1, k3_e1_g2, k3_e3, k3_e6, "
                                 "k5_e1, k5_e1_g2, k5_e3, k5_e6, skip)");
}

StatusOr<FbnetArch> FbnetArchFromCodes(const std::vector<int>& codes) {
  if (codes.size() != kFbnetNumLayers) {
    return Status::InvalidArgument("an FBNet architecture has " + std::to_string(kFbnetNumLayers) +
                                   " op codes, got " + std::to_string(codes.size()));
  }
  FbnetArch arch{};
  for (size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] < 0 || codes[i] >= kFbnetNumOps) {
      return Status::InvalidArgument("FBNet op code of layer " + std::to_string(i) +
                                     " must be in [0, 8], got " + std::to_string(codes[i]));
    }
    arch[i] = static_cast<uint8_t>(codes[i]);
  }
  return arch;
}

StatusOr<FbnetArch> ParseFbnetArch(std::string_view text) {
  std::string_view s = text;
  auto is_sep = [](char ch) {
    return ch == '-' || ch == ',' || std::isspace(static_cast<unsigned char>(ch)) != 0;
  };
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (!s.empty() && s.front() == '[') {
    if (s.back() != ']') {
      return Status::InvalidArgument("FBNet architecture starts with '[' but lacks ']'");
    }
    s = s.substr(1, s.size() - 2);
  }
  std::vector<int> codes;
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && is_sep(s[pos])) ++pos;
    if (pos >= s.size()) break;
    size_t end = pos;
    while (end < s.size() && !is_sep(s[end])) ++end;
    std::string_view token = s.substr(pos, end - pos);
    pos = end;
    int code = -1;
    bool numeric = true;
    for (char ch : token) numeric = numeric && std::isdigit(static_cast<unsigned char>(ch));
    if (numeric && token.size() <= 3) {
      code = std::stoi(std::string(token));
    } else {
      auto named = FbnetOpCodeFromName(token);
      if (named.ok()) code = *named;
    }
    if (code < 0 || code >= kFbnetNumOps) {
      return Status::InvalidArgument(
          "unknown FBNet op \"" + std::string(token.substr(0, 64)) + "\" at layer " +
          std::to_string(codes.size()) +
          " (known: codes 0..8 or k3_e1, k3_e1_g2, k3_e3, k3_e6, k5_e1, k5_e1_g2, k5_e3, k5_e6, "
          "skip)");
    }
    codes.push_back(code);
    if (codes.size() > kFbnetNumLayers) break;
  }
  return FbnetArchFromCodes(codes);
}

std::string FbnetArchKey(const FbnetArch& arch) {
  std::string key;
  for (size_t i = 0; i < arch.size(); ++i) {
    if (i > 0) key += '-';
    key += std::to_string(arch[i]);
  }
  return key;
}

}  // namespace qlab::nas
