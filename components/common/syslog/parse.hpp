// Syslog messages (RFC 5424 and RFC 3164) into record fields, shared by udp_input and
// syslog_input. Kept apart from the sockets: small, and tested on a corpus
// (tests/data/syslog/).
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

namespace weir::components::syslog {

// Parses one message (without its framing: no trailing LF). RFC 5424 when a version digit
// follows the PRI, else RFC 3164 (BSD syslog) as senders write it in practice: the timestamp
// "Mmm dd hh:mm:ss" or an RFC 3339 one, an optional hostname, an optional TAG[PID]: before the
// message. `out` gets every field, null where the message has none:
//   protocol "rfc5424" | "rfc3164", facility, severity (numbers), version (5424: 1; 3164: null),
//   timestamp (the text sent: RFC 3339 for 5424, "Oct 11 22:14:15" for a 3164 one),
//   hostname, app_name, procid, msgid, structured_data ({"id": {"param": "value"}}, a
//   parameter given several times holds an array), message.
// False with `reason` (and `out` unspecified) for a message that breaks the grammar: no or a
// bad PRI, a 5424 header field missing or too long, a bad timestamp, unterminated structured
// data, text that is not UTF-8.
bool parse(std::string_view line, boost::json::object& out, std::string& reason);

}  // namespace weir::components::syslog
