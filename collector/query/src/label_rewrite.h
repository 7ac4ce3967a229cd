// label_replace() and label_join(): label rewrites with Prometheus' semantics (Go regexp
// replacement templates on RE2).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/query/labels.h"

namespace re2 {
class RE2;
}

namespace edgesketch::query {

// label_replace(v, dst, replacement, src, regex) for one series. Compile once, apply per series.
class LabelReplace {
 public:
  // Errors as Prometheus' (kFailedPrecondition, an evaluation error): "invalid regular expression
  // in label_replace(): …", "invalid destination label name in label_replace(): …".
  static Result<LabelReplace> make(std::string dst, std::string replacement, std::string src,
                                   std::string_view regex);

  // Longest value apply() writes (a hostile replacement such as "$1$1$1…" could multiply a
  // value's length); beyond it apply() fails.
  static constexpr std::size_t kMaxLabelValueBytes = 64 * 1024;

  // When the regex matches the whole value of `src` ("" when absent), `dst` becomes the
  // replacement with $1, ${1}, $name, ${name} expanded (Go's Regexp.Expand; an empty result
  // removes dst); otherwise the labels stay as they are.
  Result<Labels> apply(const Labels& labels) const;

 private:
  LabelReplace() = default;
  std::string dst_, replacement_, src_;
  std::shared_ptr<const re2::RE2> re_;
};

// label_join(v, dst, separator, src…): dst becomes the values of `src` joined by `separator`
// (an empty result removes it). Checks the names as Prometheus: "invalid source label name in
// label_join(): …", "invalid destination label name in label_join(): …".
Status check_label_join(std::string_view dst, const std::vector<std::string>& src);
Labels label_join(const Labels& labels, std::string_view dst, std::string_view separator,
                  const std::vector<std::string>& src);

}  // namespace edgesketch::query
