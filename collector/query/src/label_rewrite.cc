// label_replace() and label_join().
#include "label_rewrite.h"

#include <re2/re2.h>

#include <map>

#include <fmt/format.h>

namespace edgesketch::query {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Go's Regexp.Expand: `$name` / `${name}` (name: letters, digits, underscore; a number selects a
// group by index), `$$` for a dollar; a malformed reference stays literal text.
std::string expand(std::string_view tmpl, const std::vector<std::string_view>& groups,
                   const std::map<std::string, int>& names) {
  std::string out;
  while (!tmpl.empty()) {
    const std::size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl.front() == '$') {
      out += '$';
      tmpl.remove_prefix(1);
      continue;
    }
    // extract(): a leading name or {name}.
    std::string_view rest = tmpl;
    const bool brace = !rest.empty() && rest.front() == '{';
    if (brace) rest.remove_prefix(1);
    std::size_t len = 0;
    while (len < rest.size() && is_name_char(rest[len])) ++len;
    if (len == 0 || (brace && (len >= rest.size() || rest[len] != '}'))) {
      out += '$';  // malformed: the dollar is literal
      continue;
    }
    const std::string_view name = rest.substr(0, len);
    tmpl = rest.substr(len + (brace ? 1 : 0));
    int num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100'000'000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name.size() > 1 && name.front() == '0') num = -1;  // no leading zeros
    int group = -1;
    if (num >= 0) {
      group = num;
    } else if (auto it = names.find(std::string(name)); it != names.end()) {
      group = it->second;
    }
    if (group >= 0 && static_cast<std::size_t>(group) < groups.size() &&
        groups[static_cast<std::size_t>(group)].data() != nullptr) {
      out.append(groups[static_cast<std::size_t>(group)]);
    }
  }
  out.append(tmpl);
  return out;
}

}  // namespace

Result<LabelReplace> LabelReplace::make(std::string dst, std::string replacement, std::string src,
                                        std::string_view regex) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(8 << 20);  // bounded program size for hostile patterns
  auto re = std::make_shared<const RE2>(fmt::format("^(?:{})$", regex), options);
  if (!re->ok()) {
    return Status::failed_precondition(
        fmt::format("invalid regular expression in label_replace(): {}", regex));
  }
  if (!is_valid_label_name(dst)) {
    return Status::failed_precondition(
        fmt::format("invalid destination label name in label_replace(): {}", dst));
  }
  LabelReplace r;
  r.dst_ = std::move(dst);
  r.replacement_ = std::move(replacement);
  r.src_ = std::move(src);
  r.re_ = std::move(re);
  return r;
}

Result<Labels> LabelReplace::apply(const Labels& labels) const {
  const std::string_view value = label_value(labels, src_);
  const int n = re_->NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> pieces(static_cast<std::size_t>(n));
  if (!re_->Match(re2::StringPiece(value.data(), value.size()), 0, value.size(), RE2::UNANCHORED,
                  pieces.data(), n)) {
    return labels;
  }
  // An unmatched group has a null data pointer (an empty match expands to nothing either way).
  std::vector<std::string_view> groups;
  groups.reserve(pieces.size());
  for (const auto& p : pieces) groups.emplace_back(p.data(), p.size());
  const std::string result = expand(replacement_, groups, re_->NamedCapturingGroups());
  if (result.size() > kMaxLabelValueBytes) {
    return Status::failed_precondition(
        fmt::format("label_replace(): the value of {} would be {} bytes long; the limit is {}",
                    dst_, result.size(), kMaxLabelValueBytes));
  }
  Labels out = labels;
  set_label(out, dst_, result);  // an empty result removes dst
  return out;
}

Status check_label_join(std::string_view dst, const std::vector<std::string>& src) {
  for (const auto& s : src) {
    if (!is_valid_label_name(s)) {
      return Status::failed_precondition(
          fmt::format("invalid source label name in label_join(): {}", s));
    }
  }
  if (!is_valid_label_name(dst)) {
    return Status::failed_precondition(
        fmt::format("invalid destination label name in label_join(): {}", dst));
  }
  return Status();
}

Labels label_join(const Labels& labels, std::string_view dst, std::string_view separator,
                  const std::vector<std::string>& src) {
  std::string joined;
  for (std::size_t i = 0; i < src.size(); ++i) {
    if (i) joined += separator;
    joined += label_value(labels, src[i]);
  }
  Labels out = labels;
  set_label(out, dst, joined);
  return out;
}

}  // namespace edgesketch::query
