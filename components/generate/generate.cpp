// Placeholder until the component lands.
#include "generate/generate.hpp"

namespace weir::components::generate {

sdk::ComponentSpec<Config> spec() { return sdk::ComponentSpec<Config>{"generate", sdk::Kind::input}; }

}  // namespace weir::components::generate
