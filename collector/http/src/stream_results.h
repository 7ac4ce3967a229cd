// StreamResults: the points of live streams shared by the streams that ask the same question at
// about the same time (the same tenant, queries, step and points), so that a dashboard open in
// many browsers costs one evaluation per new point, not one per browser.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>

namespace edgesketch::http {

// Thread-safe; one mutex guards the table (never held while computing).
class StreamResults {
 public:
  // A result is shared for `ttl` after it was asked for first: late data applied since is in
  // the answers of streams that ask later.
  explicit StreamResults(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  // The answer for `key`: the one another stream computed, or is computing, within the ttl, or
  // else compute() run on this thread. compute() must not throw.
  std::string get(const std::string& key, const std::function<std::string()>& compute);

 private:
  struct Entry {
    std::shared_future<std::string> result;
    std::chrono::steady_clock::time_point created;
  };
  const std::chrono::milliseconds ttl_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace edgesketch::http
