// Edge processing before the rules: enrichment from the registry (the reading's own tag wins,
// unknown devices kept or dropped), privacy (dropped tags, keyed hashes stable across instances
// and keys), filters (glob and where, first match, counted by name), the order of the stages,
// and the counters carried across a SIGHUP replacement.
#include "process/edge_processor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>

namespace edgesketch::agent {
namespace {

constexpr std::string_view kKey = "0123456789abcdef-test-key";

wire::Reading reading(std::string device, std::string metric, double v,
                      std::vector<wire::Tag> tags = {}) {
  wire::Reading r;
  r.device_id = std::move(device);
  r.metric = std::move(metric);
  r.tags = std::move(tags);
  r.ts_ms = 1'700'000'000'000;
  r.value = v;
  return r;
}

void fill(ReadingBuffer& buf, const std::vector<wire::Reading>& readings) {
  buf.clear();
  for (const wire::Reading& r : readings) buf.append() = r;
}

std::map<std::string, std::string> tags(const wire::Reading& r) {
  std::map<std::string, std::string> m;
  for (std::size_t i = 0; i < r.tags.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(r.tags[i - 1].key, r.tags[i].key) << "tags must stay sorted";
    }
    m[r.tags[i].key] = r.tags[i].value;
  }
  return m;
}

DeviceRegistry registry(const std::string& csv) {
  auto r = DeviceRegistry::parse(csv, "devices.csv");
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return std::move(r).value();
}

std::unique_ptr<EdgeProcessor> make(const ProcessingConfig& config,
                                    std::optional<DeviceRegistry> reg = std::nullopt,
                                    std::string key = std::string(kKey)) {
  auto p = EdgeProcessor::create(config, std::move(reg), std::move(key));
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return std::move(p).value();
}

TEST(EdgeProcessorTest, NothingConfiguredPassesEverythingUnchanged) {
  auto p = make({});
  ReadingBuffer buf;
  const std::vector<wire::Reading> in = {reading("d1", "temp", 1, {{"site", "s1"}}),
                                         reading("d2", "hum", 2)};
  fill(buf, in);
  p->process(buf);
  ASSERT_EQ(buf.size(), 2u);
  EXPECT_EQ(buf[0], in[0]);
  EXPECT_EQ(buf[1], in[1]);
  EXPECT_EQ(p->stats().readings, 2u);
  EXPECT_EQ(p->stats().passed, 2u);
  EXPECT_FALSE(p->hides_tags());
}

TEST(EdgeProcessorTest, EnrichmentMergesRegistryTagsAndTheReadingsOwnTagWins) {
  ProcessingConfig c;
  auto p = make(c, registry("device,building,site,floor,zone\n"
                            "d1,b7,s-registry,3,\n"
                            "d2,b9,s2,,\n"));
  ReadingBuffer buf;
  fill(buf, {reading("d1", "temp", 1, {{"line", "l1"}, {"site", "s-own"}}),
             reading("d1", "temp", 2),  // same device again: the cached row
             reading("d2", "temp", 3, {{"a", "x"}, {"zzz", "y"}}),
             reading("d3", "temp", 4, {{"site", "s3"}})});
  p->process(buf);
  ASSERT_EQ(buf.size(), 4u);
  EXPECT_EQ(tags(buf[0]),
            (std::map<std::string, std::string>{
                {"building", "b7"}, {"floor", "3"}, {"line", "l1"}, {"site", "s-own"}}));
  EXPECT_EQ(tags(buf[1]), (std::map<std::string, std::string>{
                              {"building", "b7"}, {"floor", "3"}, {"site", "s-registry"}}));
  EXPECT_EQ(tags(buf[2]), (std::map<std::string, std::string>{
                              {"a", "x"}, {"building", "b9"}, {"site", "s2"}, {"zzz", "y"}}));
  EXPECT_EQ(tags(buf[3]), (std::map<std::string, std::string>{{"site", "s3"}}));  // unknown, kept
  const EdgeProcessorStats s = p->stats();
  EXPECT_EQ(s.enriched, 3u);
  EXPECT_EQ(s.unknown_kept, 1u);
  EXPECT_EQ(s.unknown_dropped, 0u);
  EXPECT_EQ(s.registry_devices, 2u);
}

TEST(EdgeProcessorTest, EnrichmentOfReadingsThatAlreadyHaveEveryTag) {
  auto p = make({}, registry("device,site\nd1,s1\n"));
  ReadingBuffer buf;
  fill(buf, {reading("d1", "temp", 1, {{"site", "mine"}})});
  p->process(buf);
  EXPECT_EQ(tags(buf[0]), (std::map<std::string, std::string>{{"site", "mine"}}));
}

TEST(EdgeProcessorTest, UnknownDevicesDroppedKeepOrderOfTheRest) {
  ProcessingConfig c;
  c.enrich.unknown = UnknownDevice::kDrop;
  auto p = make(c, registry("device,site\nd1,s1\nd3,s3\n"));
  ReadingBuffer buf;
  fill(buf, {reading("d1", "a", 1), reading("d2", "b", 2), reading("d3", "c", 3),
             reading("d2", "d", 4), reading("d1", "e", 5)});
  p->process(buf);
  ASSERT_EQ(buf.size(), 3u);
  EXPECT_EQ(buf[0].metric, "a");
  EXPECT_EQ(buf[1].metric, "c");
  EXPECT_EQ(buf[2].metric, "e");
  EXPECT_EQ(tags(buf[1]), (std::map<std::string, std::string>{{"site", "s3"}}));
  EXPECT_EQ(p->stats().unknown_dropped, 2u);
  EXPECT_EQ(p->stats().passed, 3u);
  // The buffer's slots are reused: the next payload fills them again.
  fill(buf, {reading("d2", "x", 1)});
  p->process(buf);
  EXPECT_EQ(buf.size(), 0u);
}

TEST(EdgeProcessorTest, PrivacyDropsAndHashesTags) {
  ProcessingConfig c;
  c.privacy.drop_tags = {"operator", "badge"};
  c.privacy.hash_tags = {"mac"};
  auto p = make(c);
  EXPECT_TRUE(p->hides_tags());
  ReadingBuffer buf;
  fill(buf, {reading("d1", "temp", 1,
                     {{"badge", "B-17"},
                      {"mac", "aa:bb:cc:dd:ee:ff"},
                      {"operator", "alice"},
                      {"site", "s1"}}),
             reading("d2", "temp", 2, {{"mac", "aa:bb:cc:dd:ee:ff"}}),
             reading("d3", "temp", 3, {{"mac", "11:22:33:44:55:66"}})});
  p->process(buf);
  ASSERT_EQ(buf.size(), 3u);
  const auto t0 = tags(buf[0]);
  EXPECT_EQ(t0.size(), 2u);
  EXPECT_EQ(t0.count("operator"), 0u);
  EXPECT_EQ(t0.count("badge"), 0u);
  EXPECT_EQ(t0.at("site"), "s1");
  const std::string h = t0.at("mac");
  EXPECT_EQ(h.size(), kHashedValueChars);
  EXPECT_EQ(h.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567"), std::string::npos);
  EXPECT_EQ(tags(buf[1]).at("mac"), h);  // the same value, the same hash
  EXPECT_NE(tags(buf[2]).at("mac"), h);
  EXPECT_EQ(p->stats().dropped_tags, 2u);
  EXPECT_EQ(p->stats().hashed_tags, 3u);

  // Another processor with the same key (a restart) hashes alike; another key does not.
  auto same = make(c);
  auto other = make(c, std::nullopt, "another-key-of-enough-bytes");
  for (auto* q : {same.get(), other.get()}) {
    fill(buf, {reading("d1", "temp", 1, {{"mac", "aa:bb:cc:dd:ee:ff"}})});
    q->process(buf);
    if (q == same.get()) {
      EXPECT_EQ(tags(buf[0]).at("mac"), h);
    } else {
      EXPECT_NE(tags(buf[0]).at("mac"), h);
    }
  }
  // The hash is HMAC-SHA256 truncated: pinned so a change of construction is seen.
  EXPECT_EQ(TagHasher::create(std::string(kKey))->hash("aa:bb:cc:dd:ee:ff"), h);
}

TEST(EdgeProcessorTest, HashCacheGivesTheSameAnswerAsTheHasher) {
  ProcessingConfig c;
  c.privacy.hash_tags = {"id"};
  auto p = make(c);
  auto hasher = TagHasher::create(std::string(kKey));
  ASSERT_TRUE(hasher.ok());
  ReadingBuffer buf;
  // More distinct values than cache slots, each seen twice, far apart: misses, hits, evictions.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 10'000; ++i) {
      const std::string v = "value-" + std::to_string(i);
      fill(buf, {reading("d", "m", 1, {{"id", v}})});
      p->process(buf);
      ASSERT_EQ(buf[0].tags[0].value, hasher->hash(v)) << v;
    }
  }
}

// Readings with the device and tags of the one before get that one's result copied: over a
// seeded random mix of repeats and changes, in chunks, every output and every counter equals
// what a fresh processor gives each reading on its own.
TEST(EdgeProcessorTest, RepeatsGiveWhatEachReadingGivesAlone) {
  ProcessingConfig c;
  c.enrich.unknown = UnknownDevice::kDrop;
  c.privacy.drop_tags = {"operator"};
  c.privacy.hash_tags = {"mac"};
  const std::string csv = "device,building,mac\nd1,b1,\nd2,b2,reg-mac\n";
  auto p = make(c, registry(csv));
  const std::vector<std::string> devices = {"d1", "d2", "d3"};
  const std::vector<std::vector<wire::Tag>> tag_sets = {
      {}, {{"mac", "m1"}}, {{"mac", "m2"}, {"operator", "o"}}, {{"building", "own"}}};
  std::mt19937 rng(17);
  std::vector<wire::Reading> all;
  for (int i = 0; i < 3000; ++i) {
    // Mostly repeats of the previous reading, as in a payload.
    if (all.empty() || rng() % 4 == 0) {
      all.push_back(
          reading(devices[rng() % devices.size()], "m", i, tag_sets[rng() % tag_sets.size()]));
    } else {
      all.push_back(all.back());
      all.back().value = i;
    }
  }
  EdgeProcessorStats want;
  std::vector<wire::Reading> want_out;
  ReadingBuffer one;
  for (const wire::Reading& r : all) {
    auto fresh = make(c, registry(csv));
    fill(one, {r});
    fresh->process(one);
    if (one.size() == 1) want_out.push_back(one[0]);
    const EdgeProcessorStats s = fresh->stats();
    want.enriched += s.enriched;
    want.unknown_dropped += s.unknown_dropped;
    want.unknown_kept += s.unknown_kept;
    want.dropped_tags += s.dropped_tags;
    want.hashed_tags += s.hashed_tags;
  }
  std::vector<wire::Reading> got;
  ReadingBuffer buf;
  for (std::size_t i = 0; i < all.size();) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 50, all.size() - i);
    fill(buf, std::vector<wire::Reading>(all.begin() + static_cast<std::ptrdiff_t>(i),
                                         all.begin() + static_cast<std::ptrdiff_t>(i + n)));
    p->process(buf);
    for (std::size_t k = 0; k < buf.size(); ++k) got.push_back(buf[k]);
    i += n;
  }
  ASSERT_EQ(got.size(), want_out.size());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want_out[i]) << i;
  const EdgeProcessorStats s = p->stats();
  EXPECT_EQ(s.enriched, want.enriched);
  EXPECT_EQ(s.unknown_dropped, want.unknown_dropped);
  EXPECT_EQ(s.unknown_kept, 0u);
  EXPECT_EQ(s.dropped_tags, want.dropped_tags);
  EXPECT_EQ(s.hashed_tags, want.hashed_tags);
  EXPECT_GT(want.unknown_dropped, 0u);
  EXPECT_GT(want.hashed_tags, 0u);
  EXPECT_EQ(s.passed, got.size());
}

TEST(TagHasherTest, KnownAnswerAndKeyChecks) {
  // HMAC-SHA256 (RFC 4231 test case 1: key 0x0b x 20, data "Hi There") =
  // b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7; its first 8 bytes in
  // base32 (python3: base64.b32encode(bytes.fromhex("b0344c61d8db3853")).lower()).
  auto h = TagHasher::create(std::string(20, '\x0b'));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->hash("Hi There"), "wa2eyyoy3m4fg");
  EXPECT_EQ(h->hash("").size(), kHashedValueChars);
  EXPECT_EQ(TagHasher::create("short").status().code(), StatusCode::kInvalidArgument);
}

TEST(TagHasherTest, KeyFile) {
  char path[] = "/tmp/es-key-XXXXXX";
  const int fd = ::mkstemp(path);  // mode 0600
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "0123456789abcdef0123\n";
  auto key = read_hash_key(path);
  ASSERT_TRUE(key.ok()) << key.status().to_string();
  EXPECT_EQ(*key, "0123456789abcdef0123");  // the trailing newline is not part of it
  std::ofstream(path) << "too short\n";
  auto shorter = read_hash_key(path);
  ASSERT_FALSE(shorter.ok());
  EXPECT_NE(shorter.status().message().find("9 bytes, at least 16 needed"), std::string::npos);
  std::ofstream(path) << "0123456789abcdef0123\n";
  ASSERT_EQ(::chmod(path, 0644), 0);
  auto world = read_hash_key(path);
  ASSERT_FALSE(world.ok());
  EXPECT_NE(world.status().message().find("readable by every user"), std::string::npos);
  std::remove(path);
  EXPECT_EQ(read_hash_key(path).status().code(), StatusCode::kNotFound);
}

TEST(EdgeProcessorTest, FiltersDropTheFirstMatchAndCountByName) {
  ProcessingConfig c;
  c.filters = {FilterSpec{.name = "debug", .match = "debug_*"},
               FilterSpec{.name = "cold", .match = "temp*", .where = "value < -40"},
               FilterSpec{.name = "site9", .match = "*", .where = "site == \"s9\""}};
  auto p = make(c);
  ReadingBuffer buf;
  fill(buf, {reading("d1", "debug_loop", 1), reading("d1", "temperature", -50),
             reading("d1", "temperature", 20), reading("d1", "debug_x", 2, {{"site", "s9"}}),
             reading("d1", "hum", 3, {{"site", "s9"}}), reading("d1", "hum", 4)});
  p->process(buf);
  ASSERT_EQ(buf.size(), 2u);
  EXPECT_EQ(buf[0].value, 20);
  EXPECT_EQ(buf[1].value, 4);
  const EdgeProcessorStats s = p->stats();
  EXPECT_EQ(s.filtered, 4u);
  using Counts = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(s.filtered_by, (Counts{{"debug", 2}, {"cold", 1}, {"site9", 1}}));
}

TEST(EdgeProcessorTest, StagesRunInOrder) {
  // Enrichment adds `zone` and `operator`; privacy drops `operator` and hashes `mac` (from the
  // registry too); the filter sees the enriched, protected reading.
  ProcessingConfig c;
  c.privacy.drop_tags = {"operator"};
  c.privacy.hash_tags = {"mac"};
  c.filters = {FilterSpec{.name = "north", .match = "*", .where = "zone == \"north\""}};
  auto p = make(c, registry("device,zone,operator,mac\nd1,north,alice,m1\nd2,south,bob,m2\n"));
  ReadingBuffer buf;
  fill(buf, {reading("d1", "temp", 1), reading("d2", "temp", 2)});
  p->process(buf);
  ASSERT_EQ(buf.size(), 1u);
  const auto t = tags(buf[0]);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.at("zone"), "south");
  EXPECT_EQ(t.at("mac"), TagHasher::create(std::string(kKey))->hash("m2"));
  EXPECT_EQ(p->stats().filtered, 1u);
}

TEST(EdgeProcessorTest, InheritCountsCarriesCountersAcrossAReplacement) {
  ProcessingConfig c;
  c.filters = {FilterSpec{.name = "a", .match = "a"}, FilterSpec{.name = "b", .match = "b"}};
  auto old = make(c);
  ReadingBuffer buf;
  fill(buf,
       {reading("d", "a", 1), reading("d", "b", 1), reading("d", "b", 1), reading("d", "c", 1)});
  old->process(buf);
  ProcessingConfig c2;
  c2.filters = {FilterSpec{.name = "b", .match = "b"}, FilterSpec{.name = "c", .match = "c"}};
  auto fresh = make(c2);
  fresh->inherit_counts(*old);
  fill(buf, {reading("d", "b", 1), reading("d", "c", 1)});
  fresh->process(buf);
  const EdgeProcessorStats s = fresh->stats();
  EXPECT_EQ(s.readings, 6u);
  EXPECT_EQ(s.passed, 1u);
  EXPECT_EQ(s.filtered, 5u);
  using Counts = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(s.filtered_by, (Counts{{"b", 3}, {"c", 1}, {"a", 1}}));
}

TEST(EdgeProcessorTest, CreateRefusesBadSettings) {
  auto err = [](const ProcessingConfig& c, std::string key = std::string(kKey)) {
    auto p = EdgeProcessor::create(c, std::nullopt, std::move(key));
    EXPECT_FALSE(p.ok());
    return p.ok() ? std::string() : p.status().message();
  };
  ProcessingConfig c;
  c.privacy.drop_tags = {"device"};
  EXPECT_NE(err(c).find("'device' is the device id"), std::string::npos);
  c = {};
  c.privacy.drop_tags = {"a"};
  c.privacy.hash_tags = {"a"};
  EXPECT_NE(err(c).find("tag 'a' is listed twice"), std::string::npos);
  c = {};
  c.privacy.hash_tags = {"mac"};
  EXPECT_NE(err(c, "short").find("at least 16"), std::string::npos);
  c = {};
  c.filters = {FilterSpec{.name = "f", .where = "value >"}};
  EXPECT_EQ(err(c), "filter 'f' where: column 8: expected a value after '>'");
  c.filters = {FilterSpec{.name = "f"}, FilterSpec{.name = "f"}};
  EXPECT_EQ(err(c), "filter 'f': the name is used twice");
  c = {};
  c.filters.resize(65, FilterSpec{.name = "x"});
  EXPECT_NE(err(c).find("at most 64"), std::string::npos);
  // From files: the registry's errors name the section, the file and the line.
  c = {};
  c.enrich.registry = "/nonexistent/devices.csv";
  auto p = EdgeProcessor::create(c);
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(p.status().message().rfind("[enrich] registry: /nonexistent/devices.csv", 0), 0u);
  c = {};
  c.privacy.hash_tags = {"mac"};
  c.privacy.hash_key_file = "/nonexistent/key";
  EXPECT_EQ(EdgeProcessor::create(c).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace edgesketch::agent
