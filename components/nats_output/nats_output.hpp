#pragma once

#include <chrono>
#include <map>
#include <string>

#include "sdk/spec.hpp"

namespace weir::components::nats_output {

struct Config {
  std::string subject;  // required; no wildcards
  std::map<std::string, std::string> headers;
  std::chrono::nanoseconds ack_timeout = std::chrono::seconds(10);
};

sdk::ComponentSpec<Config> spec();

// The Nats-Msg-Id of a record: "<flow>.<component>:<record id>". Deterministic, so that a batch
// delivered again republishes the same ids and the target stream's duplicate window drops them.
std::string msg_id(const std::string& flow, const std::string& component, const std::string& record_id);

}  // namespace weir::components::nats_output
