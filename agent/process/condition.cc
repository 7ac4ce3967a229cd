// The condition language: a lexer and a recursive-descent parser into n-ary and/or nodes (so a
// long chain of `and`s is one node, not a deep tree), evaluated by a small recursive walk.
#include "process/condition.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

namespace edgesketch::agent {
namespace {

enum class Tok : std::uint8_t {
  kEnd,
  kName,        // value, label, device or a tag key
  kQuotedName,  // `tag key`
  kNumber,
  kString,
  kOp,
  kLParen,
  kRParen,
  kAnd,
  kOr,
  kNot,
};

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) {
  return name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '-';
}
bool digit(char c) { return c >= '0' && c <= '9'; }

// 'text' (built by appending: GCC 12 warns, falsely, on "'" + std::string + "'").
std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

std::string column_error(std::size_t column, std::string_view what) {
  return "column " + std::to_string(column) + ": " + std::string(what);
}

}  // namespace

class Condition::Parser {
 public:
  Parser(std::string_view text, Condition& out) : text_(text), out_(out) {}

  Status parse() {
    ES_RETURN_IF_ERROR(next());
    if (tok_ == Tok::kEnd) return fail(1, "the condition is empty");
    std::uint32_t root = 0;
    ES_RETURN_IF_ERROR(parse_or(0, root));
    if (tok_ != Tok::kEnd) {
      return fail(col_, "unexpected " + describe() +
                            " after a complete condition (a missing 'and' or 'or'?)");
    }
    out_.root_ = root;
    return Status();
  }

 private:
  Status fail(std::size_t column, std::string_view what) const {
    return Status::invalid_argument(column_error(column, what));
  }

  // The current token as an error message names it.
  std::string describe() const {
    switch (tok_) {
      case Tok::kEnd:
        return "the end";
      case Tok::kString:
        return "a string";
      default:
        return quoted(text_.substr(col_ - 1, end_ - (col_ - 1)));
    }
  }

  // Reads the next token into tok_ / col_ / word_ / number_ / op_.
  Status next() {
    prev_ = std::string(text_.substr(col_ - 1, end_ - (col_ - 1)));
    std::size_t i = end_;
    while (i < text_.size() &&
           (text_[i] == ' ' || text_[i] == '\t' || text_[i] == '\n' || text_[i] == '\r')) {
      ++i;
    }
    col_ = i + 1;
    word_.clear();
    if (i == text_.size()) {
      tok_ = Tok::kEnd;
      end_ = i;
      return Status();
    }
    const char c = text_[i];
    auto at = [&](std::size_t k) { return i + k < text_.size() ? text_[i + k] : '\0'; };
    auto op = [&](Op o, std::size_t len) {
      tok_ = Tok::kOp;
      op_ = o;
      end_ = i + len;
      return Status();
    };
    switch (c) {
      case '(':
        tok_ = Tok::kLParen;
        end_ = i + 1;
        return Status();
      case ')':
        tok_ = Tok::kRParen;
        end_ = i + 1;
        return Status();
      case '=':
        if (at(1) == '=') return op(Op::kEq, 2);
        if (at(1) == '~') return op(Op::kMatch, 2);
        return fail(col_, "'=' alone: write '==' to compare, '=~' to match");
      case '!':
        if (at(1) == '=') return op(Op::kNe, 2);
        if (at(1) == '~') return op(Op::kNoMatch, 2);
        return fail(col_, "'!' alone: write 'not' to negate, '!=' or '!~' to compare");
      case '<':
        return at(1) == '=' ? op(Op::kLe, 2) : op(Op::kLt, 1);
      case '>':
        return at(1) == '=' ? op(Op::kGe, 2) : op(Op::kGt, 1);
      case '"':
      case '\'':
        return lex_string(i);
      case '`': {
        const std::size_t close = text_.find('`', i + 1);
        if (close == std::string_view::npos)
          return fail(col_, "the ` quoting a tag key is not closed");
        if (close == i + 1) return fail(col_, "an empty tag key ``");
        word_ = std::string(text_.substr(i + 1, close - i - 1));
        tok_ = Tok::kQuotedName;
        end_ = close + 1;
        return Status();
      }
      default:
        break;
    }
    if (digit(c) || ((c == '-' || c == '.') && (digit(at(1)) || (at(1) == '.' && digit(at(2)))))) {
      return lex_number(i);
    }
    if (name_start(c)) {
      std::size_t j = i + 1;
      while (j < text_.size() && name_char(text_[j])) ++j;
      word_ = std::string(text_.substr(i, j - i));
      end_ = j;
      tok_ = word_ == "and"   ? Tok::kAnd
             : word_ == "or"  ? Tok::kOr
             : word_ == "not" ? Tok::kNot
                              : Tok::kName;
      return Status();
    }
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return fail(col_, "unexpected byte " + std::to_string(static_cast<unsigned char>(c)));
    }
    return fail(col_, std::string("unexpected character '") + c + "'");
  }

  Status lex_number(std::size_t i) {
    std::size_t j = i;
    if (text_[j] == '-') ++j;
    bool digits = false;
    while (j < text_.size() && digit(text_[j])) ++j, digits = true;
    if (j < text_.size() && text_[j] == '.') {
      ++j;
      while (j < text_.size() && digit(text_[j])) ++j, digits = true;
    }
    if (digits && j < text_.size() && (text_[j] == 'e' || text_[j] == 'E')) {
      std::size_t k = j + 1;
      if (k < text_.size() && (text_[k] == '+' || text_[k] == '-')) ++k;
      if (k < text_.size() && digit(text_[k])) {
        while (k < text_.size() && digit(text_[k])) ++k;
        j = k;
      }
    }
    std::size_t stop = j;
    while (stop < text_.size() && name_char(text_[stop])) ++stop;
    const std::string_view token = text_.substr(i, stop - i);
    end_ = stop;
    if (!digits || stop != j) return fail(col_, quoted(token) + " is not a number");
    // from_chars takes no leading '+' and reads "1." and ".5" fine.
    double v = 0;
    auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
    if (ec != std::errc() || p != token.data() + token.size() || !std::isfinite(v)) {
      return fail(col_, "the number " + quoted(token) + " is out of range");
    }
    number_ = v;
    word_ = std::string(token);
    tok_ = Tok::kNumber;
    return Status();
  }

  Status lex_string(std::size_t i) {
    const char quote = text_[i];
    std::size_t j = i + 1;
    for (;;) {
      if (j >= text_.size()) return fail(col_, "the string starting here is not closed");
      const char c = text_[j];
      if (c == quote) break;
      if (c == '\\') {
        if (j + 1 >= text_.size()) return fail(col_, "the string starting here is not closed");
        const char e = text_[j + 1];
        switch (e) {
          case '\\':
          case '"':
          case '\'':
            word_.push_back(e);
            break;
          case 'n':
            word_.push_back('\n');
            break;
          case 't':
            word_.push_back('\t');
            break;
          default:
            return fail(j + 1, std::string("unknown escape '\\") + e +
                                   "' (use \\\\, \\\", \\', \\n or \\t)");
        }
        j += 2;
        continue;
      }
      word_.push_back(c);
      ++j;
    }
    end_ = j + 1;
    tok_ = Tok::kString;
    return Status();
  }

  std::uint32_t add(Node n) {
    out_.nodes_.push_back(std::move(n));
    return static_cast<std::uint32_t>(out_.nodes_.size() - 1);
  }

  // or / and: one n-ary node for a chain; `kind` kOr or kAnd.
  Status parse_chain(Kind kind, std::size_t depth, std::uint32_t& out) {
    const Tok joiner = kind == Kind::kOr ? Tok::kOr : Tok::kAnd;
    std::vector<std::uint32_t> parts;
    std::uint32_t first = 0;
    ES_RETURN_IF_ERROR(kind == Kind::kOr ? parse_chain(Kind::kAnd, depth, first)
                                         : parse_unary(depth, first));
    parts.push_back(first);
    while (tok_ == joiner) {
      ES_RETURN_IF_ERROR(next());
      std::uint32_t part = 0;
      ES_RETURN_IF_ERROR(kind == Kind::kOr ? parse_chain(Kind::kAnd, depth, part)
                                           : parse_unary(depth, part));
      parts.push_back(part);
    }
    if (parts.size() == 1) {
      out = first;
      return Status();
    }
    Node n;
    n.kind = kind;
    n.lhs = static_cast<std::uint32_t>(out_.kids_.size());
    n.rhs = static_cast<std::uint32_t>(parts.size());
    out_.kids_.insert(out_.kids_.end(), parts.begin(), parts.end());
    out = add(std::move(n));
    return Status();
  }

  Status parse_or(std::size_t depth, std::uint32_t& out) {
    return parse_chain(Kind::kOr, depth, out);
  }

  Status parse_unary(std::size_t depth, std::uint32_t& out) {
    if (depth >= kMaxConditionDepth) {
      return fail(col_, "nested more than " + std::to_string(kMaxConditionDepth) + " levels deep");
    }
    if (tok_ == Tok::kNot) {
      ES_RETURN_IF_ERROR(next());
      std::uint32_t child = 0;
      ES_RETURN_IF_ERROR(parse_unary(depth + 1, child));
      Node n;
      n.kind = Kind::kNot;
      n.lhs = child;
      out = add(std::move(n));
      return Status();
    }
    if (tok_ == Tok::kLParen) {
      const std::size_t open = col_;
      ES_RETURN_IF_ERROR(next());
      ES_RETURN_IF_ERROR(parse_or(depth + 1, out));
      if (tok_ != Tok::kRParen) {
        return fail(col_, "expected ')' to close the '(' at column " + std::to_string(open) +
                              ", found " + describe());
      }
      return next();
    }
    return parse_comparison(out);
  }

  Status parse_comparison(std::uint32_t& out) {
    if (tok_ != Tok::kName && tok_ != Tok::kQuotedName) {
      if (tok_ == Tok::kEnd) {
        return fail(col_, "expected a comparison such as value > 5 after '" + prev_ + "'");
      }
      return fail(col_,
                  "expected a comparison such as value > 5 or site == \"s1\", found " + describe());
    }
    Node n;
    const std::string name = word_;
    if (tok_ == Tok::kQuotedName) {
      n.operand = Operand::kTag;
    } else if (name == "value") {
      n.operand = Operand::kValue;
    } else if (name == "label") {
      n.operand = Operand::kLabel;
    } else if (name == "device") {
      n.operand = Operand::kDevice;
    } else {
      n.operand = Operand::kTag;
    }
    if (n.operand == Operand::kTag) n.key = name;
    ES_RETURN_IF_ERROR(next());
    if (tok_ != Tok::kOp) {
      return fail(col_, "expected an operator (==, !=, <, <=, >, >=, =~, !~) after '" + name +
                            "', found " + describe());
    }
    n.op = op_;
    const std::size_t op_col = col_;
    const std::string op_text = describe();
    ES_RETURN_IF_ERROR(next());
    if (tok_ != Tok::kNumber && tok_ != Tok::kString) {
      return fail(col_, "expected a value after " + op_text);
    }
    const bool regex = n.op == Op::kMatch || n.op == Op::kNoMatch;
    const bool ordering = n.op == Op::kLt || n.op == Op::kLe || n.op == Op::kGt || n.op == Op::kGe;
    if (n.operand == Operand::kValue) {
      if (regex) {
        return fail(op_col, "'value' is a number: compare it with ==, !=, <, <=, > or >=");
      }
      if (tok_ != Tok::kNumber) {
        return fail(col_, "'value' compares with a number, not a string");
      }
      n.kind = Kind::kValue;
      n.number = number_;
    } else {
      if (ordering) {
        return fail(op_col, "'" + name + "' is a string: compare it with ==, !=, =~ or !~");
      }
      if (tok_ != Tok::kString) {
        return fail(col_,
                    "expected a quoted string after " + op_text + " ('" + name + "' is a string)");
      }
      if (regex) {
        if (++regexes_ > kMaxConditionRegexes) {
          return fail(col_,
                      "more than " + std::to_string(kMaxConditionRegexes) + " regular expressions");
        }
        RE2::Options options;
        options.set_log_errors(false);
        options.set_dot_nl(true);
        options.set_max_mem(1 << 20);
        auto re = std::make_shared<const RE2>(word_, options);
        if (!re->ok()) return fail(col_, "bad regular expression: " + re->error());
        n.kind = Kind::kRegex;
        n.re = std::move(re);
      } else {
        n.kind = Kind::kString;
        n.literal = word_;
      }
    }
    out = add(std::move(n));
    return next();
  }

  std::string_view text_;
  Condition& out_;
  Tok tok_ = Tok::kEnd;
  std::size_t col_ = 1;  // 1-based column of the current token
  std::size_t end_ = 0;  // offset just past it
  std::string word_;     // name, string contents or number text
  double number_ = 0;
  Op op_ = Op::kEq;
  std::string prev_;  // text of the token before the current one
  std::size_t regexes_ = 0;
};

Result<Condition> Condition::compile(std::string_view text) {
  if (text.size() > kMaxConditionBytes) {
    return Status::invalid_argument("the condition is " + std::to_string(text.size()) +
                                    " bytes long; at most " + std::to_string(kMaxConditionBytes));
  }
  Condition c;
  c.text_ = std::string(text);
  Parser p(c.text_, c);
  ES_RETURN_IF_ERROR(p.parse());
  return c;
}

std::vector<std::string> Condition::tag_keys() const {
  std::vector<std::string> keys;
  for (const Node& n : nodes_) {
    if ((n.kind == Kind::kString || n.kind == Kind::kRegex) && n.operand == Operand::kTag) {
      keys.push_back(n.key);
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::string_view Condition::operand_text(const Node& n, const wire::Reading& r) {
  switch (n.operand) {
    case Operand::kLabel:
      return r.is_label ? std::string_view(r.label) : std::string_view();
    case Operand::kDevice:
      return r.device_id;
    case Operand::kTag:
      // Tags are sorted by key: stop at the first key past the one wanted.
      for (const wire::Tag& t : r.tags) {
        const int c = t.key.compare(n.key);
        if (c == 0) return t.value;
        if (c > 0) break;
      }
      return {};
    case Operand::kValue:
      break;
  }
  return {};
}

bool Condition::eval(std::uint32_t node, const wire::Reading& r) const {
  const Node& n = nodes_[node];
  switch (n.kind) {
    case Kind::kAnd:
      for (std::uint32_t i = 0; i < n.rhs; ++i) {
        if (!eval(kids_[n.lhs + i], r)) return false;
      }
      return true;
    case Kind::kOr:
      for (std::uint32_t i = 0; i < n.rhs; ++i) {
        if (eval(kids_[n.lhs + i], r)) return true;
      }
      return false;
    case Kind::kNot:
      return !eval(n.lhs, r);
    case Kind::kValue: {
      if (r.is_label) return false;
      const double v = r.value;
      switch (n.op) {
        case Op::kEq:
          return v == n.number;
        case Op::kNe:
          return v != n.number;
        case Op::kLt:
          return v < n.number;
        case Op::kLe:
          return v <= n.number;
        case Op::kGt:
          return v > n.number;
        case Op::kGe:
          return v >= n.number;
        default:
          return false;
      }
    }
    case Kind::kString: {
      const bool eq = operand_text(n, r) == n.literal;
      return n.op == Op::kEq ? eq : !eq;
    }
    case Kind::kRegex: {
      const std::string_view s = operand_text(n, r);
      if (!n.memo_valid || s != n.memo_input) {
        n.memo_match = RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *n.re);
        n.memo_input.assign(s);  // keeps its capacity: no allocation once it is large enough
        n.memo_valid = true;
      }
      return n.op == Op::kMatch ? n.memo_match : !n.memo_match;
    }
  }
  return false;
}

}  // namespace edgesketch::agent
