#include "common/syslog/config.hpp"

namespace weir::components::syslog {

void lint_listen(const ListenConfig& c, sdk::Lint& lint) {
  const auto colon = c.listen.rfind(':');
  if (!c.listen.empty() && (colon == std::string::npos || colon + 1 == c.listen.size() ||
                            c.listen.find_first_not_of("0123456789", colon + 1) != std::string::npos))
    lint.error("listen", "invalid_value", "host:port expected, e.g. \"0.0.0.0:514\"");
}

}  // namespace weir::components::syslog
