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

// yaml-cpp makes an alias the very node its anchor names, so `&a [*a]` is a cycle and aliases of
// aliases expand exponentially (nine lines can stand for 10^9 values): the conversion stops at
// the coordinator's nesting bound and at one value per byte of text (plus this many, for
// modest reuse of anchors) instead of recursing or growing on.
constexpr size_t kMaxYamlAliasValues = 4096;

// Converts `node`, a value `depth` sequences or mappings deep (the root is 1), into *out;
// *values counts down the values still allowed.
Status ToJson(const YAML::Node& node, int depth, size_t* values, ojson* out) {
  if (*values == 0) {
    return Status::InvalidArgument(
        "sweep file holds more values once its aliases are expanded than it has bytes (plus " +
        std::to_string(kMaxYamlAliasValues) + ")");
  }
  --*values;
  const bool nests = node.Type() == YAML::NodeType::Sequence || node.Type() == YAML::NodeType::Map;
  if (nests && depth > kMaxJsonNesting) {
    return Status::InvalidArgument("sweep file nests deeper than " +
                                   std::to_string(kMaxJsonNesting) +
                                   " levels (or an alias refers to itself)");
  }
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      *out = ScalarToJson(node);
      return Status::Ok();
    case YAML::NodeType::Sequence: {
      *out = ojson::array();
      for (const auto& item : node) {
        ojson value;
        RETURN_IF_ERROR(ToJson(item, depth + 1, values, &value));
        out->push_back(std::move(value));
      }
      return Status::Ok();
    }
    case YAML::NodeType::Map: {
      *out = ojson::object();
      for (const auto& kv : node) {
        ojson value;
        RETURN_IF_ERROR(ToJson(kv.second, depth + 1, values, &value));
        (*out)[kv.first.as<std::string>()] = std::move(value);
      }
      return Status::Ok();
    }
    default:
      *out = nullptr;
      return Status::Ok();
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
    ojson converted;
    size_t values = text.size() + kMaxYamlAliasValues;
    RETURN_IF_ERROR(ToJson(root, 1, &values, &converted));
    std::string json;
    try {
      json = converted.dump();
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
