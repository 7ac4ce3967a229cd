// Fuzz target for topic templates: the input is "<template>\n<topic>". Any template either is
// refused with a message or parses, and then any topic either does not match or yields views
// into the topic, tags sorted by key and unique.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "input/topic_template.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgesketch::agent;
  auto check = [](bool ok) {
    if (!ok) std::abort();
  };
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = in.find('\n');
  const std::string_view text = in.substr(0, nl);
  const std::string_view topic = nl == std::string_view::npos ? "" : in.substr(nl + 1);
  auto t = TopicTemplate::parse(text);
  if (!t.ok()) {
    check(!t.status().message().empty());
    return 0;
  }
  check(!t->empty() && t->text() == text);
  TopicFields f;
  if (!t->match(topic, f)) return 0;
  auto inside = [&](std::string_view v) {
    return v.empty() ||
           (v.data() >= topic.data() && v.data() + v.size() <= topic.data() + topic.size());
  };
  check(inside(f.device) && inside(f.metric));
  for (std::size_t i = 0; i < f.tags.size(); ++i) {
    check(inside(f.tags[i].value));
    if (i > 0) check(f.tags[i - 1].key < f.tags[i].key);
  }
  // The template's own filter matches the same topic shape: as many levels.
  const auto levels = [](std::string_view s) {
    std::size_t n = 1;
    for (char c : s) n += c == '/';
    return n;
  };
  check(levels(t->filter()) == levels(topic));
  return 0;
}
