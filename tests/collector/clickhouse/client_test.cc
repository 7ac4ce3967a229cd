// clickhouse::Client against a real ClickHouse server on loopback (testbed::ClickHouseServer):
// statements, inserts in TSV and RowBinary, gzip, authentication, refusals, an outage (retried,
// then temporary) and what an acked insert means across a kill -9 of the server.
#include "edgesketch/clickhouse/client.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "edgesketch/testbed/clickhouse_server.h"

namespace edgesketch::clickhouse {
namespace {

ByteSpan bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class ClickHouseClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = server_.start();
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  std::unique_ptr<Client> client(ClientOptions o = {}) {
    o.url = server_.url();
    o.password = server_.options().password;
    if (!o.sleep) o.sleep = [this](std::int64_t ms) { sleeps_.push_back(ms); };
    auto c = Client::create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  testbed::ClickHouseServer server_{{.server = ES_CLICKHOUSE_SERVER, .password = "pw&<x>"}};
  std::vector<std::int64_t> sleeps_;
};

TEST_F(ClickHouseClientTest, StatementsInsertsAndQueries) {
  auto c = client();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->execute("CREATE DATABASE IF NOT EXISTS es").ok());
  auto db = client({.database = "es"});
  ASSERT_TRUE(db);
  Status created =
      db->execute("CREATE TABLE t (k UInt64, s String, v Float64) ENGINE = MergeTree ORDER BY k");
  ASSERT_TRUE(created.ok()) << created.to_string();
  ASSERT_TRUE(db->insert("INSERT INTO t FORMAT TSV", bytes("1\ta\t2.5\n2\tb c\t-1\n")).ok());
  auto rows = db->query("SELECT k, s, v FROM t ORDER BY k FORMAT TSV");
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  EXPECT_EQ(*rows, "1\ta\t2.5\n2\tb c\t-1\n");
  EXPECT_EQ(db->stats().retries, 0u);
  EXPECT_EQ(db->stats().refused, 0u);
}

TEST_F(ClickHouseClientTest, RowBinaryRowsArriveAsTheyAreEvenWhenTheyStartWithWhitespace) {
  auto c = client();
  ASSERT_TRUE(c);
  ASSERT_TRUE(
      c->execute("CREATE TABLE rb (k UInt64, s String) ENGINE = MergeTree ORDER BY k").ok());
  // k = 0x0A20 (little-endian bytes 20 0A ...: a space and a newline first), s = "\n x".
  std::string row;
  const std::uint64_t k = 0x0A20;
  row.append(reinterpret_cast<const char*>(&k), sizeof k);
  row += '\x03';
  row += "\n x";
  ASSERT_TRUE(c->insert("INSERT INTO rb FORMAT RowBinary", bytes(row)).ok());
  auto back = c->query("SELECT k, hex(s) FROM rb FORMAT TSV");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, "2592\t0A2078\n");
}

TEST_F(ClickHouseClientTest, LargeBodiesAreGzippedAndAnswersTooLargeAreRefused) {
  auto c = client({.compress_min_bytes = 1024, .max_response_bytes = 100'000});
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->execute("CREATE TABLE g (k UInt64, s String) ENGINE = MergeTree ORDER BY k").ok());
  std::string tsv;
  for (int i = 0; i < 20'000; ++i) tsv += std::to_string(i) + "\tsensor-reading\n";
  ASSERT_TRUE(c->insert("INSERT INTO g FORMAT TSV", bytes(tsv)).ok());
  EXPECT_LT(c->stats().sent_bytes * 5, c->stats().body_bytes);
  auto count = c->query("SELECT count(), sum(k) FROM g FORMAT TSV");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, "20000\t199990000\n");
  auto all = c->query("SELECT * FROM g FORMAT TSV");  // ~400 KB, over the bound
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(all.status().message().find("max_response_bytes"), std::string::npos);
}

TEST_F(ClickHouseClientTest, RefusedStatementsAreNotRetried) {
  auto c = client();
  ASSERT_TRUE(c);
  for (const char* sql : {"SELECT * FROM no_such_table", "SELEKT 1", "SELECT no_such_column"}) {
    Status s = c->execute(sql);
    ASSERT_FALSE(s.ok()) << sql;
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << sql;
    EXPECT_NE(s.message().find("Code: "), std::string::npos) << s.message();
  }
  EXPECT_EQ(c->stats().retries, 0u);
  EXPECT_EQ(c->stats().refused, 3u);

  auto wrong = Client::create({.url = server_.url(), .password = "wrong"});
  ASSERT_TRUE(wrong.ok());
  Status denied = (*wrong)->execute("SELECT 1");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.code(), StatusCode::kFailedPrecondition);
}

TEST_F(ClickHouseClientTest, AnOutageIsTemporaryAndRetriedWithBackoffThenTheClientRecovers) {
  auto c = client({.max_attempts = 4});
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->execute("CREATE TABLE o (k UInt64) ENGINE = MergeTree ORDER BY k").ok());
  server_.kill();
  Status down = c->insert("INSERT INTO o FORMAT TSV", bytes("1\n"));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.code(), StatusCode::kUnavailable) << down.to_string();
  EXPECT_EQ(c->stats().retries, 3u);
  EXPECT_EQ(c->stats().temporary_failures, 1u);
  ASSERT_EQ(sleeps_.size(), 3u);
  EXPECT_LT(sleeps_[0], sleeps_[2]);  // growing delays

  ASSERT_TRUE(server_.start().ok());
  ASSERT_TRUE(c->insert("INSERT INTO o FORMAT TSV", bytes("2\n")).ok());
  auto rows = c->query("SELECT k FROM o FORMAT TSV");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, "2\n");
}

// What "acked" means: an insert ClickHouse answered 200 for is in a part on disk, so a kill -9
// of the server right after loses nothing (a power loss is another matter: docs/scaling.md).
TEST_F(ClickHouseClientTest, AnAckedInsertSurvivesAKillOfTheServer) {
  auto c = client();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->execute("CREATE TABLE d (k UInt64) ENGINE = MergeTree ORDER BY k").ok());
  for (int batch = 0; batch < 20; ++batch) {
    std::string rows;
    for (int i = 0; i < 100; ++i) rows += std::to_string(batch * 100 + i) + "\n";
    ASSERT_TRUE(c->insert("INSERT INTO d FORMAT TSV", bytes(rows)).ok());
  }
  server_.kill();
  ASSERT_TRUE(server_.start().ok()) << server_.log_tail();
  auto count = c->query("SELECT count(), uniqExact(k) FROM d FORMAT TSV");
  ASSERT_TRUE(count.ok()) << count.status().to_string();
  EXPECT_EQ(*count, "2000\t2000\n");
}

TEST(ClickHouseClientUnitTest, OptionsAndErrorCodes) {
  EXPECT_EQ(Client::create({.url = "tcp://127.0.0.1:9000"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Client::create({.url = "http://127.0.0.1:1", .tls_cert_file = "c.pem"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(exception_code("Code: 60, e.displayText() = DB::Exception: Table x doesn't exist"), 60);
  EXPECT_EQ(exception_code("Code: 252, e.displayText() = Too many parts"), 252);
  EXPECT_EQ(exception_code("no code here"), -1);
  EXPECT_EQ(exception_code("Code: x"), -1);
  EXPECT_TRUE(is_temporary_code(252));
  EXPECT_TRUE(is_temporary_code(243));
  EXPECT_FALSE(is_temporary_code(60));
  EXPECT_FALSE(is_temporary_code(62));
  EXPECT_FALSE(is_temporary_code(-1));
}

}  // namespace
}  // namespace edgesketch::clickhouse
