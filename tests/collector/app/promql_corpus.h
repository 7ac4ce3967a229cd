// The PromQL differential corpus (tests/collector/promql_corpus/*.txt): expressions the collector
// and Prometheus must answer alike, written by hand or generated from templates.
//
// One expression per line. Blank lines and lines starting with '#' are skipped. Syntax:
//
//   %agg = sum | avg | min                 a list: $(agg) in later lines takes each value
//   $(agg) by (site) (temp_max)            one expression per value (per combination when a line
//                                          uses several lists)
//   [ordered] topk(3, temp_max)            flags, before the expression (below)
//   rate(temp_count[1m]) <=> sum_over_time(temp_count[1m]) / 60
//                                          the collector's expression, then the one Prometheus
//                                          answers alike where the spelling differs on purpose
//
// Flags: `ordered` (an instant vector's order is part of the answer: sort, topk), `approx`
// (values agree to 1e-9 relative, for a difference docs/query.md lists: glibc's exp and ln, a
// store-side sum of non-integers; say which in a comment), `empty` (the answer may be empty at
// every evaluation: an edge case, not a corpus mistake). Errors always compare in full: HTTP
// code, error type and message.
#pragma once

#include <string>
#include <vector>

#include "edgesketch/common/status.h"

namespace edgesketch::collector::testing {

struct CorpusEntry {
  std::string where;      // "file.txt:12"
  std::string ours;       // what the collector is asked
  std::string reference;  // what Prometheus is asked (== ours unless `<=>`)
  bool ordered = false;
  bool approx = false;
  bool empty = false;
};

// The expanded entries of one corpus text. Errors name the line: an unknown flag or list, a
// list defined twice, a line left empty by its flags.
Result<std::vector<CorpusEntry>> parse_corpus(const std::string& text, const std::string& name);

}  // namespace edgesketch::collector::testing
