#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/websocket/bridge_config.hpp"  // ws::TlsConfig: cert, key, ca
#include "sdk/field.hpp"
#include "sdk/spec.hpp"

namespace weir::components::http_input {

enum class Format { auto_detect, json, ndjson };

struct Config {
  std::string listen;  // required: host:port
  std::string path = "/";
  std::string token;  // secret; empty: no Authorization needed
  ws::TlsConfig tls;  // cert and key: HTTPS; ca: client certificates required
  Format format = Format::auto_detect;
  sdk::ByteSize max_body{1024 * 1024};
  sdk::ByteSize max_pending{32 * 1024 * 1024};
  std::string idempotency_field;  // empty: the Idempotency-Key header only
  std::chrono::nanoseconds idempotency_window = std::chrono::hours(24);
  int max_keys = 100000;
  std::chrono::nanoseconds ack_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds read_timeout = std::chrono::seconds(10);
  int max_connections = 64;
  int max_concurrent = 16;
};

sdk::ComponentSpec<Config> spec();

// Whether `key` may be an idempotency key (and so a record id): 1 to 200 bytes of visible ASCII,
// no space. False with the reason.
bool valid_key(std::string_view key, std::string& reason);

// The idempotency keys an http_input has seen, and the records of the keyed requests it took but
// has not seen stored yet, in an append-only file, so that a client's retry after a crash (of
// the engine, of the connection) is stored once.
//
// Each start of the engine is a run of its own: a source "http:<flow>/<component>:<epoch>:<run>"
// (the epoch made with the file). The records of a keyed request get the next positions of the
// run, and the entry ("+ <run> <pos> <n> <hash> <time> <key>" then the n records, one line each)
// is written BEFORE they go to the flow. Once the flow stored them: "s <time> <hash> <key>".
// At the next start, the entries of earlier runs that were never seen stored are pushed again
// with their positions, in order: the engine's replay detection stores what its stream does not
// hold, so nothing is stored twice and nothing taken is lost; a retry of such a key waits for
// that. Lines are not fsynced (a killed process keeps them; a power cut may lose the last ones
// and with them the exactness of those requests: stored again, never lost); the run line is.
class KeyLog {
 public:
  struct Pending {
    std::string key;
    std::uint64_t hash = 0, run = 0, pos = 0, time_ms = 0;
    std::vector<std::string> records;  // compact JSON, one per record
  };
  struct Stored {
    std::uint64_t hash = 0, time_ms = 0;
  };

  KeyLog() = default;
  ~KeyLog();
  KeyLog(const KeyLog&) = delete;
  KeyLog& operator=(const KeyLog&) = delete;

  // Loads `path` (missing: a new source), drops stored keys older than `window` or beyond
  // `max_keys` (the oldest first), starts a new run and rewrites the file compacted. An error
  // text when it cannot.
  std::string open(const std::string& path, const std::string& name, std::chrono::nanoseconds window,
                   std::size_t max_keys);
  std::string source(std::uint64_t run) const { return base_ + ":" + std::to_string(run); }
  std::uint64_t run() const { return run_; }

  // Entries of earlier runs not seen stored, by run then position. They stay until stored().
  const std::vector<Pending>& recovered() const { return recovered_; }
  // A stored key, or null.
  const Stored* find(const std::string& key) const;
  // Notes a new keyed request of this run: its first position (the next n are its records); 0
  // when the entry could not be written (then the request is not taken).
  std::uint64_t take(const std::string& key, std::uint64_t hash, const std::vector<std::string>& records);
  // Its records were stored.
  void stored(const std::string& key, std::uint64_t hash);
  std::size_t keys() const { return stored_.size(); }
  std::uint64_t forgotten() const { return forgotten_; }  // keys dropped for the window or max_keys
  std::uint64_t now_ms() const;

 private:
  bool append(const std::string& text);
  void rewrite();
  void expire();
  std::string entry_text(const Pending& p) const;

  std::unordered_map<std::string, Stored> stored_;
  std::deque<std::pair<std::uint64_t, std::string>> order_;  // (time, key) as stored, oldest first
  std::map<std::string, Pending> pending_;                   // taken, not stored (all runs)
  std::vector<Pending> recovered_;
  std::string path_, epoch_, base_;
  std::uint64_t run_ = 1, next_ = 1, forgotten_ = 0;
  std::chrono::nanoseconds window_{};
  std::size_t max_keys_ = 0;
  std::uint64_t appended_ = 0;  // bytes since the last rewrite
  int fd_ = -1;
};

}  // namespace weir::components::http_input
