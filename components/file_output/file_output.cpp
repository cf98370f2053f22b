// Placeholder until the component lands.
#include "file_output/file_output.hpp"

namespace weir::components::file_output {

sdk::ComponentSpec<Config> spec() { return sdk::ComponentSpec<Config>{"file_output", sdk::Kind::output}; }

}  // namespace weir::components::file_output
