// NAS-Bench-201 (NB201) search space: operations, cells, architecture strings and indices.
//
// A cell has 4 nodes and 6 edges; each edge carries one of 5 operations, so the space holds
// 5^6 = 15,625 cells. Three numberings exist and all are supported here:
//   - the *benchmark index* (0..15624): NAS-Bench-201's own order, which HW-NAS-Bench and HELP
//     reuse. It is the product order shuffled by CPython's random.seed(88) + random.shuffle, so
//     this file ports CPython's Mersenne Twister seeding exactly (reference nas-spaces.md §8);
//   - the *product index*: edge e0 is the most significant base-5 digit, e5 the least;
//   - the *architecture string*: "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|".
// Torch-free and allocation-light so that the CLI can link it and start instantly.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace qlab::nas {

inline constexpr int kNb201NumOps = 5;
inline constexpr int kNb201NumEdges = 6;
inline constexpr int kNb201NumNodes = 4;
inline constexpr int kNb201NumArchs = 15625;  // 5^6

// Operation codes 0..4 in NAS-Bench-201's own list order (`NAS_BENCH_201`); append-only.
enum class Nb201Op : uint8_t {
  kNone = 0,         // "none":         x * 0 (a real elementwise kernel in the benchmark)
  kSkipConnect = 1,  // "skip_connect": identity
  kNorConv1x1 = 2,   // "nor_conv_1x1": ReLU -> Conv 1x1 -> BN
  kNorConv3x3 = 3,   // "nor_conv_3x3": ReLU -> Conv 3x3 -> BN
  kAvgPool3x3 = 4,   // "avg_pool_3x3": AvgPool 3x3, stride 1, pad 1, count_include_pad=false
};

// Edge e (0..5) goes from node kNb201EdgeFrom[e] to node kNb201EdgeTo[e], in string order:
// (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).
inline constexpr std::array<int, kNb201NumEdges> kNb201EdgeTo = {1, 2, 2, 3, 3, 3};
inline constexpr std::array<int, kNb201NumEdges> kNb201EdgeFrom = {0, 0, 1, 0, 1, 2};

// The operations of one cell, indexed by edge (see kNb201EdgeTo/From).
using Nb201Ops = std::array<Nb201Op, kNb201NumEdges>;

// "none", "skip_connect", ... The returned view refers to static storage.
std::string_view Nb201OpName(Nb201Op op);

// Parses an operation name (exact, case-sensitive, as in the benchmark strings).
// Returns INVALID_ARGUMENT naming the unknown token and listing the known names.
StatusOr<Nb201Op> Nb201OpFromName(std::string_view name);

// Formats the benchmark string, e.g. "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|...|".
std::string Nb201ArchStringOf(const Nb201Ops& ops);

// Parses a benchmark string. Leading/trailing whitespace is ignored; anything else must match
// the benchmark's format exactly: 3 nodes joined by '+', node j wrapped in '|' with j edges
// "op~i" for i = 0..j-1 in that order. Returns INVALID_ARGUMENT describing the first problem
// (wrong node count, missing '|', bad input index, unknown operation, ...).
StatusOr<Nb201Ops> ParseNb201Arch(std::string_view arch);

// Product index: sum of code(e) * 5^(5-e). Always in [0, 15625).
int Nb201ProductIndexOf(const Nb201Ops& ops);
// Inverse of Nb201ProductIndexOf. Returns INVALID_ARGUMENT unless 0 <= product_index < 15625.
StatusOr<Nb201Ops> Nb201OpsOfProductIndex(int product_index);

// Benchmark index <-> product index (the seed-88 permutation). The table is computed once, on
// first use, in about a millisecond; thread-safe. Both return INVALID_ARGUMENT when the
// argument is outside [0, 15625).
StatusOr<int> Nb201ProductIndexOfIndex(int index);
StatusOr<int> Nb201IndexOfProductIndex(int product_index);

// Benchmark index -> operations / string, and back. Errors: INVALID_ARGUMENT for an index
// outside [0, 15625) or a malformed string (see ParseNb201Arch).
StatusOr<Nb201Ops> Nb201OpsOf(int index);
StatusOr<std::string> Nb201ArchString(int index);
StatusOr<int> Nb201IndexOf(std::string_view arch);
int Nb201IndexOf(const Nb201Ops& ops);

// Isomorphism-aware canonical form, identical to NAS-Bench-201's
// `Structure.to_unique_str(consider_zero=True)`: skip_connect is the identity, a 'none' edge or
// an edge leaving an all-zero node contributes zero, and the inputs of each node are sorted so
// that the order of summation does not matter. Two cells with equal canonical forms compute
// the same function (for the same weights), so one latency per class suffices if desired.
// The 15,625 cells fall into 6,466 classes, the number NAS-Bench-201 reports.
std::string Nb201CanonicalForm(const Nb201Ops& ops);

// Benchmark indices of one representative per canonical class: the smallest benchmark index
// of each class, in ascending order (6,466 entries). Computed once on first use; thread-safe.
const std::vector<int>& Nb201UniqueIndices();

// The smallest benchmark index with the same canonical form as `index` (itself when it is the
// representative). INVALID_ARGUMENT when the index is out of range.
StatusOr<int> Nb201RepresentativeIndex(int index);

// Whether the cell output depends on its input at all (NAS-Bench-201's `check_valid`): false
// when every path from node 0 to node 3 passes through a 'none' edge.
bool Nb201IsConnected(const Nb201Ops& ops);

}  // namespace qlab::nas
