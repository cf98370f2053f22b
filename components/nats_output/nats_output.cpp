// Placeholder until the component lands.
#include "nats_output/nats_output.hpp"

namespace weir::components::nats_output {

sdk::ComponentSpec<Config> spec() { return sdk::ComponentSpec<Config>{"nats_output", sdk::Kind::output}; }

}  // namespace weir::components::nats_output
