// syslog_input's wire path without a socket: bytes through the RFC 6587 framer (fed in pieces, as
// reads deliver them) and each frame through the RFC 5424 / RFC 3164 grammar. The first byte picks
// the framing, max_message and the size of the pieces. Checks what the component relies on: a
// connection holds at most max_message (or head_bytes, the larger) and a piece, an oversized message keeps at
// most head_bytes, and a parsed message has every field.
#include <algorithm>
#include <boost/json/object.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/syslog/framing.hpp"
#include "common/syslog/parse.hpp"

namespace syslog = weir::components::syslog;

namespace {
void check(const syslog::Framer::Event& e) {
  if (e.kind == syslog::Framer::Event::frame) {
    boost::json::object out;
    std::string reason;
    if (syslog::parse(e.data, out, reason)) {
      if (out.size() != 11) std::abort();
    } else if (reason.empty()) {
      std::abort();
    }
  } else if (e.data.size() > syslog::Framer::head_bytes || e.reason.empty()) {
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto framing = static_cast<syslog::Framing>(data[0] % 3);
  const std::size_t max = 256 + (data[0] / 3) % 4 * 256;
  const std::size_t piece = 1 + data[0] % 61;
  std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);
  syslog::Framer f(framing, max);
  for (std::size_t at = 0; at < wire.size(); at += piece) {
    f.feed(wire.substr(at, piece));
    for (auto e = f.next(); e.kind != syslog::Framer::Event::none; e = f.next()) check(e);
    if (f.buffered() > std::max(max, syslog::Framer::head_bytes) + 16 + piece) std::abort();
  }
  for (auto e = f.finish(); e.kind != syslog::Framer::Event::none; e = f.finish()) check(e);
  return 0;
}
