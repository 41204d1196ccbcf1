#include "evaluators/predictor/encoding.h"

#include <charconv>
#include <cmath>
#include <string>

#include "evaluators/latency/fbnet.h"
#include "evaluators/latency/nas_cost.h"
#include "evaluators/latency/nb201.h"

namespace qlab::predictor {
namespace {

struct Decoded {
  nas::Nb201Ops nb201{};
  nas::FbnetArch fbnet{};
};

StatusOr<Decoded> Decode(Space space, std::string_view arch_key) {
  const std::string_view prefix = space == Space::kNb201 ? "nb201:" : "fbnet:";
  if (arch_key.substr(0, prefix.size()) != prefix) {
    return Status::InvalidArgument("arch_key '" + std::string(arch_key) + "' is not of space " +
                                   std::string(SpaceName(space)));
  }
  const std::string_view body = arch_key.substr(prefix.size());
  Decoded d;
  if (space == Space::kNb201) {
    int index = -1;
    auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), index);
    if (ec != std::errc() || end != body.data() + body.size()) {
      return Status::InvalidArgument("arch_key '" + std::string(arch_key) +
                                     "': expected nb201:<benchmark index>");
    }
    ASSIGN_OR_RETURN(d.nb201, nas::Nb201OpsOf(index));
  } else {
    ASSIGN_OR_RETURN(d.fbnet, nas::ParseFbnetArch(body));
  }
  return d;
}

nas::NetworkCost CostOf(Space space, const Decoded& d) {
  return space == Space::kNb201 ? nas::Nb201Cost(d.nb201, nas::Nb201Dataset::kCifar10)
                                : nas::FbnetCost(d.fbnet, nas::FbnetDataset::kCifar100);
}

}  // namespace

int EncodingWidth(Space space, Encoding encoding) {
  const int onehot = space == Space::kNb201 ? nas::kNb201NumEdges * nas::kNb201NumOps
                                            : nas::kFbnetNumLayers * nas::kFbnetNumOps;
  switch (encoding) {
    case Encoding::kOneHot: return onehot;
    case Encoding::kOneHotFlops: return onehot + 2;
    case Encoding::kFlops: return 2;
  }
  return 0;
}

Status EncodeArch(Space space, Encoding encoding, std::string_view arch_key,
                  std::vector<float>* out) {
  ASSIGN_OR_RETURN(Decoded d, Decode(space, arch_key));
  if (encoding != Encoding::kFlops) {
    const size_t base = out->size();
    out->resize(base + EncodingWidth(space, Encoding::kOneHot), 0.0f);
    if (space == Space::kNb201) {
      for (int e = 0; e < nas::kNb201NumEdges; ++e) {
        (*out)[base + e * nas::kNb201NumOps + static_cast<int>(d.nb201[e])] = 1.0f;
      }
    } else {
      for (int l = 0; l < nas::kFbnetNumLayers; ++l) {
        (*out)[base + l * nas::kFbnetNumOps + d.fbnet[l]] = 1.0f;
      }
    }
  }
  if (encoding != Encoding::kOneHot) {
    const nas::NetworkCost cost = CostOf(space, d);
    out->push_back(static_cast<float>(std::log(static_cast<double>(cost.flops))));
    out->push_back(static_cast<float>(std::log(static_cast<double>(cost.params))));
  }
  return Status::Ok();
}

StatusOr<EncodedRows> EncodeSamples(Space space, Encoding encoding,
                                    const std::vector<Sample>& samples) {
  EncodedRows rows;
  rows.features.reserve(samples.size() * EncodingWidth(space, encoding));
  rows.latency_us.reserve(samples.size());
  for (const auto& s : samples) {
    RETURN_IF_ERROR(EncodeArch(space, encoding, s.arch_key, &rows.features));
    rows.latency_us.push_back(s.latency_us);
  }
  return rows;
}

StatusOr<double> ArchFlops(Space space, std::string_view arch_key) {
  ASSIGN_OR_RETURN(Decoded d, Decode(space, arch_key));
  return static_cast<double>(CostOf(space, d).flops);
}

}  // namespace qlab::predictor
