// The framing of syslog over TCP (RFC 6587): octet counting ("LEN SP MSG") and LF-terminated
// messages, told apart per message or fixed. Bytes go in as they are read from a connection;
// frames come out. Memory stays within about max_message per connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace weir::components::syslog {

enum class Framing { auto_detect, octet_counted, lf };

class Framer {
 public:
  struct Event {
    enum Kind { none, frame, oversized, error } kind = none;
    std::string data;    // frame: the message; oversized and error: its first bytes (up to head_bytes)
    std::string reason;  // oversized and error
  };
  // What an oversized or unframable message keeps.
  static constexpr std::size_t head_bytes = 1024;

  Framer(Framing framing, std::size_t max_message) : framing_(framing), max_(max_message) {}

  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next event from what was fed; none when more bytes are needed.
  Event next();
  // The connection ended: what is left (a last line without LF is a frame; a cut octet-counted
  // one an error). none when nothing is left.
  Event finish();
  // Bytes held (a partial message).
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  Event lf_frame();
  Event counted_frame();
  void compact();

  Framing framing_;
  std::size_t max_;
  std::string buf_;
  std::size_t pos_ = 0;     // where the next message starts in buf_
  std::size_t skip_ = 0;    // bytes of an oversized counted message still to drop
  bool skip_line_ = false;  // dropping up to the next LF (an oversized or unframable line)
};

}  // namespace weir::components::syslog
