#include "udp_input/udp_input.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "sdk/base/record_json.hpp"

namespace weir::components::udp_input {

long long proc_udp_drops(unsigned long inode) {
  // "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops"
  for (const char* path : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // the heading
    while (std::getline(in, line)) {
      std::istringstream l(line);
      std::string f[13];
      for (auto& s : f) l >> s;
      if (!l.fail() && f[9] == std::to_string(inode)) return std::stoll(f[12]);
    }
  }
  return -1;
}

namespace {

using namespace std::chrono_literals;

// The largest UDP payload (65,535 less the IPv4 and UDP headers is 65,507; IPv6 without
// jumbograms 65,527): the buffer takes any datagram whole.
constexpr std::size_t datagram_max = 65536;
// Datagrams taken per wake-up before a flush, so that a steady stream still gets flushed.
constexpr int burst = 1024;

class UdpInput final : public sdk::Input {
 public:
  UdpInput(const Config& config, const sdk::Context& ctx)
      : config_(config), ctx_(ctx), decoder_(config.format, config.sender_field) {}
  ~UdpInput() override { close(); }

  sdk::Status start() override {
    std::string error;
    // No SO_REUSEADDR: Linux would let a second UDP socket share the port and split the datagrams.
    fd_ = syslog::listen_socket(
        config_.listen, SOCK_DGRAM, [this](int fd) { set_options(fd); }, error);
    if (fd_ < 0) return sdk::Status::error(error);
    struct stat st {};
    if (::fstat(fd_, &st) == 0) inode_ = st.st_ino;
    port_ = syslog::bound_port(fd_);
    ctx_.log.info("listening on UDP {} (port {}, receive buffer {} bytes)", config_.listen, port_,
                  receive_buffer_);
    return sdk::Status::ok();
  }

  void run(sdk::InputSink& sink) override {
    std::vector<char> buf(datagram_max);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint32_t))];
    auto next_check = std::chrono::steady_clock::now();
    while (!sink.stopping()) {
      pollfd p{fd_, POLLIN, 0};
      const int rc = ::poll(&p, 1, 200);
      if (rc < 0 && errno != EINTR) {
        ctx_.log.error("poll: {}", std::strerror(errno));
        if (!sink.sleep_for(1s)) return;
      }
      int taken = 0;
      for (; rc > 0 && taken < burst; ++taken) {
        sockaddr_storage from{};
        iovec iov{buf.data(), buf.size()};
        msghdr m{};
        m.msg_name = &from;
        m.msg_namelen = sizeof from;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        const auto n = ::recvmsg(fd_, &m, MSG_DONTWAIT);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) ctx_.log.warn("recvmsg: {}", std::strerror(errno));
          break;
        }
        for (auto* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c))
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
            std::uint32_t v = 0;
            std::memcpy(&v, CMSG_DATA(c), sizeof v);
            note_drops(v);
          }
        ++received_;
        if (!take(sink, std::string_view(buf.data(), static_cast<std::size_t>(n)), from,
                  (m.msg_flags & MSG_TRUNC) != 0))
          return;
      }
      if (taken > 0) sink.flush();
      // Drops after the last datagram come with no datagram: the kernel's table has them.
      if (const auto now = std::chrono::steady_clock::now(); now >= next_check) {
        next_check = now + 1s;
        if (const auto d = proc_udp_drops(inode_); d >= 0) note_drops(static_cast<std::uint64_t>(d));
        report_drops();
      }
    }
  }

  void stop() override { close(); }

  void metrics(std::vector<sdk::Metric>& out) const override {
    out.push_back({"datagrams_received", static_cast<double>(received_.load()), false, "datagrams read"});
    out.push_back({"datagrams_dropped", static_cast<double>(dropped_.load()), false,
                   "datagrams the kernel dropped for this socket (its receive queue full while the flow was "
                   "slower than the senders: SO_RXQ_OVFL and /proc/net/udp)"});
    out.push_back({"datagrams_rejected", static_cast<double>(rejected_.load()), false,
                   "datagrams sent to the error port (malformed)"});
    out.push_back({"receive_buffer_bytes", static_cast<double>(receive_buffer_), true,
                   "the socket's receive buffer as the kernel granted it"});
  }

 private:
  void set_options(int fd) {
    const int on = 1;
    // The kernel's count of datagrams it dropped for this socket comes with each datagram.
    if (::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0)
      ctx_.log.warn("SO_RXQ_OVFL: {}: drops are read from /proc/net/udp only", std::strerror(errno));
    // SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN; SO_RCVBUF is capped by it.
    const int want = static_cast<int>(std::min<std::uint64_t>(config_.receive_buffer.bytes, 1ull << 30));
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    int got = 0;
    socklen_t got_len = sizeof got;
    ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &got_len);
    // Linux reports twice what it grants (the other half is its bookkeeping).
    receive_buffer_ = static_cast<std::uint64_t>(got) / 2;
    if (receive_buffer_ < static_cast<std::uint64_t>(want))
      ctx_.log.warn(
          "receive_buffer {} bytes asked, {} granted: raise net.core.rmem_max (sysctl) or give the engine "
          "CAP_NET_ADMIN",
          want, receive_buffer_);
  }

  bool take(sdk::InputSink& sink, std::string_view payload, const sockaddr_storage& from, bool truncated) {
    bool ok = false;
    if (!decoder_.deliver(sink, payload, syslog::address_text(from),
                          truncated
                              ? "datagram larger than " + std::to_string(datagram_max) + " bytes, truncated"
                              : std::string(),
                          ok))
      ++rejected_;
    return ok;
  }

  // The kernel's counter is cumulative for the socket (32 bits in the control message).
  void note_drops(std::uint64_t v) {
    auto cur = dropped_.load();
    while (v > cur && !dropped_.compare_exchange_weak(cur, v)) {
    }
  }

  void report_drops() {
    const auto d = dropped_.load();
    if (d == reported_) return;
    ctx_.log.warn(
        "{} datagrams dropped by the kernel since the last report, {} in all: the receive queue was full "
        "(the flow slower than the senders; a larger receive_buffer absorbs longer bursts)",
        d - reported_, d);
    reported_ = d;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  Config config_;
  sdk::Context ctx_;
  syslog::Decoder decoder_;
  int fd_ = -1;
  unsigned long inode_ = 0;
  unsigned port_ = 0;
  std::uint64_t receive_buffer_ = 0;
  std::uint64_t reported_ = 0;
  std::atomic<std::uint64_t> received_{0}, dropped_{0}, rejected_{0};
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"udp_input"};
  s.summary(
       "Takes UDP datagrams as records: syslog (RFC 5424 / RFC 3164), JSON or text; best effort, drops "
       "counted.")
      .description(
          "Each datagram is one record. UDP has no acknowledgement: a datagram lost on the network, or "
          "dropped "
          "by the kernel while the flow is slower than the senders (the receive queue full), is gone; the "
          "kernel's drop count is the `datagrams_dropped` metric and a warning in the log whenever it grows "
          "(README).");
  syslog::add_listen_fields(s, "0.0.0.0:514", "datagram");
  s.field(
       "receive_buffer", &Config::receive_buffer,
       field()
           .size_range(64 * 1024, 1ull << 30)
           .doc("The socket's receive buffer (SO_RCVBUF): how large a burst the kernel holds while the flow "
                "catches up. Capped by net.core.rmem_max unless the engine has CAP_NET_ADMIN (a warning "
                "says what was granted)."))
      .lint([](const Config& c, sdk::Lint& lint) { syslog::lint_listen(c, lint); })
      .output("out", "One record per datagram.")
      .example(boost::json::parse(R"({"id": "syslog", "type": "udp_input",
          "config": {"listen": "0.0.0.0:514", "format": "syslog", "sender_field": "sender"}})"))
      .implementation<UdpInput>();
  return s;
}

}  // namespace weir::components::udp_input
