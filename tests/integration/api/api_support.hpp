// What the API tests share: calls to the rig's engine over HTTP, and the pipeline engine up and
// ready.
#pragma once

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "../engine/rig.hpp"
#include "http/client.hpp"

namespace weir::testing {

inline http::ClientResult call(EngineRig& rig, std::string_view method, std::string_view target,
                               std::string_view body = {}, std::string_view token = {}) {
  return http::request(method, rig.api(), target, body, token);
}

inline boost::json::value body_json(const http::ClientResult& r) {
  boost::json::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  INFO("body: " << r.body);
  REQUIRE_FALSE(ec);
  return v;
}

inline bool api_answers(EngineRig& rig, std::string_view target = "/health") {
  using namespace std::chrono_literals;
  return wait_until([&] { return call(rig, "GET", target).status == 200; }, std::chrono::seconds(30), 100ms);
}

// SRC and OUT, the foundation pipeline flow, the engine started and ready.
inline void start_pipeline(EngineRig& rig) {
  rig.create_streams();
  rig.write_flow("pipeline.json", pipeline_flow());
  rig.start_engine();
  REQUIRE_MESSAGE(api_answers(rig, "/ready"), rig.engine_log());
}

}  // namespace weir::testing
