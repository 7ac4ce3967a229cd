// RFC 3339 times as the collector's HTTP API and the agent's JSON time fields read them.
#include "edgesketch/common/rfc3339.h"

#include <gtest/gtest.h>

namespace edgesketch {
namespace {

TEST(Rfc3339Test, ZonesFractionsAndTheCivilCalendar) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("2023-11-14T22:13:20Z"), 1'700'000'000'000);
  EXPECT_EQ(parse_rfc3339_ms("2023-11-14T23:13:20.5+01:00"), 1'700'000'000'500);
  EXPECT_EQ(parse_rfc3339_ms("2023-11-14t22:13:20.0004z"), 1'700'000'000'000);
  EXPECT_EQ(parse_rfc3339_ms("2024-02-29T00:00:00-00:30"), 1'709'166'600'000);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11'017);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
}

TEST(Rfc3339Test, AnOffsetIsRequiredUnlessOptional) {
  // Tasmota's "Time": local time without a zone designator.
  EXPECT_FALSE(parse_rfc3339_ms("2026-12-07T14:00:00").has_value());
  EXPECT_EQ(parse_rfc3339_ms("2026-12-07T14:00:00", true), 1'796'652'000'000);
  EXPECT_EQ(parse_rfc3339_ms("2026-12-07T14:00:00.25", true), 1'796'652'000'250);
  EXPECT_EQ(parse_rfc3339_ms("2026-12-07T14:00:00Z", true), 1'796'652'000'000);
}

TEST(Rfc3339Test, RefusesWhatIsNotADateTime) {
  for (const char* bad :
       {"", "2023-11-14", "2023-11-14 22:13:20Z", "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2023-11-14T24:00:00Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20.1234567890Z",
        "2023-11-14T22:13:20+0100", "2023-11-14T22:13:20Zjunk", "0000-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parse_rfc3339_ms(bad, true).has_value()) << bad;
  }
}

}  // namespace
}  // namespace edgesketch
