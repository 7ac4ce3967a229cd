// ReplayDecoder: batches reach the apply function in push order, with their decode results
// (errors included), however many helpers decode them.
#include "replay_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "collector/store_test_util.h"
#include "edgesketch/wire/codec.h"

namespace edgesketch::store {
namespace {

class ReplayDecoderTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ReplayDecoderTest, AppliesInPushOrder) {
  std::mt19937_64 rng(17);
  std::vector<Bytes> encoded;
  for (std::uint64_t seq = 1; seq <= 60; ++seq) {
    // Sizes vary a lot, so helpers finish out of order.
    const int records = seq % 7 == 0 ? 40 : 1 + static_cast<int>(seq % 3);
    Bytes b = wire::encode_window_batch(testing::make_batch(rng, "gw", seq, records, 3, 50, false));
    if (seq % 11 == 0) b.resize(b.size() / 2);  // does not decode
    encoded.push_back(std::move(b));
  }
  std::vector<std::string> got;
  {
    ReplayDecoder decoder(
        wire::Limits{}, testing::kNowMs,
        [&got](std::string_view tenant, const Status& decoded, const wire::WindowBatchView& batch) {
          got.push_back(std::string(tenant) + ":" +
                        (decoded.ok() ? std::to_string(batch.seq) + "/" +
                                            std::to_string(batch.records().size())
                                      : "error"));
        },
        4, GetParam());
    for (const Bytes& b : encoded) decoder.push("t", b);
    decoder.finish();
  }
  std::vector<std::string> want;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    auto d = wire::decode_window_batch(encoded[i], wire::Limits{}, testing::kNowMs);
    want.push_back("t:" + (d.ok() ? std::to_string(d->seq) + "/" + std::to_string(d->records.size())
                                  : std::string("error")));
  }
  EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Helpers, ReplayDecoderTest, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace edgesketch::store
