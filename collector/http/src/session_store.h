// SessionStore: the live page's sessions. A browser presents its read token once
// (POST /api/v1/login) and gets a random session id in an HttpOnly cookie; the id maps to the
// token's tenant until it expires or logs out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace edgesketch::http {

// Thread-safe (one mutex guards the table).
class SessionStore {
 public:
  // At most `max_sessions` live at once (the oldest is dropped for a new one); each lasts
  // `ttl_ms` from its creation.
  SessionStore(std::size_t max_sessions, std::int64_t ttl_ms)
      : max_sessions_(max_sessions), ttl_ms_(ttl_ms) {}

  // A new session of `tenant` at steady time `now_ms`: 32 random bytes from getrandom() as 64 hex
  // digits, or nullopt when the kernel gives no randomness.
  std::optional<std::string> create(const std::string& tenant, std::int64_t now_ms);
  // The tenant of a live session, nullopt for an unknown or expired id.
  std::optional<std::string> tenant_of(const std::string& id, std::int64_t now_ms);
  void remove(const std::string& id);

 private:
  struct Session {
    std::string tenant;
    std::int64_t expires_ms;
  };
  const std::size_t max_sessions_;
  const std::int64_t ttl_ms_;
  std::mutex mu_;
  std::map<std::string, Session> sessions_;  // guarded by mu_
};

}  // namespace edgesketch::http
