// Portable path of cpu_gemv.h: the same algorithm as cpu_gemv_simd.inc one element at a time
// (integer dot products per group or NVFP4 block in the int8 mode, FP32 sums otherwise), for
// CPUs without AVX2 and as the plainest statement of what the SIMD paths compute.
#include <cstdint>

#include "evaluators/datatypes/minifloat.h"
#include "evaluators/kernels/cpu_gemv_task.h"

namespace qlab::kernels::cpu_gemv_internal {
namespace {

// Twice the E2M1 value of each code; RaZeR's special values, doubled, by selector.
constexpr int kE2m1Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
constexpr int kRazerDoubled[4] = {10, 16, -10, -16};

// The group's 128 weights as integers (q, or twice the E2M1 value) in the activations' order:
// for nibble formats positions 0..63 hold the even elements, 64..127 the odd ones.
void DecodeGroup(const Task& t, int64_t r, int64_t g, int w[kGroup]) {
  if (t.format == kInt8Asym) {
    const uint8_t* q = t.qweight + r * t.row_bytes + g * kGroup;
    for (int p = 0; p < kGroup; ++p) w[p] = q[p];
    return;
  }
  const uint8_t* q = t.qweight + r * t.row_bytes + g * (kGroup / 2);
  int special = 0;
  if (t.format == kRazerFp4) {
    special = kRazerDoubled[(t.aux_words[r * t.aux_words_per_row + g / 16] >> (2 * (g % 16))) & 3u];
  }
  for (int p = 0; p < kGroup / 2; ++p) {
    const int codes[2] = {q[p] & 15, q[p] >> 4};
    for (int h = 0; h < 2; ++h) {
      int v = codes[h];
      if (t.format != kInt4Asym) v = (t.format == kRazerFp4 && v == 8) ? special : kE2m1Doubled[v];
      w[h * 64 + p] = v;
    }
  }
}

}  // namespace

void GemvRowsPortable(const Task& t, int64_t row_begin, int64_t row_end) {
  const int64_t k = t.k, G = t.groups;
  int w[kGroup];
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int b = 0; b < t.m; ++b) {
      float acc = 0.0f;
      for (int64_t g = t.group_begin; g < t.group_end; ++g) {
        DecodeGroup(t, r, g, w);
        const int64_t xi = b * k + g * kGroup, si = b * G + g;
        if (t.format == kNvfp4) {
          // Position p belongs to block (p % 64) / 8 of the group.
          for (int block = 0; block < 8; ++block) {
            const float scale = datatypes::E4M3BitsToFloat(t.aux_bytes[r * (k / 16) + g * 8 + block]) *
                                t.tensor_scale * 0.5f;
            float sum = 0.0f;
            if (t.int8_activations) {
              int32_t dot = 0;
              for (int h = 0; h < 2; ++h)
                for (int p = h * 64 + block * 8; p < h * 64 + block * 8 + 8; ++p) dot += w[p] * t.xq[xi + p];
              sum = static_cast<float>(dot) * t.xscale[si];
            } else {
              for (int h = 0; h < 2; ++h)
                for (int p = h * 64 + block * 8; p < h * 64 + block * 8 + 8; ++p) sum += w[p] * t.xf[xi + p];
            }
            acc += scale * sum;
          }
          continue;
        }
        const bool int_weights = t.format == kInt4Asym || t.format == kInt8Asym;
        const float gscale = datatypes::Fp16BitsToFloat(t.scales_fp16[r * G + g]) * (int_weights ? 1.0f : 0.5f);
        int zero = 0;
        if (t.format == kInt4Asym) zero = (t.aux_words[r * t.aux_words_per_row + g / 8] >> (4 * (g % 8))) & 15u;
        if (t.format == kInt8Asym) zero = t.aux_bytes[r * G + g];
        if (t.int8_activations) {
          int32_t dot = 0;
          for (int p = 0; p < kGroup; ++p) dot += w[p] * t.xq[xi + p];
          acc += gscale * t.xscale[si] * static_cast<float>(dot - zero * t.xsum[si]);
        } else {
          float sum = 0.0f;
          for (int p = 0; p < kGroup; ++p) sum += static_cast<float>(w[p]) * t.xf[xi + p];
          acc += gscale * (sum - static_cast<float>(zero) * t.xsumf[si]);
        }
      }
      t.y[b * t.n + r] = t.accumulate ? t.y[b * t.n + r] + acc : acc;
    }
  }
}

}  // namespace qlab::kernels::cpu_gemv_internal
