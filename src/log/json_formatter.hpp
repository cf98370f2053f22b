// spdlog formatter that writes one JSON object per line, for log shippers.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace weir::log {

// The "[flow/component] " or "[flow] " prefix that runtime and component log lines start with.
struct LinePrefix {
  std::string_view flow;
  std::string_view component;  // empty for "[flow] "
  std::string_view rest;       // the message after the prefix and its space
};
// Splits a message into prefix and text; nullopt when it does not start with such a prefix.
std::optional<LinePrefix> split_prefix(std::string_view msg);

// {"ts", "level", "flow", "component", "msg"}: flow and component come from the prefix of the
// message (which msg then omits) and are absent when it has none.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  std::string scratch_;  // reused: sinks call format() under their own mutex
};

}  // namespace weir::log
