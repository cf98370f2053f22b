#include "bus/msg.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using weir::bus::Msg;

TEST_CASE("Msg::create copies subject and payload, including binary data") {
  const std::string payload("a\0b", 3);
  auto m = Msg::create("weir.f.c.out", payload);
  REQUIRE(m.ok());
  CHECK(m->subject() == "weir.f.c.out");
  CHECK(m->size() == 3);
  CHECK(m->view() == payload);
}

TEST_CASE("headers can be set and read back; the msg id is a header") {
  auto m = Msg::create("s", "x");
  REQUIRE(m.ok());
  CHECK_FALSE(m->header("Missing").has_value());
  CHECK(m->msg_id().empty());
  REQUIRE(m->set_header("Nats-Msg-Id", "batch-7").ok());
  REQUIRE(m->set_header("Weir-Origin", "o1").ok());
  CHECK(m->msg_id() == "batch-7");
  CHECK(*m->header("Weir-Origin") == "o1");
}

TEST_CASE("metadata of a message that did not come from JetStream is an error") {
  auto m = Msg::create("s", "x");
  REQUIRE(m.ok());
  CHECK_FALSE(m->metadata().ok());
}

TEST_CASE("Msg is move-only and releases ownership on move") {
  auto m = Msg::create("s", "x");
  REQUIRE(m.ok());
  Msg a = std::move(m).value();
  Msg b = std::move(a);
  CHECK_FALSE(static_cast<bool>(a));  // NOLINT(bugprone-use-after-move): checking the moved-from state
  CHECK(b.subject() == "s");
  std::vector<Msg> v;
  v.push_back(std::move(b));
  CHECK(v.front().size() == 1);
}

TEST_CASE("an empty Msg answers safely") {
  Msg m;
  CHECK(m.subject().empty());
  CHECK(m.size() == 0);
  CHECK_FALSE(m.set_header("a", "b").ok());
}
