#include "log/flow_levels.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "log/flow_levels_impl.hpp"
#include "log/json_formatter.hpp"

namespace weir::log {

namespace {

std::mutex mu;
std::map<std::string, spdlog::level::level_enum, std::less<>> overrides;  // guarded by mu
std::atomic<bool> any_override{false};
std::atomic<int> engine_level{spdlog::level::info};

// The logger lets through the lowest level anyone wants; sink_it_ sorts the rest out.
void update_logger_level() {
  auto lowest = static_cast<spdlog::level::level_enum>(engine_level.load());
  for (const auto& [flow, level] : overrides) lowest = std::min(lowest, level);
  any_override = !overrides.empty();
  if (auto logger = spdlog::default_logger()) logger->set_level(lowest);
}

}  // namespace

spdlog::level::level_enum to_spdlog(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::trace:
      return spdlog::level::trace;
    case config::LogLevel::debug:
      return spdlog::level::debug;
    case config::LogLevel::info:
      return spdlog::level::info;
    case config::LogLevel::warn:
      return spdlog::level::warn;
    case config::LogLevel::error:
      return spdlog::level::err;
    case config::LogLevel::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

void set_engine_level(config::LogLevel level) {
  std::lock_guard lock(mu);
  engine_level = to_spdlog(level);
  update_logger_level();
}

void set_flow_level(const std::string& flow, std::optional<config::LogLevel> level) {
  std::lock_guard lock(mu);
  if (level)
    overrides[flow] = to_spdlog(*level);
  else
    overrides.erase(flow);
  update_logger_level();
}

void FlowLevelLogger::sink_it_(const spdlog::details::log_msg& msg) {
  if (any_override.load(std::memory_order_relaxed)) {
    auto threshold = static_cast<spdlog::level::level_enum>(engine_level.load());
    if (auto p = split_prefix(std::string_view(msg.payload.data(), msg.payload.size()))) {
      std::lock_guard lock(mu);
      if (auto it = overrides.find(p->flow); it != overrides.end()) threshold = it->second;
    }
    if (msg.level < threshold) return;
  }
  spdlog::logger::sink_it_(msg);
}

}  // namespace weir::log
