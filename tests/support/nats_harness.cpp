#include "support/nats_harness.hpp"

#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

namespace weir::testing {

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr)
    throw std::runtime_error("mkdtemp " + templ + ": " + std::strerror(errno));
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(poll);
  }
}

std::string nats_server_binary() {
  const char* env = std::getenv("WEIR_NATS_SERVER");
  const std::string wanted = env != nullptr && *env != '\0' ? env : "nats-server";
  if (auto found = bus::find_executable(wanted)) return *found;
  throw std::runtime_error(
      "nats-server not found: apt install nats-server (or set WEIR_NATS_SERVER; looked for '" + wanted +
      "')");
}

NatsServer::NatsServer(const std::string& store_dir) {
  bus::NatsServerOptions o;
  o.binary = nats_server_binary();
  dir_ = std::make_unique<TempDir>("weir-nats");
  store_dir_ = store_dir.empty() ? dir_->file("store") : store_dir;
  std::filesystem::create_directories(store_dir_);
  o.store_dir = store_dir_;
  o.log_file = dir_->file("nats-server.log");
  o.ports_dir = dir_->path();
  process_ = std::make_unique<bus::NatsServerProcess>(o);
  start();
}

NatsServer::~NatsServer() {
  (void)process_->stop();
}

std::string NatsServer::url() const {
  return process_->url();
}
int NatsServer::port() const {
  return process_->port();
}
const std::string& NatsServer::store_dir() const {
  return store_dir_;
}
pid_t NatsServer::pid() const {
  return process_->pid();
}

void NatsServer::stop() {
  (void)process_->stop();
}

void NatsServer::start() {
  const bus::Status s = process_->start();
  if (!s) throw std::runtime_error("cannot start nats-server: " + s.text());
}

void NatsServer::restart() {
  stop();
  start();
}

void NatsServer::kill9() {
  const pid_t p = process_->pid();
  if (p <= 0) return;
  ::kill(p, SIGKILL);
  if (!wait_until([&] { return !process_->running(); }, std::chrono::seconds(10)))
    throw std::runtime_error("nats-server pid " + std::to_string(p) + " survived SIGKILL");
  (void)process_->stop();  // joins the monitor thread of the dead server
}

}  // namespace weir::testing
