#include "common/text_format.h"

#include <algorithm>
#include <charconv>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

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
  // printf's %g at the fewest significant digits (at least 6) that read back as v. The
  // shortest round-trip form says how many digits that is; every precision from there on
  // round-trips and none below does, so one formatting at that precision is the answer a
  // search from 6 upwards finds, without a dozen snprintf and strtod calls per number.
  char buf[64];
  auto shortest = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  int digits = 0;
  for (char* c = buf; c < shortest.ptr && *c != 'e'; ++c) digits += std::isdigit(static_cast<unsigned char>(*c)) != 0;
  auto end = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, std::max(6, digits));
  out->append(buf, end.ptr);
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
