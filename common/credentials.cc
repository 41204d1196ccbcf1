#include "common/credentials.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace qlab {
namespace {

std::string TrimWhitespace(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

StatusOr<std::string> ReadTextFile(const std::string& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(flag + ": cannot read '" + path + "'");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

StatusOr<std::string> ReadBearerToken(const std::string& token_file) {
  if (token_file.empty()) {
    const char* env = std::getenv("QLAB_TOKEN");
    return TrimWhitespace(env ? env : "");
  }
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(token_file, "--token-file"));
  return TrimWhitespace(text);
}

}  // namespace qlab
