// The settings udp_input and syslog_input share, declared once for both specs.
#pragma once

#include <string>

#include "common/syslog/decode.hpp"
#include "sdk/spec.hpp"

namespace weir::components::syslog {

struct ListenConfig {
  std::string listen;  // required: host:port
  Format format = Format::syslog;
  std::string sender_field;  // empty: the sender is not put in the record
};

void lint_listen(const ListenConfig& c, sdk::Lint& lint);

template <class Config>
void add_listen_fields(sdk::ComponentSpec<Config>& spec, const char* listen_example,
                       const std::string& unit) {
  using sdk::field;
  using L = ListenConfig;
  spec.field("listen", static_cast<std::string Config::*>(&L::listen),
             field()
                 .required()
                 .not_empty()
                 .doc("host:port to listen on (\"0.0.0.0:514\" for every interface, \"[::]:514\" for IPv6; "
                      "a port below 1024 needs CAP_NET_BIND_SERVICE).")
                 .example(listen_example))
      .field(
          "format", static_cast<Format Config::*>(&L::format),
          field()
              .doc("How each " + unit + " becomes a record.")
              .option("syslog", Format::syslog,
                      "RFC 5424 or RFC 3164, told apart per message, parsed into protocol, facility, "
                      "severity, version, timestamp, hostname, app_name, procid, msgid, structured_data and "
                      "message (null where the message has none). A malformed one goes to `error` with "
                      "the reason.")
              .option("json", Format::json, "A JSON value; invalid JSON goes to `error` with the reason.")
              .option("text", Format::text,
                      "{\"message\": \"<the text>\"}, a trailing LF or CR dropped; text that is not UTF-8 "
                      "goes to `error`."))
      .field("sender_field", static_cast<std::string Config::*>(&L::sender_field),
             field()
                 .doc("When set, a record that is a JSON object gets the sender's \"ip:port\" at this key.")
                 .example("sender"));
}

}  // namespace weir::components::syslog
