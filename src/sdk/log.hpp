// A component's logger, handed over in its Context: every line carries the component's flow and
// id, without the component writing them. They travel as the "[flow/component] " head of the
// message, which the engine's sinks read (text: kept; JSON: the "flow" and "component" fields;
// a flow's own log level).
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

namespace weir::sdk {

class Log {
 public:
  Log() = default;  // lines without a flow (tests, tools)
  Log(const std::string& flow, const std::string& component) : prefix_("[" + flow + "/" + component + "] ") {}

  template <class... A>
  void debug(fmt::format_string<A...> f, A&&... a) const {
    write(spdlog::level::debug, f, std::forward<A>(a)...);
  }
  template <class... A>
  void info(fmt::format_string<A...> f, A&&... a) const {
    write(spdlog::level::info, f, std::forward<A>(a)...);
  }
  template <class... A>
  void warn(fmt::format_string<A...> f, A&&... a) const {
    write(spdlog::level::warn, f, std::forward<A>(a)...);
  }
  template <class... A>
  void error(fmt::format_string<A...> f, A&&... a) const {
    write(spdlog::level::err, f, std::forward<A>(a)...);
  }
  // The engine's logger is looked up on each line: the engine sets it up (once, at boot) after
  // components may have been created.
  template <class... A>
  void write(spdlog::level::level_enum level, fmt::format_string<A...> f, A&&... a) const {
    auto* logger = spdlog::default_logger_raw();
    if (logger == nullptr || !logger->should_log(level)) return;
    fmt::memory_buffer line;
    line.append(prefix_);
    fmt::format_to(std::back_inserter(line), f, std::forward<A>(a)...);
    logger->log(level, "{}", std::string_view(line.data(), line.size()));
  }
  bool should_log(spdlog::level::level_enum level) const {
    auto* logger = spdlog::default_logger_raw();
    return logger != nullptr && logger->should_log(level);
  }

 private:
  std::string prefix_;
};

}  // namespace weir::sdk
