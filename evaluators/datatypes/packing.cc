// Packers and reference decoders for the kernel formats (see packing.h). Packing runs the
// registry quantizer (QuantizeTensor) and only rearranges its codes and group parameters into
// the documented buffers; Dequantize re-derives values from the buffers without the quantizer,
// so the tests comparing the two check the layout, not just the arithmetic.
#include "evaluators/datatypes/packing.h"

#include <string>

#include "common/int_math.h"
#include "evaluators/datatypes/quantizer.h"
#include "evaluators/datatypes/registry.h"

namespace qlab::datatypes {
namespace {

StatusOr<QuantizedTensor> Quantize(Datatype type, const float* w, int64_t n, int64_t k) {
  const DatatypeTraits& traits = GetTraits(type);
  const int64_t g = traits.default_group_size;
  if (n <= 0 || k <= 0 || k % g != 0) {
    return Status::InvalidArgument(std::string(traits.name) + " packing needs n > 0 and k a " +
                                   "positive multiple of " + std::to_string(g) + ", got n=" +
                                   std::to_string(n) + " k=" + std::to_string(k));
  }
  ASSIGN_OR_RETURN(Quantizer q, Quantizer::Create(type, {}));
  return QuantizeTensor(q, w, n, k);
}

std::vector<uint32_t> PackNibbles(const QuantizedTensor& t) {
  std::vector<uint32_t> words(t.rows * t.cols / 8, 0);
  for (int64_t i = 0; i < t.rows * t.cols; ++i) {
    words[i / 8] |= static_cast<uint32_t>(t.codes[i] & 0xF) << (4 * (i % 8));
  }
  return words;
}


}  // namespace

StatusOr<PackedRazerW4> PackRazerW4(const float* w, int64_t n, int64_t k) {
  ASSIGN_OR_RETURN(QuantizedTensor t, Quantize(Datatype::kRazerFp4, w, n, k));
  PackedRazerW4 p;
  p.n = n;
  p.k = k;
  const int64_t groups = k / p.group_size, sel_words = CeilDiv(groups, 16);
  p.qweight = PackNibbles(t);
  p.scales_fp16.resize(n * groups);
  p.selectors.assign(n * sel_words, 0);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < groups; ++j) {
      const GroupParams& g = t.groups[r * groups + j];
      p.scales_fp16[r * groups + j] = g.scale_bits;
      p.selectors[r * sel_words + j / 16] |= static_cast<uint32_t>(g.selector & 3) << (2 * (j % 16));
    }
  }
  return p;
}

StatusOr<PackedInt4Asym> PackInt4Asym(const float* w, int64_t n, int64_t k) {
  ASSIGN_OR_RETURN(QuantizedTensor t, Quantize(Datatype::kInt4Asym, w, n, k));
  PackedInt4Asym p;
  p.n = n;
  p.k = k;
  const int64_t groups = k / p.group_size, zero_words = CeilDiv(groups, 8);
  p.qweight = PackNibbles(t);
  p.scales_fp16.resize(n * groups);
  p.zeros.assign(n * zero_words, 0);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < groups; ++j) {
      const GroupParams& g = t.groups[r * groups + j];
      p.scales_fp16[r * groups + j] = g.scale_bits;
      p.zeros[r * zero_words + j / 8] |= static_cast<uint32_t>(g.zero & 0xF) << (4 * (j % 8));
    }
  }
  return p;
}

StatusOr<PackedNvfp4> PackNvfp4(const float* w, int64_t n, int64_t k) {
  ASSIGN_OR_RETURN(QuantizedTensor t, Quantize(Datatype::kNvfp4, w, n, k));
  PackedNvfp4 p;
  p.n = n;
  p.k = k;
  p.qweight = PackNibbles(t);
  p.tensor_scale = t.tensor_scale;
  p.block_scales.resize(t.groups.size());
  for (size_t i = 0; i < t.groups.size(); ++i) {
    p.block_scales[i] = static_cast<uint8_t>(t.groups[i].scale_bits);
  }
  return p;
}

StatusOr<PackedMxfp4> PackMxfp4(const float* w, int64_t n, int64_t k) {
  ASSIGN_OR_RETURN(QuantizedTensor t, Quantize(Datatype::kMxfp4, w, n, k));
  PackedMxfp4 p;
  p.n = n;
  p.k = k;
  p.qweight = PackNibbles(t);
  p.scales_e8m0.resize(t.groups.size());
  for (size_t i = 0; i < t.groups.size(); ++i) {
    p.scales_e8m0[i] = static_cast<uint8_t>(t.groups[i].scale_bits);
  }
  return p;
}

StatusOr<PackedInt8Asym> PackInt8Asym(const float* w, int64_t n, int64_t k) {
  ASSIGN_OR_RETURN(QuantizedTensor t, Quantize(Datatype::kInt8Asym, w, n, k));
  PackedInt8Asym p;
  p.n = n;
  p.k = k;
  p.qweight.resize(n * k);
  for (int64_t i = 0; i < n * k; ++i) p.qweight[i] = static_cast<uint8_t>(t.codes[i]);
  p.scales_fp16.resize(t.groups.size());
  p.zeros.resize(t.groups.size());
  for (size_t i = 0; i < t.groups.size(); ++i) {
    p.scales_fp16[i] = t.groups[i].scale_bits;
    p.zeros[i] = t.groups[i].zero;
  }
  return p;
}

StatusOr<PackedE2m1> PackE2m1(const float* w, int64_t n, int64_t k) {
  ASSIGN_OR_RETURN(QuantizedTensor t, Quantize(Datatype::kE2M1, w, n, k));
  PackedE2m1 p;
  p.n = n;
  p.k = k;
  p.qweight = PackNibbles(t);
  p.scales_fp16.resize(t.groups.size());
  for (size_t i = 0; i < t.groups.size(); ++i) p.scales_fp16[i] = t.groups[i].scale_bits;
  return p;
}

std::vector<float> Dequantize(const PackedRazerW4& p) {
  std::vector<float> out(p.n * p.k);
  const int64_t kw = p.k / 8, groups = p.k / p.group_size, sel_words = CeilDiv(groups, 16);
  for (int64_t r = 0; r < p.n; ++r) {
    for (int64_t c = 0; c < p.k; ++c) {
      const int64_t j = c / p.group_size;
      const uint32_t code = NibbleAt(p.qweight, kw, r, c);
      const uint32_t sel = (p.selectors[r * sel_words + j / 16] >> (2 * (j % 16))) & 3u;
      const float v = code == 0x8 ? kRazerSpecialValues[sel] : E2M1BitsToFloat(code);
      out[r * p.k + c] = Fp16BitsToFloat(p.scales_fp16[r * groups + j]) * v;
    }
  }
  return out;
}

std::vector<float> Dequantize(const PackedInt4Asym& p) {
  std::vector<float> out(p.n * p.k);
  const int64_t kw = p.k / 8, groups = p.k / p.group_size, zero_words = CeilDiv(groups, 8);
  for (int64_t r = 0; r < p.n; ++r) {
    for (int64_t c = 0; c < p.k; ++c) {
      const int64_t j = c / p.group_size;
      const int32_t q = static_cast<int32_t>(NibbleAt(p.qweight, kw, r, c));
      const int32_t zero = static_cast<int32_t>((p.zeros[r * zero_words + j / 8] >> (4 * (j % 8))) & 0xFu);
      out[r * p.k + c] = static_cast<float>(q - zero) * Fp16BitsToFloat(p.scales_fp16[r * groups + j]);
    }
  }
  return out;
}

std::vector<float> Dequantize(const PackedNvfp4& p) {
  std::vector<float> out(p.n * p.k);
  const int64_t kw = p.k / 8, blocks = p.k / p.group_size;
  for (int64_t r = 0; r < p.n; ++r) {
    for (int64_t c = 0; c < p.k; ++c) {
      const float v = E2M1BitsToFloat(static_cast<uint8_t>(NibbleAt(p.qweight, kw, r, c)));
      const float s = E4M3BitsToFloat(p.block_scales[r * blocks + c / p.group_size]);
      out[r * p.k + c] = (v * s) * p.tensor_scale;
    }
  }
  return out;
}

std::vector<float> Dequantize(const PackedMxfp4& p) {
  std::vector<float> out(p.n * p.k);
  const int64_t kw = p.k / 8, blocks = p.k / p.group_size;
  for (int64_t r = 0; r < p.n; ++r) {
    for (int64_t c = 0; c < p.k; ++c) {
      const float v = E2M1BitsToFloat(static_cast<uint8_t>(NibbleAt(p.qweight, kw, r, c)));
      out[r * p.k + c] = v * E8M0BitsToFloat(p.scales_e8m0[r * blocks + c / p.group_size]);
    }
  }
  return out;
}

std::vector<float> Dequantize(const PackedInt8Asym& p) {
  std::vector<float> out(p.n * p.k);
  const int64_t groups = p.k / p.group_size;
  for (int64_t r = 0; r < p.n; ++r) {
    for (int64_t c = 0; c < p.k; ++c) {
      const int64_t j = r * groups + c / p.group_size;
      const int32_t q = p.qweight[r * p.k + c];
      out[r * p.k + c] = static_cast<float>(q - int32_t{p.zeros[j]}) * Fp16BitsToFloat(p.scales_fp16[j]);
    }
  }
  return out;
}

std::vector<float> Dequantize(const PackedE2m1& p) {
  std::vector<float> out(p.n * p.k);
  const int64_t kw = p.k / 8, groups = p.k / p.group_size;
  for (int64_t r = 0; r < p.n; ++r) {
    for (int64_t c = 0; c < p.k; ++c) {
      const float v = E2M1BitsToFloat(static_cast<uint8_t>(NibbleAt(p.qweight, kw, r, c)));
      out[r * p.k + c] = Fp16BitsToFloat(p.scales_fp16[r * groups + c / p.group_size]) * v;
    }
  }
  return out;
}

}  // namespace qlab::datatypes
