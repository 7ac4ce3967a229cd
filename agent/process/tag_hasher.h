// TagHasher: the keyed hash of [privacy] hash_tags (docs/agent.md, "Privacy").
//
// hash(v) = the first 8 bytes of HMAC-SHA256(key, v) in unpadded lowercase base32 (RFC 4648):
// 13 characters, [a-z2-7] (OpenSSL's libcrypto computes the HMAC). 13 characters fit a
// std::string's inline buffer, so replacing a value allocates nothing. HMAC-SHA256 is a
// pseudorandom function: without the key nobody can compute a value's hash, so the small value
// spaces that make plain hashes of MAC addresses or badge ids reversible by enumeration do not
// help; with the same key the same value always yields the same hash, so distinct counts, top-K and
// group_by keep working across restarts and gateways that share the key. 64 bits keep collisions
// negligible for distinct counting (1e6 values: p ≈ 3e-8). The hash does not depend on the tag key:
// one value hashes the same under every hashed tag.
//
// The key comes from a file (read_hash_key()): its bytes, trailing whitespace removed, at least
// 16 of them; the file may not be readable by other users. `head -c 32 /dev/urandom | base64`
// makes a good one.
//
// Thread safety: immutable after create(); hash() may run on any number of threads.
#pragma once

#include <string>
#include <string_view>

#include "edgesketch/common/status.h"

namespace edgesketch::agent {

inline constexpr std::size_t kMinHashKeyBytes = 16;
inline constexpr std::size_t kMaxHashKeyBytes = 4096;
// Characters of a hashed value.
inline constexpr std::size_t kHashedValueChars = 13;

// Reads a key file: kNotFound / kIoError when unreadable, kInvalidArgument when it is too short,
// too long, or readable by other users.
Result<std::string> read_hash_key(const std::string& path);

class TagHasher {
 public:
  // kInvalidArgument for a key shorter than kMinHashKeyBytes.
  static Result<TagHasher> create(std::string key);

  // Writes the hash of `value` into `out` (kHashedValueChars base32 characters).
  void hash(std::string_view value, std::string& out) const;
  std::string hash(std::string_view value) const {
    std::string out;
    hash(value, out);
    return out;
  }

 private:
  explicit TagHasher(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace edgesketch::agent
