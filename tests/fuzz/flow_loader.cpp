// The flow loader: any text as a flow file, with every built-in component registered and a fixed
// environment (FUZZ_VAR set, everything else unset), to its diagnostics, each formatted as
// `weir validate` prints it.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "flow/loader.hpp"
#include "registry/registry.hpp"

namespace {

const weir::registry::Registry& builtins() {
  static const weir::registry::Registry registry = [] {
    weir::registry::Registry r;
    weir::registry::register_builtins(r);
    return r;
  }();
  return registry;
}

const char* fuzz_env(const char* name) {
  return std::strcmp(name, "FUZZ_VAR") == 0 ? "value" : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = weir::flow::load_flow_text(text, "flows/fuzz.json", builtins(), fuzz_env);
  for (const auto& d : result.diagnostics.items()) (void)weir::sdk::format(d);
  // A flow comes back exactly when nothing is an error.
  if (result.flow.has_value() == result.diagnostics.has_errors()) std::abort();
  return 0;
}
