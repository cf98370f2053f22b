// syslog_input over real TCP on loopback: both framings on several connections at once,
// oversized and malformed messages to error with the reading resumed, backpressure down to the
// sender's socket, and logger's own connections.
#include <doctest/doctest.h>

#include "syslog_input/syslog_input.hpp"

#include <fcntl.h>
#include <poll.h>

#include <map>
#include <set>

#include "common/syslog/input_testing.hpp"
#include "support/free_port.hpp"

using namespace weir;
using namespace weir::testing::syslog;
using weir::testing::wait_until;
using namespace std::chrono_literals;

namespace {

using TcpRunning = Running<sdk::Input>;

std::string config(std::uint16_t port, const std::string& extra = "") {
  return R"({"listen": "127.0.0.1:)" + std::to_string(port) + "\"" + extra + "}";
}

std::string counted(const std::string& msg) {
  return std::to_string(msg.size()) + " " + msg;
}

}  // namespace

TEST_CASE("config: listen is required; max_message within range; framing options") {
  auto p = testing::parse_config("syslog_input", R"({})");
  CHECK(testing::has_diag(p.diags, "missing_field", "/components/0/config/listen"));
  p = testing::parse_config("syslog_input", R"({"listen": "0.0.0.0:x"})");
  CHECK(testing::has_diag(p.diags, "invalid_value", "/components/0/config/listen"));
  p = testing::parse_config("syslog_input", R"({"listen": "0.0.0.0:6514", "max_message": "100B"})");
  CHECK(testing::has_diag(p.diags, "out_of_range", "/components/0/config/max_message"));
  p = testing::parse_config("syslog_input", R"({"listen": "0.0.0.0:6514", "max_conections": 3})");
  CHECK(testing::has_diag(p.diags, "unknown_field", "/components/0/config/max_conections"));
  p = testing::parse_config("syslog_input", R"({"listen": "0.0.0.0:6514", "framing": "lf"})");
  CHECK(p.diags.items().empty());
}

TEST_CASE("several connections at once, octet-counted and LF-framed, each in its order") {
  const auto port = testing::free_port();
  TcpRunning in("syslog_input", config(port, R"(, "sender_field": "sender")"));
  constexpr int per = 200;
  std::vector<std::unique_ptr<Socket>> conns;
  for (int c = 0; c < 3; ++c) conns.push_back(std::make_unique<Socket>(SOCK_STREAM, port));
  // Interleaved, each message sent in two writes so that frames cross reads.
  for (int i = 0; i < per; ++i)
    for (int c = 0; c < 3; ++c) {
      const auto msg = "<13>1 - h app" + std::to_string(c) + " - - - n=" + std::to_string(i);
      const auto framed = c == 1 ? msg + "\n" : counted(msg);
      conns[c]->send(framed.substr(0, framed.size() / 2));
      conns[c]->send(framed.substr(framed.size() / 2));
    }
  REQUIRE(in.wait_count(3 * per));
  in.sink.locked([&] {
    CHECK(in.sink.failed.empty());
    std::map<std::string, int> next;
    std::set<std::string> senders;
    for (const auto& r : in.sink.pushed) {
      const auto app = str(r.value, "app_name");
      CHECK(str(r.value, "message") == "n=" + std::to_string(next[app]++));
      senders.insert(str(r.value, "sender"));
    }
    CHECK(next.size() == 3);
    for (const auto& [app, n] : next) CHECK(n == per);
    CHECK(senders.size() == 3);
    return 0;
  });
  CHECK(testing::metric(*in.input, "connections") == 3);
  conns.clear();
  CHECK(wait_until([&] { return testing::metric(*in.input, "connections") == 0; }, 10s));
  CHECK(testing::metric(*in.input, "connections_accepted") == 3);
}

TEST_CASE("an oversized or malformed message goes to error with its first bytes; the next one is read") {
  const auto port = testing::free_port();
  TcpRunning in("syslog_input", config(port, R"(, "max_message": "2KiB")"));
  Socket s(SOCK_STREAM, port);
  const std::string big = "<13>1 - h a - - - " + std::string(5000, 'z');
  s.send(counted(big) + counted("<13>1 - h a - - - after counted"));
  s.send(big + "\n<13>1 - h a - - - after lf\n");
  s.send("<13>1 2003-13-11T22:14:15Z h a - - - bad month\n");
  s.send("12x not a count\n<13>1 - h a - - - after resync\n");
  REQUIRE(in.wait_count(7));
  in.sink.locked([&] {
    REQUIRE(in.sink.pushed.size() == 3);
    CHECK(str(in.sink.pushed[0].value, "message") == "after counted");
    CHECK(str(in.sink.pushed[1].value, "message") == "after lf");
    CHECK(str(in.sink.pushed[2].value, "message") == "after resync");
    REQUIRE(in.sink.failed.size() == 4);
    CHECK(in.sink.failed[0].second.find("message of 5018 bytes, more than max_message (2048)") !=
          std::string::npos);
    CHECK(in.sink.failed[0].first.value == boost::json::value(big.substr(0, 1024)));
    CHECK(in.sink.failed[1].second.find("line of more than max_message (2048) bytes") != std::string::npos);
    CHECK(in.sink.failed[1].first.value == boost::json::value(big.substr(0, 1024)));
    CHECK(in.sink.failed[2].second.find("bad TIMESTAMP") != std::string::npos);
    CHECK(in.sink.failed[3].second.find("bad octet-counted frame") != std::string::npos);
    return 0;
  });
  CHECK(testing::metric(*in.input, "messages_rejected") == 4);
}

TEST_CASE(
    "backpressure: while the flow holds pushes back the socket is not read, the sender blocks; "
    "nothing is lost once it moves") {
  const auto port = testing::free_port();
  TcpRunning in("syslog_input", config(port, R"(, "format": "text", "framing": "lf")"));
  in.sink.close_gate();
  Socket s(SOCK_STREAM, port);
  ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) | O_NONBLOCK);
  const std::string pad(200, 'p');
  std::size_t sent = 0;
  std::string pending;
  bool blocked = false;
  // Up to 256 MiB: far beyond what the kernel buffers of a loopback connection take.
  for (std::size_t bytes = 0; bytes < (256u << 20) && !blocked;) {
    if (pending.empty()) pending = std::to_string(sent++) + " " + pad + "\n";
    const auto n = ::send(s.fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n < 0) {
      REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
      // Not writable for a while: the receiver's window is closed.
      pollfd p{s.fd, POLLOUT, 0};
      blocked = ::poll(&p, 1, 1000) == 0;
      continue;
    }
    bytes += static_cast<std::size_t>(n);
    pending.erase(0, static_cast<std::size_t>(n));
  }
  MESSAGE("the sender blocked after " << sent << " messages (" << testing::metric(*in.input, "bytes_received")
                                      << " bytes read by the input)");
  CHECK(blocked);
  CHECK(in.sink.count() == 0);
  in.sink.open_gate();
  // The rest of the last message, then everything arrives.
  ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) & ~O_NONBLOCK);
  if (!pending.empty()) s.send(pending);
  REQUIRE(in.wait_count(sent));
  in.sink.locked([&] {
    CHECK(in.sink.failed.empty());
    REQUIRE(in.sink.pushed.size() == sent);
    for (std::size_t i = 0; i < sent; ++i)
      CHECK(str(in.sink.pushed[i].value, "message") == std::to_string(i) + " " + pad);
    return 0;
  });
}

TEST_CASE("logger --tcp: octet-counted RFC 5424 and LF-framed RFC 3164 become records with every field") {
  const auto port = testing::free_port();
  TcpRunning in("syslog_input", config(port));
  logger(port,
         "--tcp --octet-count --rfc5424 -t weir-test -p auth.err --id=4242 --msgid ID47 'hello octets'");
  logger(port, "--tcp --rfc3164 -t cron -p daemon.info --id=77 'hello lf'");
  logger(port, "--tcp --rfc5424 -t lf5424 --sd-id x@32473 --sd-param 'k=\"v \\\"q\\\"\"' 'hello lf 5424'");
  REQUIRE(in.wait_count(3));
  in.sink.locked([&] {
    REQUIRE(in.sink.failed.empty());
    REQUIRE(in.sink.pushed.size() == 3);
    const auto& a = in.sink.pushed[0].value.as_object();
    CHECK(a.at("protocol") == "rfc5424");
    CHECK(a.at("facility") == 4);
    CHECK(a.at("severity") == 3);
    CHECK(a.at("app_name") == "weir-test");
    CHECK(a.at("procid") == "4242");
    CHECK(a.at("msgid") == "ID47");
    CHECK(a.at("message") == "hello octets");
    const auto& b = in.sink.pushed[1].value.as_object();
    CHECK(b.at("protocol") == "rfc3164");
    CHECK(b.at("facility") == 3);
    CHECK(b.at("severity") == 6);
    CHECK(b.at("app_name") == "cron");
    CHECK(b.at("procid") == "77");
    CHECK(b.at("message") == "hello lf");
    const auto& c = in.sink.pushed[2].value.as_object();
    CHECK(c.at("app_name") == "lf5424");
    CHECK(boost::json::serialize(c.at("structured_data").at("x@32473")) == R"({"k":"v \"q\""})");
    CHECK(c.at("message") == "hello lf 5424");
    return 0;
  });
}
