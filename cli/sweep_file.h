// Reads a sweep file (YAML or JSON, DESIGN.md §10) into the JSON the coordinator expects.
#pragma once

#include <string>

#include "common/status.h"

namespace qlab::cli {

// Converts YAML or JSON text to compact JSON, keeping key order. YAML scalars become numbers,
// booleans or null when they read as such, strings otherwise (quoted scalars stay strings).
// INVALID_ARGUMENT with the line and column for malformed text.
StatusOr<std::string> SweepTextToJson(const std::string& text);

// Reads `path` and converts it. INVALID_ARGUMENT naming the file when unreadable or malformed.
StatusOr<std::string> ReadSweepFile(const std::string& path);

}  // namespace qlab::cli
