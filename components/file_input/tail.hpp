// Following files the way file_input needs it: which files match, which of them is which across
// renames, truncations and restarts, and how far each is read and stored. No engine here: lines
// go to a LineHandler, and the durable offsets come back through Generation::durable.
//
// A generation is one file's content from byte 0 for as long as it is not truncated. It is known
// by its device and inode and by a fingerprint of its first bytes (up to 256): a rename keeps the
// inode (the same generation, read on under its new name); copy-truncate makes a copy (a new
// inode whose first bytes are those of a generation) and truncates the original (whose first
// bytes no longer match, or whose size fell below what was read): the generation goes on in the
// copy from where it was, and the truncated file is a new generation. The same rules apply to
// what happened while the engine was down, from the state file.
//
// The state file holds, per generation, the offset up to which its lines are stored in the flow
// (only ever a line end, reached through on_durable): a restart reads on from there, and the
// engine drops what it finds stored already (InputSink::push_at, the source being the
// generation). A new generation is written to it, with an fsync, before any of its lines is
// handed over, so that a generation number is never given to two files.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sdk/log.hpp"

namespace weir::components::file_input {

inline constexpr std::size_t fingerprint_max = 256;

struct Generation : std::enable_shared_from_this<Generation> {
  std::uint64_t gen = 0;
  std::string source;  // "file:<epoch>:<gen>": the position source its lines are pushed with
  std::uint64_t dev = 0, ino = 0;
  std::string head;  // its first bytes (up to fingerprint_max) as far as known
  // Stored through here (a line end). Raised from the engine's threads (on_durable).
  std::atomic<std::uint64_t> durable{0};
  void stored_through(std::uint64_t end);
};

// The state file's content (text, one line each):
//   weir-file-input 1 / epoch <hex> / next <gen> / g <gen> <dev> <ino> <offset> <head as hex>
struct StateEntry {
  std::uint64_t gen = 0, dev = 0, ino = 0, offset = 0;
  std::string head;
};
struct State {
  std::string epoch;  // made with the file: a lost file starts new sources, never reuses one
  std::uint64_t next = 1;
  std::vector<StateEntry> entries;
};
std::string encode_state(const State& s);
bool decode_state(std::string_view text, State& out, std::string& error);

struct TailOptions {
  std::vector<std::string> patterns;  // absolute glob patterns
  std::vector<std::string> excludes;  // fnmatch patterns on the full path
  bool start_at_end = true;           // files found at the very first start (no state file)
  std::chrono::nanoseconds rotate_wait{std::chrono::seconds(5)};
  std::size_t max_line = 1024 * 1024;
  std::size_t read_chunk = 64 * 1024;
};

// Where lines go. Returning false stops the round (the sink is stopping).
class LineHandler {
 public:
  virtual ~LineHandler() = default;
  // A complete line (no LF, a trailing CR removed) ending at file offset `end` (after its LF).
  virtual bool line(Generation& g, const std::string& path, std::string_view text, std::uint64_t end) = 0;
  // A line longer than max_line: its first bytes, its length, and where it ends.
  virtual bool overlong(Generation& g, const std::string& path, std::string_view head, std::uint64_t bytes,
                        std::uint64_t end) = 0;
  // The lines of one read of `g` were all handed over.
  virtual void chunk_end(Generation& g) = 0;
  // `g` ends (its file gone): nothing more comes from it.
  virtual void ended(Generation& g) = 0;
};

struct TailStats {
  std::uint64_t files_open = 0, generations = 0, bytes_read = 0, truncations = 0, copies_followed = 0,
                lost_generations = 0, overlong = 0;
};

class Tailer {
 public:
  Tailer(TailOptions options, std::filesystem::path state_path, sdk::Log log);
  ~Tailer();
  Tailer(const Tailer&) = delete;
  Tailer& operator=(const Tailer&) = delete;

  // Loads the state file (or makes one). An error text when it cannot.
  std::string open();
  // Looks for new, renamed, truncated and copied files. An error text when the state file could
  // not be written for a new generation (nothing of it is read then; tried again next scan).
  std::string scan();
  // Reads one chunk from every open file. Returns the bytes read (0: nothing new anywhere);
  // stops early when the handler returns false.
  std::size_t read(LineHandler& handler);
  // Rewrites the state file when a stored offset moved (or always, with `force`).
  std::string save(bool force = false);
  TailStats stats() const;

 private:
  struct Tracked;
  struct Found;
  void attach(Tracked& t, const Found& f, std::uint64_t offset);
  void detach(Tracked& t, const char* why);
  bool finish_if_done(Tracked& t, LineHandler& handler);
  std::shared_ptr<Generation> new_generation(const Found& f, std::uint64_t offset);
  bool handle(Tracked& t, LineHandler& handler, std::string_view data, std::uint64_t base);

  TailOptions opt_;
  std::filesystem::path state_path_;
  sdk::Log log_;
  State state_;
  bool first_start_ = false;  // no state file was found: start_at_end applies
  bool scanned_ = false;
  std::vector<std::unique_ptr<Tracked>> files_;
  std::string last_saved_;  // the state file's content as last written
  std::string buffer_;
  TailStats stats_;
};

}  // namespace weir::components::file_input
