// Closed-form parameter and FLOP counts; mirrors network_builder.cc layer by layer (the tests
// compare both on every op and on sampled whole networks).
#include "evaluators/latency/nas_cost.h"

#include <string>

#include "common/text_format.h"

namespace qlab::nas {
namespace {

// Conv2d without bias: weights C_out * C_in/g * k * k; MACs per output pixel C_in/g * k * k.
NetworkCost Conv(int c_in, int c_out, int k, int groups, int h_out) {
  const int64_t weights = static_cast<int64_t>(c_out) * (c_in / groups) * k * k;
  return {weights, weights * h_out * h_out};
}
NetworkCost BatchNorm(int c) { return {2LL * c, 0}; }
NetworkCost Linear(int in, int out) {
  const int64_t p = static_cast<int64_t>(in) * out + out;
  return {p, p};
}
NetworkCost& operator+=(NetworkCost& a, const NetworkCost& b) {
  a.params += b.params;
  a.flops += b.flops;
  return a;
}

// ResNetBasicblock(c_in -> c_out, stride 2) at input resolution hw_in.
NetworkCost Nb201Reduction(int c_in, int c_out, int hw_in) {
  const int hw_out = hw_in / 2;
  NetworkCost cost;
  cost += Conv(c_in, c_out, 3, 1, hw_out);  // ReLUConvBN a (stride 2)
  cost += BatchNorm(c_out);
  cost += Conv(c_out, c_out, 3, 1, hw_out);  // ReLUConvBN b
  cost += BatchNorm(c_out);
  cost += Conv(c_in, c_out, 1, 1, hw_out);  // shortcut: AvgPool 2x2 then 1x1 conv, no BN
  return cost;
}

}  // namespace

StatusOr<Nb201Dataset> ParseNb201Dataset(std::string_view name) {
  if (EqualsIgnoreCase(name, "cifar10")) return Nb201Dataset::kCifar10;
  if (EqualsIgnoreCase(name, "cifar100")) return Nb201Dataset::kCifar100;
  if (EqualsIgnoreCase(name, "ImageNet16-120")) return Nb201Dataset::kImageNet16_120;
  return Status::InvalidArgument("unknown NB201 dataset \"" + std::string(name.substr(0, 64)) +
                                 "\" (known: cifar10, cifar100, ImageNet16-120)");
}

std::string_view Nb201DatasetName(Nb201Dataset dataset) {
  switch (dataset) {
    case Nb201Dataset::kCifar10:
      return "cifar10";
    case Nb201Dataset::kCifar100:
      return "cifar100";
    case Nb201Dataset::kImageNet16_120:
      return "ImageNet16-120";
  }
  return "invalid";
}

Nb201Macro Nb201MacroOf(Nb201Dataset dataset) {
  switch (dataset) {
    case Nb201Dataset::kCifar10:
      return {32, 10, 16, 5};
    case Nb201Dataset::kCifar100:
      return {32, 100, 16, 5};
    case Nb201Dataset::kImageNet16_120:
      return {16, 120, 16, 5};
  }
  return {32, 10, 16, 5};
}

NetworkCost Nb201CellCost(const Nb201Ops& ops, int channels, int hw) {
  NetworkCost cost;
  for (Nb201Op op : ops) {
    switch (op) {
      case Nb201Op::kNorConv1x1:
        cost += Conv(channels, channels, 1, 1, hw);
        cost += BatchNorm(channels);
        break;
      case Nb201Op::kNorConv3x3:
        cost += Conv(channels, channels, 3, 1, hw);
        cost += BatchNorm(channels);
        break;
      case Nb201Op::kNone:
      case Nb201Op::kSkipConnect:
      case Nb201Op::kAvgPool3x3:
        break;  // no parameters; pools are not counted in NB201's FLOPs
    }
  }
  return cost;
}

NetworkCost Nb201Cost(const Nb201Ops& ops, Nb201Dataset dataset) {
  const Nb201Macro m = Nb201MacroOf(dataset);
  NetworkCost cost;
  int c = m.channels;
  int hw = m.input_hw;
  cost += Conv(3, c, 3, 1, hw);  // stem
  cost += BatchNorm(c);
  for (int stage = 0; stage < 3; ++stage) {
    if (stage > 0) {
      cost += Nb201Reduction(c, 2 * c, hw);
      c *= 2;
      hw /= 2;
    }
    for (int i = 0; i < m.cells_per_stage; ++i) cost += Nb201CellCost(ops, c, hw);
  }
  cost += BatchNorm(c);  // lastact
  cost += Linear(c, m.num_classes);
  return cost;
}

NetworkCost FbnetLayerCost(int code, const FbnetLayer& layer) {
  const FbnetBlock& b = FbnetBlockOf(code);
  const int h_out = (layer.h_in + layer.stride - 1) / layer.stride;
  NetworkCost cost;
  if (code == kFbnetSkipCode) {
    if (layer.stride != 1 || layer.c_in != layer.c_out) {
      cost += Conv(layer.c_in, layer.c_out, 1, 1, h_out);
      cost += BatchNorm(layer.c_out);
    }
    return cost;
  }
  const int mid = layer.c_in * b.expansion;
  cost += Conv(layer.c_in, mid, 1, b.groups, layer.h_in);  // 1x1 expand
  cost += BatchNorm(mid);
  cost += Conv(mid, mid, b.kernel, mid, h_out);  // depthwise k x k
  cost += BatchNorm(mid);
  cost += Conv(mid, layer.c_out, 1, b.groups, h_out);  // 1x1 project
  cost += BatchNorm(layer.c_out);
  return cost;
}

NetworkCost FbnetCost(const FbnetArch& arch, FbnetDataset dataset) {
  const FbnetMacro m = FbnetMacroOf(dataset);
  const auto layers = FbnetLayers(dataset);
  NetworkCost cost;
  cost += Conv(3, 16, 3, 1, m.input_hw / m.stem_stride);  // stem ConvNorm
  cost += BatchNorm(16);
  for (int l = 0; l < kFbnetNumLayers; ++l) cost += FbnetLayerCost(arch[l], layers[l]);
  const FbnetLayer& last = layers[kFbnetNumLayers - 1];
  const int h_last = (last.h_in + last.stride - 1) / last.stride;
  cost += Conv(last.c_out, m.header_channels, 1, 1, h_last);  // header ConvNorm
  cost += BatchNorm(m.header_channels);
  cost += Linear(m.header_channels, m.num_classes);
  return cost;
}

}  // namespace qlab::nas
