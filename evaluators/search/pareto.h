// Pareto fronts and hypervolume over objective vectors, for studies: which trials are on the
// front, and one number that says how good a front is (the volume it dominates up to a
// reference point), so that two samplers or two moments of one study compare.
//
// Pure functions of their arguments, thread-safe. Each objective is minimized or maximized as
// its Direction says; values are taken as measured (no negation by the caller).
#pragma once

#include <cstddef>
#include <vector>

namespace qlab::search {

enum class Direction { kMinimize, kMaximize };

// Indices (ascending) of the points that no other point dominates: p dominates q when p is no
// worse in every objective and better in at least one. Equal points do not dominate each
// other, so every copy of a front point is returned. A point whose length differs from
// `directions` or that holds a NaN or infinity is skipped (never returned).
// Cost: O(n log n) for one or two objectives; otherwise O(n log n + n * f * m) for a front of
// f points over m objectives.
std::vector<size_t> NondominatedIndices(const std::vector<std::vector<double>>& points,
                                        const std::vector<Direction>& directions);

// The hypervolume dominated by `points` and bounded by `reference`: the measure of the set of
// vectors that some point is no worse than and that are no worse than `reference`. Points not
// strictly better than the reference in every objective contribute nothing, as do points skipped
// as above. Exact: one objective is a length, two a sorted sweep, three a sweep over a 2-D
// staircase (Beume et al. 2009), four and more WFG (While, Bradstreet and Barone 2012) down to
// the 3-D sweep.
// Returns NaN when `reference` is empty, longer than 16 objectives, holds a NaN or infinity, or
// differs in length from `directions`, or when more than 1,000,000 points are given.
// Cost: O(n log n) in 2-D and 3-D (10^6 points in under a second); exponential in the worst
// case beyond, though on fronts of spread points 2,000 in 4-D take about 0.2 s and 1,000 in 5-D
// or 300 in 6-D about 0.1 s. Only the non-dominated points count toward n beyond 3-D.
double Hypervolume(const std::vector<std::vector<double>>& points,
                   const std::vector<double>& reference, const std::vector<Direction>& directions);

}  // namespace qlab::search
