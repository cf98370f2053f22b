// At most one log line per period for something that may repeat fast (refused connections):
// the first is logged, the next ones only after the period, with how many were left out.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace weir::ws {

class RateLimit {
 public:
  explicit RateLimit(std::chrono::steady_clock::duration period) : period_(period) {}
  // A value (the count left out since the last line) when this one may be logged. Not thread-safe.
  std::optional<std::uint64_t> allow() {
    auto now = std::chrono::steady_clock::now();
    if (logged_once_ && now - last_ < period_) {
      ++suppressed_;
      return std::nullopt;
    }
    logged_once_ = true;
    last_ = now;
    auto n = suppressed_;
    suppressed_ = 0;
    return n;
  }
  static std::string suppressed_text(std::uint64_t n) {
    return n == 0 ? std::string() : " (" + std::to_string(n) + " more not logged)";
  }

 private:
  std::chrono::steady_clock::duration period_;
  std::chrono::steady_clock::time_point last_{};
  bool logged_once_ = false;
  std::uint64_t suppressed_ = 0;
};

}  // namespace weir::ws
