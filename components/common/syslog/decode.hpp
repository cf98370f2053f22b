// What udp_input and syslog_input share beyond the syslog grammar: a datagram's or frame's
// record (by format), and the socket addresses they listen on and hear from.
#pragma once

#include <sys/socket.h>

#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace weir::sdk {
class RecordParser;
class InputSink;
}  // namespace weir::sdk

namespace weir::components::syslog {

enum class Format { syslog, json, text };

class Decoder {
 public:
  // `sender_field`: when not empty, a record that is an object gets the sender's "ip:port" there.
  Decoder(Format format, std::string sender_field);
  ~Decoder();
  // The record of one message; false with the reason (the message then goes to `error`).
  bool decode(std::string_view payload, std::string_view sender, boost::json::value& out,
              std::string& reason);
  // Pushes the record of `payload` to `sink`, or fails the payload to `error` with the reason and
  // " (from <sender>)"; with `refused` not empty, fails it with that reason without decoding.
  // False when it went to `error` (`sink_ok` says what the sink returned).
  bool deliver(sdk::InputSink& sink, std::string_view payload, std::string_view sender, std::string refused,
               bool& sink_ok);

 private:
  Format format_;
  std::string sender_field_;
  std::unique_ptr<sdk::RecordParser> parser_;
};

// A non-blocking socket of `socktype` bound to "host:port" ("[::1]:514" for IPv6, "0.0.0.0:514"),
// listening when it is SOCK_STREAM; `before_bind` sets its options. -1 with the reason.
int listen_socket(const std::string& listen, int socktype, const std::function<void(int fd)>& before_bind,
                  std::string& error);
// "ip:port" of a peer ("[ip]:port" for IPv6).
std::string address_text(const sockaddr_storage& addr);
// The port a socket is bound to (0 when unknown).
unsigned bound_port(int fd);

}  // namespace weir::components::syslog
