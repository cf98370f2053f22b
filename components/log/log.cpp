#include "log/log.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <string>

#include "sdk/base/json_write.hpp"

namespace weir::components::log {

namespace {

spdlog::level::level_enum to_spdlog(Level l) {
  switch (l) {
    case Level::trace:
      return spdlog::level::trace;
    case Level::debug:
      return spdlog::level::debug;
    case Level::info:
      return spdlog::level::info;
    case Level::warn:
      return spdlog::level::warn;
    case Level::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Cuts `line` to at most `max` bytes without splitting a UTF-8 sequence, and says so.
void truncate(std::string& line, std::size_t max) {
  const auto total = line.size();
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  line.resize(cut);
  line += "... [truncated, ";
  line += std::to_string(total);
  line += " bytes]";
}

class Log final : public sdk::Output {
 public:
  Log(const Config& config, const sdk::Context& ctx)
      : level_(to_spdlog(config.level)), max_bytes_(config.max_bytes.bytes), log_(ctx.log) {}

  // One thread at a time, so the line buffer is reused.
  sdk::Status write(std::span<const sdk::Record> records, sdk::Rejects&) override {
    if (!log_.should_log(level_)) return sdk::Status::ok();
    for (const auto& r : records) {
      line_.clear();
      sdk::write_json(line_, r.value);
      if (max_bytes_ > 0 && line_.size() > max_bytes_) truncate(line_, max_bytes_);
      log_.write(level_, "{}", line_);
    }
    return sdk::Status::ok();
  }

 private:
  spdlog::level::level_enum level_;
  std::size_t max_bytes_;
  sdk::Log log_;
  std::string line_;
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"log"}
      .summary("Writes each record as one line of the engine's log.")
      .description(
          "Each record becomes one log line, `[flow/component] <compact JSON>`, at `level`, in the "
          "engine's log (stderr, the log file, text or JSON format as the engine is configured). "
          "Records are always accepted; lines below the engine's log level are not written. "
          "The log is not a durable store: use it to watch a flow, not to keep its data.")
      .field("level", &Config::level,
             field()
                 .option("trace", Level::trace, "Shown only when the engine logs at trace.")
                 .option("debug", Level::debug, "Shown when the engine logs at debug or trace.")
                 .option("info", Level::info, "The engine's default level.")
                 .option("warn", Level::warn, "Warning.")
                 .option("error", Level::error, "Error.")
                 .doc("Log level of the lines."))
      .field("max_bytes", &Config::max_bytes,
             field()
                 .size_range(0, 16 * 1024 * 1024)
                 .doc("Longest JSON text written per record; longer text is cut and ends with "
                      "`... [truncated, N bytes]`. 0 writes records whole."))
      .example(boost::json::parse(R"({"id": "show", "type": "log", "inputs": ["sensors"],
                                      "config": {"level": "info", "max_bytes": "1KiB"}})"))
      .implementation<Log>();
}

}  // namespace weir::components::log
