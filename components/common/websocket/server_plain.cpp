// One endpoint kind per translation unit: see endpoints.hpp.
#include "common/websocket/server_impl.hpp"

namespace weir::ws::detail {

std::unique_ptr<Endpoint> make_plain_server(EndpointOptions options, Handlers handlers) {
  return std::make_unique<ServerEndpoint<PlainServerConfig>>(std::move(options), std::move(handlers));
}

}  // namespace weir::ws::detail
