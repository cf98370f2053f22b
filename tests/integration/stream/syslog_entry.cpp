// Stream suite entry: syslog_input (TCP) → file_output. Producers send RFC 5424 messages over TCP,
// octet-counted and LF-framed by turns, one connection per produce() call, whose MSG is the
// record {"n": N}; a produce() is confirmed once the input closed the connection after the
// producer's end of stream, i.e. once it read every byte (TCP syslog has no acknowledgement of
// its own). The engine reaches nats-server through a TcpProxy: disrupt() cuts that link.
//
// Cases that do not fit TCP syslog's guarantee (components/syslog_input/README.md) are not run:
// sigkill (what the input read and the engine had not stored when it is killed is lost, and
// the sender cannot know: no application acknowledgement), and backpressure (its producers must
// finish while the consumer is away; a syslog sender is held back by TCP instead, which
// component_syslog_input's backpressure case shows). tests/integration/stream/meson.build
// excludes them for this entry.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "stream_suite.hpp"
#include "support/free_port.hpp"

namespace weir::testing::stream {

using namespace std::chrono_literals;

namespace {

class SyslogStream : public OneEngine {
 public:
  SyslogStream() : OneEngine("stream"), port_(free_port()) {
    proxy_ = std::make_unique<TcpProxy>("127.0.0.1", static_cast<std::uint16_t>(rig_.server().port()));
    rig_.route_engine_through(proxy_->port());
    rig_.write_flow("stream.json", R"({"version": 1, "name": "stream", "settings": {"ack_wait": "2s"},
      "components": [
        {"id": "in", "type": "syslog_input", "config": {"listen": "127.0.0.1:)" +
                                       std::to_string(port_) + R"(", "max_message": "1MiB"}},
        {"id": "sink", "type": "file_output", "inputs": ["in"], "config": {"path": ")" +
                                       rig_.dir() + R"(/out.ndjson", "max_size": 0}}]})");
  }

  void produce(std::uint64_t from, std::uint64_t to, std::size_t pad) override {
    const std::string padding = pad > 0 ? R"(, "pad": ")" + std::string(pad, 'x') + "\"" : "";
    std::string data;
    for (auto n = from; n < to; ++n) {
      const auto msg = "<134>1 - weir-test stream - - - {\"n\": " + std::to_string(n) + padding + "}";
      data += n % 2 == 0 ? std::to_string(msg.size()) + " " + msg : msg + "\n";
    }
    const auto deadline = std::chrono::steady_clock::now() + 180s;
    for (;;) {
      if (send_all(data)) return;
      // Refused: the engine not listening yet (starting, restarting). Nothing of it was read.
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "syslog_input not reachable within 180 s");
      std::this_thread::sleep_for(50ms);
    }
  }

  std::vector<std::int64_t> consumed() override {
    std::vector<std::int64_t> out;
    std::ifstream in(rig_.dir() + "/out.ndjson");
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // the last line while file_output is still at it
      boost::system::error_code ec;
      const auto v = boost::json::parse(line, ec);
      const auto* msg = !ec && v.is_object() ? v.get_object().if_contains("message") : nullptr;
      const auto inner = msg != nullptr && msg->is_string() ? boost::json::parse(msg->get_string(), ec)
                                                            : boost::json::value();
      const auto* n = !ec && inner.is_object() ? inner.get_object().if_contains("n") : nullptr;
      if (n == nullptr || !n->is_int64() || v.get_object().at("app_name") != "stream") {
        FAIL_CHECK("not a record of the producer: " << line.substr(0, 200));
        continue;
      }
      out.push_back(n->get_int64());
    }
    return out;
  }
  void disrupt() override { proxy_->cut(); }
  void away(bool gone) override { proxy_->set_stalled(gone); }
  std::string logs() override { return rig_.engine_log(); }

 private:
  // One connection: connect, write everything, end the stream, and wait until the input closes
  // its side (it has read every byte). False when the connection was refused.
  bool send_all(std::string_view data) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return false;
    }
    while (!data.empty()) {
      const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      REQUIRE_MESSAGE(n > 0, "send to syslog_input failed (errno " << errno << ")");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    ::shutdown(fd, SHUT_WR);
    char c;
    while (::recv(fd, &c, 1, 0) > 0) {
    }
    ::close(fd);
    return true;
  }

  std::uint16_t port_;
  std::unique_ptr<TcpProxy> proxy_;
};

}  // namespace

std::vector<Entry> stream_entries() {
  Traits t;
  t.name = "syslog";
  t.guarantee = Guarantee::at_least_once;
  t.disruption = "engine's NATS link cut (TcpProxy)";
  t.away = "not run: a syslog sender is held back by TCP (component_syslog_input backpressure case)";
  return {{t, [] { return std::make_unique<SyslogStream>(); }}};
}

}  // namespace weir::testing::stream
