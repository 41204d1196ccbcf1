// Integer helpers shared by the packers, the kernels' planning and their synthetic data.
#pragma once

#include <cstdint>

namespace qlab {

// ceil(a / b) for a >= 0, b > 0.
constexpr int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace qlab
