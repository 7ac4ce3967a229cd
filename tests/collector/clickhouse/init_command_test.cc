// `edgesketch-collector --init-clickhouse` as an operator runs it, against a real ClickHouse
// server: the tables appear, a second run changes nothing, and mistakes are named.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "edgesketch/clickhouse/client.h"
#include "edgesketch/testbed/clickhouse_server.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/temp_dir.h"

namespace edgesketch {
namespace {

class InitClickHouseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = server_.start();
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  std::string write_config(const std::string& text) {
    const std::string path = dir_.file("collector.toml");
    std::ofstream(path) << text
                        << "[[tenant]]\nname = \"t\"\ntokens = [\"0123456789abcdef0123\"]\n";
    return path;
  }
  testbed::CommandResult collector(const std::string& args) {
    return testbed::run_command(std::string(ES_COLLECTOR_BINARY) + " " + args + " 2>&1");
  }

  testbed::ClickHouseServer server_{
      {.server = ES_CLICKHOUSE_SERVER, .user = "edgesketch", .password = "pw-123"}};
  testbed::TempDir dir_{"es-init-clickhouse"};
};

TEST_F(InitClickHouseTest, CreatesTheTablesOnceAndNamesMistakes) {
  std::ofstream(dir_.file("pw")) << "pw-123\n";
  const std::string config = write_config(
      "[store]\ntiers = [\"10s\", \"1m\", \"1h\"]\nretention = [\"7d\", \"90d\", "
      "\"0\"]\n[clickhouse]\nurl = \"" +
      server_.url() + "\"\ndatabase = \"fleet\"\nuser = \"edgesketch\"\n" + "password_file = \"" +
      dir_.file("pw") + "\"\n");
  for (int run = 0; run < 2; ++run) {
    testbed::CommandResult r = collector("--init-clickhouse --config " + config);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("database fleet ready (schema version 1): tables schema_version "
                            "series batches windows_10s windows_1m windows_1h"),
              std::string::npos)
        << r.output;
  }
  auto client = clickhouse::Client::create(
      {.url = server_.url(), .user = "edgesketch", .password = "pw-123"});
  ASSERT_TRUE(client.ok());
  auto tables =
      (*client)->query("SELECT count() FROM system.tables WHERE database = 'fleet' FORMAT TSV");
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, "6\n");

  // A wrong password is ClickHouse's refusal, reported as such.
  std::ofstream(dir_.file("pw")) << "wrong\n";
  testbed::CommandResult denied = collector("--init-clickhouse --config " + config);
  EXPECT_EQ(denied.status != 0, true) << denied.output;
  EXPECT_NE(denied.output.find("clickhouse answered HTTP"), std::string::npos) << denied.output;

  const std::string no_url = write_config("");
  testbed::CommandResult missing = collector("--init-clickhouse --config " + no_url);
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("has no [clickhouse] url"), std::string::npos) << missing.output;
}

TEST_F(InitClickHouseTest, TheDaemonRefusesToStartWithoutTheTables) {
  const std::string config = write_config(
      "[collector]\ndata_dir = \"" + dir_.file("data") +
      "\"\n[mqtt]\nenabled = false\n[http]\nlisten = \"127.0.0.1:0\"\n[store]\nbackend = "
      "\"clickhouse\"\n[clickhouse]\nurl = \"" +
      server_.url() + "\"\nuser = \"edgesketch\"\npassword_file = \"" + dir_.file("pw") + "\"\n");
  std::ofstream(dir_.file("pw")) << "pw-123\n";
  testbed::CommandResult r = collector("--config " + config);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("is not ready"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--init-clickhouse sets it up"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace edgesketch
