// StreamResults: single-flight sharing of stream answers, with expiry.
#include "stream_results.h"

namespace edgesketch::http {

std::string StreamResults::get(const std::string& key,
                               const std::function<std::string()>& compute) {
  std::unique_lock lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.created > ttl_; });
  if (auto it = entries_.find(key); it != entries_.end()) {
    std::shared_future<std::string> shared = it->second.result;
    lock.unlock();
    return shared.get();
  }
  std::promise<std::string> mine;
  entries_.emplace(key, Entry{mine.get_future().share(), now});
  lock.unlock();
  std::string out = compute();
  mine.set_value(out);
  return out;
}

}  // namespace edgesketch::http
