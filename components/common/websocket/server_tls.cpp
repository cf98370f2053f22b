// One endpoint kind per translation unit: see endpoints.hpp.
#include "common/websocket/server_impl.hpp"

namespace weir::ws::detail {

std::unique_ptr<Endpoint> make_tls_server(EndpointOptions options, Handlers handlers) {
  return std::make_unique<ServerEndpoint<TlsServerConfig>>(std::move(options), std::move(handlers));
}

}  // namespace weir::ws::detail
