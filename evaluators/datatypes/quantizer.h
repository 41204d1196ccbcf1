// Group quantizer: encodes groups of consecutive weights of one row into element codes plus
// per-group parameters (scale, zero point, selector) exactly as a registry row prescribes, and
// decodes them back. Scales are rounded to their storage format before elements are quantized.
// Whole-tensor helpers (threaded over rows) sit at the bottom; the fused encode+decode+metrics
// pass used by jobs is in evaluate.h.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "evaluators/datatypes/registry.h"

namespace qlab::datatypes {

enum class ScaleSearch : uint8_t {
  kNone,  // scale from the group's absmax (or [min,max]) as in the reference tables
  kMse,   // try each of kClipRatios times the range, keep the one with the least squared error
};

// Clip ratios tried by ScaleSearch::kMse: 1.0, 0.975, ..., 0.5 (21 candidates). AWQ's grid is
// 1.0..0.55 in steps of 0.05; a finer step costs only CPU here. The largest ratio wins ties.
inline constexpr int kNumClipRatios = 21;
float ClipRatio(int i);

struct QuantizerOptions {
  // Elements per group along a row. Default -1: the datatype's default_group_size. 0: one group
  // per row (per-channel).
  int64_t group_size = -1;
  // Default: kNone.
  ScaleSearch scale_search = ScaleSearch::kNone;
  // Student-t degrees of freedom of the sf4 codebook (ignored by other datatypes). Default 5:
  // the published SF4_5 table; other values are computed (student_t.h).
  double sf4_nu = 5.0;
};

// Per-group parameters of an encoded group.
struct GroupParams {
  float scale = 0;          // the scale as decoded from its storage format
  uint16_t scale_bits = 0;  // the scale's storage bits (FP16 bits, E8M0/E4M3/E3M3 byte)
  uint8_t zero = 0;         // zero point (asymmetric INT), else 0
  uint8_t selector = 0;     // codebook index (RaZeR, BitMoD), else 0
};

// An immutable, validated quantizer for one datatype and option set. Thread-safe: all methods
// are const and keep scratch memory thread-local.
class Quantizer {
 public:
  // INVALID_ARGUMENT when options are out of range (group_size < -1, sf4_nu not in (0, 1e6]).
  static StatusOr<Quantizer> Create(Datatype type, const QuantizerOptions& options);

  const DatatypeTraits& traits() const { return *traits_; }
  const QuantizerOptions& options() const { return options_; }

  // The group size used for rows of `cols` elements. INVALID_ARGUMENT when it does not divide
  // cols, or cols <= 0. kPassthrough datatypes (fp16, bf16) have no groups: always cols.
  StatusOr<int64_t> GroupSizeFor(int64_t cols) const;

  // Per-tensor scale from the tensor's absmax (NVFP4-style datatypes), 1.0f for the others.
  float TensorScale(float tensor_absmax) const;

  // Encodes x[0..n) into codes[0..n) and *params.
  // REQUIRES: n > 0, every x finite, tensor_scale from TensorScale().
  void EncodeGroup(const float* x, int64_t n, float tensor_scale, uint16_t* codes,
                   GroupParams* params) const;

  // Decodes codes[0..n) of one group into out[0..n).
  void DecodeGroup(const uint16_t* codes, int64_t n, const GroupParams& params,
                   float tensor_scale, float* out) const;

  // Value of element `code` under `selector`, in units of the scale (what DecodeGroup multiplies
  // by the scale). For INT datatypes the integer (q for sym, q - zero for asym with zero 0).
  float CodeValue(uint32_t code, int selector = 0) const;

  // Whether `code` is one the encoder never emits: Codebook::redundant_codes (E2M1's -0), INT
  // sym's -2^(b-1), the NaN codes of FP8/FP16/BF16 and E5M2's Inf (its cast saturates).
  bool IsRedundantCode(uint32_t code, int selector = 0) const;

  // Number of distinct codes: 2^payload_bits.
  uint32_t NumCodes() const { return 1u << traits_->payload_bits; }

  // The decision tables of a kGrid datatype's codebook `selector` (for reference
  // implementations and tests): element t (in scale units) becomes sorted[i] where i is the
  // number of thresholds below t (t > thresholds[k]); code_of[i] is its code; scales divide by
  // max_abs. Views into this quantizer. REQUIRES: family kGrid, selector < num_codebooks.
  struct GridView {
    int num_values;
    const float* sorted;      // ascending, num_values entries
    const float* thresholds;  // num_values - 1 entries, ties already resolved by the tie rule
    const uint8_t* code_of;   // num_values entries
    float max_abs;
  };
  GridView grid(int selector) const {
    const Grid& g = grids_[selector];
    return {g.num_values, g.sorted, g.thresholds, g.code_of, g.max_abs};
  }

 private:
  // Derived from one Codebook: the distinct values sorted, the decision thresholds between
  // neighbours (ties resolved by the row's tie rule) and the code emitted for each value.
  struct Grid {
    int num_values = 0;
    float sorted[16] = {};
    float thresholds[15] = {};  // element t goes above sorted[i] iff t > thresholds[i]
    uint8_t code_of[16] = {};   // code of sorted[i]
    float decode[16] = {};      // code -> value
    float max_abs = 0;          // the scale divisor
    uint16_t redundant = 0;
  };

  Quantizer(const DatatypeTraits* traits, const QuantizerOptions& options);
  static Grid MakeGrid(const Codebook& book, int payload_bits, TieRule rule);

  // Encodes with the range multiplied by `ratio`.
  void EncodeAtRatio(const float* x, int64_t n, float tensor_scale, float ratio, uint16_t* codes,
                     GroupParams* params) const;
  void EncodeIntSym(const float* x, int64_t n, float ratio, uint16_t* codes,
                    GroupParams* params) const;
  void EncodeIntAsym(const float* x, int64_t n, float ratio, uint16_t* codes,
                     GroupParams* params) const;
  // Scale (decoded) and its storage bits for a kGrid group with absmax `absmax` under grid g.
  void GridScale(float absmax, const Grid& g, float tensor_scale, float* scale,
                 uint16_t* bits) const;
  void EncodeMiniFloat(const float* x, int64_t n, float ratio, uint16_t* codes,
                       GroupParams* params) const;
  void EncodeGrid(const float* x, int64_t n, float tensor_scale, float ratio, uint16_t* codes,
                  GroupParams* params) const;
  double GroupSquaredError(const float* x, const uint16_t* codes, int64_t n,
                           const GroupParams& params, float tensor_scale) const;

  const DatatypeTraits* traits_;
  QuantizerOptions options_;
  std::vector<Grid> grids_;  // kGrid: one per selector
  std::vector<float> lut_;   // kMiniFloat: code -> element value (256 entries)
  float element_max_ = 0;    // kMiniFloat: largest finite element value
};

// A whole [rows, cols] tensor in encoded form.
struct QuantizedTensor {
  Datatype datatype = Datatype::kInt4Asym;
  int64_t rows = 0, cols = 0;
  int64_t group_size = 0;           // effective (> 0)
  float tensor_scale = 1.0f;        // NVFP4-style per-tensor scale, else 1
  std::vector<uint16_t> codes;      // [rows, cols] row-major, low payload_bits bits used
  std::vector<GroupParams> groups;  // [rows, cols / group_size] row-major
};

// Encodes w ([rows, cols] row-major) with up to `num_threads` threads over rows (0: hardware
// concurrency). INVALID_ARGUMENT for an empty tensor, a group size that does not divide cols, or
// non-finite weights (the message counts them).
StatusOr<QuantizedTensor> QuantizeTensor(const Quantizer& quantizer, const float* w, int64_t rows,
                                         int64_t cols, int num_threads = 0);

// Decodes a QuantizedTensor produced by QuantizeTensor with the same quantizer.
std::vector<float> DequantizeTensor(const Quantizer& quantizer, const QuantizedTensor& tensor,
                                    int num_threads = 0);

// Counts non-finite values and the max |w| of the finite ones.
struct FiniteScan {
  int64_t nan_count = 0;
  int64_t inf_count = 0;
  float absmax = 0;
};
FiniteScan ScanFinite(const float* w, int64_t n);

}  // namespace qlab::datatypes
