#include "log/json_formatter.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "sdk/base/json_write.hpp"

namespace weir::log {
namespace {

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

// "2024-05-01T12:00:00.123Z"
void append_utc(std::string& out, spdlog::log_clock::time_point tp) {
  const auto since = tp.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  std::time_t t = static_cast<std::time_t>(secs.count());
  if (ms < 0) {  // before 1970: keep the millisecond part positive
    ms += 1000;
    --t;
  }
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  const char frac[6] = {'.',
                        static_cast<char>('0' + ms / 100),
                        static_cast<char>('0' + ms / 10 % 10),
                        static_cast<char>('0' + ms % 10),
                        'Z',
                        '"'};
  out.append(frac, 6);
}

}  // namespace

std::optional<LinePrefix> split_prefix(std::string_view msg) {
  if (msg.size() < 3 || msg.front() != '[') return std::nullopt;
  const auto close = msg.find(']');
  if (close == std::string_view::npos || close == 1) return std::nullopt;
  // "] " or the end: "[a/b]c" is not a prefix.
  if (close + 1 < msg.size() && msg[close + 1] != ' ') return std::nullopt;
  const auto inside = msg.substr(1, close - 1);
  for (char c : inside)
    if (c == '[' || c == ' ' || c == '\t' || c == '\n' || c == '"') return std::nullopt;
  LinePrefix p;
  const auto slash = inside.find('/');
  if (slash == std::string_view::npos) {
    p.flow = inside;
  } else {
    p.flow = inside.substr(0, slash);
    p.component = inside.substr(slash + 1);
    if (p.flow.empty() || p.component.empty() || p.component.find('/') != std::string_view::npos)
      return std::nullopt;
  }
  p.rest = msg.substr(std::min(close + 2, msg.size()));
  return p;
}

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  scratch_.clear();
  scratch_ += "{\"ts\":\"";
  append_utc(scratch_, msg.time);
  scratch_ += ",\"level\":\"";
  scratch_ += level_name(msg.level);
  scratch_ += '"';
  std::string_view text(msg.payload.data(), msg.payload.size());
  // "[flow/component] text" becomes fields, so shippers can filter on them.
  if (auto p = split_prefix(text)) {
    scratch_ += ",\"flow\":";
    sdk::write_json_string(scratch_, p->flow);
    if (!p->component.empty()) {
      scratch_ += ",\"component\":";
      sdk::write_json_string(scratch_, p->component);
    }
    text = p->rest;
  }
  scratch_ += ",\"msg\":";
  sdk::write_json_string(scratch_, text);
  if (msg.logger_name.size() > 0) {
    scratch_ += ",\"logger\":";
    sdk::write_json_string(scratch_, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
  }
  scratch_ += "}\n";
  dest.append(scratch_.data(), scratch_.data() + scratch_.size());
}

std::unique_ptr<spdlog::formatter> JsonFormatter::clone() const {
  return std::make_unique<JsonFormatter>();
}

}  // namespace weir::log
