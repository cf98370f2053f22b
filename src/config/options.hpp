// Internal to weir_config: the one table of engine options that drives the file, the
// environment, set_option(), engine_options() and dump_engine_config().
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/engine_config.hpp"

namespace weir::config::detail {

using StringRef = std::string& (*)(EngineConfig&);
using PathRef = std::filesystem::path& (*)(EngineConfig&);
using IntRef = int& (*)(EngineConfig&);
using SizeRef = std::uint64_t& (*)(EngineConfig&);
using DurationRef = std::chrono::nanoseconds& (*)(EngineConfig&);
using LevelRef = LogLevel& (*)(EngineConfig&);
using FormatRef = LogFormat& (*)(EngineConfig&);
using Field = std::variant<StringRef, PathRef, IntRef, SizeRef, DurationRef, LevelRef, FormatRef>;

enum class Check { none, non_empty, program, listen };

struct Option {
  std::string_view pointer;  // "/nats/embedded/port"
  std::string_view env;
  Field field;
  std::string_view doc;
  Check check = Check::none;
  int min = 0;  // for IntRef
  int max = 0;
  bool secret = false;
};

const std::vector<Option>& options();
const Option* find_option(std::string_view pointer);
// Objects that group options: "", "/nats", "/nats/embedded", "/http", "/log".
bool is_group(std::string_view pointer);
// Member names allowed directly under a group, for "did you mean".
std::vector<std::string> group_members(std::string_view pointer);

struct Problem {
  std::string code;
  std::string message;
  std::string hint;
};

// Sets the option from text (environment, flags). Relative paths resolve against base_dir.
std::optional<Problem> set_from_text(EngineConfig& c, const Option& o, std::string_view text,
                                     const std::filesystem::path& base_dir);
// Sets the option from a JSON value of the config file.
std::optional<Problem> set_from_json(EngineConfig& c, const Option& o, const boost::json::value& v,
                                     const std::filesystem::path& base_dir);
// The current value as JSON text, for dump_engine_config (non-const: the accessors are).
void write_value(std::string& out, EngineConfig& c, const Option& o);

}  // namespace weir::config::detail
