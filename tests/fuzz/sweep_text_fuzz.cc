// Fuzzes the sweep-file reader of `qlab submit` (cli/sweep_file.h): YAML or JSON text in, the
// compact JSON the coordinator expects out. Invariants: what it accepts is valid JSON within
// the nesting bound, and converting that JSON again gives the same text.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/sweep_file.h"
#include "common/input_limits.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > qlab::fuzz::kMaxInputBytes) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto json = qlab::cli::SweepTextToJson(text);
  if (!json.ok()) return 0;
  QLAB_FUZZ_CHECK(qlab::CheckJsonNesting(*json, qlab::kMaxJsonNesting, "sweep").ok(), *json);
  const auto parsed = nlohmann::ordered_json::parse(*json, nullptr, /*allow_exceptions=*/false);
  QLAB_FUZZ_CHECK(!parsed.is_discarded(), *json);
  auto again = qlab::cli::SweepTextToJson(*json);
  QLAB_FUZZ_CHECK(again.ok(), again.status().message());
  QLAB_FUZZ_CHECK(*again == *json, *json + " became " + *again);
  return 0;
}
