// NB201 space: names, parsing, the seed-88 benchmark order and the canonical form.
//
// The benchmark order comes from AutoDL-Projects' generate_meta_info: the product-ordered list
// of cells shuffled with CPython's `random.seed(88); random.shuffle(archs)`. CPython seeds its
// MT19937 with init_by_array([88]) (not init_genrand(88), not std::seed_seq), and draws shuffle
// positions with _randbelow (rejection sampling on the top bits), so both are ported verbatim.
#include "evaluators/latency/nb201.h"

#include <algorithm>
#include <map>

namespace qlab::nas {
namespace {

constexpr std::array<std::string_view, kNb201NumOps> kOpNames = {
    "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"};

// CPython's Modules/_randommodule.c generator: MT19937 with init_by_array seeding.
class PythonMersenneTwister {
 public:
  explicit PythonMersenneTwister(const std::vector<uint32_t>& key) { InitByArray(key); }

  uint32_t NextU32() {
    if (index_ >= kN) Twist();
    uint32_t y = state_[index_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }

  // random._randbelow_with_getrandbits(n) for 0 < n < 2^32: getrandbits(k) with
  // k = n.bit_length() is the top k bits of one 32-bit draw; redraw until below n.
  uint32_t RandBelow(uint32_t n) {
    int k = 0;
    while ((n >> k) != 0) ++k;
    uint32_t r = NextU32() >> (32 - k);
    while (r >= n) r = NextU32() >> (32 - k);
    return r;
  }

 private:
  static constexpr int kN = 624;
  static constexpr int kM = 397;

  void InitGenRand(uint32_t seed) {
    state_[0] = seed;
    for (int i = 1; i < kN; ++i) {
      state_[i] = 1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<uint32_t>(i);
    }
    index_ = kN;
  }

  void InitByArray(const std::vector<uint32_t>& key) {
    InitGenRand(19650218u);
    int i = 1;
    size_t j = 0;
    const size_t key_length = key.size();
    for (size_t k = std::max<size_t>(kN, key_length); k > 0; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1664525u)) + key[j] +
                  static_cast<uint32_t>(j);
      ++i;
      ++j;
      if (i >= kN) {
        state_[0] = state_[kN - 1];
        i = 1;
      }
      if (j >= key_length) j = 0;
    }
    for (int k = kN - 1; k > 0; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1566083941u)) -
                  static_cast<uint32_t>(i);
      ++i;
      if (i >= kN) {
        state_[0] = state_[kN - 1];
        i = 1;
      }
    }
    state_[0] = 0x80000000u;  // MSB is 1, assuring a non-zero initial array
  }

  void Twist() {
    for (int k = 0; k < kN; ++k) {
      uint32_t y = (state_[k] & 0x80000000u) | (state_[(k + 1) % kN] & 0x7fffffffu);
      state_[k] = state_[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    index_ = 0;
  }

  std::array<uint32_t, kN> state_{};
  int index_ = kN + 1;
};

struct BenchmarkOrder {
  std::array<int, kNb201NumArchs> product_of_index;  // benchmark index -> product index
  std::array<int, kNb201NumArchs> index_of_product;  // product index -> benchmark index
};

const BenchmarkOrder& Order() {
  static const BenchmarkOrder* order = [] {
    auto* o = new BenchmarkOrder;
    for (int i = 0; i < kNb201NumArchs; ++i) o->product_of_index[i] = i;
    // random.seed(88): an int seed becomes init_by_array of its 32-bit words.
    PythonMersenneTwister mt({88u});
    // random.shuffle: for i in reversed(range(1, n)): j = _randbelow(i + 1); swap.
    for (int i = kNb201NumArchs - 1; i > 0; --i) {
      int j = static_cast<int>(mt.RandBelow(static_cast<uint32_t>(i + 1)));
      std::swap(o->product_of_index[i], o->product_of_index[j]);
    }
    for (int i = 0; i < kNb201NumArchs; ++i) o->index_of_product[o->product_of_index[i]] = i;
    return o;
  }();
  return *order;
}

Status IndexOutOfRange(std::string_view what, int value) {
  return Status::InvalidArgument(std::string(what) + " must be in [0, " +
                                 std::to_string(kNb201NumArchs - 1) + "], got " +
                                 std::to_string(value));
}

Status Malformed(std::string_view arch, const std::string& why) {
  std::string shown(arch.substr(0, 200));
  return Status::InvalidArgument("malformed NB201 architecture string \"" + shown + "\": " + why +
                                 " (expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)");
}

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

struct UniqueTables {
  std::vector<int> unique_indices;                   // ascending representatives
  std::array<int, kNb201NumArchs> representative{};  // benchmark index -> representative
};

const UniqueTables& Unique() {
  static const UniqueTables* tables = [] {
    auto* t = new UniqueTables;
    std::map<std::string, int> first;  // canonical form -> smallest benchmark index
    for (int i = 0; i < kNb201NumArchs; ++i) {
      Nb201Ops ops = Nb201OpsOfProductIndex(Order().product_of_index[i]).value();
      auto [it, inserted] = first.emplace(Nb201CanonicalForm(ops), i);
      t->representative[i] = it->second;
      if (inserted) t->unique_indices.push_back(i);
    }
    return t;
  }();
  return *tables;
}

}  // namespace

std::string_view Nb201OpName(Nb201Op op) {
  auto code = static_cast<size_t>(op);
  return code < kOpNames.size() ? kOpNames[code] : std::string_view("invalid");
}

StatusOr<Nb201Op> Nb201OpFromName(std::string_view name) {
  for (size_t i = 0; i < kOpNames.size(); ++i) {
    if (kOpNames[i] == name) return static_cast<Nb201Op>(i);
  }
  return Status::InvalidArgument("unknown NB201 operation \"" + std::string(name.substr(0, 64)) +
                                 "\" (known: none, skip_connect, nor_conv_1x1, nor_conv_3x3, "
                                 "avg_pool_3x3)");
}

std::string Nb201ArchStringOf(const Nb201Ops& ops) {
  std::string s;
  s.reserve(96);
  int edge = 0;
  for (int node = 1; node < kNb201NumNodes; ++node) {
    if (node > 1) s += '+';
    s += '|';
    for (int in = 0; in < node; ++in, ++edge) {
      s += Nb201OpName(ops[edge]);
      s += '~';
      s += static_cast<char>('0' + in);
      s += '|';
    }
  }
  return s;
}

StatusOr<Nb201Ops> ParseNb201Arch(std::string_view arch_in) {
  std::string_view arch = Trim(arch_in);
  if (arch.empty()) return Malformed(arch_in, "empty string");
  Nb201Ops ops{};
  int edge = 0;
  size_t pos = 0;
  for (int node = 1; node < kNb201NumNodes; ++node) {
    size_t plus = arch.find('+', pos);
    if (node < kNb201NumNodes - 1 && plus == std::string_view::npos) {
      return Malformed(arch_in, "expected 3 nodes separated by '+', found " + std::to_string(node));
    }
    if (node == kNb201NumNodes - 1 && plus != std::string_view::npos) {
      return Malformed(arch_in, "more than 3 nodes separated by '+'");
    }
    std::string_view group =
        arch.substr(pos, plus == std::string_view::npos ? std::string_view::npos : plus - pos);
    pos = plus == std::string_view::npos ? arch.size() : plus + 1;
    const std::string node_name = "node " + std::to_string(node);
    if (group.size() < 2 || group.front() != '|' || group.back() != '|') {
      return Malformed(arch_in, node_name + " must be wrapped in '|'");
    }
    std::string_view inner = group.substr(1, group.size() - 2);
    for (int in = 0; in < node; ++in, ++edge) {
      size_t bar = inner.find('|');
      if ((bar == std::string_view::npos) != (in == node - 1)) {
        return Malformed(arch_in, node_name + " must have exactly " + std::to_string(node) +
                                      " incoming edge(s)");
      }
      std::string_view token = inner.substr(0, bar);
      inner = bar == std::string_view::npos ? std::string_view() : inner.substr(bar + 1);
      size_t tilde = token.find('~');
      if (tilde == std::string_view::npos) {
        return Malformed(arch_in,
                         "edge \"" + std::string(token) + "\" of " + node_name + " lacks '~input'");
      }
      std::string_view input = token.substr(tilde + 1);
      if (input.size() != 1 || input[0] != static_cast<char>('0' + in)) {
        return Malformed(arch_in, "edge " + std::to_string(in + 1) + " of " + node_name +
                                      " must read from node " + std::to_string(in) + ", got \"~" +
                                      std::string(input) + "\"");
      }
      auto op = Nb201OpFromName(token.substr(0, tilde));
      if (!op.ok()) {
        return Malformed(arch_in, op.status().message() + " on edge " + std::to_string(node) +
                                      "<-" + std::to_string(in));
      }
      ops[edge] = *op;
    }
  }
  return ops;
}

int Nb201ProductIndexOf(const Nb201Ops& ops) {
  int p = 0;
  for (Nb201Op op : ops) p = p * kNb201NumOps + static_cast<int>(op);
  return p;
}

StatusOr<Nb201Ops> Nb201OpsOfProductIndex(int product_index) {
  if (product_index < 0 || product_index >= kNb201NumArchs) {
    return IndexOutOfRange("NB201 product index", product_index);
  }
  Nb201Ops ops{};
  for (int e = kNb201NumEdges - 1; e >= 0; --e) {
    ops[e] = static_cast<Nb201Op>(product_index % kNb201NumOps);
    product_index /= kNb201NumOps;
  }
  return ops;
}

StatusOr<int> Nb201ProductIndexOfIndex(int index) {
  if (index < 0 || index >= kNb201NumArchs) return IndexOutOfRange("NB201 index", index);
  return Order().product_of_index[index];
}

StatusOr<int> Nb201IndexOfProductIndex(int product_index) {
  if (product_index < 0 || product_index >= kNb201NumArchs) {
    return IndexOutOfRange("NB201 product index", product_index);
  }
  return Order().index_of_product[product_index];
}

StatusOr<Nb201Ops> Nb201OpsOf(int index) {
  ASSIGN_OR_RETURN(int product, Nb201ProductIndexOfIndex(index));
  return Nb201OpsOfProductIndex(product);
}

StatusOr<std::string> Nb201ArchString(int index) {
  ASSIGN_OR_RETURN(Nb201Ops ops, Nb201OpsOf(index));
  return Nb201ArchStringOf(ops);
}

StatusOr<int> Nb201IndexOf(std::string_view arch) {
  ASSIGN_OR_RETURN(Nb201Ops ops, ParseNb201Arch(arch));
  return Nb201IndexOf(ops);
}

int Nb201IndexOf(const Nb201Ops& ops) { return Order().index_of_product[Nb201ProductIndexOf(ops)]; }

std::string Nb201CanonicalForm(const Nb201Ops& ops) {
  // Mirrors to_unique_str(consider_zero=True) token for token, so that the classes (and their
  // count, 6,466) are exactly NAS-Bench-201's; "#" marks a zero contribution.
  std::array<std::string, kNb201NumNodes> nodes;
  nodes[0] = "0";
  int edge = 0;
  for (int node = 1; node < kNb201NumNodes; ++node) {
    std::vector<std::string> terms;
    for (int in = 0; in < node; ++in, ++edge) {
      Nb201Op op = ops[edge];
      if (op == Nb201Op::kNone || nodes[in] == "#") {
        terms.emplace_back("#");
      } else if (op == Nb201Op::kSkipConnect) {
        terms.push_back(nodes[in]);
      } else {
        terms.push_back("(" + nodes[in] + ")@" + std::string(Nb201OpName(op)));
      }
    }
    std::sort(terms.begin(), terms.end());  // byte order, as Python's sorted() on str
    std::string joined;
    for (size_t t = 0; t < terms.size(); ++t) {
      if (t > 0) joined += '+';
      joined += terms[t];
    }
    nodes[node] = std::move(joined);
  }
  return nodes[kNb201NumNodes - 1];
}

const std::vector<int>& Nb201UniqueIndices() { return Unique().unique_indices; }

StatusOr<int> Nb201RepresentativeIndex(int index) {
  if (index < 0 || index >= kNb201NumArchs) return IndexOutOfRange("NB201 index", index);
  return Unique().representative[index];
}

bool Nb201IsConnected(const Nb201Ops& ops) {
  std::array<bool, kNb201NumNodes> live{};
  live[0] = true;
  int edge = 0;
  for (int node = 1; node < kNb201NumNodes; ++node) {
    for (int in = 0; in < node; ++in, ++edge) {
      if (ops[edge] != Nb201Op::kNone && live[in]) live[node] = true;
    }
  }
  return live[kNb201NumNodes - 1];
}

}  // namespace qlab::nas
