// Plain-text tables and CSV for the CLI.
#pragma once

#include <string>
#include <vector>

#include "common/text_format.h"

namespace qlab::cli {

using qlab::FormatNumber;

// Columns padded to their widest cell; numbers right-aligned.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// RFC 4180: fields with commas, quotes or newlines are quoted, quotes doubled; \n line ends.
std::string FormatCsv(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows);

// Six significant digits, for tables people read.
std::string FormatShort(double v);

}  // namespace qlab::cli
