// FBNet search space as HW-NAS-Bench uses it: 22 searchable layers, 9 candidate blocks each.
//
// An architecture is 22 op codes (0..8, HW-NAS-Bench's `PRIMITIVES` order); the space has 9^22
// members and no flat index, so the key is the codes joined by '-' ("fbnet:7-8-1-..." in
// LatencySampleSet::arch_key). The macro (channels, strides, header) is FBNetV1 as coded in
// HW-NAS-Bench `fbnet_models/model_infer.py::FBNet_Infer` (reference nas-spaces.md §2).
// Torch-free.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qlab::nas {

inline constexpr int kFbnetNumLayers = 22;
inline constexpr int kFbnetNumOps = 9;
inline constexpr int kFbnetSkipCode = 8;

// One candidate block. For the skip block, expansion/kernel/groups are 0.
struct FbnetBlock {
  std::string_view name;  // "k3_e1", ..., "skip"
  int expansion;          // e: 1x1 expand to C_in * e channels (present even when e == 1)
  int kernel;             // k of the depthwise conv
  int groups;             // g of both 1x1 convs; g > 1 adds a channel shuffle after the expand
};

// Row `code` of the block table (PRIMITIVES order). REQUIRES: 0 <= code < kFbnetNumOps.
const FbnetBlock& FbnetBlockOf(int code);

// The two input settings HW-NAS-Bench defines for FBNet.
enum class FbnetDataset : uint8_t { kCifar100 = 0, kImageNet = 1 };

// "cifar100" or "ImageNet" (HW-NAS-Bench spelling; case-insensitive on input). INVALID_ARGUMENT
// lists the accepted names otherwise.
StatusOr<FbnetDataset> ParseFbnetDataset(std::string_view name);
std::string_view FbnetDatasetName(FbnetDataset dataset);

// Geometry of the whole network for one dataset.
struct FbnetMacro {
  int input_hw;         // 32 (cifar100) or 224 (ImageNet)
  int stem_stride;      // 1 or 2
  int header_channels;  // 1504 or 1984
  int num_classes;      // 100 or 1000
};
FbnetMacro FbnetMacroOf(FbnetDataset dataset);

// Shape of one searchable layer.
struct FbnetLayer {
  int c_in, c_out, stride;
  int h_in;  // input resolution (square)
};
// The 22 searchable layers in order (independent of the ops chosen).
std::array<FbnetLayer, kFbnetNumLayers> FbnetLayers(FbnetDataset dataset);

// 22 op codes, each in [0, 9).
using FbnetArch = std::array<uint8_t, kFbnetNumLayers>;

// The code of a block name ("k5_e6" -> 7). INVALID_ARGUMENT lists the names otherwise.
StatusOr<int> FbnetOpCodeFromName(std::string_view name);

// Validates a code list: exactly 22 entries, each in [0, 8]. INVALID_ARGUMENT names the first
// offending position otherwise.
StatusOr<FbnetArch> FbnetArchFromCodes(const std::vector<int>& codes);

// Parses a text form: 22 entries separated by '-', ',' or whitespace, optionally wrapped in
// '[' ']'; each entry is a code ("7") or a block name ("k5_e6", "skip"). INVALID_ARGUMENT
// describes the first problem.
StatusOr<FbnetArch> ParseFbnetArch(std::string_view text);

// "7-8-1-..." (the codes joined by '-'); ParseFbnetArch reads it back.
std::string FbnetArchKey(const FbnetArch& arch);

}  // namespace qlab::nas
