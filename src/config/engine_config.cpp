#include "config/engine_config.hpp"

#include <boost/json/value.hpp>

#include "config/options.hpp"
#include "core/json_source.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/base/suggest.hpp"

namespace weir::config {
namespace {

std::filesystem::path current_dir() {
  std::error_code ec;
  auto p = std::filesystem::current_path(ec);
  return ec ? std::filesystem::path(".") : p;
}

class JsonApplier {
 public:
  JsonApplier(EngineConfig& c, const std::filesystem::path& base, sdk::Diagnostics& out)
      : config_(c), base_(base), out_(out) {}

  // `group` is an object of options; anything that is neither an option nor a group is unknown.
  void group(const boost::json::object& obj, const std::string& pointer) {
    for (const auto& kv : obj) {
      const std::string_view key(kv.key().data(), kv.key().size());
      const std::string child = sdk::pointer_append(pointer, key);
      if (pointer.empty() && key == "$schema") continue;  // editors' schema hint
      if (const detail::Option* o = detail::find_option(child)) {
        if (auto problem = detail::set_from_json(config_, *o, kv.value(), base_))
          out_.error(child, std::move(problem->code), std::move(problem->message), std::move(problem->hint));
      } else if (detail::is_group(child)) {
        if (kv.value().is_object())
          group(kv.value().get_object(), child);
        else
          out_.error(child, "wrong_type", "must be an object");
      } else {
        out_.error(child, "unknown_field", "unknown field " + sdk::quote(std::string(key)),
                   sdk::did_you_mean(key, detail::group_members(pointer)));
      }
    }
  }

 private:
  EngineConfig& config_;
  const std::filesystem::path& base_;
  sdk::Diagnostics& out_;
};

}  // namespace

EngineConfig default_engine_config() {
  EngineConfig c;
  const auto cwd = current_dir();
  c.flows_dir = cwd / "flows";
  c.data_dir = cwd / "data";
  return c;
}

void apply_engine_config_json(EngineConfig& config, std::string_view text, std::string_view file,
                              const std::filesystem::path& base_dir, sdk::Diagnostics& out) {
  const core::ParsedJson parsed = core::parse_json_source(text);
  sdk::Diagnostics found = parsed.diagnostics;
  if (parsed.ok) {
    if (parsed.value.is_object())
      JsonApplier(config, base_dir, found).group(parsed.value.get_object(), "");
    else
      found.error("", "wrong_type", "the engine config must be a JSON object");
  }
  parsed.map.locate(found, file);
  out.append(found);
}

void apply_engine_config_env(EngineConfig& config, const Getenv& getenv, sdk::Diagnostics& out) {
  const auto cwd = current_dir();
  for (const auto& o : detail::options()) {
    const std::string name(o.env);
    const char* value = getenv(name.c_str());
    if (!value || !*value) continue;
    if (auto problem = detail::set_from_text(config, o, value, cwd)) {
      // The config pointer is kept for tooling; the message names the variable users set.
      out.error(std::string(o.pointer), std::move(problem->code),
                "environment variable " + name + ": " + problem->message, std::move(problem->hint));
    }
  }
}

LoadResult load_engine_config_with_flags(const std::optional<std::string>& file,
                                         const std::vector<FlagOverride>& flags) {
  std::optional<std::filesystem::path> path;
  if (file) path = *file;
  auto loaded = load_engine_config(path);
  for (const auto& f : flags) {
    std::string error;
    if (!*f.value || set_option(loaded.config, f.key, **f.value, &error)) continue;
    sdk::Diagnostic d;
    d.code = "invalid_value";
    d.message = std::string(f.flag) + ": " + error;
    loaded.diagnostics.add(std::move(d));
  }
  return loaded;
}

LoadResult load_engine_config(const std::optional<std::filesystem::path>& file, const Getenv& getenv) {
  LoadResult result;
  result.config = default_engine_config();
  std::filesystem::path path;
  if (file) {
    path = *file;
  } else if (const char* named = getenv("WEIR_CONFIG"); named && *named) {
    path = named;  // named explicitly, so a missing file is an error, as with --config
  } else {
    std::error_code ec;
    if (std::filesystem::is_regular_file("config/weir.json", ec)) path = "config/weir.json";
  }
  if (!path.empty()) {
    std::string error;
    // The same bound as a flow file's: a config is a few hundred bytes.
    const std::string text = core::read_file(path, &error, max_engine_config_bytes);
    if (!error.empty()) {
      result.diagnostics.error("", "io_error", "cannot read the engine config: " + error);
    } else {
      result.file = path;
      std::error_code ec;
      auto base = std::filesystem::absolute(path, ec).parent_path();
      if (ec) base = path.parent_path();  // the working directory is gone: relative paths stay relative
      apply_engine_config_json(result.config, text, path.string(), base, result.diagnostics);
    }
  }
  apply_engine_config_env(result.config, getenv, result.diagnostics);
  return result;
}

bool set_option(EngineConfig& config, std::string_view key, std::string_view value, std::string* error) {
  std::string pointer;
  std::size_t start = 0;
  while (start <= key.size()) {
    const auto dot = std::min(key.find('.', start), key.size());
    pointer = sdk::pointer_append(pointer, key.substr(start, dot - start));
    start = dot + 1;
  }
  const detail::Option* o = detail::find_option(pointer);
  if (!o) {
    if (error) {
      std::vector<std::string> keys;
      for (const auto& info : engine_options()) keys.push_back(info.key);
      *error = "unknown option " + sdk::quote(std::string(key));
      const std::string hint = sdk::did_you_mean(key, keys);
      if (!hint.empty()) *error += " (" + hint + ")";
    }
    return false;
  }
  if (auto problem = detail::set_from_text(config, *o, value, current_dir())) {
    if (error) {
      *error = std::string(key) + ": " + problem->message;
      if (!problem->hint.empty()) *error += " (" + problem->hint + ")";
    }
    return false;
  }
  return true;
}

std::vector<OptionInfo> engine_options() {
  std::vector<OptionInfo> out;
  for (const auto& o : detail::options()) {
    std::string key(o.pointer.substr(1));
    for (char& c : key)
      if (c == '/') c = '.';
    out.push_back({std::move(key), std::string(o.pointer), std::string(o.env), std::string(o.doc), o.secret});
  }
  return out;
}

std::string dump_engine_config(const EngineConfig& config) {
  // Walks the table in order, opening and closing groups as the pointers change; the table is
  // ordered so that each group's options are contiguous.
  EngineConfig copy = config;
  std::string out;
  std::vector<std::string_view> open;  // group names currently open
  bool first = true;
  out += '{';
  for (const auto& o : detail::options()) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 1; start <= o.pointer.size();) {
      const auto slash = std::min(o.pointer.find('/', start), o.pointer.size());
      parts.push_back(o.pointer.substr(start, slash - start));
      start = slash + 1;
    }
    const std::vector<std::string_view> groups(parts.begin(), parts.end() - 1);
    std::size_t common = 0;
    while (common < open.size() && common < groups.size() && open[common] == groups[common]) ++common;
    while (open.size() > common) {
      out += '}';
      open.pop_back();
    }
    for (std::size_t i = common; i < groups.size(); ++i) {
      if (!first) out += ',';
      sdk::write_json_string(out, groups[i]);
      out += ":{";
      open.push_back(groups[i]);
      first = true;
    }
    if (!first) out += ',';
    first = false;
    sdk::write_json_string(out, parts.back());
    out += ':';
    detail::write_value(out, copy, o);
  }
  out.append(open.size() + 1, '}');
  return out;
}

}  // namespace weir::config
