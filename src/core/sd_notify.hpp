// systemd's readiness protocol without libsystemd: under a unit with Type=notify, systemd sets
// NOTIFY_SOCKET and waits for "READY=1" on it before it counts the service as started (and
// starts what is ordered after it). Elsewhere NOTIFY_SOCKET is unset and this does nothing.
#pragma once

#include <string>
#include <string_view>

namespace weir::core {

// Sends `state` (e.g. "READY=1\nSTATUS=2/2 flows up") as one datagram to $NOTIFY_SOCKET: a path,
// or an abstract socket when it starts with '@'. Returns false with the reason in *error when the
// variable is set but the message could not be sent; true when sent or when there is no socket.
bool sd_notify(std::string_view state, std::string* error = nullptr);

}  // namespace weir::core
