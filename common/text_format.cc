#include "common/text_format.h"

#include <algorithm>
#include <charconv>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace qlab {

void AppendNumber(std::string* out, double v) {
  if (std::isnan(v)) {
    *out += "nan";
    return;
  }
  if (std::isinf(v)) {
    *out += v > 0 ? "inf" : "-inf";
    return;
  }
  // printf's %g at the fewest significant digits (at least 6) that read back as v. Those
  // digits are the shortest round-trip digits (to_chars): at a precision p >= their count,
  // rounding v to p digits gives them followed by zeros, which %g drops. So the answer is
  // %g's layout of the shortest digits: scientific when the exponent is below -4 or at least
  // p, else fixed. One to_chars call per number, without a snprintf/strtod search.
  if (std::fabs(v) < std::numeric_limits<double>::min() && v != 0) {
    // Subnormals carry fewer digits than their shortest form suggests: search as %g would.
    char buf[64];
    for (int precision = 6; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
    *out += buf;
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const char* c = buf;
  if (*c == '-') *out += *c++;
  char digits[32];
  int n = 0;
  for (; c < r.ptr && *c != 'e'; ++c) {
    if (*c != '.') digits[n++] = *c;
  }
  int exponent = 0;  // "e+05" -> 5
  for (const char* d = c + 2; d < r.ptr; ++d) exponent = exponent * 10 + (*d - '0');
  if (c[1] == '-') exponent = -exponent;
  const int precision = std::max(6, n);
  if (exponent < -4 || exponent >= precision) {
    *out += digits[0];
    if (n > 1) {
      *out += '.';
      out->append(digits + 1, n - 1);
    }
    char e[8];
    const int len = std::snprintf(e, sizeof(e), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out->append(e, len);
  } else if (exponent >= 0) {
    const int whole = exponent + 1;
    out->append(digits, std::min(n, whole));
    if (n < whole) out->append(whole - n, '0');
    if (n > whole) {
      *out += '.';
      out->append(digits + whole, n - whole);
    }
  } else {
    *out += "0.";
    out->append(-exponent - 1, '0');
    out->append(digits, n);
  }
}

std::string FormatNumber(double v) {
  std::string out;
  AppendNumber(&out, v);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void AppendCsvField(std::string* out, std::string_view f) {
  if (f.find_first_of(",\"\n\r") == std::string_view::npos) {
    out->append(f);
    return;
  }
  *out += '"';
  for (char c : f) {
    if (c == '"') *out += '"';
    *out += c;
  }
  *out += '"';
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    AppendCsvField(&out, fields[i]);
  }
  return out + "\n";
}

bool ParseCsv(const std::string& text, std::vector<std::vector<std::string>>& records,
              std::string& error) {
  records.clear();
  std::vector<std::string> record;
  std::string field;
  size_t line = 1, i = 0;
  bool field_started = false;
  auto end_record = [&] {
    if (field_started || !record.empty()) {
      record.push_back(std::move(field));
      records.push_back(std::move(record));
    }
    record.clear();
    field.clear();
    field_started = false;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' && field.empty() && !field_started) {
      const size_t opened_at = line;
      ++i;
      for (;;) {
        if (i >= text.size()) {
          error = "line " + std::to_string(opened_at) + ": quoted field is never closed";
          return false;
        }
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') ++line;
        field += text[i++];
      }
      field_started = true;
      if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
        error = "line " + std::to_string(line) + ": text after a closing quote";
        return false;
      }
      continue;
    }
    if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      field_started = false;  // end_record() still adds the empty field after a trailing comma
      ++i;
    } else if (c == '\n' || c == '\r') {
      end_record();
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
    } else {
      field += c;
      field_started = true;
      ++i;
    }
  }
  end_record();
  return true;
}

}  // namespace qlab
