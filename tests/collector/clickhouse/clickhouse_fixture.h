// A test with a real ClickHouse server of its own (testbed::ClickHouseServer) and a client of
// it; with `tables` the edgesketch tables of `schema_` are created first.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "edgesketch/clickhouse/client.h"
#include "edgesketch/clickhouse/schema.h"
#include "edgesketch/testbed/clickhouse_server.h"

namespace edgesketch::clickhouse::testing {

class ClickHouseTest : public ::testing::Test {
 protected:
  explicit ClickHouseTest(bool tables = true) : tables_(tables) {}

  void SetUp() override {
    Status s = server_.start();
    ASSERT_TRUE(s.ok()) << s.to_string();
    auto c = Client::create({.url = server_.url()});
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
    if (tables_) {
      Status created = init_schema(*client_, schema_);
      ASSERT_TRUE(created.ok()) << created.to_string();
    }
  }
  // A query's answer as TSV ("" and a failure when it fails).
  std::string tsv(const std::string& sql) {
    auto r = client_->query(sql + " FORMAT TSV");
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : "";
  }

  testbed::ClickHouseServer server_{{.server = ES_CLICKHOUSE_SERVER}};
  std::unique_ptr<Client> client_;
  SchemaOptions schema_;

 private:
  const bool tables_;
};

}  // namespace edgesketch::clickhouse::testing
