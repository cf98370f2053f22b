#pragma once

#include <chrono>
#include <string>

#include "sdk/spec.hpp"

namespace weir::components::nats_input {

enum class Content { json, text };

struct Config {
  std::string subject;  // required
  std::string stream;   // empty: a core NATS subscription
  std::string durable;  // empty: weir_<flow>_<component>
  Content content = Content::json;
  std::chrono::nanoseconds ack_wait = std::chrono::seconds(30);
  int fetch_batch = 1024;
};

sdk::ComponentSpec<Config> spec();

// The consumer name used when `durable` is not set: weir_<flow>_<component>, with every
// character a consumer name may not hold replaced by '_'.
std::string default_durable(const std::string& flow, const std::string& component);

}  // namespace weir::components::nats_input
