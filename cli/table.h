// Plain-text tables and CSV for the CLI.
#pragma once

#include <string>
#include <vector>

namespace qlab::cli {

// Columns padded to their widest cell; numbers right-aligned.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// RFC 4180: fields with commas, quotes or newlines are quoted, quotes doubled; \n line ends.
std::string FormatCsv(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows);

// Shortest text that reads back as the same double ("0.1", "4.125", "1e-07").
std::string FormatNumber(double v);
// Six significant digits, for tables people read.
std::string FormatShort(double v);

}  // namespace qlab::cli
