#include "sdk/base/units.hpp"

#include <doctest/doctest.h>

#include <limits>

using namespace std::chrono_literals;
using weir::sdk::format_byte_size;
using weir::sdk::format_duration;
using weir::sdk::parse_byte_size;
using weir::sdk::parse_duration;
using weir::sdk::parse_rfc3339;

TEST_CASE("parse_duration accepts Go-style durations") {
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("30s") == 30s);
  CHECK(parse_duration("1m") == 1min);
  CHECK(parse_duration("72h") == 72h);
  CHECK(parse_duration("1h30m") == 90min);
  CHECK(parse_duration("250us") == 250us);
  CHECK(parse_duration("250\xC2\xB5s") == 250us);
  CHECK(parse_duration("7ns") == 7ns);
  CHECK(parse_duration("0") == 0ns);
  CHECK(parse_duration("0s") == 0ns);
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration(".5m") == 30s);
  CHECK(parse_duration("1.5h") == 90min);
  CHECK(parse_duration("0.000000001s") == 1ns);
  CHECK(parse_duration("1.0000000001s") == 1s);  // below a nanosecond: truncated
  CHECK(parse_duration("2h45m30.5s") == 2h + 45min + 30s + 500ms);
  // The largest representable value, and one nanosecond more.
  CHECK(parse_duration("9223372036854775807ns") ==
        std::chrono::nanoseconds{std::numeric_limits<std::int64_t>::max()});
  CHECK_FALSE(parse_duration("9223372036854775808ns"));
}

TEST_CASE("parse_duration rejects bad input with a reason") {
  std::string error;
  CHECK_FALSE(parse_duration("", &error));
  CHECK(error.find("empty") != std::string::npos);
  CHECK_FALSE(parse_duration("-5s", &error));
  CHECK(error.find("negative") != std::string::npos);
  CHECK_FALSE(parse_duration("10", &error));
  CHECK(error.find("missing unit") != std::string::npos);
  CHECK_FALSE(parse_duration("10d", &error));
  CHECK(error.find("unknown unit \"d\"") != std::string::npos);
  CHECK_FALSE(parse_duration("1h 30m", &error));
  CHECK_FALSE(parse_duration(" 1s", &error));
  CHECK_FALSE(parse_duration("s", &error));
  CHECK_FALSE(parse_duration("1.s.5", &error));
  CHECK_FALSE(parse_duration("3000000h", &error));
  CHECK(error.find("too large") != std::string::npos);
  CHECK_FALSE(parse_duration("99999999999999999999999s", &error));
  CHECK(error.find("too large") != std::string::npos);
  CHECK_FALSE(parse_duration("2562047h47m16.854775808s", &error));  // max + 1ns
  CHECK(parse_duration("2562047h47m16.854775807s") ==
        std::chrono::nanoseconds{std::numeric_limits<std::int64_t>::max()});
  CHECK_FALSE(parse_duration("1s", nullptr) == std::nullopt);
}

TEST_CASE("format_duration is short and round-trips") {
  CHECK(format_duration(0ns) == "0s");
  CHECK(format_duration(500ms) == "500ms");
  CHECK(format_duration(30s) == "30s");
  CHECK(format_duration(1min) == "1m");
  CHECK(format_duration(72h) == "72h");
  CHECK(format_duration(90min) == "1h30m");
  CHECK(format_duration(1h + 5s) == "1h5s");
  CHECK(format_duration(1min + 500ms) == "1m500ms");
  CHECK(format_duration(1500ms) == "1.5s");
  CHECK(format_duration(1250us) == "1.25ms");
  CHECK(format_duration(250us) == "250us");
  CHECK(format_duration(7ns) == "7ns");
  CHECK(format_duration(1s + 1ns) == "1.000000001s");
  CHECK(format_duration(-5s) == "-5s");
  const std::chrono::nanoseconds samples[] = {
      0ns,    1ns,
      999ns,  1us,
      1001ns, 1ms,
      1s,     61s,
      3601s,  59min + 59s + 999999999ns,
      72h,    std::chrono::nanoseconds{std::numeric_limits<std::int64_t>::max()}};
  for (auto d : samples) {
    CAPTURE(d.count());
    CHECK(parse_duration(format_duration(d)) == d);
  }
}

TEST_CASE("parse_byte_size") {
  CHECK(parse_byte_size("100") == 100u);
  CHECK(parse_byte_size("100B") == 100u);
  CHECK(parse_byte_size("100b") == 100u);
  CHECK(parse_byte_size("0") == 0u);
  CHECK(parse_byte_size("512KiB") == 512u * 1024);
  CHECK(parse_byte_size("64MiB") == 64u * 1024 * 1024);
  CHECK(parse_byte_size("64mib") == 64u * 1024 * 1024);
  CHECK(parse_byte_size("2GiB") == 2ull << 30);
  CHECK(parse_byte_size("1TiB") == 1ull << 40);
  CHECK(parse_byte_size("1KB") == 1000u);
  CHECK(parse_byte_size("1kb") == 1000u);
  CHECK(parse_byte_size("1GB") == 1000000000u);
  CHECK(parse_byte_size("3TB") == 3000000000000u);
  CHECK(parse_byte_size("1.5KiB") == 1536u);
  CHECK(parse_byte_size("0.5KB") == 500u);
  CHECK(parse_byte_size("2.50MB") == 2500000u);
  CHECK(parse_byte_size("16EiB") == std::nullopt);
  CHECK(parse_byte_size("18446744073709551615") == std::numeric_limits<std::uint64_t>::max());
  CHECK(parse_byte_size("16383PiB") == 16383ull << 50);

  std::string error;
  CHECK_FALSE(parse_byte_size("", &error));
  CHECK_FALSE(parse_byte_size("-1B", &error));
  CHECK(error.find("negative") != std::string::npos);
  CHECK_FALSE(parse_byte_size("1.5B", &error));
  CHECK(error.find("whole number of bytes") != std::string::npos);
  CHECK_FALSE(parse_byte_size("0.0001KiB", &error));
  CHECK_FALSE(parse_byte_size("10XB", &error));
  CHECK(error.find("unknown unit \"XB\"") != std::string::npos);
  CHECK_FALSE(parse_byte_size("64M", &error));
  CHECK(error.find("MiB (1024-based) or MB (1000-based)") != std::string::npos);
  CHECK_FALSE(parse_byte_size("18446744073709551616", &error));
  CHECK(error.find("too large") != std::string::npos);
  CHECK_FALSE(parse_byte_size("16384PiB", &error));
  CHECK(error.find("too large") != std::string::npos);
  CHECK_FALSE(parse_byte_size("64 MiB", &error));
  CHECK_FALSE(parse_byte_size("MiB", &error));
}

TEST_CASE("format_byte_size is short and round-trips") {
  CHECK(format_byte_size(0) == "0B");
  CHECK(format_byte_size(100) == "100B");
  CHECK(format_byte_size(1536) == "1536B");
  CHECK(format_byte_size(64ull << 20) == "64MiB");
  CHECK(format_byte_size(10ull << 20) == "10MiB");
  CHECK(format_byte_size(1000000000) == "1GB");
  CHECK(format_byte_size(1024000) == "1024KB");
  CHECK(format_byte_size(1024) == "1KiB");
  const std::uint64_t samples[] = {
      0,       1,       999,      1000,       1024,       1536,
      1 << 20, 1000000, 12345678, 1ull << 50, 5ull << 60, std::numeric_limits<std::uint64_t>::max()};
  for (auto b : samples) {
    CAPTURE(b);
    CHECK(parse_byte_size(format_byte_size(b)) == b);
  }
}

TEST_CASE("parse_rfc3339 reads RFC 3339 times to ms since the epoch") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_rfc3339("2023-11-14T22:13:20Z") == 1700000000000);
  CHECK(parse_rfc3339("2023-11-14t22:13:20.25z") == 1700000000250);
  CHECK(parse_rfc3339("2023-11-14 23:13:20.1009+01:00") == 1700000000100);  // fraction truncated to ms
  CHECK(parse_rfc3339("2023-11-14T21:43:20-00:30") == 1700000000000);
  CHECK(parse_rfc3339("1969-12-31T23:59:59.999Z") == -1);
  CHECK(parse_rfc3339("2024-02-29T00:00:00Z").has_value());  // a leap day
  for (const char* bad : {"2023-02-29T00:00:00Z", "2023-11-14T22:13:20", "2023-11-14T22:13:20Zjunk",
                          "2023-11-14T24:00:00Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+1:00",
                          "2023-11-14", "", "yesterday", "2023-13-01T00:00:00Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
}
