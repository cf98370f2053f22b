#include "common/websocket/frame.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/base/record_json.hpp"

namespace weir::ws {

namespace json = boost::json;

namespace {

std::string with_newline(const json::object& o) {
  std::string s = sdk::to_json(o);
  s.push_back('\n');
  return s;
}

bool get_string(const json::object& o, const char* key, std::string& out, std::string& error) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) {
    error = std::string("missing or non-string \"") + key + "\"";
    return false;
  }
  out.assign(v->get_string().begin(), v->get_string().end());
  return true;
}

bool get_uint(const json::object& o, const char* key, std::uint64_t& out, std::string& error) {
  auto* v = o.if_contains(key);
  if (v && v->is_uint64()) {
    out = v->get_uint64();
    return true;
  }
  if (v && v->is_int64() && v->get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v->get_int64());
    return true;
  }
  error = std::string("missing or invalid \"") + key + "\" (a non-negative integer)";
  return false;
}

}  // namespace

std::string encode_hello(std::string_view site, std::string_view flow, std::string_view component,
                         std::uint64_t window) {
  return with_newline({{"type", "hello"},
                       {"version", protocol_version},
                       {"site", site},
                       {"flow", flow},
                       {"component", component},
                       {"window", window}});
}

std::string encode_welcome(std::string_view site, std::uint64_t window, std::uint64_t max_frame_size) {
  return with_newline({{"type", "welcome"},
                       {"version", protocol_version},
                       {"site", site},
                       {"window", window},
                       {"max_frame_size", max_frame_size}});
}

std::string encode_data_header(std::uint64_t seq, std::string_view batch, std::uint64_t records,
                               std::string_view source, std::uint64_t position) {
  return with_newline({{"type", "data"},
                       {"seq", seq},
                       {"batch", batch},
                       {"records", records},
                       {"source", source},
                       {"position", position}});
}

std::string encode_ack(std::uint64_t seq) {
  return with_newline({{"type", "ack"}, {"seq", seq}});
}

std::string encode_nack(std::uint64_t seq, std::string_view reason) {
  return with_newline({{"type", "nack"}, {"seq", seq}, {"reason", reason}});
}

std::string encode_bye(std::string_view reason) {
  return with_newline({{"type", "bye"}, {"reason", reason}});
}

bool decode_frame(std::string_view message, Frame& out, std::string& error) {
  auto nl = message.find('\n');
  if (nl == std::string_view::npos) {
    error = "frame without a header line";
    return false;
  }
  // The header is held to a record's limits (size, depth) like any JSON from a peer.
  static thread_local sdk::RecordParser parser;
  json::value v;
  std::string reason;
  if (!parser.parse(message.substr(0, nl), v, reason) || !v.is_object()) {
    error = "frame header is not a JSON object";
    return false;
  }
  const auto& o = v.get_object();
  std::string type;
  if (!get_string(o, "type", type, error)) return false;
  out = Frame{};
  if (type == "hello" || type == "welcome") {
    std::uint64_t version = 0;
    if (!get_uint(o, "version", version, error)) return false;
    if (version != protocol_version) {
      error = "unsupported protocol version " + std::to_string(version);
      return false;
    }
    if (!get_string(o, "site", out.site, error) || !get_uint(o, "window", out.window, error)) return false;
    if (type == "hello") {
      out.type = FrameType::hello;
      return get_string(o, "flow", out.flow, error) && get_string(o, "component", out.component, error);
    }
    out.type = FrameType::welcome;
    return get_uint(o, "max_frame_size", out.max_frame_size, error);
  }
  if (type == "data") {
    out.type = FrameType::data;
    if (!get_uint(o, "seq", out.seq, error) || !get_string(o, "batch", out.batch, error) ||
        !get_uint(o, "records", out.records, error) || !get_string(o, "source", out.source, error) ||
        !get_uint(o, "position", out.position, error))
      return false;
    out.body = message.substr(nl + 1);
    return true;
  }
  if (type == "ack") {
    out.type = FrameType::ack;
    return get_uint(o, "seq", out.seq, error);
  }
  if (type == "nack") {
    out.type = FrameType::nack;
    return get_uint(o, "seq", out.seq, error) && get_string(o, "reason", out.reason, error);
  }
  if (type == "bye") {
    out.type = FrameType::bye;
    if (auto* r = o.if_contains("reason"); r && r->is_string()) out.reason = r->get_string();
    return true;
  }
  error = "unknown frame type " + sdk::quote(type);
  return false;
}

bool rewrite_body(std::string_view body, std::uint64_t records, std::string_view id_prefix, std::string& out,
                  std::string& error) {
  out.clear();
  // `records` comes from the sender: a line takes at least 4 bytes ("i j\n"), so the body bounds
  // what is worth reserving (a huge count threw std::length_error out of the receiver).
  out.reserve(body.size() + std::min<std::uint64_t>(records, body.size() / 4) * id_prefix.size());
  std::uint64_t lines = 0;
  while (!body.empty()) {
    auto nl = body.find('\n');
    if (nl == std::string_view::npos) {
      error = "line " + std::to_string(lines + 1) + " does not end with a newline";
      return false;
    }
    auto line = body.substr(0, nl);
    auto sp = line.find(' ');
    if (sp == 0 || sp == std::string_view::npos || sp + 1 == line.size()) {
      error = "line " + std::to_string(lines + 1) + " is not \"<id> <json>\"";
      return false;
    }
    out.append(id_prefix);
    out.append(line);
    out.push_back('\n');
    body.remove_prefix(nl + 1);
    ++lines;
  }
  if (lines != records) {
    error =
        "the body holds " + std::to_string(lines) + " records, the header says " + std::to_string(records);
    return false;
  }
  return true;
}

bool valid_site_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == ':' || c == '-';
}

bool valid_site_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!valid_site_char(c)) return false;
  return true;
}

}  // namespace weir::ws
