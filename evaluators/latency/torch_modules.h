// LibTorch modules of the NB201 and FBNet networks, as the benchmarks define them
// (reference nas-spaces.md §1 and §2; AutoDL-Projects cell_operations.py / cells.py /
// tiny_network.py, HW-NAS-Bench fbnet_models/model_infer.py).
//
// Internal to the latency evaluator: included by network_builder.cc and its test only, because
// every translation unit that includes LibTorch is expensive to compile. Everything else uses
// network_builder.h.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "evaluators/latency/fbnet.h"
#include "evaluators/latency/nas_cost.h"
#include "evaluators/latency/nb201.h"

namespace qlab::latency::modules {

// A module with a single-tensor forward, so that heterogeneous ops can sit in one list.
class UnaryModule : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
};

// One NB201 edge operation at `channels` channels (always C -> C, stride 1 inside cells):
// none = x * 0 (a real element-wise kernel, as in the benchmark), skip = identity,
// nor_conv_kxk = ReLU -> Conv(k, pad k/2, no bias) -> BN, avg_pool_3x3 = AvgPool(3, 1, 1,
// count_include_pad = false).
std::shared_ptr<UnaryModule> MakeNb201Op(nas::Nb201Op op, int64_t channels);

// NB201 InferCell: node j = sum over i < j of op(i -> j)(node i); returns node 3.
std::shared_ptr<UnaryModule> MakeNb201Cell(const nas::Nb201Ops& ops, int64_t channels);

// ResNetBasicblock(c_in -> c_out, stride 2): ReLUConvBN(k3, s2) -> ReLUConvBN(k3, s1), plus a
// shortcut AvgPool(2, 2) -> Conv1x1 (no BN); output = shortcut + residual, no final ReLU.
std::shared_ptr<UnaryModule> MakeNb201Reduction(int64_t c_in, int64_t c_out);

// TinyNetwork(C=16, N=5) with `ops` in every cell; forward returns the logits.
std::shared_ptr<UnaryModule> MakeNb201Network(const nas::Nb201Ops& ops, nas::Nb201Dataset dataset);

// FBNet candidate block `code` (0..8) for one layer shape.
std::shared_ptr<UnaryModule> MakeFbnetBlock(int code, const nas::FbnetLayer& layer);

// FBNet_Infer: stem ConvNorm -> 22 blocks -> header ConvNorm(1x1) -> AdaptiveAvgPool -> Linear.
std::shared_ptr<UnaryModule> MakeFbnetNetwork(const nas::FbnetArch& arch,
                                              nas::FbnetDataset dataset);

// Number of trainable parameters (BN running statistics are buffers and not counted).
int64_t CountParameters(const torch::nn::Module& module);

}  // namespace qlab::latency::modules
