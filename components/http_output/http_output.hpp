#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/websocket/bridge_config.hpp"  // ws::TlsConfig: cert, key, ca
#include "sdk/field.hpp"
#include "sdk/spec.hpp"

namespace weir::components::http_output {

enum class Method { post, put };
enum class Format { single, array, ndjson };

struct Config {
  std::string url;           // a fixed URL, or
  sdk::Expression url_expr;  // one computed per record
  Method method = Method::post;
  Format format = Format::single;
  int max_records = 100;                                // per request (array, ndjson)
  sdk::ByteSize max_bytes{1024 * 1024};                 // per request body (array, ndjson)
  std::map<std::string, std::string> headers;           // fixed values
  std::map<std::string, sdk::Expression> header_exprs;  // values computed per record
  std::string authorization;                            // the Authorization header (secret)
  ws::TlsConfig tls;
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(5);
  std::chrono::nanoseconds request_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds retry_time = std::chrono::seconds(60);
  std::chrono::nanoseconds backoff_min = std::chrono::milliseconds(100);
  std::chrono::nanoseconds backoff_max = std::chrono::seconds(10);
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::http_output
