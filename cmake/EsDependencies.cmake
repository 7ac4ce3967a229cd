# Every dependency comes from a Debian 12 package (scripts/setup.sh installs them) and is found
# here, once, under one name; the subdirectories only link the targets.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nanopb CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
# Header-only Boost.Lockfree (the agent's reading rings).
find_package(Boost 1.74 REQUIRED)
# MQTT: Paho C++ for the daemons' links, Paho C for the simulator's devices.
find_package(PahoMqttCpp CONFIG REQUIRED)
find_package(eclipse-paho-mqtt-c CONFIG REQUIRED)
find_package(CURL REQUIRED)
# libcrypto: HMAC-SHA256 of the agent's [privacy] hash_tags; libssl: TLS of the MQTT subscriber.
find_package(OpenSSL REQUIRED COMPONENTS Crypto SSL)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
find_program(ES_PROTOC protoc REQUIRED)
find_program(ES_NANOPB_PLUGIN protoc-gen-nanopb REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
if(ES_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  # A real Prometheus API client for the HTTP and end-to-end tests, and Prometheus itself as the
  # reference of the PromQL differential test (Debian package prometheus).
  find_program(ES_PROMTOOL promtool REQUIRED)
  find_program(ES_PROMETHEUS prometheus REQUIRED)
  # The collector's ClickHouse store is tested against a real server (Debian clickhouse-server).
  find_program(ES_CLICKHOUSE_SERVER clickhouse-server PATHS /usr/sbin REQUIRED)
  # Debian's chromium, headless: the collector's live page tested as a person would use it.
  find_program(ES_CHROMIUM chromium REQUIRED)
endif()
