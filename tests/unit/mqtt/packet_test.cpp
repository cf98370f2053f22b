// MQTT 3.1.1 and 5 packets: every expected byte string below is written out by hand from the two
// specifications (3.1.1 §2-§4, 5.0 §2-§4), never produced by the encoder under test.
#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

#include "common/mqtt/packet.hpp"

using namespace weir::mqtt;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// Frames `buf`, which must hold exactly one whole packet, and decodes it.
std::optional<Packet> decode_one(const std::string& buf, Version v, std::string& error) {
  Frame f;
  REQUIRE(next_frame(buf, 1 << 20, f) == FrameStatus::complete);
  REQUIRE(f.size == buf.size());
  return decode(f, v, error);
}

// Decodes a packet's header byte with `body` (which may be cut short), without framing.
std::optional<Packet> decode_body(std::uint8_t header, std::string_view body, Version v, std::string& error) {
  Frame f;
  f.header = header;
  f.body = body;
  f.size = body.size() + 2;
  return decode(f, v, error);
}

}  // namespace

TEST_CASE("CONNECT 3.1.1: clean session, keep alive 60, client id \"weir\"") {
  Connect c;
  c.client_id = "weir";
  c.keep_alive_s = 60;
  c.session_expiry_s = 3600;  // MQTT 5 only: must not appear in a 3.1.1 CONNECT
  c.receive_maximum = 20;
  std::string out = "x";  // encoders append
  encode(out, c);
  CHECK(out == bytes({'x', 0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x04,
                      'w', 'e', 'i', 'r'}));
}

TEST_CASE("CONNECT 3.1.1: will, user name and password") {
  Connect c;
  c.client_id = "c";
  c.keep_alive_s = 30;
  c.will = Will{.topic = "t", .payload = "bye", .qos = 1, .retain = true};
  c.username = "u";
  c.password = "p";
  std::string out;
  encode(out, c);
  // Flags 0xEE: user name 0x80, password 0x40, will retain 0x20, will QoS 1 0x08, will 0x04,
  // clean session 0x02.
  CHECK(out == bytes({0x10, 0x1B, 0x00, 0x04, 'M',  'Q', 'T', 'T', 0x04, 0xEE, 0x00, 0x1E, 0x00, 0x01, 'c',
                      0x00, 0x01, 't',  0x00, 0x03, 'b', 'y', 'e', 0x00, 0x01, 'u',  0x00, 0x01, 'p'}));
}

TEST_CASE("CONNECT 3.1.1: no clean session, will QoS 2 without retain, keep alive off") {
  Connect c;
  c.client_id = "";
  c.clean_start = false;
  c.keep_alive_s = 0;
  c.will = Will{.topic = "w", .payload = "", .qos = 2, .retain = false};
  std::string out;
  encode(out, c);
  CHECK(out == bytes({0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00,
                      0x01, 'w', 0x00, 0x00}));
}

TEST_CASE("CONNECT 5: session expiry and receive maximum properties") {
  Connect c;
  c.version = Version::v5;
  c.client_id = "weir";
  c.keep_alive_s = 60;
  c.session_expiry_s = 3600;
  c.receive_maximum = 20;
  std::string out;
  encode(out, c);
  CHECK(out == bytes({0x10, 0x19, 0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05, 0x02, 0x00, 0x3C, 0x08, 0x11,
                      0x00, 0x00, 0x0E, 0x10, 0x21, 0x00, 0x14, 0x00, 0x04, 'w',  'e',  'i',  'r'}));

  SUBCASE("no properties when both are 0") {
    c.session_expiry_s = 0;
    c.receive_maximum = 0;
    out.clear();
    encode(out, c);
    CHECK(out == bytes({0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x04,
                        'w', 'e', 'i', 'r'}));
  }
  SUBCASE("session that never expires") {
    c.session_expiry_s = 0xFFFFFFFF;
    c.receive_maximum = 0;
    out.clear();
    encode(out, c);
    CHECK(out.substr(12, 6) == bytes({0x05, 0x11, 0xFF, 0xFF, 0xFF, 0xFF}));
  }
}

TEST_CASE("CONNECT 5: will gets an empty will properties block") {
  Connect c;
  c.version = Version::v5;
  c.client_id = "c";
  c.keep_alive_s = 30;
  c.will = Will{.topic = "t", .payload = "bye", .qos = 1, .retain = true};
  c.username = "u";
  c.password = "p";
  std::string out;
  encode(out, c);
  CHECK(out ==
        bytes({0x10, 0x1D, 0x00, 0x04, 'M',  'Q',  'T', 'T', 0x05, 0xEE, 0x00, 0x1E, 0x00, 0x00, 0x01, 'c',
               0x00, 0x00, 0x01, 't',  0x00, 0x03, 'b', 'y', 'e',  0x00, 0x01, 'u',  0x00, 0x01, 'p'}));
}

TEST_CASE("PUBLISH encoding: QoS 0, 1 and 2, dup and retain") {
  std::string out;
  SUBCASE("QoS 0, 3.1.1: no packet identifier") {
    encode(out, Publish{.topic = "a/b", .payload = "hi"}, Version::v311);
    CHECK(out == bytes({0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'}));
  }
  SUBCASE("QoS 0, 5: a properties length of 0") {
    encode(out, Publish{.topic = "a/b", .payload = "hi"}, Version::v5);
    CHECK(out == bytes({0x30, 0x08, 0x00, 0x03, 'a', '/', 'b', 0x00, 'h', 'i'}));
  }
  SUBCASE("QoS 1 dup retain, 3.1.1") {
    encode(out,
           Publish{.topic = "a/b", .payload = "hi", .qos = 1, .retain = true, .dup = true, .packet_id = 10},
           Version::v311);
    CHECK(out == bytes({0x3B, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'i'}));
  }
  SUBCASE("QoS 2, 5") {
    encode(out, Publish{.topic = "a/b", .payload = "hi", .qos = 2, .packet_id = 0x1234}, Version::v5);
    CHECK(out == bytes({0x34, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x12, 0x34, 0x00, 'h', 'i'}));
  }
  SUBCASE("QoS 0 retain, empty payload") {
    encode(out, Publish{.topic = "t", .payload = "", .qos = 0, .retain = true}, Version::v311);
    CHECK(out == bytes({0x31, 0x03, 0x00, 0x01, 't'}));
  }
  SUBCASE("the remaining length takes 2 and 3 bytes") {
    // topic "t" is 3 bytes: a payload of 125 makes 128, one of 16381 makes 16384.
    encode(out, Publish{.topic = "t", .payload = std::string(125, 'x')}, Version::v311);
    CHECK(out.size() == 131);
    CHECK(out.substr(0, 6) == bytes({0x30, 0x80, 0x01, 0x00, 0x01, 't'}));
    out.clear();
    encode(out, Publish{.topic = "t", .payload = std::string(124, 'x')}, Version::v311);
    CHECK(out.substr(0, 2) == bytes({0x30, 0x7F}));
    out.clear();
    encode(out, Publish{.topic = "t", .payload = std::string(16381, 'x')}, Version::v311);
    CHECK(out.size() == 16388);
    CHECK(out.substr(0, 4) == bytes({0x30, 0x80, 0x80, 0x01}));
  }
}

TEST_CASE("acknowledgement encoding: PUBREL flags, MQTT 5 reason codes") {
  std::string out;
  encode(out, Ack{.type = Type::pubrel, .packet_id = 0x1234}, Version::v311);
  encode(out, Ack{.type = Type::puback, .packet_id = 1}, Version::v311);
  encode(out, Ack{.type = Type::pubrec, .packet_id = 2}, Version::v5);
  encode(out, Ack{.type = Type::pubcomp, .packet_id = 3}, Version::v5);
  CHECK(out == bytes({0x62, 0x02, 0x12, 0x34, 0x40, 0x02, 0x00, 0x01, 0x50, 0x02, 0x00, 0x02, 0x70, 0x02,
                      0x00, 0x03}));

  out.clear();
  encode(out, Ack{.type = Type::pubrel, .packet_id = 7, .reason = 0x92}, Version::v5);  // id not found
  encode(out, Ack{.type = Type::puback, .packet_id = 8, .reason = 0x10}, Version::v5);
  CHECK(out == bytes({0x62, 0x04, 0x00, 0x07, 0x92, 0x00, 0x40, 0x04, 0x00, 0x08, 0x10, 0x00}));

  out.clear();  // 3.1.1 has no reason codes
  encode(out, Ack{.type = Type::pubrec, .packet_id = 8, .reason = 0x80}, Version::v311);
  CHECK(out == bytes({0x50, 0x02, 0x00, 0x08}));
}

TEST_CASE("SUBSCRIBE, PINGREQ and DISCONNECT encoding") {
  const Subscribe s{.packet_id = 1, .filters = {{"a/+", 1}, {"#", 0}}};
  std::string out;
  encode(out, s, Version::v311);
  CHECK(out == bytes({0x82, 0x0C, 0x00, 0x01, 0x00, 0x03, 'a', '/', '+', 0x01, 0x00, 0x01, '#', 0x00}));
  out.clear();
  encode(out, Subscribe{.packet_id = 0x0102, .filters = {{"a/+", 2}, {"#", 0}}}, Version::v5);
  CHECK(out == bytes({0x82, 0x0D, 0x01, 0x02, 0x00, 0x00, 0x03, 'a', '/', '+', 0x02, 0x00, 0x01, '#', 0x00}));

  out.clear();
  encode_pingreq(out);
  CHECK(out == bytes({0xC0, 0x00}));
  out.clear();
  encode_disconnect(out, Version::v311);
  encode_disconnect(out, Version::v5);
  CHECK(out == bytes({0xE0, 0x00, 0xE0, 0x00}));
}

TEST_CASE("remaining length: varint edge cases and too_large as soon as the length is known") {
  struct Case {
    std::size_t length;
    std::string varint;
  };
  const Case cases[] = {
      {0, bytes({0x00})},
      {127, bytes({0x7F})},
      {128, bytes({0x80, 0x01})},
      {16383, bytes({0xFF, 0x7F})},
      {16384, bytes({0x80, 0x80, 0x01})},
      {2097151, bytes({0xFF, 0xFF, 0x7F})},
      {2097152, bytes({0x80, 0x80, 0x80, 0x01})},
      {268435455, bytes({0xFF, 0xFF, 0xFF, 0x7F})},
  };
  constexpr auto unlimited = std::numeric_limits<std::size_t>::max();
  for (const auto& c : cases) {
    CAPTURE(c.length);
    const std::string header = "\x30" + c.varint;
    const std::size_t total = header.size() + c.length;
    Frame f;
    // Every prefix of the fixed header is incomplete.
    for (std::size_t n = 0; n < header.size(); ++n) {
      CHECK(next_frame(std::string_view(header).substr(0, n), unlimited, f) == FrameStatus::incomplete);
    }
    if (c.length > 0) {
      CHECK(next_frame(header, unlimited, f) == FrameStatus::incomplete);
      CHECK(next_frame(header, total, f) == FrameStatus::incomplete);
    }
    CHECK(next_frame(header, total - 1, f) == FrameStatus::too_large);
    if (c.length <= 2097152) {
      // The whole packet and the first byte of the next one.
      const std::string buf = header + std::string(c.length, 'p') + "\xC0";
      REQUIRE(next_frame(buf, total, f) == FrameStatus::complete);
      CHECK(f.header == 0x30);
      CHECK(f.type() == Type::publish);
      CHECK(f.size == total);
      CHECK(f.body.size() == c.length);
      CHECK(f.body.data() == buf.data() + header.size());
      CHECK(next_frame(std::string_view(buf).substr(0, total - 1), total, f) == FrameStatus::incomplete);
    }
  }
  Frame f;
  CHECK(next_frame(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}), unlimited, f) == FrameStatus::malformed);
  // Malformed as soon as the 4th length byte says another one follows.
  CHECK(next_frame(bytes({0x30, 0x80, 0x80, 0x80, 0x80}), unlimited, f) == FrameStatus::malformed);
  CHECK(next_frame(bytes({0x30, 0x80, 0x80, 0x80}), unlimited, f) == FrameStatus::incomplete);
  CHECK(next_frame("", unlimited, f) == FrameStatus::incomplete);
  // PINGRESP is 2 bytes: exactly at the limit is fine.
  REQUIRE(next_frame(bytes({0xD0, 0x00}), 2, f) == FrameStatus::complete);
  CHECK(f.size == 2);
  CHECK(next_frame(bytes({0xD0, 0x00}), 1, f) == FrameStatus::too_large);
}

TEST_CASE("CONNACK 3.1.1") {
  std::string error;
  auto p = decode_one(bytes({0x20, 0x02, 0x01, 0x00}), Version::v311, error);
  REQUIRE(p);
  auto& a = std::get<ConnAck>(*p);
  CHECK(a.session_present);
  CHECK(a.code == 0);
  CHECK(a.receive_maximum == 65535);
  CHECK(a.maximum_qos == 2);
  CHECK(a.reason_string.empty());
  CHECK(a.assigned_client_id.empty());

  p = decode_one(bytes({0x20, 0x02, 0x00, 0x05}), Version::v311, error);
  REQUIRE(p);
  CHECK_FALSE(std::get<ConnAck>(*p).session_present);
  CHECK(std::get<ConnAck>(*p).code == 5);

  CHECK_FALSE(decode_one(bytes({0x20, 0x01, 0x00}), Version::v311, error));
  CHECK(error == "CONNACK: truncated");
  CHECK_FALSE(decode_one(bytes({0x20, 0x03, 0x00, 0x00, 0x00}), Version::v311, error));
  CHECK(error == "CONNACK: bytes after the end");
  CHECK_FALSE(decode_one(bytes({0x20, 0x02, 0x02, 0x00}), Version::v311, error));
  CHECK(error == "CONNACK: reserved acknowledge flags set");
  CHECK_FALSE(decode_one(bytes({0x21, 0x02, 0x00, 0x00}), Version::v311, error));
  CHECK(error == "CONNACK: reserved fixed header flags 1");
}

// A v5 CONNACK with the four properties the client reads and one of every other type to skip.
const std::string connack_v5 = bytes({
    0x20, 0x30, 0x01, 0x00, 0x2D,             // flags (session present), success, 45 bytes
    0x21, 0x00, 0x0A,                         // receive maximum 10
    0x24, 0x01,                               // maximum QoS 1
    0x1F, 0x00, 0x02, 'o',  'k',              // reason string
    0x12, 0x00, 0x03, 'a',  'b',  'c',        // assigned client identifier
    0x27, 0x00, 0x00, 0x10, 0x00,             // maximum packet size (four bytes)
    0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v',  // user property (string pair)
    0x22, 0x00, 0x05,                         // topic alias maximum (two bytes)
    0x25, 0x00,                               // retain available (byte)
    0x0B, 0x80, 0x01,                         // subscription identifier 128 (varint)
    0x16, 0x00, 0x02, 0x01, 0x02,             // authentication data (binary)
    0x1C, 0x00, 0x01, 'x',                    // server reference (string)
});

TEST_CASE("CONNACK 5: properties read and skipped") {
  std::string error;
  const auto p = decode_one(connack_v5, Version::v5, error);
  REQUIRE_MESSAGE(p, error);
  const auto& a = std::get<ConnAck>(*p);
  CHECK(a.session_present);
  CHECK(a.code == 0);
  CHECK(a.receive_maximum == 10);
  CHECK(a.maximum_qos == 1);
  CHECK(a.reason_string == "ok");
  CHECK(a.assigned_client_id == "abc");

  const auto refused = decode_one(bytes({0x20, 0x03, 0x00, 0x87, 0x00}), Version::v5, error);
  REQUIRE(refused);
  CHECK(std::get<ConnAck>(*refused).code == 0x87);
  CHECK(std::get<ConnAck>(*refused).receive_maximum == 65535);
  CHECK(std::get<ConnAck>(*refused).maximum_qos == 2);
}

TEST_CASE("CONNACK 5: what is refused") {
  std::string error;
  CHECK_FALSE(decode_one(bytes({0x20, 0x05, 0x00, 0x00, 0x02, 0x05, 0x00}), Version::v5, error));
  CHECK(error == "CONNACK: unknown property 0x05");
  // The properties length is required in a v5 CONNACK.
  CHECK_FALSE(decode_one(bytes({0x20, 0x02, 0x00, 0x00}), Version::v5, error));
  CHECK(error == "CONNACK: truncated properties");
  // A properties length past the end of the packet.
  CHECK_FALSE(decode_one(bytes({0x20, 0x04, 0x00, 0x00, 0x03, 0x25}), Version::v5, error));
  CHECK(error == "CONNACK: truncated properties");
  // A property cut inside the block: receive maximum with one of its two bytes.
  CHECK_FALSE(decode_one(bytes({0x20, 0x05, 0x00, 0x00, 0x02, 0x21, 0x00}), Version::v5, error));
  CHECK(error == "CONNACK: truncated property 0x21");
  CHECK_FALSE(decode_one(bytes({0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00}), Version::v5, error));
  CHECK(error == "CONNACK: receive maximum 0");
  CHECK_FALSE(decode_one(bytes({0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x03}), Version::v5, error));
  CHECK(error == "CONNACK: maximum QoS 3");
  CHECK_FALSE(decode_one(bytes({0x20, 0x04, 0x00, 0x00, 0x00, 0x00}), Version::v5, error));
  CHECK(error == "CONNACK: bytes after the end");
  // A subscription identifier whose varint runs past 4 bytes.
  CHECK_FALSE(decode_one(bytes({0x20, 0x09, 0x00, 0x00, 0x06, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x01}),
                         Version::v5, error));
  CHECK(error == "CONNACK: truncated property 0x0B");
}

TEST_CASE("every cut of a CONNACK 5 is incomplete to framing and an error to decoding") {
  const std::string_view whole = connack_v5;
  const std::string_view body = whole.substr(2);
  for (std::size_t n = 0; n < whole.size(); ++n) {
    Frame f;
    CHECK(next_frame(whole.substr(0, n), 1 << 20, f) == FrameStatus::incomplete);
  }
  for (std::size_t n = 0; n < body.size(); ++n) {
    CAPTURE(n);
    std::string error;
    CHECK_FALSE(decode_body(0x20, body.substr(0, n), Version::v5, error));
    CHECK(error.starts_with("CONNACK: truncated"));
  }
}

// A v5 PUBLISH, QoS 1, packet identifier 7, with properties of every kind a broker forwards.
const std::string publish_v5 = bytes({
    0x32, 0x27, 0x00, 0x03, 'a',  '/',  'b', 0x00, 0x07,
    0x1D,                                     // 29 bytes of properties
    0x01, 0x01,                               // payload format indicator
    0x02, 0x00, 0x00, 0x00, 0x3C,             // message expiry interval
    0x08, 0x00, 0x01, 'r',                    // response topic
    0x09, 0x00, 0x02, 0x01, 0x02,             // correlation data
    0x0B, 0x05,                               // subscription identifier
    0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v',  // user property
    0x03, 0x00, 0x01, 'j',                    // content type
    'h',  'i',
});

TEST_CASE("PUBLISH decoding") {
  std::string error;
  SUBCASE("5, properties skipped") {
    const auto p = decode_one(publish_v5, Version::v5, error);
    REQUIRE_MESSAGE(p, error);
    const auto& m = std::get<Publish>(*p);
    CHECK(m.topic == "a/b");
    CHECK(m.payload == "hi");
    CHECK(m.qos == 1);
    CHECK(m.packet_id == 7);
    CHECK_FALSE(m.dup);
    CHECK_FALSE(m.retain);
  }
  SUBCASE("3.1.1 QoS 0 retain: no packet identifier, the rest is payload") {
    const auto p = decode_one(bytes({0x31, 0x05, 0x00, 0x01, 't', 0x00, 0x07}), Version::v311, error);
    REQUIRE(p);
    const auto& m = std::get<Publish>(*p);
    CHECK(m.topic == "t");
    CHECK(m.payload == bytes({0x00, 0x07}));
    CHECK(m.qos == 0);
    CHECK(m.packet_id == 0);
    CHECK(m.retain);
  }
  SUBCASE("3.1.1 QoS 2 dup, empty payload") {
    const auto p = decode_one(bytes({0x3C, 0x05, 0x00, 0x01, 't', 0xAB, 0xCD}), Version::v311, error);
    REQUIRE(p);
    const auto& m = std::get<Publish>(*p);
    CHECK(m.qos == 2);
    CHECK(m.dup);
    CHECK(m.packet_id == 0xABCD);
    CHECK(m.payload.empty());
  }
  SUBCASE("what is refused") {
    CHECK_FALSE(decode_one(bytes({0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01}), Version::v311, error));
    CHECK(error == "PUBLISH: QoS 3");
    CHECK_FALSE(decode_one(bytes({0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00}), Version::v311, error));
    CHECK(error == "PUBLISH: packet identifier 0");
    CHECK_FALSE(decode_one(bytes({0x30, 0x05, 0x00, 0x03, 'a', 0x00, 'b'}), Version::v311, error));
    CHECK(error == "PUBLISH: topic name holds a NUL character");
    CHECK_FALSE(decode_one(bytes({0x30, 0x03, 0x00, 0x01, '#'}), Version::v311, error));
    CHECK(error == "PUBLISH: topic name holds a wildcard ('+' or '#')");
    // An empty topic (a topic alias) is refused: the client allows no aliases.
    CHECK_FALSE(decode_one(bytes({0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01}), Version::v5, error));
    CHECK(error == "PUBLISH: topic name is empty");
    CHECK_FALSE(decode_one(bytes({0x30, 0x05, 0x00, 0x01, 't', 0x01, 0x7F}), Version::v5, error));
    CHECK(error == "PUBLISH: unknown property 0x7F");
  }
}

TEST_CASE("every cut of a PUBLISH 5 fails before the payload and shortens the payload after it") {
  const std::string_view body = std::string_view(publish_v5).substr(2);
  const std::size_t payload_at = body.size() - 2;
  for (std::size_t n = 0; n < publish_v5.size(); ++n) {
    Frame f;
    CHECK(next_frame(std::string_view(publish_v5).substr(0, n), 1 << 20, f) == FrameStatus::incomplete);
  }
  for (std::size_t n = 0; n <= body.size(); ++n) {
    CAPTURE(n);
    std::string error;
    const auto p = decode_body(0x32, body.substr(0, n), Version::v5, error);
    if (n < payload_at) {
      CHECK_FALSE(p);
      CHECK(error.starts_with("PUBLISH: "));
    } else {
      REQUIRE(p);
      CHECK(std::get<Publish>(*p).payload == std::string_view("hi").substr(0, n - payload_at));
    }
  }
}

TEST_CASE("PUBACK, PUBREC, PUBREL and PUBCOMP decoding") {
  std::string error;
  auto ack = [&](const std::string& buf, Version v) -> Ack {
    const auto p = decode_one(buf, v, error);
    REQUIRE_MESSAGE(p, error);
    return std::get<Ack>(*p);
  };
  Ack a = ack(bytes({0x40, 0x02, 0x12, 0x34}), Version::v311);
  CHECK((a.type == Type::puback && a.packet_id == 0x1234 && a.reason == 0));
  a = ack(bytes({0x50, 0x02, 0x00, 0x01}), Version::v5);
  CHECK((a.type == Type::pubrec && a.packet_id == 1 && a.reason == 0));
  a = ack(bytes({0x62, 0x03, 0x00, 0x02, 0x92}), Version::v5);  // reason, no properties
  CHECK((a.type == Type::pubrel && a.packet_id == 2 && a.reason == 0x92));
  a = ack(bytes({0x70, 0x04, 0x00, 0x03, 0x00, 0x00}), Version::v5);
  CHECK((a.type == Type::pubcomp && a.packet_id == 3 && a.reason == 0));
  a = ack(bytes({0x40, 0x08, 0x00, 0x04, 0x10, 0x04, 0x1F, 0x00, 0x01, 'r'}), Version::v5);
  CHECK((a.type == Type::puback && a.packet_id == 4 && a.reason == 0x10));

  CHECK_FALSE(decode_one(bytes({0x60, 0x02, 0x00, 0x01}), Version::v311, error));
  CHECK(error == "PUBREL: reserved fixed header flags 0");
  CHECK_FALSE(decode_one(bytes({0x42, 0x02, 0x00, 0x01}), Version::v311, error));
  CHECK(error == "PUBACK: reserved fixed header flags 2");
  CHECK_FALSE(decode_one(bytes({0x40, 0x01, 0x00}), Version::v311, error));
  CHECK(error == "PUBACK: truncated packet identifier");
  CHECK_FALSE(decode_one(bytes({0x40, 0x02, 0x00, 0x00}), Version::v311, error));
  CHECK(error == "PUBACK: packet identifier 0");
  CHECK_FALSE(decode_one(bytes({0x40, 0x03, 0x00, 0x01, 0x10}), Version::v311, error));
  CHECK(error == "PUBACK: bytes after the end");
  CHECK_FALSE(decode_one(bytes({0x50, 0x05, 0x00, 0x01, 0x10, 0x02, 0x1F}), Version::v5, error));
  CHECK(error == "PUBREC: truncated properties");
  CHECK_FALSE(decode_one(bytes({0x70, 0x05, 0x00, 0x01, 0x10, 0x00, 0x00}), Version::v5, error));
  CHECK(error == "PUBCOMP: bytes after the end");
}

TEST_CASE("SUBACK, PINGRESP and DISCONNECT decoding") {
  std::string error;
  auto p = decode_one(bytes({0x90, 0x04, 0x00, 0x01, 0x01, 0x80}), Version::v311, error);
  REQUIRE(p);
  CHECK(std::get<SubAck>(*p).packet_id == 1);
  CHECK(std::get<SubAck>(*p).codes == std::vector<std::uint8_t>{0x01, 0x80});

  p = decode_one(bytes({0x90, 0x09, 0x01, 0x02, 0x03, 0x1F, 0x00, 0x00, 0x02, 0x00, 0x87}), Version::v5,
                 error);
  REQUIRE_MESSAGE(p, error);
  CHECK(std::get<SubAck>(*p).packet_id == 0x0102);
  CHECK(std::get<SubAck>(*p).codes == std::vector<std::uint8_t>{0x02, 0x00, 0x87});

  CHECK_FALSE(decode_one(bytes({0x90, 0x02, 0x00, 0x01}), Version::v311, error));
  CHECK(error == "SUBACK: no return codes");
  CHECK_FALSE(decode_one(bytes({0x90, 0x03, 0x00, 0x01, 0x00}), Version::v5, error));
  CHECK(error == "SUBACK: no return codes");

  p = decode_one(bytes({0xD0, 0x00}), Version::v311, error);
  REQUIRE(p);
  CHECK(std::holds_alternative<PingResp>(*p));
  CHECK_FALSE(decode_one(bytes({0xD0, 0x01, 0x00}), Version::v5, error));
  CHECK(error == "PINGRESP: remaining length not 0");

  p = decode_one(bytes({0xE0, 0x00}), Version::v5, error);
  REQUIRE(p);
  CHECK(std::get<Disconnect>(*p).reason == 0);
  p = decode_one(bytes({0xE0, 0x01, 0x8B}), Version::v5, error);  // server shutting down
  REQUIRE(p);
  CHECK(std::get<Disconnect>(*p).reason == 0x8B);
  CHECK(std::get<Disconnect>(*p).reason_string.empty());
  p = decode_one(
      bytes({0xE0, 0x0E, 0x9C, 0x0B, 0x1C, 0x00, 0x01, 'b', 0x1F, 0x00, 0x04, 'm', 'o', 'v', 'e', 0x00}),
      Version::v5, error);
  CHECK_FALSE(p);  // one byte more than the properties declare
  CHECK(error == "DISCONNECT: bytes after the end");
  p = decode_one(bytes({0xE0, 0x0D, 0x9C, 0x0B, 0x1C, 0x00, 0x01, 'b', 0x1F, 0x00, 0x04, 'm', 'o', 'v', 'e'}),
                 Version::v5, error);
  REQUIRE_MESSAGE(p, error);
  CHECK(std::get<Disconnect>(*p).reason == 0x9C);
  CHECK(std::get<Disconnect>(*p).reason_string == "move");

  CHECK_FALSE(decode_one(bytes({0xE0, 0x00}), Version::v311, error));
  CHECK(error == "DISCONNECT from a 3.1.1 broker");
}

TEST_CASE("packets a client never receives") {
  std::string error;
  struct Case {
    std::string packet;
    Version v;
    std::string error;
  };
  const Case cases[] = {
      {bytes({0x10, 0x00}), Version::v5, "unexpected CONNECT from the broker"},
      {bytes({0x82, 0x00}), Version::v311, "unexpected SUBSCRIBE from the broker"},
      {bytes({0xA2, 0x00}), Version::v311, "unexpected UNSUBSCRIBE from the broker"},
      {bytes({0xB0, 0x02, 0x00, 0x01}), Version::v311, "unexpected UNSUBACK from the broker"},
      {bytes({0xC0, 0x00}), Version::v5, "unexpected PINGREQ from the broker"},
      {bytes({0xF0, 0x00}), Version::v5, "AUTH: enhanced authentication is not supported"},
      {bytes({0xF0, 0x00}), Version::v311, "unexpected AUTH from the broker"},
      {bytes({0x00, 0x00}), Version::v311, "unexpected reserved packet type 0 from the broker"},
  };
  for (const auto& c : cases) {
    CHECK_FALSE(decode_one(c.packet, c.v, error));
    CHECK(error == c.error);
  }
}

TEST_CASE("connack_text") {
  CHECK(connack_text(0, Version::v311) == "accepted");
  CHECK(connack_text(1, Version::v311) == "unacceptable protocol version");
  CHECK(connack_text(2, Version::v311) == "identifier rejected");
  CHECK(connack_text(3, Version::v311) == "server unavailable");
  CHECK(connack_text(4, Version::v311) == "bad user name or password");
  CHECK(connack_text(5, Version::v311) == "not authorized");
  CHECK(connack_text(6, Version::v311) == "code 0x06");
  CHECK(connack_text(0x87, Version::v311) == "code 0x87");

  CHECK(connack_text(0, Version::v5) == "success");
  CHECK(connack_text(0x80, Version::v5) == "unspecified error");
  CHECK(connack_text(0x84, Version::v5) == "unsupported protocol version");
  CHECK(connack_text(0x86, Version::v5) == "bad user name or password");
  CHECK(connack_text(0x87, Version::v5) == "not authorized");
  CHECK(connack_text(0x8A, Version::v5) == "banned");
  CHECK(connack_text(0x9B, Version::v5) == "QoS not supported");
  CHECK(connack_text(0x9F, Version::v5) == "connection rate exceeded");
  CHECK(connack_text(0x05, Version::v5) == "code 0x05");
  CHECK(connack_text(0x8B, Version::v5) == "server shutting down");                  // a DISCONNECT reason
  CHECK(connack_text(0xA2, Version::v5) == "wildcard subscriptions not supported");  // SUBACK
  CHECK(connack_text(0x8B, Version::v311) == "code 0x8B");
  CHECK(connack_text(0xA3, Version::v5) == "code 0xA3");
  CHECK(connack_text(0xFF, Version::v5) == "code 0xFF");
}

TEST_CASE("topic names and filters") {
  std::string error;
  for (const char* name : {"a", "/", "a//b", "sport/tennis/player1", "$SYS/broker", " ", "a/"}) {
    CAPTURE(name);
    CHECK(valid_topic_name(name, error));
  }
  CHECK(valid_topic_name(std::string(65535, 'a'), error));
  CHECK_FALSE(valid_topic_name(std::string(65536, 'a'), error));
  CHECK(error == "topic name is longer than 65,535 bytes");
  CHECK_FALSE(valid_topic_name("", error));
  CHECK(error == "topic name is empty");
  CHECK_FALSE(valid_topic_name(std::string("a\0b", 3), error));
  CHECK(error == "topic name holds a NUL character");
  for (const char* name : {"+", "a/+", "sport+", "#", "a/#", "a#b"}) {
    CAPTURE(name);
    CHECK_FALSE(valid_topic_name(name, error));
    CHECK(error == "topic name holds a wildcard ('+' or '#')");
  }

  for (const char* filter : {"#", "sport/tennis/#", "sport/#", "+", "+/tennis/#", "sport/+/player1", "+/+",
                             "/+", "a//b", "$SYS/#", "/", "a/+/#"}) {
    CAPTURE(filter);
    CHECK(valid_topic_filter(filter, error));
  }
  CHECK(valid_topic_filter(std::string(65533, 'a') + "/#", error));
  CHECK_FALSE(valid_topic_filter(std::string(65536, 'a'), error));
  CHECK(error == "topic filter is longer than 65,535 bytes");
  CHECK_FALSE(valid_topic_filter("", error));
  CHECK(error == "topic filter is empty");
  CHECK_FALSE(valid_topic_filter(std::string("a/\0", 3), error));
  CHECK(error == "topic filter holds a NUL character");
  for (const char* filter : {"sport+", "sport/+tennis", "++", "a/b+/c"}) {
    CAPTURE(filter);
    CHECK_FALSE(valid_topic_filter(filter, error));
    CHECK(error == "topic filter: '+' must be a whole level");
  }
  for (const char* filter : {"sport/tennis#", "sport/tennis/#/ranking", "#/", "##", "a/#b", "#/a", "+#"}) {
    CAPTURE(filter);
    CHECK_FALSE(valid_topic_filter(filter, error));
  }
  CHECK_FALSE(valid_topic_filter("sport/tennis/#/ranking", error));
  CHECK(error == "topic filter: '#' must be the whole last level");
}

TEST_CASE("topic matching") {
  struct Case {
    const char* filter;
    const char* topic;
    bool matches;
  };
  const Case cases[] = {
      // MQTT 3.1.1 §4.7.1.2 and 5.0 §4.7.1.2
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/#", "sport", true},
      {"#", "sport/tennis", true},
      // §4.7.1.3
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player2", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      // §4.7.2: '$' topics
      {"#", "$SYS/broker/load", false},
      {"+/monitor/Clients", "$SYS/monitor/Clients", false},
      {"$SYS/#", "$SYS/monitor/Clients", true},
      {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
      {"+", "$SYS", false},
      {"a/+", "a/$b", true},  // only the first level is special
      // §4.7.3: case sensitive, empty levels, trailing slash
      {"ACCOUNTS", "Accounts", false},
      {"a//b", "a//b", true},
      {"a/+/b", "a//b", true},
      {"a/b", "a/b/", false},
      {"a/b/", "a/b", false},
      {"a/b/+", "a/b/", true},
      {"a/#", "a/b/c", true},
      {"a/+/#", "a/b", true},
      {"a/+/#", "a", false},
      {"a/b", "a/b", true},
      {"a/b", "a/bc", false},
      {"a/bc", "a/b", false},
      {"+/b", "a/b/c", false},
      {"/#", "/", true},
      {"#", "/", true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.filter);
    CAPTURE(c.topic);
    CHECK(topic_matches(c.filter, c.topic) == c.matches);
  }
}
