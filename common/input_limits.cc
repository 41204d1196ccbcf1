#include "common/input_limits.h"

#include <string>

namespace qlab {

Status CheckJsonNesting(std::string_view json_text, int max_depth, std::string_view what) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json_text.size(); ++i) {
    const char c = json_text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, a quote included, never ends the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return Status::InvalidArgument(std::string(what) + " nests deeper than " +
                                       std::to_string(max_depth) + " levels at byte " +
                                       std::to_string(i));
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return Status::Ok();
}

Status CheckSize(size_t size, size_t max_bytes, std::string_view what) {
  if (size <= max_bytes) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " is " + std::to_string(size) +
                                 " bytes; at most " + std::to_string(max_bytes));
}

}  // namespace qlab
