// TlsBroker: certificates by the openssl command line, mosquitto's own password tool, a real
// mosquitto with its TLS listener.
#include "net/tls_broker.h"

#include <filesystem>
#include <fstream>

#include "edgesketch/testbed/daemon_process.h"

namespace edgesketch::net {

Status TlsBroker::start() {
  dir_ = std::make_unique<testbed::TempDir>("es-tls");
  if (dir_->path().empty()) return Status::io_error("tls broker: " + dir_->error());
  const std::string& d = dir_->path();
  // mosquitto may drop to its own user: the files must be readable to it.
  std::filesystem::permissions(d, std::filesystem::perms::all);
  std::ofstream(d + "/san.ext") << "subjectAltName=IP:127.0.0.1\n";
  const std::string commands[] = {
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=test CA' -keyout " + d +
          "/ca.key -out " + d + "/ca.crt",
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=other CA' -keyout " + d +
          "/other.key -out " + d + "/other.crt",
      "openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout " + d +
          "/broker.key -out " + d + "/broker.csr",
      "openssl x509 -req -in " + d + "/broker.csr -CA " + d + "/ca.crt -CAkey " + d +
          "/ca.key -CAcreateserial -days 2 -extfile " + d + "/san.ext -out " + d + "/broker.crt",
      "touch " + d + "/passwd && mosquitto_passwd -b " + d + "/passwd " + kTlsUser + " " +
          kTlsPassword,
      "chmod a+r " + d + "/*",
  };
  for (const std::string& c : commands) {
    testbed::CommandResult r = testbed::run_command(c);
    if (r.status != 0) return Status::internal("tls broker: '" + c + "' failed: " + r.output);
  }
  testbed::MosquittoOptions options;
  options.extra_config = "cafile " + d + "/ca.crt\ncertfile " + d + "/broker.crt\nkeyfile " + d +
                         "/broker.key\nallow_anonymous false\npassword_file " + d + "/passwd\n";
  broker_ = std::make_unique<testbed::MosquittoBroker>(options);
  return broker_->start();
}

std::string TlsBroker::uri() const { return "ssl://127.0.0.1:" + std::to_string(broker_->port()); }

}  // namespace edgesketch::net
