#include "common/modbus/modbus.hpp"

#include <modbus/modbus.h>
#include <sys/socket.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <limits>

namespace weir::components::modbus {

void lint_link(const LinkConfig& c, sdk::Lint& lint) {
  if (c.transport == Transport::tcp && c.host.empty())
    lint.error("host", "missing_field", "transport tcp needs a host", "set \"host\": \"10.0.0.5\"");
  if (c.transport == Transport::rtu && c.serial.empty())
    lint.error("serial", "missing_field", "transport rtu needs a serial device",
               "set \"serial\": \"/dev/ttyUSB0\"");
}

int words_of(Type t) {
  switch (t) {
    case Type::int16:
    case Type::uint16:
      return 1;
    case Type::int32:
    case Type::uint32:
    case Type::float32:
      return 2;
    case Type::float64:
      return 4;
  }
  return 1;
}

namespace {

std::uint16_t swap_bytes(std::uint16_t w) {
  return static_cast<std::uint16_t>((w << 8) | (w >> 8));
}

// The value's bits, most significant word first, from the words as read.
std::uint64_t assemble(std::span<const std::uint16_t> words, int n, Order word_order, Order byte_order) {
  std::uint64_t bits = 0;
  for (int i = 0; i < n; ++i) {
    auto w = words[word_order == Order::big ? i : n - 1 - i];
    if (byte_order == Order::little) w = swap_bytes(w);
    bits = (bits << 16) | w;
  }
  return bits;
}

}  // namespace

double decode(std::span<const std::uint16_t> words, Type t, Order word_order, Order byte_order) {
  const auto bits = assemble(words, words_of(t), word_order, byte_order);
  switch (t) {
    case Type::int16:
      return static_cast<std::int16_t>(bits);
    case Type::uint16:
      return static_cast<std::uint16_t>(bits);
    case Type::int32:
      return static_cast<std::int32_t>(bits);
    case Type::uint32:
      return static_cast<std::uint32_t>(bits);
    case Type::float32:
      return std::bit_cast<float>(static_cast<std::uint32_t>(bits));
    case Type::float64:
      return std::bit_cast<double>(bits);
  }
  return 0;
}

std::vector<std::uint16_t> encode(double v, Type t, Order word_order, Order byte_order) {
  std::uint64_t bits = 0;
  switch (t) {
    case Type::int16:
      bits = static_cast<std::uint16_t>(static_cast<std::int16_t>(v));
      break;
    case Type::uint16:
      bits = static_cast<std::uint16_t>(v);
      break;
    case Type::int32:
      bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(v));
      break;
    case Type::uint32:
      bits = static_cast<std::uint32_t>(v);
      break;
    case Type::float32:
      bits = std::bit_cast<std::uint32_t>(static_cast<float>(v));
      break;
    case Type::float64:
      bits = std::bit_cast<std::uint64_t>(v);
      break;
  }
  const int n = words_of(t);
  std::vector<std::uint16_t> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    // Word i counted from the most significant.
    auto w = static_cast<std::uint16_t>(bits >> (16 * (n - 1 - i)));
    if (byte_order == Order::little) w = swap_bytes(w);
    out[static_cast<std::size_t>(word_order == Order::big ? i : n - 1 - i)] = w;
  }
  return out;
}

std::string fits(double v, Type t) {
  if (!std::isfinite(v)) return "not a finite number";
  auto whole = [&](double lo, double hi) -> std::string {
    if (v != std::floor(v)) return "not a whole number, the register type is an integer";
    if (v < lo || v > hi)
      return "out of range " + std::to_string(static_cast<long long>(lo)) + ".." +
             std::to_string(static_cast<long long>(hi));
    return {};
  };
  switch (t) {
    case Type::int16:
      return whole(-32768, 32767);
    case Type::uint16:
      return whole(0, 65535);
    case Type::int32:
      return whole(-2147483648.0, 2147483647.0);
    case Type::uint32:
      return whole(0, 4294967295.0);
    case Type::float32:
      if (std::fabs(v) > std::numeric_limits<float>::max()) return "out of the float32 range";
      return {};
    case Type::float64:
      return {};
  }
  return {};
}

bool is_device_exception(int err) {
  return err > MODBUS_ENOBASE && err <= EMBXGTAR;
}

std::string error_text(int err) {
  return modbus_strerror(err);
}

Link::~Link() {
  close();
  if (ctx_) modbus_free(ctx_);
}

std::string Link::describe() const {
  if (config_.transport == Transport::tcp)
    return "tcp " + config_.host + ":" + std::to_string(config_.port) + " unit " +
           std::to_string(config_.unit_id);
  return "rtu " + config_.serial + " unit " + std::to_string(config_.unit_id);
}

std::string Link::connect() {
  if (connected_) return {};
  {
    std::lock_guard lock(mu_);
    if (aborted_) return "stopping";
  }
  if (!ctx_) {
    if (config_.transport == Transport::tcp) {
      ctx_ = modbus_new_tcp_pi(config_.host.c_str(), std::to_string(config_.port).c_str());
    } else {
      const char parity = config_.parity == Parity::none ? 'N' : config_.parity == Parity::even ? 'E' : 'O';
      ctx_ =
          modbus_new_rtu(config_.serial.c_str(), config_.baud, parity, config_.data_bits, config_.stop_bits);
    }
    if (!ctx_) return "cannot make a Modbus context for " + describe() + ": " + modbus_strerror(errno);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(config_.timeout).count();
    modbus_set_response_timeout(ctx_, static_cast<std::uint32_t>(us / 1000000),
                                static_cast<std::uint32_t>(us % 1000000));
    modbus_set_slave(ctx_, config_.unit_id);
  }
  if (modbus_connect(ctx_) != 0) return "cannot connect to " + describe() + ": " + modbus_strerror(errno);
  connected_ = true;
  std::lock_guard lock(mu_);
  if (config_.transport == Transport::tcp) fd_ = modbus_get_socket(ctx_);
  if (aborted_) {
    fd_ = -1;
    modbus_close(ctx_);
    connected_ = false;
    return "stopping";
  }
  return {};
}

void Link::close() {
  {
    std::lock_guard lock(mu_);
    fd_ = -1;
  }
  if (connected_ && ctx_) modbus_close(ctx_);
  connected_ = false;
}

void Link::abort() {
  std::lock_guard lock(mu_);
  aborted_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace weir::components::modbus
