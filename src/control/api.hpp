// The engine's HTTP API: health, readiness, metrics, flows (list, get, put, delete, restart),
// validation, the component catalogue, dead letters, revisions, and live taps. Routing and JSON
// only; the work is the flow manager's, the engine's and the bus's.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <variant>

#include "http/server.hpp"

namespace weir::bus {
class Connection;
}
namespace weir::runtime {
class Engine;
}
namespace weir::store {
class Store;
}

namespace weir::control {

class FlowManager;

struct ApiContext {
  FlowManager* flows = nullptr;
  runtime::Engine* engine = nullptr;
  bus::Connection* conn = nullptr;
  store::Store* store = nullptr;  // may be null: no revision history
  std::string version;
  std::string token;  // empty: mutating calls are refused (403)
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::function<std::string()> metrics;          // the Prometheus page
  std::function<std::string()> components_json;  // the component catalogue
};

class Api {
 public:
  explicit Api(ApiContext ctx) : ctx_(std::move(ctx)) {}

  http::Response handle(const http::Request& req);
  std::variant<http::Response, http::Upgrade> upgrade(const http::Request& req);

  // The body of /ready and whether it is ready (also used by the readiness log line).
  std::pair<bool, std::string> readiness() const;

 private:
  ApiContext ctx_;
};

}  // namespace weir::control
