// Number and CSV formatting shared by the CLI and the HTTP API, so that `qlab results --csv`
// and the dashboard's CSV download are the same bytes for the same rows.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qlab {

// ASCII case-insensitive equality ("ImageNet" == "imagenet"), for names users type.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Shortest text that reads back as the same double ("0.1", "4.125", "1e-07"; "nan", "inf").
std::string FormatNumber(double v);
// FormatNumber appended to *out, without a string of its own (for exports of millions).
void AppendNumber(std::string* out, double v);

// Appends one RFC 4180 field (quoted when it holds a comma, quote or line break).
void AppendCsvField(std::string* out, std::string_view field);
// One RFC 4180 line: fields with commas, quotes or line breaks quoted, quotes doubled; "\n".
std::string CsvLine(const std::vector<std::string>& fields);

// Reads RFC 4180 text (what CsvLine writes, "\n" or "\r\n" line ends) into records of fields.
// Returns false, with `error` naming the 1-based line, for a quote left open or stray text
// after a closing quote. Blank lines are skipped.
bool ParseCsv(const std::string& text, std::vector<std::vector<std::string>>& records,
              std::string& error);

}  // namespace qlab
