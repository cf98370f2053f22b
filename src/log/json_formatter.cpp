#include "log/json_formatter.hpp"

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

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  scratch_.clear();
  scratch_ += "{\"ts\":\"";
  append_utc(scratch_, msg.time);
  scratch_ += ",\"level\":\"";
  scratch_ += level_name(msg.level);
  scratch_ += "\",\"msg\":";
  sdk::write_json_string(scratch_, std::string_view(msg.payload.data(), msg.payload.size()));
  if (msg.logger_name.size() > 0) {
    scratch_ += ",\"logger\":";
    sdk::write_json_string(scratch_,
                           std::string_view(msg.logger_name.data(), msg.logger_name.size()));
  }
  scratch_ += "}\n";
  dest.append(scratch_.data(), scratch_.data() + scratch_.size());
}

std::unique_ptr<spdlog::formatter> JsonFormatter::clone() const {
  return std::make_unique<JsonFormatter>();
}

}  // namespace weir::log
