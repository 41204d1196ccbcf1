#include "cli/sweep_file.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/input_limits.h"

namespace qlab::cli {
namespace {

using ojson = nlohmann::ordered_json;

ojson ScalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted in the file: a string, whatever it looks like
  if (s == "null" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    size_t used = 0;
    long long i = std::stoll(s, &used, 10);
    if (used == s.size()) return i;
  } catch (...) {
  }
  try {
    size_t used = 0;
    double d = std::stod(s, &used);
    if (used == s.size()) return d;
  } catch (...) {
  }
  return s;
}

ojson ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return nullptr;
    case YAML::NodeType::Scalar: return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      ojson out = ojson::array();
      for (const auto& item : node) out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      ojson out = ojson::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = ToJson(kv.second);
      return out;
    }
    default: return nullptr;
  }
}

}  // namespace

StatusOr<std::string> SweepTextToJson(const std::string& text) {
  // JSON is YAML, but parsing JSON as JSON gives better messages and exact numbers.
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    RETURN_IF_ERROR(CheckJsonNesting(text, kMaxJsonNesting, "sweep file"));
    ojson j = ojson::parse(text, nullptr, false);
    if (j.is_discarded()) return Status::InvalidArgument("sweep file is not valid JSON");
    return j.dump();
  }
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return Status::InvalidArgument("sweep file must be a mapping (name, kind, ...)");
    // yaml-cpp bounds its own recursion (YAML::DeepRecursion); the coordinator takes less.
    std::string json;
    try {
      json = ToJson(root).dump();
    } catch (const nlohmann::json::exception&) {
      // yaml-cpp passes bytes through unchecked; JSON text must be UTF-8 (type_error 316).
      return Status::InvalidArgument("sweep file is not valid UTF-8 text");
    }
    RETURN_IF_ERROR(CheckJsonNesting(json, kMaxJsonNesting, "sweep file"));
    return json;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("sweep file is not valid YAML: line " +
                                   std::to_string(e.mark.line + 1) + ", column " +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

StatusOr<std::string> ReadSweepFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read sweep file '" + path + "'");
  std::stringstream buf;
  buf << in.rdbuf();
  auto json = SweepTextToJson(buf.str());
  if (!json.ok()) return json.status().WithContext(path);
  return json;
}

}  // namespace qlab::cli
