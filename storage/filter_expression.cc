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

class Compiler {
 public:
  Compiler(std::vector<Token> tokens, const std::set<std::string>& metrics)
      : t_(std::move(tokens)), metrics_(metrics) {}

  StatusOr<CompiledFilter> Run() {
    ASSIGN_OR_RETURN(std::string sql, Or());
    if (Peek().kind != Token::kEnd) return Error("'and', 'or' or the end");
    out_.sql = sql;
    return out_;
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

  StatusOr<std::string> Or() {
    ASSIGN_OR_RETURN(std::string left, And());
    while (IsWord("or")) {
      ++i_;
      ASSIGN_OR_RETURN(std::string right, And());
      left = "(" + left + " OR " + right + ")";
    }
    return left;
  }
  StatusOr<std::string> And() {
    ASSIGN_OR_RETURN(std::string left, Not());
    while (IsWord("and")) {
      ++i_;
      ASSIGN_OR_RETURN(std::string right, Not());
      left = "(" + left + " AND " + right + ")";
    }
    return left;
  }
  // Each '(' and 'not' recurses once: the nesting bound keeps a hostile filter off the stack.
  StatusOr<std::string> Not() {
    const bool nests = IsWord("not") || IsPunct("(");
    if (nests && ++depth_ > kMaxFilterNesting) {
      return Status::InvalidArgument("filter: nested deeper than " +
                                     std::to_string(kMaxFilterNesting) + " levels at " +
                                     std::to_string(Peek().pos));
    }
    StatusOr<std::string> out = NotAtCurrentDepth();
    depth_ -= nests;
    return out;
  }
  StatusOr<std::string> NotAtCurrentDepth() {
    if (IsWord("not")) {
      ++i_;
      ASSIGN_OR_RETURN(std::string inner, Not());
      return "(NOT " + inner + ")";
    }
    if (IsPunct("(")) {
      ++i_;
      ASSIGN_OR_RETURN(std::string inner, Or());
      if (!IsPunct(")")) return Error("')'");
      ++i_;
      return inner;
    }
    return Comparison();
  }

  std::string Bind(FilterValue v) {
    std::string name = ":f" + std::to_string(out_.binds.size());
    out_.binds.emplace_back(name, std::move(v));
    return name;
  }

  // The SQL of a field and whether it is the job state (whose values are names).
  StatusOr<std::pair<std::string, bool>> Field() {
    if (Peek().kind != Token::kWord) return Error("a field name");
    std::string name = Peek().text;
    ++i_;
    if (name == "state") return std::make_pair(std::string("j.state"), true);
    if (name == "kind") return std::make_pair(std::string("j.kind"), false);
    if (name == "experiment") return std::make_pair(std::string("e.name"), false);
    if (name == "worker") return std::make_pair(std::string("j.worker_id"), false);
    bool metric;
    if (name.rfind("metrics.", 0) == 0) {
      name = name.substr(8), metric = true;
    } else if (name.rfind("params.", 0) == 0) {
      name = name.substr(7), metric = false;
    } else {
      metric = metrics_.count(name) > 0;
    }
    if (name.empty()) return Status::InvalidArgument("filter: empty field name");
    if (metric) {
      return std::make_pair("(SELECT r.value FROM result r WHERE r.job_id = j.id AND r.name = " +
                                Bind(name) + ")", false);
    }
    std::string path = "$.\"";
    for (char c : name) path += c == '"' ? std::string("\\\"") : std::string(1, c);
    path += "\"";
    return std::make_pair("json_extract(j.params_json, " + Bind(path) + ")", false);
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

  StatusOr<std::string> Comparison() {
    if (++comparisons_ > 64) return Status::InvalidArgument("filter: more than 64 comparisons");
    ASSIGN_OR_RETURN(auto field, Field());
    const auto& [sql, is_state] = field;
    if (IsWord("exists")) {
      ++i_;
      return "(" + sql + " IS NOT NULL)";
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
      std::string list;
      for (;;) {
        ASSIGN_OR_RETURN(FilterValue v, Value(is_state));
        list += (list.empty() ? "" : ", ") + Bind(std::move(v));
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
      return "(" + sql + (negate ? " NOT IN (" : " IN (") + list + "))";
    }
    if (IsWord("between")) {
      ++i_;
      ASSIGN_OR_RETURN(FilterValue lo, Value(is_state));
      if (!IsWord("and")) return Error("'and' in 'between a and b'");
      ++i_;
      ASSIGN_OR_RETURN(FilterValue hi, Value(is_state));
      return "(" + sql + " BETWEEN " + Bind(std::move(lo)) + " AND " + Bind(std::move(hi)) + ")";
    }
    static const std::set<std::string> kOps = {"=", "!=", "<", "<=", ">", ">="};
    if (Peek().kind != Token::kPunct || !kOps.count(Peek().text)) {
      return Error("an operator (= != < <= > >= in between exists)");
    }
    std::string op = Peek().text;
    ++i_;
    ASSIGN_OR_RETURN(FilterValue v, Value(is_state));
    return "(" + sql + " " + op + " " + Bind(std::move(v)) + ")";
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  int comparisons_ = 0;
  const std::set<std::string>& metrics_;
  CompiledFilter out_;
};

}  // namespace

StatusOr<CompiledFilter> CompileFilter(std::string_view expression,
                                       const std::set<std::string>& metric_names) {
  if (expression.size() > kMaxFilterBytes) {
    return Status::InvalidArgument("filter: longer than " + std::to_string(kMaxFilterBytes) +
                                   " bytes (" + std::to_string(expression.size()) + ")");
  }
  bool blank = true;
  for (char c : expression) blank &= std::isspace(static_cast<unsigned char>(c)) != 0;
  if (blank) return CompiledFilter{};
  ASSIGN_OR_RETURN(auto tokens, Lex(expression));
  return Compiler(std::move(tokens), metric_names).Run();
}

}  // namespace qlab::storage
