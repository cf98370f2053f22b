// The text forms and the bookkeeping behind exact replay detection (runtime/positions.hpp); the
// recovery against a real stream is tested end to end in tests/integration/engine.
#include <doctest/doctest.h>

#include "runtime/positions.hpp"

using namespace weir::runtime;

TEST_CASE("a source mark covers what was handled in order, and ranges found at recovery") {
  SourceMark m;
  CHECK_FALSE(m.covers(1));
  m.add(1, 10, true);
  CHECK(m.covers(1));
  CHECK(m.covers(10));
  CHECK_FALSE(m.covers(11));
  // A recovery found 20..25 and 30..30 stored, but not 11..19: those come again and are new.
  m.add(20, 25, false);
  m.add(30, 30, false);
  CHECK_FALSE(m.covers(11));
  CHECK_FALSE(m.covers(19));
  CHECK(m.covers(22));
  CHECK_FALSE(m.covers(26));
  CHECK(m.covers(30));
  // Handling 11..19 in order and then 26: everything up to 26 is handled; 30 is still known.
  m.add(11, 19, true);
  m.add(26, 26, true);
  CHECK(m.high == 26);
  CHECK(m.ranges.size() == 1);
  CHECK(m.covers(30));
  CHECK_FALSE(m.covers(27));
  m.add(31, 40, true);
  CHECK(m.ranges.empty());
  CHECK(m.covers(27));  // handled in order past it: 27..29 were never delivered, none will be
}

TEST_CASE("a range found at recovery below the high changes nothing") {
  SourceMark m;
  m.add(1, 100, true);
  m.add(50, 60, false);
  CHECK(m.ranges.empty());
  m.add(90, 120, false);
  REQUIRE(m.ranges.size() == 1);
  CHECK(m.ranges[0].first == 101);
  CHECK(m.ranges[0].second == 120);
}

TEST_CASE("position header values round-trip and bad ones are refused") {
  std::string key;
  std::uint64_t lo = 0, hi = 0;
  CHECK(parse_position(position_value("nats:SRC/weir_f_in@0000018c", 7, 9), key, lo, hi));
  CHECK(key == "nats:SRC/weir_f_in@0000018c");
  CHECK(lo == 7);
  CHECK(hi == 9);
  CHECK_FALSE(parse_position("key 9 7", key, lo, hi));
  CHECK_FALSE(parse_position("key 7", key, lo, hi));
  CHECK_FALSE(parse_position("key x 9", key, lo, hi));
  CHECK_FALSE(parse_position("", key, lo, hi));
  CHECK_FALSE(parse_position("a b 1 2", key, lo, hi));
}

TEST_CASE("checkpoints round-trip, ranges included") {
  MarkMap marks;
  marks[{"weir.f.in.out", "src-a"}].add(1, 500, true);
  marks[{"weir.f.in.out", "src-b"}].add(1, 7, true);
  marks[{"weir.f.in.out", "src-b"}].add(9, 12, false);
  marks[{"weir.f.in.error", "src-a"}].add(3, 3, true);
  const auto body = encode_checkpoint(4242, marks);
  std::uint64_t through = 0;
  MarkMap back;
  REQUIRE(decode_checkpoint(body, through, back));
  CHECK(through == 4242);
  REQUIRE(back.size() == 3);
  const auto& b = back[{"weir.f.in.out", "src-b"}];
  CHECK(b.high == 7);
  REQUIRE(b.ranges.size() == 1);
  CHECK(b.ranges[0] == std::pair<std::uint64_t, std::uint64_t>{9, 12});
  CHECK(back[{"weir.f.in.out", "src-a"}].high == 500);
  CHECK(back[{"weir.f.in.error", "src-a"}].high == 3);
}

TEST_CASE("a damaged checkpoint is refused, not half read") {
  std::uint64_t through = 0;
  MarkMap marks;
  CHECK_FALSE(decode_checkpoint("", through, marks));
  CHECK_FALSE(decode_checkpoint("through x\n", through, marks));
  CHECK_FALSE(decode_checkpoint("through 1\nsubject key\n", through, marks));
  CHECK_FALSE(decode_checkpoint("through 1\nsubject key 5 9-3\n", through, marks));
  CHECK_FALSE(decode_checkpoint("through 1\nsubject key 5 9\n", through, marks));
  CHECK(decode_checkpoint("through 1\n", through, marks));
}

TEST_CASE("a position log covers per subject, or on any subject for an input") {
  PositionLog log("f", "WEIR_F", "input__in", {"weir.f.in.out", "weir.f.in.error"});
  CHECK(log.hold() == 1);  // not recovered: the janitor purges nothing
  (void)log.publishing(0, "src", 1, 10);
  (void)log.publishing(1, "src", 11, 11);
  CHECK_FALSE(log.covers_any("src", 5));  // published, not yet acknowledged
  // A stage asks per subject: what it published and waits for counts (a message handed out
  // twice in one fetch after a broker restart is published once).
  CHECK(log.covers(0, "src", 5));
  CHECK_FALSE(log.covers(1, "src", 5));
  CHECK_FALSE(log.covers(0, "other", 5));
  log.settled(77);
  CHECK(log.covers(0, "src", 10));
  CHECK(log.covers(1, "src", 11));
  CHECK_FALSE(log.covers(0, "src", 11));
  CHECK(log.covers_any("src", 11));
  CHECK_FALSE(log.covers_any("src", 12));
  CHECK_FALSE(log.covers_any("other", 1));
}

TEST_CASE("publishes given up on are not claimed by a later settle, and the janitor keeps holding") {
  // An input stage that stops past its drain deadline gives up on publishes without a PubAck;
  // its flush() afterwards may settle later ones: the given-up positions must not ride along, or
  // the source's redelivery of them would be dropped as a replay (lost).
  PositionLog log("f", "WEIR_F", "input__in", {"weir.f.in.out"});
  (void)log.publishing(0, "src", 1, 10);
  log.settled(5);
  CHECK(log.covers_any("src", 10));
  (void)log.publishing(0, "src", 11, 20);  // no PubAck: given up
  log.abandon();
  CHECK_FALSE(log.covers(0, "src", 15));
  (void)log.publishing(0, "src", 21, 30);
  log.settled(7);
  CHECK_FALSE(log.covers_any("src", 15));  // the gap stays a gap
  CHECK(log.covers_any("src", 21));
  CHECK(log.covers_any("src", 30));
}

TEST_CASE("a source forgotten loses its marks; the others keep theirs") {
  PositionLog log("f", "WEIR_F", "input__in", {"weir.f.in.out", "weir.f.in.error"});
  (void)log.publishing(0, "file:e:1", 1, 10);
  (void)log.publishing(1, "file:e:1", 11, 11);
  (void)log.publishing(0, "file:e:2", 1, 5);
  log.settled(3);
  CHECK(log.covers_any("file:e:1", 11));
  log.forget("file:e:1");
  CHECK_FALSE(log.covers_any("file:e:1", 1));
  CHECK_FALSE(log.covers(1, "file:e:1", 11));
  CHECK(log.covers_any("file:e:2", 5));
  log.forget("no such source");
  CHECK(log.covers_any("file:e:2", 5));
}
