#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "common/mqtt/config.hpp"
#include "sdk/spec.hpp"

namespace weir::components::mqtt_input {

enum class Content { json, text };

struct Config : mqtt::ConnectionConfig {
  std::vector<std::string> topics;  // required: topic filters
  Content content = Content::json;
  std::string topic_field;             // empty: the topic is not put in the record
  std::chrono::nanoseconds linger{0};  // 0: what arrived is stored at once
};

sdk::ComponentSpec<Config> spec();

// Where each QoS 1/2 message stands between its arrival and the end of its exchange with the
// broker, kept so that a message the broker sends again after a crash gets the position it had:
// the engine then stores it once (InputSink::push_at drops a position this source stored).
//
// Every message gets the next position of this input's source ("mqtt:<client id>:<epoch>", the
// epoch made when the file is made, so that a lost file starts a new source and never makes a
// new message look like a replay). Its packet id, a hash of topic and payload, and its position
// are written BEFORE the record goes to the flow; the broker's resend (DUP set, same id, same
// content) finds them. A QoS 1 entry ends when its PUBACK went out. A QoS 2 entry is released at
// PUBREL and kept as released (the last 32,768): a broker restarted before our PUBCOMP reached it
// may send the PUBLISH again instead of the PUBREL (mosquitto 2.0.11 does: its database keeps a
// message's state from before our PUBREC), and that resend (DUP set, same id, same content) must
// still find its position. A new message with the id (DUP clear, or other content) replaces it.
//
// An append-only file ("+ <id> <hash> <pos>", "- <id>"); positions are reserved in blocks of
// 65,536 with an fsync ("r <pos>"), so that no position is ever handed out twice, also after a
// power cut. Entries are not fsynced: a process killed keeps them (the operating system holds
// them); a power cut may lose the last ones, and with them the exactness of those messages
// (stored again, never lost).
class DeliveryLog {
 public:
  DeliveryLog() = default;
  ~DeliveryLog();
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;

  // Loads `path` (missing: a new source) and rewrites it compacted. An error text when it cannot.
  std::string open(const std::string& path, const std::string& client_id);
  // Each run (each open()) hands out positions as a source of its own, "<base>:<run>": within a
  // run positions reach the engine in increasing order, and a run's resends come back in the
  // order the run took them, also when a later run took new messages meanwhile.
  struct At {
    std::uint64_t run = 0, pos = 0;  // pos 0: none
  };
  std::string source(std::uint64_t run) const { return base_ + ":" + std::to_string(run); }
  std::uint64_t run() const { return run_; }
  // A new message: the next position of this run, noted with the id and hash before the caller
  // pushes it.
  At arrive(std::uint16_t id, std::uint64_t hash);
  // Where a message this log holds with that id and hash was taken (a resend), else pos 0.
  // A released entry too (see above).
  At find(std::uint16_t id, std::uint64_t hash) const;
  void remove(std::uint16_t id);
  // QoS 2: the broker released the message (PUBREL); kept as released, the oldest beyond 32,768
  // removed.
  void release(std::uint16_t id);
  void clear();              // the broker did not keep the session
  std::size_t size() const;  // entries not released

 private:
  struct Entry {
    std::uint64_t hash = 0, pos = 0, run = 0;
    bool released = false;
  };
  void mark_released(std::uint16_t id, Entry& e);
  // The released entry (id, pos) is still what the id stands for.
  bool stands(std::uint16_t id, std::uint64_t pos) const;
  void append(const std::string& line);
  std::string rewrite();  // an error text when it cannot (the old file then stays)
  void reserve();
  std::map<std::uint16_t, Entry> ids_;
  std::deque<std::pair<std::uint16_t, std::uint64_t>> released_;  // id and pos, oldest first
  std::string path_, epoch_, base_;
  std::uint64_t next_ = 1, reserved_ = 0, run_ = 1;
  int fd_ = -1;
  std::size_t lines_ = 0;
};

}  // namespace weir::components::mqtt_input
