// Golden bytes: pin the wire format. The hex below was cross-checked with Google's protoc
// (`protoc --decode=edgesketch.v1.WindowBatch proto/edgesketch.proto` prints the fixture, and
// `protoc --encode` of that text gives these exact bytes). A change here is a wire format change:
// bump the schema version or keep old readers working.
#include <gtest/gtest.h>

#include "edgesketch/wire/codec.h"
#include "wire_fixtures.h"

namespace edgesketch::wire {
namespace {

using testing::from_hex;
using testing::kNowMs;
using testing::to_hex;

// Two records without sketches (sketch layouts are pinned by the sketches' own golden tests;
// their bytes travel verbatim, see WindowBatchRoundTrip.SketchBytesTravelVerbatim).
WindowBatch golden_window_batch() {
  WindowBatch b;
  b.tenant = "t1";
  b.gateway_id = "gw-1";
  b.seq = 300;
  b.created_ms = kNowMs;
  WindowRecord temp = testing::record("temp", {{"device", "d1"}, {"site", "s1"}}, 0);
  temp.agg.add_value(1.5);
  temp.agg.add_value(2.5);
  b.records.push_back(temp);
  WindowRecord events = testing::record("event", {}, 0);
  for (int i = 0; i < 3; ++i) events.agg.add_event();
  events.delta = true;
  b.records.push_back(events);
  return b;
}

constexpr std::string_view kGoldenWindowBatch =
    "0801"                          // schema_version 1
    "120467772d31"                  // gateway_id "gw-1"
    "18ac02"                        // seq 300
    "2080a0abfef962"                // created_ms (zig-zag)
    "2a47"                          // records[0], 71 bytes
    "0a0474656d70"                  //   metric "temp"
    "120c0a0664657669636512026431"  //   tags {device, d1}
    "120a0a047369746512027331"      //   tags {site, s1}
    "18e083aafef962"                //   window_start_ms
    "20904e"                        //   window_ms 10000
    "2802"                          //   count 2
    "310000000000001040"            //   sum 4
    "39000000000000f83f"            //   min 1.5
    "410000000000000440"            //   max 2.5
    "2a27"                          // records[1], 39 bytes
    "0a056576656e74"                //   metric "event"
    "18e083aafef96220904e2803"      //   window, count 3 (sum 0 omitted)
    "39000000000000f07f"            //   min +inf
    "41000000000000f0ff"            //   max -inf
    "6001"                          //   delta
    "32027431"                      // tenant "t1"
    "3802";                         // record_count 2

constexpr std::string_view kGoldenReadingBatch =
    "0a026431"                              // device_id "d1"
    "120a0a047369746512027331"              // tags {site, s1}
    "1a24"                                  // samples[0]
    "0a0474656d70"                          //   metric "temp"
    "10e080abfef962"                        //   base_ms
    "1a0300d00f"                            //   ts_delta_ms [0, 1000] packed
    "221000000000008034400000000000003540"  //   values [20.5, 21] packed
    "2219"                                  // readings[0]
    "0a04636f6465"                          //   metric "code"
    "1080a0abfef962"                        //   ts_ms
    "22024531"                              //   label "E1"
    "2a060a016b120176"                      //   tags {k, v}
    "2805";                                 // batch_seq 5

constexpr std::string_view kGoldenAck =
    "0a0467772d31"                           // gateway_id "gw-1"
    "120301ac02"                             // seqs [1, 300] packed
    "1a100807120c636c6f636b5f667574757265";  // rejected {7, "clock_future"}

TEST(WireGolden, WindowBatch) {
  const Bytes golden = from_hex(kGoldenWindowBatch);
  EXPECT_EQ(to_hex(encode_window_batch(golden_window_batch())), kGoldenWindowBatch);
  auto decoded = decode_window_batch(golden, Limits{}, kNowMs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, golden_window_batch());
}

TEST(WireGolden, ReadingBatch) {
  ReadingBatch b;
  b.device_id = "d1";
  b.tags = {{"site", "s1"}};
  b.batch_seq = 5;
  b.readings.push_back(Reading{"d1", "temp", {{"site", "s1"}}, kNowMs - 2000, 20.5, "", false});
  b.readings.push_back(Reading{"d1", "temp", {{"site", "s1"}}, kNowMs - 1000, 21, "", false});
  b.readings.push_back(
      Reading{"d1", "code", {{"k", "v"}, {"site", "s1"}}, kNowMs, 0, "E1", /*is_label=*/true});
  auto encoded = encode_reading_batch(b);
  ASSERT_TRUE(encoded.ok()) << encoded.status().to_string();
  EXPECT_EQ(to_hex(*encoded), kGoldenReadingBatch);
  auto decoded = decode_reading_batch(from_hex(kGoldenReadingBatch), Limits{}, kNowMs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, b);
}

TEST(WireGolden, Ack) {
  Ack ack;
  ack.gateway_id = "gw-1";
  ack.seqs = {1, 300};
  ack.rejected = {{7, "clock_future"}};
  EXPECT_EQ(to_hex(encode_ack(ack)), kGoldenAck);
  auto decoded = decode_ack(from_hex(kGoldenAck), Limits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, ack);
}

}  // namespace
}  // namespace edgesketch::wire
