// spdlog formatter that writes one JSON object per line, for log shippers.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>

namespace weir::log {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  std::string scratch_;  // reused: sinks call format() under their own mutex
};

}  // namespace weir::log
