// Bounds on what one request, sweep or job may hold: checked before the input is parsed, copied
// or recursed into, so that a hostile request fails alone and the process that got it serves on.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace qlab {

// Arrays and objects inside one another in a sweep, a job's params or a filter.
inline constexpr int kMaxJsonNesting = 64;
// A job's params as stored (every job of a sweep carries its own copy).
inline constexpr size_t kMaxJobParamsBytes = 64 * 1024;
// Names people type and read in tables: experiment names, tags.
inline constexpr size_t kMaxNameBytes = 256;
inline constexpr size_t kMaxTags = 64;

// INVALID_ARGUMENT "`what` nests deeper than `max_depth` levels at byte N" when JSON text
// opens more than `max_depth` arrays or objects at once; OK otherwise, also for text that is not
// valid JSON (its parser says what is wrong). Brackets inside strings do not count. Linear,
// no recursion, no allocation.
Status CheckJsonNesting(std::string_view json_text, int max_depth, std::string_view what);

// INVALID_ARGUMENT "`what` is N bytes; at most `max_bytes`" when `size` exceeds `max_bytes`.
Status CheckSize(size_t size, size_t max_bytes, std::string_view what);

}  // namespace qlab
