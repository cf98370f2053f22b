#include "config/options.hpp"

#include <algorithm>
#include <array>
#include <boost/json/value.hpp>
#include <cctype>
#include <charconv>

#include "sdk/base/json_read.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/base/units.hpp"

namespace weir::config {

namespace {
constexpr std::array<std::string_view, 6> level_names{"trace", "debug", "info", "warn", "error", "off"};
constexpr std::array<std::string_view, 2> format_names{"text", "json"};
}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view s) {
  for (std::size_t i = 0; i < level_names.size(); ++i)
    if (level_names[i] == s) return static_cast<LogLevel>(i);
  return std::nullopt;
}
std::string_view to_string(LogLevel level) {
  return level_names[static_cast<std::size_t>(level)];
}
std::optional<LogFormat> parse_log_format(std::string_view s) {
  for (std::size_t i = 0; i < format_names.size(); ++i)
    if (format_names[i] == s) return static_cast<LogFormat>(i);
  return std::nullopt;
}
std::string_view to_string(LogFormat format) {
  return format_names[static_cast<std::size_t>(format)];
}

namespace detail {

const std::vector<Option>& options() {
  static const std::vector<Option> table{
      {"/nats/url", "WEIR_NATS_URL", StringRef{[](EngineConfig& c) -> std::string& { return c.nats.url; }},
       "NATS server URL(s), comma-separated; empty starts an embedded nats-server"},
      {"/nats/embedded/port", "WEIR_NATS_PORT",
       IntRef{[](EngineConfig& c) -> int& { return c.nats.embedded.port; }},
       "Client port of the embedded nats-server (listens on loopback only)", Check::none, 1, 65535},
      {"/nats/embedded/binary", "WEIR_NATS_BINARY",
       StringRef{[](EngineConfig& c) -> std::string& { return c.nats.embedded.binary; }},
       "The nats-server executable: a name looked up in PATH, or a path", Check::program},
      {"/nats/store_dir", "WEIR_NATS_STORE_DIR",
       PathRef{[](EngineConfig& c) -> std::filesystem::path& { return c.nats.store_dir; }},
       "JetStream store folder of the nats-server at nats.url, as this host sees it (the server's "
       "store_dir, shared or mounted), so that acknowledgements with durability \"sync\" are on "
       "disk; the embedded server's is data_dir/nats"},
      {"/nats/creds", "WEIR_NATS_CREDS",
       PathRef{[](EngineConfig& c) -> std::filesystem::path& { return c.nats.creds; }},
       "NATS credentials file (.creds)"},
      {"/nats/user", "WEIR_NATS_USER", StringRef{[](EngineConfig& c) -> std::string& { return c.nats.user; }},
       "NATS user name"},
      {"/nats/password", "WEIR_NATS_PASSWORD",
       StringRef{[](EngineConfig& c) -> std::string& { return c.nats.password; }}, "NATS password",
       Check::none, 0, 0, true},
      {"/nats/token", "WEIR_NATS_TOKEN",
       StringRef{[](EngineConfig& c) -> std::string& { return c.nats.token; }}, "NATS authentication token",
       Check::none, 0, 0, true},
      {"/flows_dir", "WEIR_FLOWS_DIR",
       PathRef{[](EngineConfig& c) -> std::filesystem::path& { return c.flows_dir; }},
       "Folder of flow files, watched for changes", Check::non_empty},
      {"/data_dir", "WEIR_DATA_DIR",
       PathRef{[](EngineConfig& c) -> std::filesystem::path& { return c.data_dir; }},
       "Folder for the engine's state (SQLite, embedded JetStream store)", Check::non_empty},
      {"/http/listen", "WEIR_HTTP_LISTEN",
       StringRef{[](EngineConfig& c) -> std::string& { return c.http.listen; }},
       "host:port of the HTTP API, metrics and web page; empty disables it", Check::listen},
      {"/http/token", "WEIR_HTTP_TOKEN",
       StringRef{[](EngineConfig& c) -> std::string& { return c.http.token; }},
       "Bearer token for mutating API calls; empty refuses them", Check::none, 0, 0, true},
      {"/log/level", "WEIR_LOG_LEVEL", LevelRef{[](EngineConfig& c) -> LogLevel& { return c.log.level; }},
       "trace, debug, info, warn, error or off"},
      {"/log/format", "WEIR_LOG_FORMAT",
       FormatRef{[](EngineConfig& c) -> LogFormat& { return c.log.format; }},
       "text, or json for one JSON object per line"},
      {"/log/file", "WEIR_LOG_FILE",
       PathRef{[](EngineConfig& c) -> std::filesystem::path& { return c.log.file; }},
       "Also log to this file, rotated by size; empty logs to stderr only"},
      {"/log/max_size", "WEIR_LOG_MAX_SIZE",
       SizeRef{[](EngineConfig& c) -> std::uint64_t& { return c.log.max_size; }},
       "Size at which the log file is rotated, e.g. \"10MiB\""},
      {"/log/max_files", "WEIR_LOG_MAX_FILES",
       IntRef{[](EngineConfig& c) -> int& { return c.log.max_files; }}, "Rotated log files kept", Check::none,
       1, 1000},
      {"/shutdown_timeout", "WEIR_SHUTDOWN_TIMEOUT",
       DurationRef{[](EngineConfig& c) -> std::chrono::nanoseconds& { return c.shutdown_timeout; }},
       "How long a graceful shutdown may drain before exiting anyway, e.g. \"10s\""},
  };
  return table;
}

const Option* find_option(std::string_view pointer) {
  for (const auto& o : options())
    if (o.pointer == pointer) return &o;
  return nullptr;
}

bool is_group(std::string_view pointer) {
  return pointer.empty() || pointer == "/nats" || pointer == "/nats/embedded" || pointer == "/http" ||
         pointer == "/log";
}

std::vector<std::string> group_members(std::string_view group) {
  std::vector<std::string> out;
  for (const auto& o : options()) {
    if (o.pointer.size() <= group.size() + 1 || o.pointer.substr(0, group.size()) != group ||
        o.pointer[group.size()] != '/')
      continue;
    const std::string_view rest = o.pointer.substr(group.size() + 1);
    std::string name(rest.substr(0, rest.find('/')));
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

namespace {

std::filesystem::path resolve(const std::filesystem::path& base, std::string_view text) {
  if (text.empty()) return {};
  const std::filesystem::path p(text);
  return (p.is_absolute() ? p : base / p).lexically_normal();
}

// "host:port" with a non-empty host (IPv6 in brackets) and a port 1..65535.
bool valid_listen(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  const std::string_view host = s.substr(0, colon);
  if (host.front() == '[' ? host.back() != ']' : host.find(':') != std::string_view::npos) return false;
  int port = 0;
  const auto port_text = s.substr(colon + 1);
  const auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  return r.ec == std::errc{} && r.ptr == port_text.data() + port_text.size() && port >= 1 && port <= 65535;
}

template <std::size_t N>
std::string choices(const std::array<std::string_view, N>& names) {
  std::string out = "one of: ";
  for (std::size_t i = 0; i < N; ++i) out += (i ? ", " : "") + std::string(names[i]);
  return out;
}

template <std::size_t N>
Problem bad_choice(std::string_view text, const std::array<std::string_view, N>& names) {
  std::string hint = choices(names);
  for (const auto& n : names) {
    // Case slips ("INFO") are common in environment variables: say so.
    std::string lower(text);
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == n) hint = "did you mean \"" + std::string(n) + "\"? (values are lower case)";
  }
  return {"invalid_value", "must be " + choices(names) + ", got " + sdk::quote(text), hint};
}

Problem out_of_range(const Option& o, std::string_view got) {
  // `got` holds digits, but a value from the environment or a shell may go on with anything.
  std::string message = "must be " + std::to_string(o.min) + ".." + std::to_string(o.max) + ", got ";
  if (sdk::append_escaped(message, got, sdk::quote_max_chars) < got.size()) message += "…";
  return {"out_of_range", std::move(message), ""};
}

}  // namespace

std::optional<Problem> set_from_text(EngineConfig& c, const Option& o, std::string_view text,
                                     const std::filesystem::path& base_dir) {
  if (auto* f = std::get_if<StringRef>(&o.field)) {
    if (o.check == Check::listen && !text.empty() && !valid_listen(text))
      return Problem{"invalid_value", "must be host:port, got " + sdk::quote(text),
                     "e.g. \"127.0.0.1:8080\", \"0.0.0.0:8080\" or \"[::1]:8080\""};
    if (o.check == Check::program && text.empty())
      return Problem{"invalid_value", "must not be empty", "e.g. \"nats-server\""};
    std::string value(text);
    if (o.check == Check::program && value.find('/') != std::string::npos)
      value = resolve(base_dir, value).string();
    (*f)(c) = std::move(value);
  } else if (auto* f = std::get_if<PathRef>(&o.field)) {
    if (o.check == Check::non_empty && text.empty()) return Problem{"invalid_value", "must not be empty", ""};
    (*f)(c) = resolve(base_dir, text);
  } else if (auto* f = std::get_if<IntRef>(&o.field)) {
    std::int64_t v = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec == std::errc::result_out_of_range) return out_of_range(o, text);
    if (r.ec != std::errc{} || r.ptr != text.data() + text.size())
      return Problem{"invalid_value", "must be a whole number, got " + sdk::quote(text), ""};
    if (v < o.min || v > o.max) return out_of_range(o, text);
    (*f)(c) = static_cast<int>(v);
  } else if (auto* f = std::get_if<SizeRef>(&o.field)) {
    std::string error;
    const auto v = sdk::parse_byte_size(text, &error);
    if (!v) return Problem{"invalid_value", error, "e.g. \"10MiB\" or \"500KB\""};
    if (*v == 0) return Problem{"out_of_range", "must be more than 0 bytes", ""};
    (*f)(c) = *v;
  } else if (auto* f = std::get_if<DurationRef>(&o.field)) {
    std::string error;
    const auto v = sdk::parse_duration(text, &error);
    if (!v) return Problem{"invalid_value", error, "e.g. \"10s\", \"500ms\" or \"1m30s\""};
    (*f)(c) = *v;
  } else if (auto* f = std::get_if<LevelRef>(&o.field)) {
    const auto v = parse_log_level(text);
    if (!v) return bad_choice(text, level_names);
    (*f)(c) = *v;
  } else if (auto* f = std::get_if<FormatRef>(&o.field)) {
    const auto v = parse_log_format(text);
    if (!v) return bad_choice(text, format_names);
    (*f)(c) = *v;
  }
  return std::nullopt;
}

std::optional<Problem> set_from_json(EngineConfig& c, const Option& o, const boost::json::value& v,
                                     const std::filesystem::path& base_dir) {
  const bool is_int = std::holds_alternative<IntRef>(o.field);
  const bool is_size = std::holds_alternative<SizeRef>(o.field);
  if (v.is_string() && !is_int) {
    const auto& s = v.get_string();
    return set_from_text(c, o, std::string_view(s.data(), s.size()), base_dir);
  }
  if ((is_int || is_size) && (v.is_int64() || v.is_uint64())) {
    // Sizes take a plain number of bytes too, like the bare "100" string form.
    const std::string text = v.is_int64() ? std::to_string(v.get_int64()) : std::to_string(v.get_uint64());
    if (is_size && v.is_int64() && v.get_int64() < 0)
      return Problem{"invalid_value", "must not be negative, got " + text, ""};
    return set_from_text(c, o, text, base_dir);
  }
  Problem p{"wrong_type", "", ""};
  if (is_int) {
    p.message = "must be a whole number, got " + std::string(sdk::kind_name(v));
    if (v.is_string()) p.hint = "write the number without quotes";
  } else if (is_size) {
    p.message = "must be a byte size string or a number of bytes, got " + std::string(sdk::kind_name(v));
    p.hint = "e.g. \"10MiB\"";
  } else if (std::holds_alternative<DurationRef>(o.field)) {
    p.message = "must be a duration string, got " + std::string(sdk::kind_name(v));
    p.hint = "e.g. \"10s\"";
  } else {
    p.message = "must be a string, got " + std::string(sdk::kind_name(v));
  }
  return p;
}

void write_value(std::string& out, EngineConfig& c, const Option& o) {
  std::visit(
      [&](auto ref) {
        using Ref = decltype(ref);
        if constexpr (std::is_same_v<Ref, IntRef>) {
          out += std::to_string(ref(c));
        } else {
          std::string text;
          if constexpr (std::is_same_v<Ref, StringRef>)
            text = ref(c);
          else if constexpr (std::is_same_v<Ref, PathRef>)
            text = ref(c).string();
          else if constexpr (std::is_same_v<Ref, SizeRef>)
            text = sdk::format_byte_size(ref(c));
          else if constexpr (std::is_same_v<Ref, DurationRef>)
            text = sdk::format_duration(ref(c));
          else
            text = std::string(to_string(ref(c)));
          if (o.secret && !text.empty()) text = "***";
          sdk::write_json_string(out, text);
        }
      },
      o.field);
}

}  // namespace detail
}  // namespace weir::config
