// Placeholder until the component lands.
#include "nats_input/nats_input.hpp"

namespace weir::components::nats_input {

sdk::ComponentSpec<Config> spec() { return sdk::ComponentSpec<Config>{"nats_input", sdk::Kind::input}; }

}  // namespace weir::components::nats_input
