// The frames of weir.bridge.v1 (see PROTOCOL.md): a binary WebSocket message holding one JSON
// header object, a newline and, for `data`, the batch body. Plain data, no I/O, so that both
// bridge components and the tests share one codec.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weir::ws {

inline constexpr int protocol_version = 1;

enum class FrameType { hello, welcome, data, ack, nack, bye };

struct Frame {
  FrameType type = FrameType::bye;
  // hello (sender) and welcome (receiver)
  std::string site;
  std::string flow;
  std::string component;
  std::uint64_t window = 0;
  std::uint64_t max_frame_size = 0;  // welcome: the largest message the receiver takes
  // data, ack, nack
  std::uint64_t seq = 0;
  std::string batch;           // data: the batch id at the sender
  std::uint64_t records = 0;   // data: lines in the body
  std::string source;          // data: the sender's upstream consumer
  std::uint64_t position = 0;  // data: the batch's sequence in the sender's stream
  std::string_view body;       // data: points into the decoded message
  std::string reason;          // nack, bye
};

std::string encode_hello(std::string_view site, std::string_view flow, std::string_view component,
                         std::uint64_t window);
std::string encode_welcome(std::string_view site, std::uint64_t window, std::uint64_t max_frame_size);
// The header line only; the caller appends the body (kept apart so a body is never copied twice).
std::string encode_data_header(std::uint64_t seq, std::string_view batch, std::uint64_t records,
                               std::string_view source, std::uint64_t position);
std::string encode_ack(std::uint64_t seq);
std::string encode_nack(std::uint64_t seq, std::string_view reason);
std::string encode_bye(std::string_view reason);

// False with `error` set when the message is not a frame of this protocol version.
bool decode_frame(std::string_view message, Frame& out, std::string& error);

// Checks a data body ("<id> <json>\n" per line, `records` lines, ids without spaces) and writes
// it to `out` with `id_prefix` put in front of every id. The JSON is not parsed here: the stage
// that reads the batch does that (and dead-letters a batch that does not decode).
bool rewrite_body(std::string_view body, std::uint64_t records, std::string_view id_prefix, std::string& out,
                  std::string& error);

// Calls fn with the JSON text of every line of a body (what a raw client receives).
template <typename Fn>
void for_each_json(std::string_view body, Fn&& fn) {
  while (!body.empty()) {
    auto nl = body.find('\n');
    auto line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
    auto sp = line.find(' ');
    if (sp != std::string_view::npos) fn(line.substr(sp + 1));
  }
}

// A name that may stand in record ids and log lines: 1 to 64 of [A-Za-z0-9_.:-].
bool valid_site_name(std::string_view name);
bool valid_site_char(char c);

}  // namespace weir::ws
