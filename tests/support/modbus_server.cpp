#include "support/modbus_server.hpp"

#include <modbus/modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace weir::testing {

namespace {

// Waits up to 100 ms for `fd` to be readable: the server threads look at their stop flag between.
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 100) > 0;
}

int bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace

ModbusServer::ModbusServer(int port) {
  map_ = modbus_mapping_new(size, size, size, size);
  ctx_ = modbus_new_tcp("127.0.0.1", port);
  if (!map_ || !ctx_) throw std::runtime_error("modbus server: cannot allocate");
  listen_fd_ = modbus_tcp_listen(ctx_, 8);
  if (listen_fd_ < 0)
    throw std::runtime_error(std::string("modbus server: listen: ") + modbus_strerror(errno));
  port_ = bound_port(listen_fd_);
  thread_ = std::thread([this] { serve_tcp(); });
}

ModbusServer::ModbusServer(const std::string& serial, int unit) {
  map_ = modbus_mapping_new(size, size, size, size);
  ctx_ = modbus_new_rtu(serial.c_str(), 9600, 'N', 8, 1);
  if (!map_ || !ctx_) throw std::runtime_error("modbus server: cannot allocate");
  modbus_set_slave(ctx_, unit);
  if (modbus_connect(ctx_) != 0)
    throw std::runtime_error("modbus server: cannot open " + serial + ": " + modbus_strerror(errno));
  thread_ = std::thread([this] { serve_rtu(); });
}

ModbusServer::~ModbusServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  modbus_close(ctx_);
  modbus_free(ctx_);
  modbus_mapping_free(map_);
}

void ModbusServer::serve_tcp() {
  std::uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  while (!stop_) {
    if (away_ || !readable(listen_fd_)) {
      if (away_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    int s = listen_fd_;
    if (modbus_tcp_accept(ctx_, &s) < 0) continue;
    drop_ = false;
    // One client at a time: the components under test hold one connection per device and open a
    // new one only after closing the old.
    while (!stop_ && !drop_ && !away_) {
      if (!readable(modbus_get_socket(ctx_))) continue;
      const int len = modbus_receive(ctx_, query);
      if (len < 0) break;  // closed by the client
      if (len > 0) answer(ctx_, query, len);
    }
    ::close(modbus_get_socket(ctx_));
    modbus_set_socket(ctx_, -1);
  }
}

void ModbusServer::serve_rtu() {
  std::uint8_t query[MODBUS_RTU_MAX_ADU_LENGTH];
  while (!stop_) {
    if (!readable(modbus_get_socket(ctx_))) continue;
    const int len = modbus_receive(ctx_, query);
    if (len > 0) answer(ctx_, query, len);
  }
}

void ModbusServer::answer(modbus_t* ctx, const std::uint8_t* query, int len) {
  std::lock_guard lock(mu_);
  const auto n = requests_.fetch_add(1);
  if (hook_) hook_(n, *this);
  const int h = modbus_get_header_length(ctx);
  const int function = query[h];
  const int address = (query[h + 1] << 8) | query[h + 2];
  modbus_reply(ctx, query, len, map_);
  Written w{function, address, {}};
  if (function == MODBUS_FC_WRITE_SINGLE_REGISTER && address < size) {
    w.values.push_back(map_->tab_registers[address]);
  } else if (function == MODBUS_FC_WRITE_MULTIPLE_REGISTERS) {
    const int count = (query[h + 3] << 8) | query[h + 4];
    if (address + count > size) return;
    for (int i = 0; i < count; ++i) w.values.push_back(map_->tab_registers[address + i]);
  } else if (function == MODBUS_FC_WRITE_SINGLE_COIL && address < size) {
    w.values.push_back(map_->tab_bits[address]);
  } else if (function == MODBUS_FC_WRITE_MULTIPLE_COILS) {
    const int count = (query[h + 3] << 8) | query[h + 4];
    if (address + count > size) return;
    for (int i = 0; i < count; ++i) w.values.push_back(map_->tab_bits[address + i]);
  } else {
    return;
  }
  writes_.push_back(std::move(w));
}

void ModbusServer::set_holding(int address, const std::vector<std::uint16_t>& words) {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < words.size(); ++i)
    map_->tab_registers[address + static_cast<int>(i)] = words[i];
}

void ModbusServer::set_holding_locked(int address, std::uint16_t v) {
  map_->tab_registers[address] = v;
}

void ModbusServer::set_input(int address, const std::vector<std::uint16_t>& words) {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < words.size(); ++i)
    map_->tab_input_registers[address + static_cast<int>(i)] = words[i];
}

void ModbusServer::set_coil(int address, bool on) {
  std::lock_guard lock(mu_);
  map_->tab_bits[address] = on ? 1 : 0;
}

void ModbusServer::set_discrete(int address, bool on) {
  std::lock_guard lock(mu_);
  map_->tab_input_bits[address] = on ? 1 : 0;
}

std::uint16_t ModbusServer::holding(int address) {
  std::lock_guard lock(mu_);
  return map_->tab_registers[address];
}

bool ModbusServer::coil(int address) {
  std::lock_guard lock(mu_);
  return map_->tab_bits[address] != 0;
}

void ModbusServer::on_request(std::function<void(std::uint64_t, ModbusServer&)> f) {
  std::lock_guard lock(mu_);
  hook_ = std::move(f);
}

std::vector<ModbusServer::Written> ModbusServer::writes() {
  std::lock_guard lock(mu_);
  return writes_;
}

SilentPeer::SilentPeer() {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 8) != 0)
    throw std::runtime_error("silent peer: cannot listen");
  port_ = bound_port(fd_);
  thread_ = std::thread([this] {
    std::vector<int> clients;
    char buf[512];
    while (!stop_) {
      std::vector<pollfd> fds{{fd_, POLLIN, 0}};
      for (int c : clients) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c >= 0) clients.push_back(c);
      }
      for (std::size_t i = 1; i < fds.size(); ++i)
        if (fds[i].revents & (POLLIN | POLLHUP)) {
          if (::read(fds[i].fd, buf, sizeof buf) > 0) {
            reads_.fetch_add(1);
          } else {
            ::close(fds[i].fd);
            std::erase(clients, fds[i].fd);
          }
        }
    }
    for (int c : clients) ::close(c);
  });
}

SilentPeer::~SilentPeer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

}  // namespace weir::testing
