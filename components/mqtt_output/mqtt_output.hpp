#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/mqtt/config.hpp"
#include "sdk/field.hpp"
#include "sdk/spec.hpp"

namespace weir::components::mqtt_output {

struct Config : mqtt::ConnectionConfig {
  std::string topic;           // a fixed topic, or
  sdk::Expression topic_expr;  // one computed per record
  bool retain = false;
  std::chrono::nanoseconds ack_timeout = std::chrono::seconds(30);
};

sdk::ComponentSpec<Config> spec();

// Where a batch's QoS 1/2 publishing stands, kept in a file so that a batch delivered again
// after a crash neither publishes twice what the broker confirmed nor reuses a packet id the
// broker still holds. Per record of the batch: published with packet id P, PUBREC'd (QoS 2: from
// then on only PUBREL is sent again), or confirmed (PUBACK / PUBCOMP). Written before the packet
// it stands for goes out; a killed process keeps what it wrote, a power cut may lose the last
// lines (no fsync: the README says what that allows).
class Progress {
 public:
  enum class State : std::uint8_t { none, published, released, done };
  struct Slot {
    State state = State::none;
    std::uint16_t id = 0;
  };

  Progress() = default;
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Loads `path` (missing: nothing in progress). An error text when it cannot be written.
  std::string open(const std::string& path);

  // The batch at (source, position) of `records` records: its slots as the file had them when
  // it is the batch in progress, else a new batch (what the old one held is kept reserved).
  void begin(const std::string& source, std::uint64_t position, std::size_t records);
  std::vector<Slot>& slots() { return slots_; }
  // Packet ids another batch left with the broker unconfirmed: never used again in this run.
  const std::set<std::uint16_t>& reserved() const { return reserved_; }

  void published(const std::vector<std::pair<std::size_t, std::uint16_t>>& sent);  // index, id
  void released(std::size_t index);
  void done(std::size_t index);

 private:
  void append(const std::string& text);
  std::string path_;
  int fd_ = -1;
  std::string source_;
  std::uint64_t position_ = 0;
  std::vector<Slot> slots_;
  std::set<std::uint16_t> reserved_;
};

}  // namespace weir::components::mqtt_output
