// Placeholder until the component lands.
#include "log/log.hpp"

namespace weir::components::log {

sdk::ComponentSpec<Config> spec() { return sdk::ComponentSpec<Config>{"log", sdk::Kind::output}; }

}  // namespace weir::components::log
