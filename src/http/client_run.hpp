// Internal: runs one asynchronous operation of a client on its private io_context.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <memory>
#include <optional>

namespace weir::http::detail {

// Starts an operation through `initiate(handler)` and runs `io` until it completes; nullopt when
// `*stop` became true first (the operation is then still pending). The result lives on the heap:
// a handler that completes after an abandoned wait writes to nothing dead.
template <class Initiate>
std::optional<boost::system::error_code> run_op(boost::asio::io_context& io, Initiate&& initiate,
                                                const std::atomic<bool>* stop = nullptr) {
  auto result = std::make_shared<std::optional<boost::system::error_code>>();
  initiate([result](boost::system::error_code ec, auto&&...) { *result = ec; });
  if (io.stopped()) io.restart();
  while (!*result) {
    if (stop && stop->load()) return std::nullopt;
    if (io.run_one_for(std::chrono::milliseconds(200)) == 0 && io.stopped()) {
      return boost::system::error_code(boost::asio::error::operation_aborted);  // no work left
    }
  }
  return *result;
}

}  // namespace weir::http::detail
