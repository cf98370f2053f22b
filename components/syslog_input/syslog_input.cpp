#include "syslog_input/syslog_input.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <cerrno>
#include <cstring>
#include <list>
#include <vector>

#include "sdk/base/record_json.hpp"

namespace weir::components::syslog_input {

namespace {

using namespace std::chrono_literals;

// Bytes read from a connection per turn: every connection gets its turn before the next read.
constexpr std::size_t read_chunk = 64 * 1024;

struct Connection {
  int fd = -1;
  std::string peer;
  syslog::Framer framer;
};

// One thread (run()'s) accepts and reads every connection and pushes what it reads: while the
// sink blocks (the flow's publish window full), no socket is read, the kernel's buffers fill and
// TCP's flow control holds the senders back.
class SyslogInput final : public sdk::Input {
 public:
  SyslogInput(const Config& config, const sdk::Context& ctx)
      : config_(config), ctx_(ctx), decoder_(config.format, config.sender_field) {}
  ~SyslogInput() override { close_all(); }

  sdk::Status start() override {
    std::string error;
    listen_fd_ = syslog::listen_socket(
        config_.listen, SOCK_STREAM,
        [](int fd) {
          const int on = 1;
          ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        },
        error);
    if (listen_fd_ < 0) return sdk::Status::error(error);
    ctx_.log.info("listening on TCP {} (port {}), max_message {} bytes", config_.listen,
                  syslog::bound_port(listen_fd_), config_.max_message.bytes);
    return sdk::Status::ok();
  }

  void run(sdk::InputSink& sink) override {
    std::vector<pollfd> fds;
    std::vector<char> buf(read_chunk);
    while (!sink.stopping()) {
      fds.clear();
      fds.push_back({listen_fd_, POLLIN, 0});
      for (const auto& c : conns_) fds.push_back({c.fd, POLLIN, 0});
      const int rc = ::poll(fds.data(), fds.size(), 200);
      if (rc < 0 && errno != EINTR) {
        ctx_.log.error("poll: {}", std::strerror(errno));
        if (!sink.sleep_for(1s)) return;
        continue;
      }
      if (rc <= 0) continue;
      bool pushed = false;
      auto it = conns_.begin();
      for (std::size_t i = 1; i < fds.size(); ++i, ++it) {
        if (fds[i].revents == 0) continue;
        const auto n = ::read(it->fd, buf.data(), buf.size());
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n > 0) {
          bytes_ += static_cast<std::uint64_t>(n);
          it->framer.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
          for (auto e = it->framer.next(); e.kind != syslog::Framer::Event::none; e = it->framer.next()) {
            if (!take(sink, *it, e)) return;
            pushed = true;
          }
          continue;
        }
        // End of stream or an error: what is left, then the connection goes.
        if (n < 0) ctx_.log.info("connection from {}: {}", it->peer, std::strerror(errno));
        if (auto e = it->framer.finish(); e.kind != syslog::Framer::Event::none) {
          if (!take(sink, *it, e)) return;
          pushed = true;
        }
        ctx_.log.debug("connection from {} closed", it->peer);
        ::close(it->fd);
        it->fd = -1;
      }
      conns_.remove_if([](const Connection& c) { return c.fd < 0; });
      open_ = conns_.size();
      if (pushed) sink.flush();
      if ((fds[0].revents & POLLIN) != 0) accept_all();
    }
  }

  void stop() override { close_all(); }

  void metrics(std::vector<sdk::Metric>& out) const override {
    out.push_back({"connections", static_cast<double>(open_.load()), true, "open connections"});
    out.push_back(
        {"connections_accepted", static_cast<double>(accepted_.load()), false, "connections taken"});
    out.push_back({"connections_refused", static_cast<double>(refused_.load()), false,
                   "connections closed at once: max_connections were open"});
    out.push_back(
        {"bytes_received", static_cast<double>(bytes_.load()), false, "bytes read from connections"});
    out.push_back({"messages_received", static_cast<double>(messages_.load()), false, "messages framed"});
    out.push_back({"messages_rejected", static_cast<double>(rejected_.load()), false,
                   "messages sent to the error port (malformed, oversized, unframable)"});
  }

 private:
  void accept_all() {
    for (;;) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      const int fd =
          ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&from), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
          ctx_.log.warn("accept: {}", std::strerror(errno));
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      const auto peer = syslog::address_text(from);
      if (conns_.size() >= static_cast<std::size_t>(config_.max_connections)) {
        ++refused_;
        ctx_.log.warn("connection from {} refused: max_connections ({}) are open", peer,
                      config_.max_connections);
        ::close(fd);
        continue;
      }
      ++accepted_;
      ctx_.log.debug("connection from {}", peer);
      conns_.push_back({fd, peer, syslog::Framer(config_.framing, config_.max_message.bytes)});
      open_ = conns_.size();
    }
  }

  bool take(sdk::InputSink& sink, const Connection& c, const syslog::Framer::Event& e) {
    ++messages_;
    bool ok = false;
    if (!decoder_.deliver(sink, e.data, c.peer,
                          e.kind == syslog::Framer::Event::frame ? std::string() : e.reason, ok))
      ++rejected_;
    return ok;
  }

  void close_all() {
    for (auto& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    conns_.clear();
    open_ = 0;
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }

  Config config_;
  sdk::Context ctx_;
  syslog::Decoder decoder_;
  int listen_fd_ = -1;
  std::list<Connection> conns_;
  std::atomic<std::uint64_t> open_{0}, accepted_{0}, refused_{0}, bytes_{0}, messages_{0}, rejected_{0};
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"syslog_input"};
  s.summary("Takes syslog over TCP (RFC 6587: octet-counted or LF-framed), several connections at once.")
      .description(
          "A TCP listener of its own. Each message (framed by octet counting, \"LEN SP MSG\", or ended by "
          "LF; "
          "told apart per message) is one record, parsed as RFC 5424 or RFC 3164 (or JSON, or text). While "
          "the flow's stream is full the sockets are not read, so TCP holds the senders back. TCP syslog has "
          "no acknowledgement of its own: what was received and not yet stored when the engine stops or "
          "crashes is lost (README).");
  syslog::add_listen_fields(s, "0.0.0.0:6514", "message");
  s.field(
       "framing", &Config::framing,
       field()
           .doc("How messages are delimited on a connection (RFC 6587).")
           .option("auto", syslog::Framing::auto_detect,
                   "Per message: one starting with a digit is octet-counted, any other ends at LF.")
           .option("octet_counted", syslog::Framing::octet_counted, "\"LEN SP MSG\" only (RFC 6587 3.4.1).")
           .option("lf", syslog::Framing::lf, "Each message ends at LF (a CR before it is dropped)."))
      .field(
          "max_message", &Config::max_message,
          field()
              .size_range(256, 16ull << 20)
              .doc("Largest message; a larger one goes to `error` with its first 1024 bytes and the reading "
                   "resumes at the next frame (octet-counted: after its length; LF: after the next LF)."))
      .field(
          "max_connections", &Config::max_connections,
          field().range(1, 10000).advanced().doc("Open connections; a connection beyond is closed at once."))
      .lint([](const Config& c, sdk::Lint& lint) { syslog::lint_listen(c, lint); })
      .output("out", "One record per message.")
      .example(boost::json::parse(R"({"id": "syslog", "type": "syslog_input",
          "config": {"listen": "0.0.0.0:6514", "sender_field": "sender"}})"))
      .implementation<SyslogInput>();
  return s;
}

}  // namespace weir::components::syslog_input
