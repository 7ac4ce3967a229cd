// Reading and expanding the differential corpus (promql_corpus.h).
#include "collector/app/promql_corpus.h"

#include <map>
#include <sstream>

namespace edgesketch::collector::testing {
namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  std::size_t from = 0;
  for (;;) {
    const auto at = s.find(sep, from);
    out.push_back(trim(s.substr(from, at == std::string_view::npos ? at : at - from)));
    if (at == std::string_view::npos) return out;
    from = at + sep.size();
  }
}

using Lists = std::map<std::string, std::vector<std::string>, std::less<>>;

// Every expansion of `$(name)` in `line`, one value per list at a time (the lists in the order
// they first appear), so two uses of one list take the same value.
Result<std::vector<std::string>> expand(const std::string& line, const Lists& lists,
                                        const std::string& where) {
  const auto at = line.find("$(");
  if (at == std::string::npos) return std::vector<std::string>{line};
  const auto close = line.find(')', at);
  if (close == std::string::npos) return Status::invalid_argument(where + ": unclosed $(");
  const std::string name = line.substr(at + 2, close - at - 2);
  const auto list = lists.find(name);
  if (list == lists.end()) return Status::invalid_argument(where + ": no list %" + name);
  std::vector<std::string> out;
  for (const std::string& value : list->second) {
    std::string filled = line;
    const std::string ref = "$(" + name + ")";
    for (auto p = filled.find(ref); p != std::string::npos; p = filled.find(ref, p)) {
      filled.replace(p, ref.size(), value);
      p += value.size();
    }
    ES_ASSIGN_OR_RETURN(std::vector<std::string> more, expand(filled, lists, where));
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

}  // namespace

Result<std::vector<CorpusEntry>> parse_corpus(const std::string& text, const std::string& name) {
  std::vector<CorpusEntry> out;
  Lists lists;
  std::istringstream in(text);
  std::string raw;
  for (int number = 1; std::getline(in, raw); ++number) {
    const std::string where = name + ":" + std::to_string(number);
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '%') {
      const auto eq = line.find('=');
      if (eq == std::string::npos) return Status::invalid_argument(where + ": %name = a | b");
      const std::string list = trim(line.substr(1, eq - 1));
      if (!lists.emplace(list, split(line.substr(eq + 1), "|")).second) {
        return Status::invalid_argument(where + ": list %" + list + " defined twice");
      }
      continue;
    }
    CorpusEntry entry;
    entry.where = where;
    if (line[0] == '[') {
      const auto close = line.find(']');
      if (close == std::string::npos) return Status::invalid_argument(where + ": unclosed [");
      for (const std::string& flag : split(line.substr(1, close - 1), ",")) {
        if (flag == "ordered") {
          entry.ordered = true;
        } else if (flag == "approx") {
          entry.approx = true;
        } else if (flag == "empty") {
          entry.empty = true;
        } else {
          return Status::invalid_argument(where + ": unknown flag '" + flag + "'");
        }
      }
      line = trim(line.substr(close + 1));
      if (line.empty()) return Status::invalid_argument(where + ": flags without an expression");
    }
    ES_ASSIGN_OR_RETURN(std::vector<std::string> expanded, expand(line, lists, where));
    for (const std::string& e : expanded) {
      const std::vector<std::string> sides = split(e, " <=> ");
      if (sides.size() > 2 || sides[0].empty() || sides.back().empty()) {
        return Status::invalid_argument(where + ": expected 'ours <=> reference'");
      }
      entry.ours = sides[0];
      entry.reference = sides.back();
      out.push_back(entry);
    }
  }
  return out;
}

}  // namespace edgesketch::collector::testing
