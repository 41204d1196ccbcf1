// Analytic parameter counts and FLOPs of NB201 and FBNet networks, without building them.
//
// Conventions follow NAS-Bench-201's own cost table (AutoDL-Projects utils/flop_benchmark.py):
//   - params: every trainable parameter (conv weights, BN affine weight+bias, linear weight+bias);
//     BN running statistics are buffers and not counted;
//   - flops: multiply-accumulates per image of Conv2d and Linear layers, i.e.
//     H_out*W_out*C_out*C_in*k*k/groups per conv plus in*out (+out for a bias) per linear;
//     pools, BN, ReLU, channel shuffles and element-wise sums are not counted.
// With these rules NB201 benchmark index 0 on cifar10 has 129,306 params and 15,647,370 FLOPs,
// the values in NAS-Bench-201's table (0.129306 M, 15.64737 M).
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "evaluators/latency/fbnet.h"
#include "evaluators/latency/nb201.h"

namespace qlab::nas {

// The three NB201 datasets; they differ in input resolution and number of classes only.
enum class Nb201Dataset : uint8_t { kCifar10 = 0, kCifar100 = 1, kImageNet16_120 = 2 };

// "cifar10", "cifar100", "ImageNet16-120" (benchmark spelling; case-insensitive on input).
// INVALID_ARGUMENT lists the accepted names otherwise.
StatusOr<Nb201Dataset> ParseNb201Dataset(std::string_view name);
std::string_view Nb201DatasetName(Nb201Dataset dataset);

// The TinyNetwork skeleton (C=16, N=5) for one dataset.
struct Nb201Macro {
  int input_hw;         // 32 (cifar) or 16 (ImageNet16-120)
  int num_classes;      // 10, 100 or 120
  int channels;         // C of stage 1 (16); stages 2 and 3 use 2C and 4C
  int cells_per_stage;  // N (5)
};
Nb201Macro Nb201MacroOf(Nb201Dataset dataset);

struct NetworkCost {
  int64_t params = 0;  // trainable parameters
  int64_t flops = 0;   // multiply-accumulates per image (see file comment)
};

// Whole-network cost of an NB201 cell in the TinyNetwork skeleton.
NetworkCost Nb201Cost(const Nb201Ops& ops, Nb201Dataset dataset);

// Cost of one NB201 cell at `channels` channels and `hw` x `hw` resolution.
NetworkCost Nb201CellCost(const Nb201Ops& ops, int channels, int hw);

// Whole-network cost of an FBNet architecture (stem + 22 layers + header + classifier).
NetworkCost FbnetCost(const FbnetArch& arch, FbnetDataset dataset);

// Cost of FBNet block `code` for one layer shape.
NetworkCost FbnetLayerCost(int code, const FbnetLayer& layer);

}  // namespace qlab::nas
