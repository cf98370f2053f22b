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
// lines (no fsync: the README says what that allows). Per source, the highest position whose
// batch completed: batches come in position order, so one at or below it was written whole.
class Progress {
 public:
  enum class State : std::uint8_t { none, published, released, done, refused };
  struct Slot {
    State state = State::none;
    std::uint16_t id = 0;
    std::uint8_t code = 0;  // refused: the broker's reason code (MQTT 5)
  };

  Progress() = default;
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Loads `path` (missing: nothing in progress). An error text when it cannot be written.
  std::string open(const std::string& path);

  // The batch at (source, position) of `records` records: false when every record of it was
  // confirmed already (a batch delivered again after its write completed: at or below the
  // highest position completed for that source); else its slots as the file had them when it is
  // the batch in progress, or a new batch (what the old one held is kept reserved).
  bool begin(const std::string& source, std::uint64_t position, std::size_t records);
  // Every record of the current batch is confirmed.
  void complete();
  std::vector<Slot>& slots() { return current_->slots; }
  // Whether packet id `id` is with the broker for any batch (or was left there by one): never
  // used for a new message meanwhile.
  bool in_use(std::uint16_t id) const { return busy_.contains(id) || reserved_.contains(id); }
  // The broker confirmed `id`, which no batch in progress holds (one left behind): usable again.
  void release(std::uint16_t id) { reserved_.erase(id); }

  void published(const std::vector<std::pair<std::size_t, std::uint16_t>>& sent);  // index, id
  void released(std::size_t index);
  void done(std::size_t index);
  void refused(std::size_t index, std::uint8_t code);
  // The broker did not keep the session: ids it held for us are free again.
  void session_lost();

 private:
  struct Batch {
    std::uint64_t handle = 0;  // its number in the file (0: none yet)
    std::uint64_t position = 0;
    std::vector<Slot> slots;
  };
  void append(const std::string& text);
  void rewrite();
  std::string path_;
  int fd_ = -1;
  std::map<std::string, Batch> batches_;  // the batch in progress, per upstream source
  Batch* current_ = nullptr;
  std::uint64_t next_handle_ = 1;
  std::size_t appended_ = 0;                        // bytes appended since the last rewrite
  std::set<std::uint16_t> busy_;                    // ids published or PUBREC'd, not confirmed
  std::set<std::uint16_t> reserved_;                // ids a replaced batch left with the broker
  std::map<std::string, std::uint64_t> completed_;  // per source, the highest position completed
};

}  // namespace weir::components::mqtt_output
