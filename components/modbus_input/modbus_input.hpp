#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/modbus/modbus.hpp"
#include "sdk/spec.hpp"

namespace weir::components::modbus_input {

using modbus::Order;
using modbus::Table;
using modbus::Type;

struct Register {
  std::string name;
  Table table = Table::holding;
  int address = 0;
  Type type = Type::uint16;  // registers only; coils and discrete inputs are bits
  Order word_order = Order::big;
  Order byte_order = Order::big;
  double scale = 1;
  double offset = 0;
  double deadband = -1;  // -1: the component's deadband
  static sdk::ObjectSpec<Register> object_spec();
};

struct Device : modbus::LinkConfig {
  std::string name;
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  int max_gap = 0;  // unmapped registers a request may span to join two ranges
  std::vector<Register> registers;
  static sdk::ObjectSpec<Device> object_spec();
};

struct Config {
  std::vector<Device> devices;
  std::chrono::nanoseconds backoff_initial = std::chrono::seconds(1);
  std::chrono::nanoseconds backoff_max = std::chrono::seconds(60);
  bool report_by_exception = false;
  double deadband = 0;
  std::chrono::nanoseconds heartbeat = std::chrono::seconds(60);
};

sdk::ComponentSpec<Config> spec();

// One read request: `count` registers (or bits) of `table` from `start`, and the registers of
// the map it serves.
struct Block {
  Table table = Table::holding;
  int start = 0;
  int count = 0;
  std::vector<std::size_t> members;  // indexes into the device's registers
};
// The fewest requests that read every register of the map: per table, ranges that touch or
// overlap (or lie at most max_gap apart) are joined while a request stays within Modbus's limit
// (125 registers, 2,000 bits).
std::vector<Block> plan_reads(const std::vector<Register>& registers, int max_gap);

// Report by exception for one device: which of a poll's values go out. A value goes out when it
// is the first, or differs from the last one sent by more than its deadband (absolute, strictly
// more), or when a heartbeat has passed since the last time every value was sent (then all go).
class ExceptionFilter {
 public:
  ExceptionFilter(std::vector<double> deadbands, std::chrono::nanoseconds heartbeat)
      : deadbands_(std::move(deadbands)), heartbeat_(heartbeat), last_(deadbands_.size()) {}
  // `values[i]` of register i read at `now` (nullopt: not read); true in `out[i]` goes out.
  void select(const std::vector<std::optional<double>>& values, std::chrono::steady_clock::time_point now,
              std::vector<bool>& out);

 private:
  std::vector<double> deadbands_;
  std::chrono::nanoseconds heartbeat_;
  std::vector<std::optional<double>> last_;
  std::optional<std::chrono::steady_clock::time_point> last_full_;
};

// For measuring (bench/modbus_jitter.cpp) and tests: called on a device's thread as each poll
// starts, with the tick it was due at.
using PollObserver = std::function<void(std::size_t device, std::chrono::steady_clock::time_point deadline,
                                        std::chrono::steady_clock::time_point started)>;
// Sets the observer of inputs created from now on (nullptr: none).
void set_poll_observer(PollObserver observer);

}  // namespace weir::components::modbus_input
