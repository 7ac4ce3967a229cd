// A mosquitto with a TLS listener for the MQTT client tests: a fresh test CA and a broker
// certificate for 127.0.0.1 signed by it, a second CA the broker's certificate does not chain
// to, and a password file with one user (kTlsUser / kTlsPassword); anonymous clients refused.
#pragma once

#include <memory>
#include <string>

#include "edgesketch/common/status.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "edgesketch/testbed/temp_dir.h"

namespace edgesketch::net {

inline constexpr const char* kTlsUser = "acme/gw-1";
inline constexpr const char* kTlsPassword = "s3cret";

class TlsBroker {
 public:
  // Makes the certificates (openssl) and the password file (mosquitto_passwd), starts the broker.
  Status start();
  // "ssl://127.0.0.1:<port>"
  std::string uri() const;
  // The CA that signed the broker's certificate, and one that did not.
  std::string ca_file() const { return dir_->path() + "/ca.crt"; }
  std::string other_ca_file() const { return dir_->path() + "/other.crt"; }
  // A scratch directory for the test's own files.
  const std::string& dir() const { return dir_->path(); }

 private:
  std::unique_ptr<testbed::TempDir> dir_;
  std::unique_ptr<testbed::MosquittoBroker> broker_;
};

}  // namespace edgesketch::net
