#include "flow/env_subst.hpp"

#include <boost/json.hpp>
#include <optional>

#include "sdk/base/quote.hpp"

namespace weir::flow {

namespace json = boost::json;

namespace {

bool valid_name(std::string_view n) {
  if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

void substitute_string(json::string& s, const std::string& pointer, const Getenv& getenv,
                       sdk::Diagnostics& diags) {
  std::string_view in(s);
  if (in.find('$') == std::string_view::npos) return;
  std::string out;
  bool changed = false;
  for (std::size_t i = 0; i < in.size();) {
    if (in.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      changed = true;
      continue;
    }
    if (in.compare(i, 2, "${") == 0) {
      auto end = in.find('}', i + 2);
      if (end == std::string_view::npos) {
        diags.error(pointer, "invalid_variable", "\"${\" without a closing \"}\"",
                    "write $${ for a literal ${", static_cast<int>(i));
        return;
      }
      auto name = in.substr(i + 2, end - i - 2);
      // ${VAR:-default}: the default (up to the first "}") when VAR is unset or empty, as in sh.
      std::optional<std::string_view> fallback;
      if (const auto sep = name.find(":-"); sep != std::string_view::npos) {
        fallback = name.substr(sep + 2);
        name = name.substr(0, sep);
      }
      if (!valid_name(name)) {
        diags.error(pointer, "invalid_variable", "invalid variable name " + sdk::quote(std::string(name)),
                    "names are letters, digits and _; write $${ for a literal ${", static_cast<int>(i));
        return;
      }
      const char* value = getenv(std::string(name).c_str());
      if (!value && !fallback) {
        diags.error(pointer, "unset_variable", "environment variable " + std::string(name) + " is not set",
                    "export it before starting weir, or give a default: ${" + std::string(name) + ":-value}",
                    static_cast<int>(i));
        return;
      }
      if (fallback && (!value || !*value))
        out += *fallback;
      else
        out += value;
      i = end + 1;
      changed = true;
      continue;
    }
    out.push_back(in[i++]);
  }
  if (changed) s = out;
}

void walk(json::value& v, const std::string& pointer, const Getenv& getenv, sdk::Diagnostics& diags) {
  if (v.is_string()) {
    substitute_string(v.get_string(), pointer, getenv, diags);
  } else if (v.is_array()) {
    auto& a = v.get_array();
    for (std::size_t i = 0; i < a.size(); ++i) walk(a[i], sdk::pointer_append(pointer, i), getenv, diags);
  } else if (v.is_object()) {
    for (auto& kv : v.get_object()) walk(kv.value(), sdk::pointer_append(pointer, kv.key()), getenv, diags);
  }
}

}  // namespace

void substitute_env(json::value& root, const Getenv& getenv, sdk::Diagnostics& diags) {
  walk(root, "", getenv, diags);
}

}  // namespace weir::flow
