#include "common/mqtt/packet.hpp"

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <iterator>
#include <utility>

namespace weir::mqtt {
namespace {

constexpr std::size_t max_remaining_length = 268'435'455;  // 4 bytes of 7 bits

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}

void put_u16(std::string& out, std::uint16_t v) {
  char b[2];
  boost::endian::store_big_u16(reinterpret_cast<unsigned char*>(b), v);
  out.append(b, 2);
}

void put_u32(std::string& out, std::uint32_t v) {
  char b[4];
  boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(b), v);
  out.append(b, 4);
}

void put_varint(std::string& out, std::size_t v) {
  assert(v <= max_remaining_length);
  do {
    std::uint8_t b = v & 0x7F;
    v >>= 7;
    if (v != 0) b |= 0x80;
    put_u8(out, b);
  } while (v != 0);
}

// UTF-8 strings and binary data share one format: a 2-byte length, then the bytes. The encoders
// return no error, so lengths are the caller's to check (topics with valid_topic_name, the rest
// when the connection is configured).
void put_string(std::string& out, std::string_view s) {
  assert(s.size() <= 0xFFFF);
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

// The remaining length comes before the body, so the body is built first.
void put_packet(std::string& out, std::uint8_t header, std::string_view body) {
  put_u8(out, header);
  put_varint(out, body.size());
  out.append(body);
}

std::uint8_t header_of(Type t, std::uint8_t flags = 0) {
  return static_cast<std::uint8_t>(static_cast<std::uint8_t>(t) << 4 | flags);
}

// Reads a frame's body; every read says whether the bytes were there and consumes nothing more.
struct Reader {
  std::string_view in;

  const unsigned char* at() const { return reinterpret_cast<const unsigned char*>(in.data()); }
  bool u8(std::uint8_t& v) {
    if (in.empty()) return false;
    v = *at();
    in.remove_prefix(1);
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (in.size() < 2) return false;
    v = boost::endian::load_big_u16(at());
    in.remove_prefix(2);
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (in.size() < 4) return false;
    v = boost::endian::load_big_u32(at());
    in.remove_prefix(4);
    return true;
  }
  // A variable byte integer: at most 4 bytes, so a 4th byte that continues is malformed.
  bool varint(std::uint32_t& v) {
    v = 0;
    for (int i = 0; i < 4; ++i) {
      std::uint8_t b;
      if (!u8(b)) return false;
      v |= static_cast<std::uint32_t>(b & 0x7F) << (7 * i);
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool bytes(std::size_t n, std::string_view& v) {
    if (in.size() < n) return false;
    v = in.substr(0, n);
    in.remove_prefix(n);
    return true;
  }
  bool string(std::string_view& v) {
    std::uint16_t n;
    return u16(n) && bytes(n, v);
  }
};

std::string_view type_name(Type t) {
  static constexpr std::string_view names[] = {"reserved packet type 0",
                                               "CONNECT",
                                               "CONNACK",
                                               "PUBLISH",
                                               "PUBACK",
                                               "PUBREC",
                                               "PUBREL",
                                               "PUBCOMP",
                                               "SUBSCRIBE",
                                               "SUBACK",
                                               "UNSUBSCRIBE",
                                               "UNSUBACK",
                                               "PINGREQ",
                                               "PINGRESP",
                                               "DISCONNECT",
                                               "AUTH"};
  return names[static_cast<std::uint8_t>(t) & 0x0F];
}

std::nullopt_t fail(std::string& error, Type t, std::string_view what) {
  error = std::string(type_name(t)) + ": " + std::string(what);
  return std::nullopt;
}

// MQTT 5 properties (§2.2.2.2) a client acts on; every other property is skipped by its type.
struct Properties {
  std::optional<std::uint16_t> receive_maximum;
  std::optional<std::uint8_t> maximum_qos;
  std::optional<std::uint16_t> server_keep_alive;
  std::string_view reason_string;
  std::string_view assigned_client_id;
};

enum class PropertyType { byte, two_byte, four_byte, varint, string, binary, string_pair };

// Every property identifier of MQTT 5 (§2.2.2.2) with the type of its value, so that the ones a
// client ignores can be skipped; an identifier not listed is a malformed packet.
constexpr std::pair<std::uint32_t, PropertyType> property_types[] = {
    {0x01, PropertyType::byte},      {0x02, PropertyType::four_byte},   {0x03, PropertyType::string},
    {0x08, PropertyType::string},    {0x09, PropertyType::binary},      {0x0B, PropertyType::varint},
    {0x11, PropertyType::four_byte}, {0x12, PropertyType::string},      {0x13, PropertyType::two_byte},
    {0x15, PropertyType::string},    {0x16, PropertyType::binary},      {0x17, PropertyType::byte},
    {0x18, PropertyType::four_byte}, {0x19, PropertyType::byte},        {0x1A, PropertyType::string},
    {0x1C, PropertyType::string},    {0x1F, PropertyType::string},      {0x21, PropertyType::two_byte},
    {0x22, PropertyType::two_byte},  {0x23, PropertyType::two_byte},    {0x24, PropertyType::byte},
    {0x25, PropertyType::byte},      {0x26, PropertyType::string_pair}, {0x27, PropertyType::four_byte},
    {0x28, PropertyType::byte},      {0x29, PropertyType::byte},        {0x2A, PropertyType::byte},
};

// The value of `key` in a table of pairs, or null.
template <class Table, class Key>
auto lookup(const Table& table, Key key) -> decltype(&std::begin(table)->second) {
  const auto it = std::ranges::find(table, key, [](const auto& entry) { return entry.first; });
  return it == std::end(table) ? nullptr : &it->second;
}

std::string hex(std::uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%02X", static_cast<unsigned>(v));
  return text;
}

// Reads a properties block (its length, then the properties) from `r`; `error` without the
// packet name.
bool read_properties(Reader& r, Properties& props, std::string& error) {
  std::uint32_t length;
  Reader block;
  if (!r.varint(length) || !r.bytes(length, block.in)) {
    error = "truncated properties";
    return false;
  }
  while (!block.in.empty()) {
    std::uint32_t id;
    if (!block.varint(id)) {
      error = "truncated property identifier";
      return false;
    }
    const PropertyType* type = lookup(property_types, id);
    if (!type) {
      error = "unknown property " + hex(id);
      return false;
    }
    std::uint8_t b = 0;
    std::uint16_t u16 = 0;
    std::uint32_t u32 = 0;
    std::string_view s, s2;
    const bool ok = *type == PropertyType::byte          ? block.u8(b)
                    : *type == PropertyType::two_byte    ? block.u16(u16)
                    : *type == PropertyType::four_byte   ? block.u32(u32)
                    : *type == PropertyType::varint      ? block.varint(u32)
                    : *type == PropertyType::string_pair ? block.string(s) && block.string(s2)
                                                         : block.string(s);  // string, binary data
    if (!ok) {
      error = "truncated property " + hex(id);
      return false;
    }
    if (id == 0x21) {
      if (u16 == 0) {  // a client waiting for room under a maximum of 0 would never send
        error = "receive maximum 0";
        return false;
      }
      props.receive_maximum = u16;
    } else if (id == 0x24) {
      if (b > 2) {
        error = "maximum QoS " + std::to_string(b);
        return false;
      }
      props.maximum_qos = b;
    } else if (id == 0x13) {
      props.server_keep_alive = u16;
    } else if (id == 0x1F) {
      props.reason_string = s;
    } else if (id == 0x12) {
      props.assigned_client_id = s;
    }
  }
  return true;
}

std::optional<Packet> decode_connack(Reader r, Version v, std::string& error) {
  ConnAck p;
  std::uint8_t flags;
  if (!r.u8(flags) || !r.u8(p.code)) return fail(error, Type::connack, "truncated");
  if (flags & 0xFE) return fail(error, Type::connack, "reserved acknowledge flags set");
  p.session_present = flags & 1;
  if (v == Version::v5) {
    Properties props;
    if (!read_properties(r, props, error)) return fail(error, Type::connack, error);
    p.receive_maximum = props.receive_maximum.value_or(p.receive_maximum);
    p.maximum_qos = props.maximum_qos.value_or(p.maximum_qos);
    p.reason_string = props.reason_string;
    p.assigned_client_id = props.assigned_client_id;
    p.server_keep_alive = props.server_keep_alive;
  }
  if (!r.in.empty()) return fail(error, Type::connack, "bytes after the end");
  return p;
}

std::optional<Packet> decode_publish(Reader r, std::uint8_t flags, Version v, std::string& error) {
  Publish p;
  p.dup = flags & 0x08;
  p.qos = (flags >> 1) & 0x03;
  p.retain = flags & 0x01;
  if (p.qos == 3) return fail(error, Type::publish, "QoS 3");
  std::string_view topic;
  if (!r.string(topic)) return fail(error, Type::publish, "truncated topic");
  // No Topic Alias Maximum is sent in CONNECT, so a broker may not send an empty topic (alias).
  if (!valid_topic_name(topic, error)) return fail(error, Type::publish, error);
  p.topic = topic;
  if (p.qos > 0) {
    if (!r.u16(p.packet_id)) return fail(error, Type::publish, "truncated packet identifier");
    if (p.packet_id == 0) return fail(error, Type::publish, "packet identifier 0");
  }
  if (v == Version::v5) {
    Properties props;
    if (!read_properties(r, props, error)) return fail(error, Type::publish, error);
  }
  p.payload = r.in;
  return p;
}

std::optional<Packet> decode_ack(Reader r, Type t, Version v, std::string& error) {
  Ack p{.type = t};
  if (!r.u16(p.packet_id)) return fail(error, t, "truncated packet identifier");
  if (p.packet_id == 0) return fail(error, t, "packet identifier 0");
  // MQTT 5 (§3.4.2.1): the reason code and then the properties may each be left out.
  if (v == Version::v5 && !r.in.empty()) {
    r.u8(p.reason);
    Properties props;
    if (!r.in.empty() && !read_properties(r, props, error)) return fail(error, t, error);
  }
  if (!r.in.empty()) return fail(error, t, "bytes after the end");
  return p;
}

std::optional<Packet> decode_suback(Reader r, Version v, std::string& error) {
  SubAck p;
  if (!r.u16(p.packet_id)) return fail(error, Type::suback, "truncated packet identifier");
  if (p.packet_id == 0) return fail(error, Type::suback, "packet identifier 0");
  if (v == Version::v5) {
    Properties props;
    if (!read_properties(r, props, error)) return fail(error, Type::suback, error);
  }
  // A SUBSCRIBE holds at least one filter, so its SUBACK at least one code.
  if (r.in.empty()) return fail(error, Type::suback, "no return codes");
  p.codes.assign(r.in.begin(), r.in.end());
  return p;
}

std::optional<Packet> decode_disconnect(Reader r, Version v, std::string& error) {
  if (v == Version::v311) {
    error = "DISCONNECT from a 3.1.1 broker";
    return std::nullopt;
  }
  Disconnect p;
  if (r.u8(p.reason) && !r.in.empty()) {
    Properties props;
    if (!read_properties(r, props, error)) return fail(error, Type::disconnect, error);
    p.reason_string = props.reason_string;
  }
  if (!r.in.empty()) return fail(error, Type::disconnect, "bytes after the end");
  return p;
}

}  // namespace

void encode(std::string& out, const Connect& p) {
  const bool v5 = p.version == Version::v5;
  std::string body;
  put_string(body, "MQTT");
  put_u8(body, static_cast<std::uint8_t>(p.version));
  std::uint8_t flags = p.clean_start ? 0x02 : 0;
  if (p.will) {
    assert(p.will->qos >= 0 && p.will->qos <= 2);
    flags |= 0x04 | p.will->qos << 3 | (p.will->retain ? 0x20 : 0);
  }
  if (p.password) flags |= 0x40;
  if (p.username) flags |= 0x80;
  put_u8(body, flags);
  put_u16(body, p.keep_alive_s);
  if (v5) {
    std::string props;
    if (p.session_expiry_s != 0) {
      put_u8(props, 0x11);
      put_u32(props, p.session_expiry_s);
    }
    if (p.receive_maximum != 0) {
      put_u8(props, 0x21);
      put_u16(props, p.receive_maximum);
    }
    if (p.maximum_packet_size != 0) {
      put_u8(props, 0x27);
      put_u32(props, p.maximum_packet_size);
    }
    put_varint(body, props.size());
    body += props;
  }
  put_string(body, p.client_id);
  if (p.will) {
    if (v5) put_varint(body, 0);  // will properties
    put_string(body, p.will->topic);
    put_string(body, p.will->payload);
  }
  if (p.username) put_string(body, *p.username);
  if (p.password) put_string(body, *p.password);
  put_packet(out, header_of(Type::connect), body);
}

void encode(std::string& out, const Publish& p, Version v) {
  assert(p.qos <= 2);
  std::string body;
  put_string(body, p.topic);
  if (p.qos > 0) put_u16(body, p.packet_id);
  if (v == Version::v5) put_varint(body, 0);  // properties
  body += p.payload;
  const auto flags = static_cast<std::uint8_t>((p.dup ? 0x08 : 0) | p.qos << 1 | (p.retain ? 0x01 : 0));
  put_packet(out, header_of(Type::publish, flags), body);
}

void encode(std::string& out, const Ack& p, Version v) {
  std::string body;
  put_u16(body, p.packet_id);
  if (v == Version::v5 && p.reason != 0) {
    put_u8(body, p.reason);
    put_varint(body, 0);  // properties
  }
  put_packet(out, header_of(p.type, p.type == Type::pubrel ? 0b0010 : 0), body);
}

void encode(std::string& out, const Subscribe& p, Version v) {
  std::string body;
  put_u16(body, p.packet_id);
  if (v == Version::v5) put_varint(body, 0);  // properties
  for (const auto& [filter, qos] : p.filters) {
    put_string(body, filter);
    put_u8(body, qos & 0x03);  // MQTT 5 options (no local, retain handling, ...) left at 0
  }
  put_packet(out, header_of(Type::subscribe, 0b0010), body);
}

void encode_pingreq(std::string& out) {
  put_packet(out, header_of(Type::pingreq), {});
}

// MQTT 5 allows leaving out reason 0 (normal disconnection) and the properties, so both
// versions send the same two bytes.
void encode_disconnect(std::string& out, Version) {
  put_packet(out, header_of(Type::disconnect), {});
}

FrameStatus next_frame(std::string_view buf, std::size_t max_packet, Frame& frame) {
  std::size_t length = 0;
  std::size_t header_size = 0;
  for (std::size_t i = 1; header_size == 0; ++i) {
    if (i > 4) return FrameStatus::malformed;
    if (i >= buf.size()) return FrameStatus::incomplete;
    const auto b = static_cast<std::uint8_t>(buf[i]);
    length |= static_cast<std::size_t>(b & 0x7F) << (7 * (i - 1));
    if (!(b & 0x80)) header_size = i + 1;
  }
  const std::size_t size = header_size + length;
  if (size > max_packet) return FrameStatus::too_large;
  if (buf.size() < size) return FrameStatus::incomplete;
  frame.header = static_cast<std::uint8_t>(buf[0]);
  frame.body = buf.substr(header_size, length);
  frame.size = size;
  return FrameStatus::complete;
}

std::optional<Packet> decode(const Frame& frame, Version v, std::string& error) {
  const Type t = frame.type();
  const std::uint8_t flags = frame.header & 0x0F;
  switch (t) {
    case Type::connack:
    case Type::publish:
    case Type::puback:
    case Type::pubrec:
    case Type::pubrel:
    case Type::pubcomp:
    case Type::suback:
    case Type::pingresp:
    case Type::disconnect:
      break;
    case Type::auth:
      if (v == Version::v5) {
        error = "AUTH: enhanced authentication is not supported";
        return std::nullopt;
      }
      [[fallthrough]];
    default:
      // CONNECT, SUBSCRIBE, PINGREQ, ... go to a broker; UNSUBACK answers an UNSUBSCRIBE, which
      // this client never sends.
      error = "unexpected " + std::string(type_name(t)) + " from the broker";
      return std::nullopt;
  }
  // §2.2.2: the flags of every packet but PUBLISH are fixed.
  if (t != Type::publish && flags != (t == Type::pubrel ? 0b0010 : 0)) {
    return fail(error, t, "reserved fixed header flags " + std::to_string(flags));
  }
  const Reader r{frame.body};
  switch (t) {
    case Type::connack:
      return decode_connack(r, v, error);
    case Type::publish:
      return decode_publish(r, flags, v, error);
    case Type::suback:
      return decode_suback(r, v, error);
    case Type::pingresp:
      if (!r.in.empty()) return fail(error, t, "remaining length not 0");
      return PingResp{};
    case Type::disconnect:
      return decode_disconnect(r, v, error);
    default:
      return decode_ack(r, t, v, error);
  }
}

std::string connack_text(std::uint8_t code, Version v) {
  static constexpr std::pair<std::uint8_t, std::string_view> v311[] = {
      {0, "accepted"},           {1, "unacceptable protocol version"}, {2, "identifier rejected"},
      {3, "server unavailable"}, {4, "bad user name or password"},     {5, "not authorized"},
  };
  // MQTT 5 reason codes are one list for all packets, so the ones a broker sends in DISCONNECT
  // and SUBACK are here too: the client logs those with this function as well.
  static constexpr std::pair<std::uint8_t, std::string_view> v5[] = {
      {0x00, "success"},
      {0x80, "unspecified error"},
      {0x81, "malformed packet"},
      {0x82, "protocol error"},
      {0x83, "implementation specific error"},
      {0x84, "unsupported protocol version"},
      {0x85, "client identifier not valid"},
      {0x86, "bad user name or password"},
      {0x87, "not authorized"},
      {0x88, "server unavailable"},
      {0x89, "server busy"},
      {0x8A, "banned"},
      {0x8B, "server shutting down"},
      {0x8C, "bad authentication method"},
      {0x8D, "keep alive timeout"},
      {0x8E, "session taken over"},
      {0x8F, "topic filter invalid"},
      {0x90, "topic name invalid"},
      {0x91, "packet identifier in use"},
      {0x93, "receive maximum exceeded"},
      {0x94, "topic alias invalid"},
      {0x95, "packet too large"},
      {0x96, "message rate too high"},
      {0x97, "quota exceeded"},
      {0x98, "administrative action"},
      {0x99, "payload format invalid"},
      {0x9A, "retain not supported"},
      {0x9B, "QoS not supported"},
      {0x9C, "use another server"},
      {0x9D, "server moved"},
      {0x9E, "shared subscriptions not supported"},
      {0x9F, "connection rate exceeded"},
      {0xA0, "maximum connect time"},
      {0xA1, "subscription identifiers not supported"},
      {0xA2, "wildcard subscriptions not supported"},
  };
  const std::string_view* text = v == Version::v5 ? lookup(v5, code) : lookup(v311, code);
  return text ? std::string(*text) : "code " + hex(code);
}

namespace {

// The checks names and filters share.
bool valid_topic(std::string_view s, std::string_view what, std::string& error) {
  if (s.empty()) {
    error = std::string(what) + " is empty";
    return false;
  }
  if (s.size() > 0xFFFF) {
    error = std::string(what) + " is longer than 65,535 bytes";
    return false;
  }
  if (s.find('\0') != std::string_view::npos) {
    error = std::string(what) + " holds a NUL character";
    return false;
  }
  return true;
}

// Splits the first level off `s`; `s` becomes nullopt after the last level ("a/" has two).
std::string_view take_level(std::optional<std::string_view>& s) {
  const auto slash = s->find('/');
  const std::string_view level = s->substr(0, slash);
  if (slash == std::string_view::npos) {
    s.reset();
  } else {
    s = s->substr(slash + 1);
  }
  return level;
}

}  // namespace

bool valid_topic_name(std::string_view topic, std::string& error) {
  if (!valid_topic(topic, "topic name", error)) return false;
  if (topic.find_first_of("+#") != std::string_view::npos) {
    error = "topic name holds a wildcard ('+' or '#')";
    return false;
  }
  return true;
}

bool valid_topic_filter(std::string_view filter, std::string& error) {
  if (!valid_topic(filter, "topic filter", error)) return false;
  for (std::optional<std::string_view> rest = filter; rest;) {
    const std::string_view level = take_level(rest);
    if (level.find('+') != std::string_view::npos && level != "+") {
      error = "topic filter: '+' must be a whole level";
      return false;
    }
    if (level.find('#') != std::string_view::npos && (level != "#" || rest)) {
      error = "topic filter: '#' must be the whole last level";
      return false;
    }
  }
  return true;
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  // §4.7.2: wildcards at the first level do not reach the server's '$' topics ($SYS/...).
  if (topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#'))) return false;
  std::optional<std::string_view> f = filter, t = topic;
  while (f) {
    const std::string_view level = take_level(f);
    if (level == "#") return true;  // also the parent level: "sport/#" matches "sport"
    if (!t) return false;
    const std::string_view topic_level = take_level(t);
    if (level != "+" && level != topic_level) return false;
  }
  return !t;
}

}  // namespace weir::mqtt
