// One endpoint kind per translation unit: see endpoints.hpp.
#include "common/websocket/client_impl.hpp"

namespace weir::ws::detail {

std::unique_ptr<Endpoint> make_tls_client(EndpointOptions options, Handlers handlers) {
  return std::make_unique<ClientEndpoint<TlsClientConfig>>(std::move(options), std::move(handlers));
}

}  // namespace weir::ws::detail
