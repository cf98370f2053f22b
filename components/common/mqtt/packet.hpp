// MQTT 3.1.1 and 5.0 packets, as a client sends and receives them: encoding into a byte string,
// framing a received byte stream, decoding a frame. No I/O here (client.hpp does that), so every
// rule of the two specifications this code relies on is unit-tested on bytes.
//
// Limits chosen: a packet is at most `max_packet` bytes (default 1 MiB, set per connection);
// MQTT 5 properties a client does not act on are skipped; a received packet the client never
// expects (CONNECT, SUBSCRIBE, ...) is a protocol error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace weir::mqtt {

enum class Version : std::uint8_t { v311 = 4, v5 = 5 };

enum class Type : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

struct Will {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
};

struct Connect {
  Version version = Version::v311;
  std::string client_id;
  bool clean_start = true;          // 3.1.1: clean session
  std::uint16_t keep_alive_s = 30;  // 0: off
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<Will> will;
  // MQTT 5 only (not sent with 3.1.1): how long the broker keeps the session after a disconnect
  // (0xFFFFFFFF: never expires), and how many QoS 1/2 messages the client takes unacknowledged
  // (0: property not sent, the broker's default of 65,535).
  std::uint32_t session_expiry_s = 0;
  std::uint16_t receive_maximum = 0;
  std::uint32_t maximum_packet_size = 0;  // MQTT 5: larger packets are not sent to it (0: not sent)
};

struct ConnAck {
  bool session_present = false;
  std::uint8_t code = 0;                  // 0: accepted (3.1.1 return code or 5 reason code)
  std::uint16_t receive_maximum = 65535;  // MQTT 5 property, else the default
  std::uint8_t maximum_qos = 2;           // MQTT 5 property, else 2
  std::string reason_string;              // MQTT 5 property, else empty
  std::string assigned_client_id;         // MQTT 5 property, else empty
  // MQTT 5: the keep-alive the client must use instead of its own (§3.2.2.3.14).
  std::optional<std::uint16_t> server_keep_alive;
};

struct Publish {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;  // QoS 1 and 2 only (non-zero)
};

// PUBACK, PUBREC, PUBREL or PUBCOMP.
struct Ack {
  Type type = Type::puback;
  std::uint16_t packet_id = 0;
  std::uint8_t reason = 0;  // MQTT 5 reason code (0 success); 3.1.1 has none (always 0)
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::pair<std::string, std::uint8_t>> filters;  // topic filter, maximum QoS
};

struct SubAck {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> codes;  // per filter: the granted QoS, or >= 0x80 a failure
};

struct PingResp {};

struct Disconnect {
  std::uint8_t reason = 0;  // MQTT 5 reason code (a broker may send DISCONNECT in 5 only)
  std::string reason_string;
};

// Encoders append one whole packet to `out`.
void encode(std::string& out, const Connect& p);
void encode(std::string& out, const Publish& p, Version v);
void encode(std::string& out, const Ack& p, Version v);  // PUBREL gets its required flags 0b0010
void encode(std::string& out, const Subscribe& p, Version v);
void encode_pingreq(std::string& out);
void encode_disconnect(std::string& out, Version v);

// Framing: the first packet in `buf`.
struct Frame {
  std::uint8_t header = 0;  // the fixed header's first byte (type << 4 | flags)
  std::string_view body;    // the variable header and payload (remaining length bytes)
  std::size_t size = 0;     // bytes of `buf` the whole packet took
  Type type() const { return static_cast<Type>(header >> 4); }
};
enum class FrameStatus { complete, incomplete, malformed, too_large };
// `malformed`: a remaining length of more than 4 bytes; `too_large`: a packet over max_packet.
FrameStatus next_frame(std::string_view buf, std::size_t max_packet, Frame& frame);

// What a client receives.
using Packet = std::variant<ConnAck, Publish, Ack, SubAck, PingResp, Disconnect>;

// Decodes a frame received by a client speaking `v`. Nullopt with `error` set (one line: what is
// wrong) when the frame breaks the specification or is a packet a client does not receive.
std::optional<Packet> decode(const Frame& frame, Version v, std::string& error);

// The text of a CONNACK code / reason code ("not authorized", ...), for logs.
std::string connack_text(std::uint8_t code, Version v);

// Topic names and filters (MQTT 3.1.1 §4.7, 5.0 §4.7): a name is non-empty UTF-8 of at most
// 65,535 bytes with no '+', '#' or NUL; a filter may hold '+' as a whole level and '#' as the
// whole last level. `error` says what is wrong.
bool valid_topic_name(std::string_view topic, std::string& error);
bool valid_topic_filter(std::string_view filter, std::string& error);
// Whether `topic` matches `filter` ('$'-topics match only filters that start with '$' too).
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace weir::mqtt
