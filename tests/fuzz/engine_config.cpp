// The engine config file (config/weir.json): any text applied over the defaults, then dumped
// (the `weir config` output), which must itself load without an error.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/engine_config.hpp"

namespace cfg = weir::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cfg::EngineConfig config = cfg::default_engine_config();
  weir::sdk::Diagnostics diags;
  cfg::apply_engine_config_json(config, text, "weir.json", "/etc/weir", diags);
  for (const auto& d : diags.items()) (void)weir::sdk::format(d);
  const std::string dumped = cfg::dump_engine_config(config);
  if (diags.has_errors()) return 0;
  cfg::EngineConfig again = cfg::default_engine_config();
  weir::sdk::Diagnostics diags2;
  cfg::apply_engine_config_json(again, dumped, "dumped.json", "/etc/weir", diags2);
  if (diags2.has_errors()) std::abort();
  return 0;
}
