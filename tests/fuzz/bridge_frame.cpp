// The weir.bridge.v1 frame decoder (components/common/websocket/frame.hpp): any WebSocket
// message. A data frame's body is then checked and rewritten as the receiver does, and split
// into JSON texts as a raw client gets them. A decoded frame encodes back to one that decodes
// to the same fields.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/websocket/frame.hpp"

namespace ws = weir::ws;

namespace {

void check_reencode(const ws::Frame& f) {
  std::string text;
  switch (f.type) {
    case ws::FrameType::hello:
      text = ws::encode_hello(f.site, f.flow, f.component, f.window);
      break;
    case ws::FrameType::welcome:
      text = ws::encode_welcome(f.site, f.window, f.max_frame_size);
      break;
    case ws::FrameType::data:
      text = ws::encode_data_header(f.seq, f.batch, f.records, f.source, f.position);
      break;
    case ws::FrameType::ack:
      text = ws::encode_ack(f.seq);
      break;
    case ws::FrameType::nack:
      text = ws::encode_nack(f.seq, f.reason);
      break;
    case ws::FrameType::bye:
      text = ws::encode_bye(f.reason);
      break;
  }
  ws::Frame g;
  std::string error;
  if (!ws::decode_frame(text, g, error)) std::abort();
  if (g.type != f.type || g.site != f.site || g.flow != f.flow || g.component != f.component ||
      g.window != f.window || g.max_frame_size != f.max_frame_size || g.seq != f.seq || g.batch != f.batch ||
      g.records != f.records || g.source != f.source || g.position != f.position || g.reason != f.reason)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  ws::Frame frame;
  std::string error;
  if (!ws::decode_frame(message, frame, error)) {
    if (error.empty()) std::abort();
    return 0;
  }
  check_reencode(frame);
  if (frame.type == ws::FrameType::data) {
    std::string out;
    if (ws::rewrite_body(frame.body, frame.records, "site:", out, error)) {
      std::size_t lines = 0;
      ws::for_each_json(out, [&](std::string_view) { ++lines; });
      if (lines != frame.records) std::abort();
    }
    ws::for_each_json(frame.body, [](std::string_view) {});
  }
  return 0;
}
