// HMAC-SHA256 through OpenSSL's one-shot HMAC(); the key file's checks.
#include "process/tag_hasher.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace edgesketch::agent {

Result<std::string> read_hash_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    const std::string what = "hash_key_file " + path + ": " + std::strerror(err);
    return err == ENOENT ? Status::not_found(what) : Status::io_error(what);
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::invalid_argument("hash_key_file " + path + ": not a regular file");
  }
  if ((st.st_mode & S_IROTH) != 0) {
    return Status::invalid_argument("hash_key_file " + path +
                                    ": readable by every user; the key is a secret (chmod o-r)");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxHashKeyBytes) {
    return Status::invalid_argument("hash_key_file " + path + ": larger than " +
                                    std::to_string(kMaxHashKeyBytes) + " bytes; is it the key?");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::io_error("hash_key_file " + path + ": cannot open: " + std::strerror(errno));
  }
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::io_error("hash_key_file " + path + ": read failed");
  // A key written with echo or an editor ends in a newline that is not part of it.
  while (!key.empty() &&
         (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) {
    key.pop_back();
  }
  if (key.size() < kMinHashKeyBytes) {
    return Status::invalid_argument("hash_key_file " + path + ": " + std::to_string(key.size()) +
                                    " bytes, at least " + std::to_string(kMinHashKeyBytes) +
                                    " needed (e.g. head -c 32 /dev/urandom | base64)");
  }
  return key;
}

void TagHasher::CtxFree::operator()(evp_mac_ctx_st* ctx) const { EVP_MAC_CTX_free(ctx); }

Result<TagHasher> TagHasher::create(std::string_view key) {
  if (key.size() < kMinHashKeyBytes) {
    return Status::invalid_argument("hash key: " + std::to_string(key.size()) +
                                    " bytes, at least " + std::to_string(kMinHashKeyBytes));
  }
  auto keyed = [](std::string_view k) -> std::unique_ptr<evp_mac_ctx_st, CtxFree> {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return nullptr;
    std::unique_ptr<evp_mac_ctx_st, CtxFree> ctx(EVP_MAC_CTX_new(mac));
    EVP_MAC_free(mac);  // the context holds its own reference
    if (!ctx) return nullptr;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(k.data()), k.size(),
                     params) != 1) {
      return nullptr;
    }
    return ctx;
  };
  // RFC 4231 test case 2 through the same path: a libcrypto that cannot compute HMAC-SHA256 (a
  // restricted provider) is found here, not as garbage hashes later.
  auto probe = keyed("Jefe");
  if (!probe) return Status::internal("libcrypto: cannot set up HMAC-SHA256");
  TagHasher check(std::move(probe));
  if (check.hash("what do ya want for nothing?") != "lpomcrv7mb2u4") {
    return Status::internal("libcrypto's HMAC-SHA256 does not give RFC 4231's answer");
  }
  auto ctx = keyed(key);
  if (!ctx) return Status::internal("libcrypto: cannot key HMAC-SHA256");
  return TagHasher(std::move(ctx));
}

void TagHasher::hash(std::string_view value, std::string& out) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t mac_len = 0;
  // A null key reinitialises the keyed state. It fails only when memory runs out; carrying on
  // would pass garbage (or the raw value) on, so that ends the process like a failed new.
  if (EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(value.data()),
                     value.size()) != 1 ||
      EVP_MAC_final(ctx_.get(), mac, &mac_len, sizeof mac) != 1 || mac_len < 8) {
    std::abort();
  }
  // RFC 4648 base32, lowercase, unpadded: 64 bits -> 13 characters.
  static constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
  out.resize(kHashedValueChars);
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t k = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    buffer = (buffer << 8) | mac[i];
    bits += 8;
    while (bits >= 5) {
      out[k++] = kBase32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1u << bits) - 1;
  }
  out[k] = kBase32[(buffer << (5 - bits)) & 31];  // the last 4 bits
}

}  // namespace edgesketch::agent
