// SessionStore: random session ids, expiry and the bound on their number.
#include "session_store.h"

#include <sys/random.h>

#include <algorithm>
#include <array>

namespace edgesketch::http {

std::optional<std::string> SessionStore::create(const std::string& tenant, std::int64_t now_ms) {
  std::array<unsigned char, 32> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n <= 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  std::lock_guard lock(mu_);
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.expires_ms <= now_ms; });
  while (!sessions_.empty() && sessions_.size() >= std::max<std::size_t>(1, max_sessions_)) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
      return a.second.expires_ms < b.second.expires_ms;
    });
    sessions_.erase(oldest);
  }
  sessions_[id] = Session{tenant, now_ms + ttl_ms_};
  return id;
}

std::optional<std::string> SessionStore::tenant_of(const std::string& id, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires_ms <= now_ms) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.tenant;
}

void SessionStore::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

}  // namespace edgesketch::http
