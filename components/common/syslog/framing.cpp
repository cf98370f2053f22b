#include "common/syslog/framing.hpp"

#include <algorithm>

namespace weir::components::syslog {

namespace {
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
// Most digits of MSG-LEN: 10 reach 9,999,999,999, past any max_message.
constexpr std::size_t max_len_digits = 10;
}  // namespace

void Framer::compact() {
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ >= 64 * 1024)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

Framer::Event Framer::next() {
  for (;;) {
    compact();
    if (skip_ > 0) {
      const auto n = std::min(skip_, buf_.size() - pos_);
      pos_ += n;
      skip_ -= n;
      if (skip_ > 0) return {};
    }
    if (skip_line_) {
      const auto lf = buf_.find('\n', pos_);
      if (lf == std::string::npos) {
        pos_ = buf_.size();
        return {};
      }
      pos_ = lf + 1;
      skip_line_ = false;
    }
    // Between messages: the LF some senders add after an octet-counted one, blank lines.
    while (pos_ < buf_.size() && (buf_[pos_] == '\n' || buf_[pos_] == '\r' || buf_[pos_] == '\0')) ++pos_;
    if (pos_ == buf_.size()) return {};
    const bool counted =
        framing_ == Framing::octet_counted || (framing_ == Framing::auto_detect && is_digit(buf_[pos_]));
    auto e = counted ? counted_frame() : lf_frame();
    if (e.kind != Event::none) return e;
    return {};
  }
}

Framer::Event Framer::counted_frame() {
  std::size_t i = pos_;
  std::size_t len = 0;
  while (i < buf_.size() && is_digit(buf_[i]) && i - pos_ < max_len_digits)
    len = len * 10 + (buf_[i++] - '0');
  if (i == buf_.size()) return {};  // MSG-LEN not complete yet
  if (i == pos_ || buf_[i] != ' ' || buf_[pos_] == '0') {
    Event e{
        Event::error, buf_.substr(pos_, std::min(head_bytes, buf_.size() - pos_)),
        "bad octet-counted frame: MSG-LEN (1 to 10 digits, no leading zero) and a space expected (RFC 6587 "
        "3.4.1); skipped to the next LF"};
    skip_line_ = true;
    return e;
  }
  const auto body = i + 1;
  const auto have = buf_.size() - body;
  if (len > max_) {
    // Its first bytes once they are here, then the rest is dropped as it comes: the next frame
    // starts right after it.
    const auto head = std::min(head_bytes, len);
    if (have < head) return {};
    Event e{Event::oversized, buf_.substr(body, head),
            "message of " + std::to_string(len) + " bytes, more than max_message (" + std::to_string(max_) +
                "): dropped after its first " + std::to_string(head) + " bytes"};
    pos_ = body;
    skip_ = len;
    return e;
  }
  if (have < len) return {};
  Event e{Event::frame, buf_.substr(body, len), {}};
  pos_ = body + len;
  return e;
}

Framer::Event Framer::lf_frame() {
  const auto lf = buf_.find('\n', pos_);
  const auto end = lf == std::string::npos ? buf_.size() : lf;
  if (end - pos_ > max_) {
    Event e{Event::oversized, buf_.substr(pos_, head_bytes),
            "line of more than max_message (" + std::to_string(max_) +
                ") bytes: dropped up to the next LF after its "
                "first " +
                std::to_string(head_bytes) + " bytes"};
    if (lf == std::string::npos) {
      pos_ = buf_.size();
      skip_line_ = true;
    } else {
      pos_ = lf + 1;
    }
    return e;
  }
  if (lf == std::string::npos) return {};
  auto len = lf - pos_;
  if (len > 0 && buf_[pos_ + len - 1] == '\r') --len;
  Event e{Event::frame, buf_.substr(pos_, len), {}};
  pos_ = lf + 1;
  return e;
}

Framer::Event Framer::finish() {
  if (auto e = next(); e.kind != Event::none) return e;
  if (skip_ > 0 || skip_line_ || pos_ == buf_.size()) return {};
  const bool counted =
      framing_ == Framing::octet_counted || (framing_ == Framing::auto_detect && is_digit(buf_[pos_]));
  Event e;
  if (counted) {
    e = {Event::error, buf_.substr(pos_, std::min(head_bytes, buf_.size() - pos_)),
         "the connection closed inside an octet-counted message (" + std::to_string(buf_.size() - pos_) +
             " bytes of it received)"};
  } else {
    auto len = buf_.size() - pos_;
    if (buf_[pos_ + len - 1] == '\r') --len;
    e = {Event::frame, buf_.substr(pos_, len), {}};
  }
  pos_ = buf_.size();
  return e;
}

}  // namespace weir::components::syslog
