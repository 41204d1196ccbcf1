#include "storage/filter_expression.h"

#include <cctype>
#include <cstdlib>
#include <set>

#include "storage/records.h"

namespace qlab::storage {
namespace {

struct Token {
  enum Kind { kWord, kNumber, kString, kPunct, kEnd } kind;
  std::string text;
  size_t pos;
};

StatusOr<std::vector<Token>> Lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    size_t start = i;
    if (c == '"' || c == '\'') {
      std::string text;
      ++i;
      while (i < s.size() && s[i] != c) text += s[i++];
      if (i == s.size()) return Status::InvalidArgument("filter: unterminated string at " + std::to_string(start));
      ++i;
      out.push_back({Token::kString, text, start});
    } else if (c == '(' || c == ')' || c == ',') {
      out.push_back({Token::kPunct, std::string(1, c), start});
      ++i;
    } else if (c == '<' || c == '>' || c == '=' || c == '!') {
      std::string op(1, c);
      ++i;
      if (i < s.size() && s[i] == '=') op += s[i++];
      if (op == "!") return Status::InvalidArgument("filter: '!' must be '!=' at " + std::to_string(start));
      if (op == "==") op = "=";
      out.push_back({Token::kPunct, op, start});
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '+') {
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' ||
                              s[i] == '-' || s[i] == '.' || s[i] == '+' || s[i] == ':')) {
        ++i;
      }
      std::string text(s.substr(start, i - start));
      char* end = nullptr;
      std::strtod(text.c_str(), &end);
      bool numeric = end == text.c_str() + text.size() &&
                     (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-' ||
                      text[0] == '+' || text[0] == '.');
      out.push_back({numeric ? Token::kNumber : Token::kWord, text, start});
    } else {
      return Status::InvalidArgument("filter: unexpected '" + std::string(1, c) + "' at " +
                                     std::to_string(start));
    }
  }
  out.push_back({Token::kEnd, "", s.size()});
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::set<std::string>& metrics)
      : t_(std::move(tokens)), metrics_(metrics) {}

  StatusOr<FilterNode> Run() {
    ASSIGN_OR_RETURN(FilterNode node, Or());
    if (Peek().kind != Token::kEnd) return Error("'and', 'or' or the end");
    return node;
  }

 private:
  const Token& Peek() const { return t_[i_]; }
  bool IsWord(const char* w) const { return Peek().kind == Token::kWord && Lower(Peek().text) == w; }
  bool IsPunct(const char* p) const { return Peek().kind == Token::kPunct && Peek().text == p; }
  Status Error(const std::string& expected) const {
    std::string got = Peek().kind == Token::kEnd ? "the end" : "'" + Peek().text + "'";
    return Status::InvalidArgument("filter: expected " + expected + " at " + std::to_string(Peek().pos) +
                                   ", got " + got);
  }
  static FilterNode Joined(FilterNode::Op op, FilterNode left, FilterNode right) {
    FilterNode n;
    n.op = op;
    n.children.push_back(std::move(left));
    n.children.push_back(std::move(right));
    return n;
  }

  StatusOr<FilterNode> Or() {
    ASSIGN_OR_RETURN(FilterNode left, And());
    while (IsWord("or")) {
      ++i_;
      ASSIGN_OR_RETURN(FilterNode right, And());
      left = Joined(FilterNode::kOr, std::move(left), std::move(right));
    }
    return left;
  }
  StatusOr<FilterNode> And() {
    ASSIGN_OR_RETURN(FilterNode left, Not());
    while (IsWord("and")) {
      ++i_;
      ASSIGN_OR_RETURN(FilterNode right, Not());
      left = Joined(FilterNode::kAnd, std::move(left), std::move(right));
    }
    return left;
  }
  // Each '(' and 'not' recurses once: the nesting bound keeps a hostile filter off the stack.
  StatusOr<FilterNode> Not() {
    const bool nests = IsWord("not") || IsPunct("(");
    if (nests && ++depth_ > kMaxFilterNesting) {
      return Status::InvalidArgument("filter: nested deeper than " +
                                     std::to_string(kMaxFilterNesting) + " levels at " +
                                     std::to_string(Peek().pos));
    }
    StatusOr<FilterNode> out = NotAtCurrentDepth();
    depth_ -= nests;
    return out;
  }
  StatusOr<FilterNode> NotAtCurrentDepth() {
    if (IsWord("not")) {
      ++i_;
      ASSIGN_OR_RETURN(FilterNode inner, Not());
      FilterNode n;
      n.op = FilterNode::kNot;
      n.children.push_back(std::move(inner));
      return n;
    }
    if (IsPunct("(")) {
      ++i_;
      ASSIGN_OR_RETURN(FilterNode inner, Or());
      if (!IsPunct(")")) return Error("')'");
      ++i_;
      return inner;
    }
    return Comparison();
  }

  StatusOr<FilterField> Field() {
    if (Peek().kind != Token::kWord) return Error("a field name");
    std::string name = Peek().text;
    ++i_;
    if (name == "state") return FilterField{FilterField::kState, ""};
    if (name == "kind") return FilterField{FilterField::kKind, ""};
    if (name == "experiment") return FilterField{FilterField::kExperiment, ""};
    if (name == "worker") return FilterField{FilterField::kWorker, ""};
    bool metric;
    if (name.rfind("metrics.", 0) == 0) {
      name = name.substr(8), metric = true;
    } else if (name.rfind("params.", 0) == 0) {
      name = name.substr(7), metric = false;
    } else {
      metric = metrics_.count(name) > 0;
    }
    if (name.empty()) return Status::InvalidArgument("filter: empty field name");
    return FilterField{metric ? FilterField::kMetric : FilterField::kParam, name};
  }

  StatusOr<FilterValue> Value(bool state_field) {
    Token tok = Peek();
    if (tok.kind == Token::kNumber) {
      ++i_;
      if (tok.text.find_first_of(".eE") == std::string::npos) {
        return FilterValue(static_cast<int64_t>(std::strtoll(tok.text.c_str(), nullptr, 10)));
      }
      return FilterValue(std::strtod(tok.text.c_str(), nullptr));
    }
    if (tok.kind == Token::kWord || tok.kind == Token::kString) {
      ++i_;
      if (state_field) {
        std::string upper = tok.text;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        for (int s = 1; s <= 6; ++s) {
          if (upper == JobStateName(static_cast<JobState>(s))) return FilterValue(int64_t{s});
        }
        return Status::InvalidArgument("filter: '" + tok.text + "' is not a job state");
      }
      if (tok.kind == Token::kWord && (Lower(tok.text) == "true" || Lower(tok.text) == "false")) {
        return FilterValue(int64_t{Lower(tok.text) == "true"});
      }
      return FilterValue(tok.text);
    }
    return Error("a value");
  }

  StatusOr<FilterNode> Comparison() {
    if (++comparisons_ > 64) return Status::InvalidArgument("filter: more than 64 comparisons");
    FilterNode n;
    ASSIGN_OR_RETURN(n.field, Field());
    const bool is_state = n.field.kind == FilterField::kState;
    if (IsWord("exists")) {
      ++i_;
      n.op = FilterNode::kExists;
      return n;
    }
    bool negate = false;
    if (IsWord("not")) {
      ++i_;
      negate = true;
      if (!IsWord("in")) return Error("'in' after 'not'");
    }
    if (IsWord("in")) {
      ++i_;
      if (!IsPunct("(")) return Error("'(' after 'in'");
      ++i_;
      n.op = negate ? FilterNode::kNotIn : FilterNode::kIn;
      for (;;) {
        ASSIGN_OR_RETURN(FilterValue v, Value(is_state));
        n.values.push_back(std::move(v));
        if (IsPunct(",")) {
          ++i_;
          continue;
        }
        if (IsPunct(")")) {
          ++i_;
          break;
        }
        return Error("',' or ')'");
      }
      return n;
    }
    if (IsWord("between")) {
      ++i_;
      n.op = FilterNode::kBetween;
      ASSIGN_OR_RETURN(FilterValue lo, Value(is_state));
      if (!IsWord("and")) return Error("'and' in 'between a and b'");
      ++i_;
      ASSIGN_OR_RETURN(FilterValue hi, Value(is_state));
      n.values = {std::move(lo), std::move(hi)};
      return n;
    }
    static const std::set<std::string> kOps = {"=", "!=", "<", "<=", ">", ">="};
    if (Peek().kind != Token::kPunct || !kOps.count(Peek().text)) {
      return Error("an operator (= != < <= > >= in between exists)");
    }
    n.op = FilterNode::kCompare;
    n.comparator = Peek().text;
    ++i_;
    ASSIGN_OR_RETURN(FilterValue v, Value(is_state));
    n.values.push_back(std::move(v));
    return n;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  int comparisons_ = 0;
  const std::set<std::string>& metrics_;
};

// Writes the SQL of a node; the recursion is as deep as the parse was (kMaxFilterNesting and
// 64 comparisons bound it).
class SqlWriter {
 public:
  std::string Write(const FilterNode& n) {
    switch (n.op) {
      case FilterNode::kAnd:
      case FilterNode::kOr: {
        std::string left = Write(n.children[0]);
        std::string right = Write(n.children[1]);
        return "(" + left + (n.op == FilterNode::kAnd ? " AND " : " OR ") + right + ")";
      }
      case FilterNode::kNot:
        return "(NOT " + Write(n.children[0]) + ")";
      case FilterNode::kExists:
        return "(" + Field(n.field) + " IS NOT NULL)";
      case FilterNode::kIn:
      case FilterNode::kNotIn: {
        std::string sql = Field(n.field), list;
        for (const auto& v : n.values) list += (list.empty() ? "" : ", ") + Bind(v);
        return "(" + sql + (n.op == FilterNode::kNotIn ? " NOT IN (" : " IN (") + list + "))";
      }
      case FilterNode::kBetween: {
        std::string sql = Field(n.field);
        std::string lo = Bind(n.values[0]);
        return "(" + sql + " BETWEEN " + lo + " AND " + Bind(n.values[1]) + ")";
      }
      case FilterNode::kCompare: {
        std::string sql = Field(n.field);
        return "(" + sql + " " + n.comparator + " " + Bind(n.values[0]) + ")";
      }
    }
    return "";
  }
  CompiledFilter out;

 private:
  std::string Bind(FilterValue v) {
    std::string name = ":f" + std::to_string(out.binds.size());
    out.binds.emplace_back(name, std::move(v));
    return name;
  }
  std::string Field(const FilterField& f) {
    switch (f.kind) {
      case FilterField::kState: return "j.state";
      case FilterField::kKind: return "j.kind";
      case FilterField::kExperiment: return "e.name";
      case FilterField::kWorker: return "j.worker_id";
      case FilterField::kMetric:
        return "(SELECT r.value FROM result r WHERE r.job_id = j.id AND r.name = " + Bind(f.name) + ")";
      case FilterField::kParam: {
        std::string path = "$.\"";
        for (char c : f.name) path += c == '"' ? std::string("\\\"") : std::string(1, c);
        path += "\"";
        return "json_extract(j.params_json, " + Bind(path) + ")";
      }
    }
    return "";
  }
};

}  // namespace

StatusOr<std::optional<FilterNode>> ParseFilter(std::string_view expression,
                                                const std::set<std::string>& metric_names) {
  if (expression.size() > kMaxFilterBytes) {
    return Status::InvalidArgument("filter: longer than " + std::to_string(kMaxFilterBytes) +
                                   " bytes (" + std::to_string(expression.size()) + ")");
  }
  bool blank = true;
  for (char c : expression) blank &= std::isspace(static_cast<unsigned char>(c)) != 0;
  if (blank) return std::optional<FilterNode>();
  ASSIGN_OR_RETURN(auto tokens, Lex(expression));
  ASSIGN_OR_RETURN(FilterNode node, Parser(std::move(tokens), metric_names).Run());
  return std::optional<FilterNode>(std::move(node));
}

CompiledFilter CompileFilterNode(const FilterNode& node) {
  SqlWriter writer;
  writer.out.sql = writer.Write(node);
  return std::move(writer.out);
}

bool ReadsLiveFields(const FilterNode& node) {
  if (node.field.kind == FilterField::kState || node.field.kind == FilterField::kWorker) {
    if (node.op != FilterNode::kAnd && node.op != FilterNode::kOr && node.op != FilterNode::kNot) {
      return true;
    }
  }
  for (const auto& c : node.children) {
    if (ReadsLiveFields(c)) return true;
  }
  return false;
}

StatusOr<CompiledFilter> CompileFilter(std::string_view expression,
                                       const std::set<std::string>& metric_names) {
  ASSIGN_OR_RETURN(std::optional<FilterNode> node, ParseFilter(expression, metric_names));
  if (!node) return CompiledFilter{};
  return CompileFilterNode(*node);
}

}  // namespace qlab::storage
