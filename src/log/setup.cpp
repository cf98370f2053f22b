#include "log/setup.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "log/flow_levels.hpp"
#include "log/flow_levels_impl.hpp"
#include "log/json_formatter.hpp"
#include "log/redact.hpp"
#include "sdk/base/quote.hpp"

namespace weir::log {
namespace {

constexpr const char* text_pattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

// Masks the password of any URL a message quotes (a connect error, a peer's address), whatever
// code logged it: the lower libraries cannot call redact_url themselves. In text format it also
// escapes the control characters a message may carry from user input (an id, a peer's reason, a
// file name), so that no ESC, CR or BEL reaches a terminal or a log reader, and no NUL or newline
// cuts a line; the JSON format escapes them as JSON.
class RedactingFormatter final : public spdlog::formatter {
 public:
  RedactingFormatter(std::unique_ptr<spdlog::formatter> inner, bool escape)
      : inner_(std::move(inner)), escape_(escape) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    const bool redacted = redact_urls(text, scratch_);
    if (redacted) text = scratch_;
    const bool escaped = escape_ && sdk::needs_escaping(text);
    if (escaped) {
      escaped_.clear();
      sdk::append_escaped(escaped_, text);
      text = escaped_;
    }
    if (!redacted && !escaped) {
      inner_->format(msg, dest);
      return;
    }
    auto copy = msg;
    copy.payload = spdlog::string_view_t(text.data(), text.size());
    inner_->format(copy, dest);
    // The colour range is found while formatting, and the sink reads it from `msg`.
    msg.color_range_start = copy.color_range_start;
    msg.color_range_end = copy.color_range_end;
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<RedactingFormatter>(inner_->clone(), escape_);
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
  bool escape_;
  std::string scratch_, escaped_;  // reused: sinks call format() under their own mutex
};

}  // namespace

bool setup_logging(const config::LogConfig& config, std::string* error) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  bool ok = true;
  if (!config.file.empty()) {
    try {
      std::error_code ec;
      if (config.file.has_parent_path()) std::filesystem::create_directories(config.file.parent_path(), ec);
      // spdlog throws on a zero size; the config loader rejects it, a hand-made config may not.
      const auto max_size = static_cast<std::size_t>(std::max<std::uint64_t>(config.max_size, 1));
      const auto max_files = static_cast<std::size_t>(std::clamp(config.max_files, 0, 200000));
      sinks.push_back(
          std::make_shared<spdlog::sinks::rotating_file_sink_mt>(config.file.string(), max_size, max_files));
    } catch (const spdlog::spdlog_ex& e) {
      ok = false;
      if (error) *error = "cannot open log file " + config.file.string() + ": " + e.what();
    }
  }
  auto logger = std::make_shared<FlowLevelLogger>("", sinks.begin(), sinks.end());
  if (config.format == config::LogFormat::json)
    logger->set_formatter(std::make_unique<RedactingFormatter>(std::make_unique<JsonFormatter>(), false));
  else
    logger->set_formatter(std::make_unique<RedactingFormatter>(
        std::make_unique<spdlog::pattern_formatter>(text_pattern), true));
  logger->set_level(to_spdlog(config.level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  set_engine_level(config.level);
  spdlog::flush_every(std::chrono::seconds(1));
  return ok;
}

}  // namespace weir::log
