// Helper for the PDEATHSIG test: starts a nats-server child, prints "<pid> <port>", and waits
// to be SIGKILLed. Log lines go to stdout too, so the report line is prefixed "PID ". Usage:
// bus_pdeath_helper <nats-server binary> <store dir>
#include "bus/nats_server_process.hpp"

#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <nats-server> <store dir>\n", argv[0]);
    return 2;
  }
  weir::bus::NatsServerOptions o;
  o.binary = argv[1];
  o.store_dir = argv[2];
  weir::bus::NatsServerProcess server(o);
  const auto st = server.start();
  if (!st) {
    std::fprintf(stderr, "%s\n", st.text().c_str());
    return 1;
  }
  std::printf("PID %d %d\n", static_cast<int>(server.pid()), server.port());
  std::fflush(stdout);
  for (;;) ::pause();
}
