#pragma once

#include <cstdint>
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
  std::string topic_field;  // empty: the topic is not put in the record
};

sdk::ComponentSpec<Config> spec();

// What a QoS 2 message's PUBREC stands for across a restart: the packet ids this input stored
// and acknowledged with PUBREC, whose PUBREL has not come yet, each with a hash of the message.
// After a crash the broker sends again every PUBLISH it has no PUBREC for: one listed here, with
// the same hash, was stored already and only gets its PUBREC.
//
// Kept in an append-only file ("+ <id> <hash>" / "- <id>" lines), written before the PUBREC
// (resp. the PUBCOMP) goes out; a process killed keeps what it wrote (the operating system
// holds it), a power cut may lose the last lines (no fsync: documented in the README).
class Qos2Memory {
 public:
  Qos2Memory() = default;
  ~Qos2Memory();
  Qos2Memory(const Qos2Memory&) = delete;
  Qos2Memory& operator=(const Qos2Memory&) = delete;

  // Loads `path` (missing: empty) and rewrites it compacted. An error text when it cannot.
  std::string open(const std::string& path);
  bool contains(std::uint16_t id, std::uint64_t hash) const;
  void add(std::uint16_t id, std::uint64_t hash);
  void remove(std::uint16_t id);
  void clear();  // the broker did not keep the session
  std::size_t size() const { return ids_.size(); }

 private:
  void append(const std::string& line);
  void rewrite();
  std::map<std::uint16_t, std::uint64_t> ids_;
  std::string path_;
  int fd_ = -1;
  std::size_t lines_ = 0;
};

}  // namespace weir::components::mqtt_input
