// udp_input over real UDP on loopback: each format, the error port, the kernel's drops counted to
// the datagram, and logger's own datagrams.
#include <doctest/doctest.h>

#include "udp_input/udp_input.hpp"

#include "common/syslog/input_testing.hpp"
#include "support/free_port.hpp"

using namespace weir;
using namespace weir::testing::syslog;
using weir::testing::wait_until;
using namespace std::chrono_literals;

namespace {

using UdpRunning = Running<sdk::Input>;

std::string config(std::uint16_t port, const std::string& extra = "") {
  return R"({"listen": "127.0.0.1:)" + std::to_string(port) + "\"" + extra + "}";
}

}  // namespace

TEST_CASE("config: listen is required and host:port; receive_buffer within range; unknown fields") {
  auto p = testing::parse_config("udp_input", R"({})");
  CHECK(testing::has_diag(p.diags, "missing_field", "/components/0/config/listen"));
  p = testing::parse_config("udp_input", R"({"listen": "514"})");
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/listen"));
  p = testing::parse_config("udp_input", R"({"listen": "0.0.0.0:514", "receive_buffer": "1KiB"})");
  CHECK(testing::has_diag(p.diags, "out_of_range", "/components/0/config/receive_buffer"));
  p = testing::parse_config("udp_input", R"({"listen": "0.0.0.0:514", "fromat": "json"})");
  CHECK(testing::has_diag(p.diags, "unknown_field", "/components/0/config/fromat"));
  p = testing::parse_config("udp_input", R"({"listen": "0.0.0.0:514", "format": "xml"})");
  CHECK(!p.diags.items().empty());
}

TEST_CASE("a port taken fails start with the reason") {
  const auto port = testing::free_port();
  UdpRunning first("udp_input", config(port));
  auto p = testing::parse_config("udp_input", config(port));
  auto second = testing::create<sdk::Input>(p);
  const auto st = second->start();
  CHECK_FALSE(st.is_ok());
  CHECK(st.error().find("cannot listen on 127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("format json: each datagram one record; invalid JSON to error with the reason and the sender") {
  const auto port = testing::free_port();
  UdpRunning in("udp_input", config(port, R"(, "format": "json", "sender_field": "from")"));
  Socket s(SOCK_DGRAM, port);
  s.send(R"({"t": 21.5})");
  s.send(R"({"t": )");
  s.send(R"([1, 2])");
  REQUIRE(in.wait_count(3));
  in.sink.locked([&] {
    REQUIRE(in.sink.pushed.size() == 2);
    CHECK(boost::json::serialize(in.sink.pushed[0].value) == R"({"t":2.15E1,"from":")" + s.local() + "\"}");
    CHECK(boost::json::serialize(in.sink.pushed[1].value) == "[1,2]");  // not an object: no sender
    REQUIRE(in.sink.failed.size() == 1);
    CHECK(in.sink.failed[0].second.find("invalid JSON") != std::string::npos);
    CHECK(in.sink.failed[0].second.find("(from " + s.local() + ")") != std::string::npos);
    CHECK(in.sink.failed[0].first.value == boost::json::value(R"({"t": )"));
    return 0;
  });
  CHECK(testing::metric(*in.input, "datagrams_received") == 3);
  CHECK(testing::metric(*in.input, "datagrams_rejected") == 1);
}

TEST_CASE("format text and syslog: the message field; a malformed syslog line to error") {
  const auto port = testing::free_port();
  SUBCASE("text") {
    UdpRunning in("udp_input", config(port, R"(, "format": "text")"));
    Socket s(SOCK_DGRAM, port);
    s.send("plain line\n");
    s.send("caf\xE9");
    REQUIRE(in.wait_count(2));
    in.sink.locked([&] {
      REQUIRE(in.sink.pushed.size() == 1);
      CHECK(boost::json::serialize(in.sink.pushed[0].value) == R"({"message":"plain line"})");
      REQUIRE(in.sink.failed.size() == 1);
      CHECK(in.sink.failed[0].second.find("not UTF-8") != std::string::npos);
      return 0;
    });
  }
  SUBCASE("syslog") {
    UdpRunning in("udp_input", config(port));
    Socket s(SOCK_DGRAM, port);
    s.send("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n");
    s.send("Use the BFG!");
    REQUIRE(in.wait_count(2));
    in.sink.locked([&] {
      REQUIRE(in.sink.pushed.size() == 1);
      const auto& v = in.sink.pushed[0].value;
      CHECK(str(v, "hostname") == "mymachine");
      CHECK(str(v, "app_name") == "su");
      CHECK(v.as_object().at("facility") == 4);
      CHECK(v.as_object().at("severity") == 2);
      CHECK(str(v, "message") == "'su root' failed for lonvick on /dev/pts/8");
      REQUIRE(in.sink.failed.size() == 1);
      CHECK(in.sink.failed[0].second.find("no PRI") != std::string::npos);
      CHECK(in.sink.failed[0].first.value == boost::json::value("Use the BFG!"));
      return 0;
    });
  }
}

TEST_CASE("drops: while the flow holds pushes back, every datagram is either taken or counted dropped") {
  const auto port = testing::free_port();
  UdpRunning in("udp_input", config(port, R"(, "format": "text", "receive_buffer": "64KiB")"));
  in.sink.close_gate();
  Socket s(SOCK_DGRAM, port);
  constexpr std::size_t sent = 3000;
  const std::string pad(1000, 'x');
  for (std::size_t i = 0; i < sent; ++i) s.send(std::to_string(i) + " " + pad);
  REQUIRE(wait_until([&] { return in.sink.waiting.load() == 1; }, 10s));
  in.sink.open_gate();
  // The drops after the last datagram taken are read from /proc/net/udp (once a second).
  const bool all = wait_until(
      [&] {
        return testing::metric(*in.input, "datagrams_received") +
                   testing::metric(*in.input, "datagrams_dropped") ==
               static_cast<double>(sent);
      },
      20s);
  const auto received = testing::metric(*in.input, "datagrams_received");
  const auto dropped = testing::metric(*in.input, "datagrams_dropped");
  MESSAGE("sent " << sent << ", received " << received << ", dropped (counted) " << dropped
                  << ", receive buffer granted " << testing::metric(*in.input, "receive_buffer_bytes"));
  CHECK(all);
  CHECK(dropped > 0);
  CHECK(in.wait_count(static_cast<std::size_t>(received)));
  CHECK(in.sink.count() == static_cast<std::size_t>(received));
}

TEST_CASE("logger --udp, RFC 5424 and RFC 3164: its datagrams become records with every field") {
  const auto port = testing::free_port();
  UdpRunning in("udp_input", config(port, R"(, "sender_field": "sender")"));
  logger(port, "--udp --rfc5424 -t weir-test -p local3.warning --id=4242 --msgid ID47 'hello 5424'");
  logger(port, "--udp --rfc3164 -t weir-test -p user.notice --id=77 'hello 3164'");
  REQUIRE(in.wait_count(2));
  in.sink.locked([&] {
    REQUIRE(in.sink.failed.empty());
    REQUIRE(in.sink.pushed.size() == 2);
    const auto& a = in.sink.pushed[0].value.as_object();
    CHECK(a.at("protocol") == "rfc5424");
    CHECK(a.at("facility") == 19);
    CHECK(a.at("severity") == 4);
    CHECK(a.at("app_name") == "weir-test");
    CHECK(a.at("procid") == "4242");
    CHECK(a.at("msgid") == "ID47");
    CHECK(a.at("message") == "hello 5424");
    CHECK(a.at("structured_data").as_object().contains("timeQuality"));
    CHECK(a.at("timestamp").as_string().size() >= 20);
    CHECK(a.at("sender").as_string().starts_with("127.0.0.1:"));
    const auto& b = in.sink.pushed[1].value.as_object();
    CHECK(b.at("protocol") == "rfc3164");
    CHECK(b.at("facility") == 1);
    CHECK(b.at("severity") == 5);
    CHECK(b.at("app_name") == "weir-test");
    CHECK(b.at("procid") == "77");
    CHECK(b.at("message") == "hello 3164");
    CHECK(b.at("timestamp").as_string().size() == 15);
    CHECK(b.at("hostname").is_string());
    return 0;
  });
}
