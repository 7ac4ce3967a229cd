// TagHasher: the keyed hash of [privacy] hash_tags (docs/agent.md, "Privacy").
//
// hash(v) = the first 8 bytes of HMAC-SHA256(key, v) in unpadded lowercase base32 (RFC 4648):
// 13 characters, [a-z2-7] (OpenSSL's libcrypto computes the HMAC). 13 characters fit a
// std::string's inline buffer, so replacing a value allocates nothing. HMAC-SHA256 is a
// pseudorandom function: without the key nobody can compute a value's hash, so the small value
// spaces that make plain hashes of MAC addresses or badge ids reversible by enumeration do not
// help; with the same key the same value always yields the same hash, so distinct counts, top-K and
// group_by keep working across restarts and gateways that share the key. 64 bits keep collisions
// negligible for distinct counting (1e6 values: p = 3e-8). The hash does not depend on the tag
// key: one value hashes the same under every hashed tag.
//
// The key comes from a file (read_hash_key()): its bytes, trailing whitespace removed, at least
// 16 of them; the file may not be readable by other users. `head -c 32 /dev/urandom | base64`
// makes a good one.
//
// Cost: the HMAC state after the key is computed once (EVP_MAC, reinitialised per value rather
// than set up from the key each time as OpenSSL's one-shot HMAC() does, 10+ µs a call).
//
// Thread safety: hash() reuses one OpenSSL context: one thread at a time per TagHasher.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "edgesketch/common/status.h"

struct evp_mac_ctx_st;  // OpenSSL's EVP_MAC_CTX

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
  // kInvalidArgument for a key shorter than kMinHashKeyBytes; kInternal when libcrypto cannot
  // compute HMAC-SHA256.
  static Result<TagHasher> create(std::string_view key);

  // Writes the hash of `value` into `out` (kHashedValueChars base32 characters).
  void hash(std::string_view value, std::string& out);
  std::string hash(std::string_view value) {
    std::string out;
    hash(value, out);
    return out;
  }

 private:
  struct CtxFree {
    void operator()(evp_mac_ctx_st* ctx) const;
  };
  explicit TagHasher(std::unique_ptr<evp_mac_ctx_st, CtxFree> ctx) : ctx_(std::move(ctx)) {}
  std::unique_ptr<evp_mac_ctx_st, CtxFree> ctx_;  // keyed, reinitialised per value
};

}  // namespace edgesketch::agent
