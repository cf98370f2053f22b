#include "bus/nats_server_process.hpp"

#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace weir::bus {

namespace {

bool is_executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

bool make_dirs(const std::string& path) {
  std::string cur;
  std::stringstream parts(path);
  std::string part;
  if (!path.empty() && path[0] == '/') cur = "/";
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    cur += part + "/";
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> find_executable(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return is_executable(name) ? std::optional(name) : std::nullopt;
  std::string dirs = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  dirs += ":/usr/local/sbin:/usr/sbin:/sbin";
  std::stringstream ss(dirs);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = std::string(dir).append("/").append(name);
    if (is_executable(candidate)) return candidate;
  }
  return std::nullopt;
}

NatsServerProcess::NatsServerProcess(NatsServerOptions options) : opt_(std::move(options)) {
  log_file_ = opt_.log_file.empty() ? opt_.store_dir + "/nats-server.log" : opt_.log_file;
  ports_dir_ = opt_.ports_dir.empty() ? opt_.store_dir : opt_.ports_dir;
  port_ = opt_.port > 0 ? opt_.port : 0;
}

NatsServerProcess::~NatsServerProcess() {
  (void)stop();
}

Status NatsServerProcess::start() {
  {
    std::unique_lock lock(mu_);
    if (phase_ == Phase::starting || phase_ == Phase::running) return Status::success();
  }
  if (monitor_.joinable()) monitor_.join();  // a previous run that ended on its own
  if (opt_.store_dir.empty()) return Status::error("nats-server: store_dir is required");
  const auto bin = find_executable(opt_.binary);
  if (!bin)
    return Status::error("nats-server not found (looked for '" + opt_.binary + "' in PATH and sbin dirs)");
  binary_ = *bin;
  if (!make_dirs(opt_.store_dir) || !make_dirs(ports_dir_))
    return Status::error("nats-server: cannot create " + opt_.store_dir + ": " + std::strerror(errno));

  std::unique_lock lock(mu_);
  phase_ = Phase::starting;
  stopping_ = false;
  ready_ = false;
  ever_ready_ = false;
  exit_text_.clear();
  monitor_ = std::thread(&NatsServerProcess::monitor, this);
  const bool done = cv_.wait_for(lock, opt_.start_timeout, [&] { return ready_ || phase_ == Phase::exited; });
  if (done && ready_) {
    phase_ = Phase::running;
    spdlog::info("nats-server: pid {} listening on {}:{} (store {})", pid_, opt_.host, port_, opt_.store_dir);
    return Status::success();
  }
  std::string why = phase_ == Phase::exited ? "nats-server " + exit_text_ + " during startup"
                                            : "nats-server did not accept connections within " +
                                                  std::to_string(opt_.start_timeout.count()) + " ms";
  lock.unlock();
  (void)stop();
  return Status::error(why + "; log " + log_file_ + " ends with:\n" + log_tail(2048));
}

Status NatsServerProcess::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (monitor_.joinable()) monitor_.join();
  std::lock_guard lock(mu_);
  phase_ = Phase::idle;
  return Status::success();
}

bool NatsServerProcess::running() const {
  std::lock_guard lock(mu_);
  return pid_ != 0;
}

pid_t NatsServerProcess::pid() const {
  std::lock_guard lock(mu_);
  return pid_;
}

int NatsServerProcess::port() const {
  std::lock_guard lock(mu_);
  return port_;
}

std::string NatsServerProcess::url() const {
  std::lock_guard lock(mu_);
  const std::string host = opt_.host == "0.0.0.0" ? "127.0.0.1" : opt_.host;
  return "nats://" + host + ":" + std::to_string(port_);
}

std::uint64_t NatsServerProcess::restarts() const {
  std::lock_guard lock(mu_);
  return restarts_;
}

bool NatsServerProcess::wait_ready(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return ready_; });
}

std::string NatsServerProcess::log_tail(std::size_t max_bytes) const {
  std::ifstream in(log_file_, std::ios::binary | std::ios::ate);
  if (!in) return "(no log)";
  const auto size = static_cast<std::size_t>(in.tellg());
  const std::size_t from = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string out(size - from, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

}  // namespace weir::bus
