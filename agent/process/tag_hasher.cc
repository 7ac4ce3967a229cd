// HMAC-SHA256 through OpenSSL's one-shot HMAC(); the key file's checks.
#include "process/tag_hasher.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
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

Result<TagHasher> TagHasher::create(std::string key) {
  if (key.size() < kMinHashKeyBytes) {
    return Status::invalid_argument("hash key: " + std::to_string(key.size()) +
                                    " bytes, at least " + std::to_string(kMinHashKeyBytes));
  }
  // RFC 4231 test case 2 (a 4-byte key, so through HMAC() directly): a libcrypto that cannot
  // compute HMAC-SHA256 (a restricted provider) is found here, not as garbage hashes later.
  static constexpr std::string_view kKey = "Jefe";
  static constexpr std::string_view kData = "what do ya want for nothing?";
  static constexpr unsigned char kWant[4] = {0x5b, 0xdc, 0xc1, 0x46};
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (::HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
             reinterpret_cast<const unsigned char*>(kData.data()), kData.size(), mac,
             &mac_len) == nullptr ||
      mac_len != 32 || std::memcmp(mac, kWant, sizeof kWant) != 0) {
    return Status::internal("libcrypto's HMAC-SHA256 does not work (RFC 4231 test case 2)");
  }
  return TagHasher(std::move(key));
}

void TagHasher::hash(std::string_view value, std::string& out) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  // create() checked that HMAC() works with this libcrypto, so it fails only when memory runs
  // out; carrying on would pass garbage (or the raw value) on, so that ends the process like a
  // failed operator new.
  if (::HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
             reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac,
             &mac_len) == nullptr) {
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
