// Fuzz target for the `where` condition language (agent/process/condition.h): any text either
// fails with kInvalidArgument naming a column (or the length bound), or compiles to a condition
// that evaluates on a few readings without crashing, answers the same twice, gives its negation
// the opposite answer, and compiles again from its own text to the same answers.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "process/condition.h"

using namespace edgesketch;
using edgesketch::agent::Condition;

namespace {

using edgesketch::fuzz::check;

wire::Reading reading(std::string device, double value, std::vector<wire::Tag> tags,
                      std::string label = {}) {
  wire::Reading r;
  r.device_id = std::move(device);
  r.metric = "vibration";
  r.value = value;
  r.tags = std::move(tags);
  r.is_label = !label.empty();
  r.label = std::move(label);
  return r;
}

const std::vector<wire::Reading>& readings() {
  static const std::vector<wire::Reading> rs = {
      reading("dev-1", 5.5, {{"line", "l3"}, {"site", "s1"}}),
      reading("dev-1", 0, {{"line", "l3"}, {"site", "s1"}}, "E017"),
      reading("d", -1e300, {}),
      reading("dev-1", 0, {{"a b", ""}, {"value", "x\ny"}}),
  };
  return rs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = Condition::compile(text);
  if (!c.ok()) {
    const Status st = c.status();  // status() returns a copy: keep it alive
    check(st.code() == StatusCode::kInvalidArgument);
    const std::string& m = st.message();
    check(m.rfind("column ", 0) == 0 || m.rfind("the condition is ", 0) == 0);
    return 0;
  }
  auto again = Condition::compile(c->text());
  check(again.ok());
  std::string wrapped = "not (";  // appended: GCC 12 warns falsely on "a" + s + "b"
  wrapped.append(c->text());
  wrapped.append("\n)");
  auto negated = Condition::compile(wrapped);
  for (const wire::Reading& r : readings()) {
    const bool m = c->matches(r);
    check(m == c->matches(r));
    check(m == again->matches(r));
    // Wrapping may exceed the length or depth bound; otherwise `not` flips the answer.
    if (negated.ok()) check(negated->matches(r) == !m);
  }
  return 0;
}
