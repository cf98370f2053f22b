// The engine's own settings (not flows): from config/weir.json, then WEIR_* environment
// variables, then command-line flags, later sources winning.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sdk/diagnostic.hpp"

namespace weir::config {

enum class LogLevel { trace, debug, info, warn, error, off };
enum class LogFormat { text, json };

std::optional<LogLevel> parse_log_level(std::string_view s);
std::string_view to_string(LogLevel level);
std::optional<LogFormat> parse_log_format(std::string_view s);
std::string_view to_string(LogFormat format);

// Paths below are absolute once loaded: relative ones in the file resolve against the file's
// folder; defaults, environment variables and set_option() against the current directory.
struct EmbeddedNatsConfig {
  int port = 4222;
  // A bare name is looked up in PATH; anything with a '/' is a path and resolved as above.
  std::string binary = "nats-server";
};

struct NatsConfig {
  std::string url;  // empty: start and supervise an embedded nats-server
  EmbeddedNatsConfig embedded;
  // The JetStream store folder of the server at `url` as this host sees it (empty: unknown). The
  // embedded server's is data_dir/nats. Needed to fsync what is acknowledged outward
  // (websocket_input's durability "sync").
  std::filesystem::path store_dir;
  std::filesystem::path creds;  // empty: none
  std::string user;
  std::string password;
  std::string token;
};

struct HttpConfig {
  std::string listen = "127.0.0.1:8080";  // "host:port"; empty disables the HTTP server
  std::string token;                      // empty: mutating API calls are refused
};

struct LogConfig {
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::text;
  std::filesystem::path file;  // empty: stderr only
  std::uint64_t max_size = 10ull * 1024 * 1024;
  int max_files = 3;
};

struct EngineConfig {
  NatsConfig nats;
  std::filesystem::path flows_dir;  // default: <current dir>/flows
  std::filesystem::path data_dir;   // default: <current dir>/data
  HttpConfig http;
  LogConfig log;
  std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds{10};
};

// Defaults with flows_dir and data_dir under the current directory.
EngineConfig default_engine_config();

struct LoadResult {
  EngineConfig config;
  // Errors keep the field at its previous value; the caller refuses to start on has_errors().
  // Diagnostics from the file carry file:line:col; those from the environment name the variable
  // in the message.
  sdk::Diagnostics diagnostics;
  std::filesystem::path file;  // the file read; empty when there was none
};

using Getenv = std::function<const char*(const char*)>;

// The --config help every command shows.
inline constexpr const char* config_flag_help =
    "Engine config file (default: $WEIR_CONFIG, else config/weir.json if present)";

// A larger engine config file is refused unread (io_error), like a flow file over its limit.
inline constexpr std::size_t max_engine_config_bytes = 1024 * 1024;

// `file` unset: the file named by WEIR_CONFIG, else config/weir.json under the current directory
// if it exists, else defaults. An explicit file (or WEIR_CONFIG's) that cannot be read is an
// error. Empty environment variables count as unset.
LoadResult load_engine_config(const std::optional<std::filesystem::path>& file,
                              const Getenv& getenv = ::getenv);

// A command-line flag that overrides one option; `flag` names it in a diagnostic.
struct FlagOverride {
  std::string_view key;                     // dotted: "nats.url"
  std::string_view flag;                    // "--nats-url"
  const std::optional<std::string>* value;  // unset: the flag was not given
};

// The engine config as `weir run` builds it, for `weir run` and every command that finds the
// engine through it: load_engine_config(), then the flags that were given. A bad flag value is
// an error diagnostic like the others.
LoadResult load_engine_config_with_flags(const std::optional<std::string>& file,
                                         const std::vector<FlagOverride>& flags);

// Applies JSON text on top of `config`; `file` labels diagnostics, `base_dir` resolves paths.
void apply_engine_config_json(EngineConfig& config, std::string_view text, std::string_view file,
                              const std::filesystem::path& base_dir, sdk::Diagnostics& out);

// Applies the WEIR_* variables on top of `config`.
void apply_engine_config_env(EngineConfig& config, const Getenv& getenv, sdk::Diagnostics& out);

// One option by its dotted key ("log.level", "nats.embedded.port") from a string, as a
// command-line flag gives it. Returns false with a one-line reason on a bad key or value.
bool set_option(EngineConfig& config, std::string_view key, std::string_view value, std::string* error);

struct OptionInfo {
  std::string key;      // dotted: "nats.embedded.port"
  std::string pointer;  // in the file: "/nats/embedded/port"
  std::string env;      // "WEIR_NATS_PORT"
  std::string doc;
  bool secret = false;
};
// Every leaf option, in file order: for --help, docs and `weir config`.
std::vector<OptionInfo> engine_options();

// The effective config as JSON text in the file's shape; secrets print as "***" when set.
std::string dump_engine_config(const EngineConfig& config);

}  // namespace weir::config
