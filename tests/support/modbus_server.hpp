// Modbus devices for tests and benches, on libmodbus's own server side: a TCP server on a free
// loopback port (or an RTU server on a serial device, a pseudo-terminal in tests), answering from
// a register mapping in a thread of its own, with a log of the writes it took; and a TCP peer
// that accepts connections and never answers (a device that hangs).
#pragma once

#include <modbus/modbus.h>
#include <atomic>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weir::testing {

class ModbusServer {
 public:
  // 1,000 of each table, from address 0.
  static constexpr int size = 1000;
  // TCP on 127.0.0.1:`port` (0: a port the kernel picks).
  explicit ModbusServer(int port = 0);
  // RTU on `serial` (9600 8N1) as unit `unit`.
  ModbusServer(const std::string& serial, int unit);
  ~ModbusServer();
  ModbusServer(const ModbusServer&) = delete;
  ModbusServer& operator=(const ModbusServer&) = delete;

  int port() const { return port_; }

  void set_holding(int address, const std::vector<std::uint16_t>& words);
  void set_input(int address, const std::vector<std::uint16_t>& words);
  void set_coil(int address, bool on);
  void set_discrete(int address, bool on);
  std::uint16_t holding(int address);
  bool coil(int address);

  // Called before each request is answered, with the number of requests answered before it and
  // the server's lock held: a test changes the registers per request (one poll = one request).
  void on_request(std::function<void(std::uint64_t n, ModbusServer& s)> f);
  // Holding register access from inside on_request (the lock is already held).
  void set_holding_locked(int address, std::uint16_t v);

  struct Written {
    int function = 0;  // 5, 6, 15 or 16
    int address = 0;
    std::vector<std::uint16_t> values;  // registers, or coils as 0/1
  };
  // Every write the server answered without an exception, in the order taken.
  std::vector<Written> writes();
  std::uint64_t requests() const { return requests_.load(); }

  // TCP: the device closes the connection it holds (the client's next request fails).
  void drop_connection() { drop_ = true; }
  // TCP: the device hangs (true): it closes the connection it holds and takes no new one (a
  // client's connect completes in the kernel's backlog, its requests get no answer); false: back.
  void set_away(bool away) { away_ = away; }

 private:
  void serve_tcp();
  void serve_rtu();
  // Answers one request read into `query` (length `len`) on `ctx`.
  void answer(modbus_t* ctx, const std::uint8_t* query, int len);
  modbus_t* ctx_ = nullptr;
  modbus_mapping_t* map_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::function<void(std::uint64_t, ModbusServer&)> hook_;
  std::vector<Written> writes_;
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<bool> stop_{false}, drop_{false}, away_{false};
  std::thread thread_;
};

// Accepts TCP connections on a free loopback port, reads what comes and never answers.
class SilentPeer {
 public:
  SilentPeer();
  ~SilentPeer();
  int port() const { return port_; }
  // Requests (reads) taken so far, over every connection.
  std::uint64_t reads() const { return reads_.load(); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<std::uint64_t> reads_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace weir::testing
