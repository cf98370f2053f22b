#include "file_input/tail.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>

#include "core/hash.hpp"
#include "store/atomic_file.hpp"

namespace weir::components::file_input {

namespace {

using Clock = std::chrono::steady_clock;

// A long line's error record keeps this much of it.
constexpr std::size_t overlong_head = 4096;

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

bool from_hex(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
  }
  return true;
}

// Up to `n` bytes from the start of the file (fewer when it is shorter or a read fails).
std::string read_head(int fd, std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, out.data() + got, n - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string new_epoch() {
  std::random_device rd;
  const std::uint64_t r =
      (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  return core::hex64(r);
}

}  // namespace

void Generation::stored_through(std::uint64_t end) {
  auto cur = durable.load(std::memory_order_relaxed);
  while (cur < end && !durable.compare_exchange_weak(cur, end, std::memory_order_relaxed)) {
  }
}

std::string encode_state(const State& s) {
  std::string out = "weir-file-input 1\nepoch " + s.epoch + "\nnext " + std::to_string(s.next) + "\n";
  for (const auto& e : s.entries)
    out += "g " + std::to_string(e.gen) + " " + std::to_string(e.dev) + " " + std::to_string(e.ino) + " " +
           std::to_string(e.offset) + " " + (e.head.empty() ? "-" : to_hex(e.head)) + "\n";
  return out;
}

bool decode_state(std::string_view text, State& out, std::string& error) {
  std::istringstream in{std::string(text)};
  std::string line;
  std::size_t n = 0;
  State s;
  bool header = false;
  while (std::getline(in, line)) {
    ++n;
    std::istringstream words(line);
    std::string word;
    words >> word;
    bool ok = true;
    if (n == 1) {
      int version = 0;
      ok = word == "weir-file-input" && (words >> version) && version == 1;
      header = ok;
    } else if (word == "epoch") {
      ok = static_cast<bool>(words >> s.epoch);
    } else if (word == "next") {
      ok = static_cast<bool>(words >> s.next);
    } else if (word == "g") {
      StateEntry e;
      std::string head;
      ok = (words >> e.gen >> e.dev >> e.ino >> e.offset >> head) &&
           (head == "-" || from_hex(head, e.head)) && e.head.size() <= fingerprint_max && e.gen < s.next;
      if (ok) s.entries.push_back(std::move(e));
    } else {
      ok = line.empty();
    }
    if (!ok) {
      error = "line " + std::to_string(n) + " is not understood: \"" + line.substr(0, 80) + "\"";
      return false;
    }
  }
  if (!header || s.epoch.empty()) {
    error = "not a file_input state file (no header or no epoch)";
    return false;
  }
  out = std::move(s);
  return true;
}

struct Tailer::Tracked {
  std::shared_ptr<Generation> g;
  int fd = -1;  // -1: no file (from the state file, or truncated): waits for its file or a copy
  std::string path;
  std::uint64_t off = 0;     // the next byte to read
  std::uint64_t handed = 0;  // the end of the last line handed over
  std::string partial;       // bytes of a line without its LF yet
  bool skip_rest = false;    // started at the end, inside a line: its rest is not a line
  bool long_line = false;    // inside a line longer than max_line
  std::string long_head;
  std::uint64_t long_bytes = 0;
  bool seen = true;              // matched by the last scan
  bool ending = false;           // gone and read to its end: ended() was called
  Clock::time_point deadline{};  // fd < 0: dropped when no file turned up by then
  Clock::time_point last_data = Clock::now();
  ~Tracked() {
    if (fd >= 0) ::close(fd);
  }
};

struct Tailer::Found {
  std::string path;
  std::uint64_t dev = 0, ino = 0, size = 0;
  std::string head;
  bool claimed = false;
};

Tailer::Tailer(TailOptions options, std::filesystem::path state_path, sdk::Log log)
    : opt_(std::move(options)), state_path_(std::move(state_path)), log_(std::move(log)) {}

Tailer::~Tailer() = default;

std::string Tailer::open() {
  std::error_code ec;
  std::filesystem::create_directories(state_path_.parent_path(), ec);
  if (ec) return "cannot create " + state_path_.parent_path().string() + ": " + ec.message();
  std::string text, error;
  {
    std::FILE* f = std::fopen(state_path_.c_str(), "rb");
    if (f == nullptr && errno != ENOENT)
      return "cannot read " + state_path_.string() + ": " + std::strerror(errno);
    if (f != nullptr) {
      char buf[65536];
      std::size_t n = 0;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
      if (!decode_state(text, state_, error))
        return state_path_.string() + ": " + error +
               " (deleting it starts over: files are then read as at a first start, see start_at)";
    } else {
      first_start_ = true;
      state_.epoch = new_epoch();
      if (auto e = save(true); !e.empty()) return e;
    }
  }
  const auto now = Clock::now();
  for (const auto& e : state_.entries) {
    auto t = std::make_unique<Tracked>();
    t->g = std::make_shared<Generation>();
    t->g->gen = e.gen;
    t->g->source = "file:" + state_.epoch + ":" + std::to_string(e.gen);
    t->g->dev = e.dev;
    t->g->ino = e.ino;
    t->g->head = e.head;
    t->g->durable = e.offset;
    t->off = t->handed = e.offset;
    t->deadline = now + opt_.rotate_wait;
    files_.push_back(std::move(t));
  }
  return {};
}

void Tailer::attach(Tracked& t, const Found& f, std::uint64_t offset) {
  t.fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (t.fd < 0) return;
  t.path = f.path;
  t.g->dev = f.dev;
  t.g->ino = f.ino;
  t.off = offset;
  t.seen = true;
  t.last_data = Clock::now();
  const std::size_t want = std::min<std::uint64_t>(fingerprint_max, f.size);
  if (t.g->head.size() < want) t.g->head = read_head(t.fd, want);
}

void Tailer::detach(Tracked& t, const char* why) {
  log_.info("{} {}: its generation {} waits up to {} ms for a copy of it (copy-truncate)", t.path, why,
            t.g->gen, std::chrono::duration_cast<std::chrono::milliseconds>(opt_.rotate_wait).count());
  ::close(t.fd);
  t.fd = -1;
  t.deadline = Clock::now() + opt_.rotate_wait;
}

std::shared_ptr<Generation> Tailer::new_generation(const Found& f, std::uint64_t offset) {
  auto g = std::make_shared<Generation>();
  g->gen = state_.next++;
  g->source = "file:" + state_.epoch + ":" + std::to_string(g->gen);
  g->dev = f.dev;
  g->ino = f.ino;
  g->durable = offset;
  return g;
}

std::string Tailer::scan() {
  std::vector<Found> found;
  for (const auto& pattern : opt_.patterns) {
    glob_t gl{};
    if (::glob(pattern.c_str(), 0, nullptr, &gl) == 0) {
      for (std::size_t i = 0; i < gl.gl_pathc; ++i) {
        const char* path = gl.gl_pathv[i];
        bool excluded = false;
        for (const auto& x : opt_.excludes) excluded = excluded || ::fnmatch(x.c_str(), path, 0) == 0;
        struct stat st {};
        if (excluded || ::stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        const auto dev = static_cast<std::uint64_t>(st.st_dev), ino = static_cast<std::uint64_t>(st.st_ino);
        if (std::any_of(found.begin(), found.end(),
                        [&](const Found& f) { return f.dev == dev && f.ino == ino; }))
          continue;
        found.push_back(Found{path, dev, ino, static_cast<std::uint64_t>(st.st_size), {}, false});
      }
    }
    ::globfree(&gl);
  }

  // 1. The same inode: the same file (renamed or not), unless truncated.
  for (auto& tp : files_) {
    auto& t = *tp;
    t.seen = false;
    auto it = std::find_if(found.begin(), found.end(), [&](const Found& f) {
      return !f.claimed && f.dev == t.g->dev && f.ino == t.g->ino;
    });
    if (it == found.end()) continue;
    if (t.fd < 0) {
      // From the state file (or truncated before): the same file only if its head is the same
      // and it is not shorter than what was read.
      const int fd = ::open(it->path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      const bool same = it->size >= t.off && read_head(fd, t.g->head.size()) == t.g->head;
      ::close(fd);
      if (same && !t.ending) {
        attach(t, *it, t.off);
        it->claimed = true;
      }
      continue;
    }
    if (it->size < t.off || read_head(t.fd, t.g->head.size()) != t.g->head) {
      ++stats_.truncations;
      detach(t, "was truncated");
      continue;
    }
    t.path = it->path;
    t.seen = true;
    it->claimed = true;
    const std::size_t want = std::min<std::uint64_t>(fingerprint_max, it->size);
    if (t.g->head.size() < want) t.g->head = read_head(t.fd, want);
  }

  // 2. Another inode that starts with a generation's head: a copy of it. A generation without a
  // file goes on in it; a copy of a file still followed is not read.
  for (auto& f : found) {
    if (f.claimed) continue;
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    f.head = read_head(fd, std::min<std::uint64_t>(fingerprint_max, f.size));
    ::close(fd);
    for (auto& tp : files_) {
      auto& t = *tp;
      if (t.fd >= 0 || t.ending || t.g->head.empty() || f.size < t.off || !starts_with(f.head, t.g->head))
        continue;
      log_.info("{} is a copy of generation {} (copy-truncate): read on from byte {}", f.path, t.g->gen,
                t.off);
      ++stats_.copies_followed;
      attach(t, f, t.off);
      f.claimed = t.fd >= 0;
      break;
    }
    if (f.claimed) continue;
    for (auto& tp : files_) {
      auto& t = *tp;
      if (t.fd < 0 || t.g->head.empty() || !starts_with(f.head, t.g->head)) continue;
      f.claimed = true;  // a copy of a file followed: its lines come from that file
      break;
    }
  }

  // 3. Anything else is a new file: read from its start (at a first start with start_at end:
  // from its end).
  const auto before = files_.size();
  for (auto& f : found) {
    if (f.claimed) continue;
    const std::uint64_t offset = first_start_ && !scanned_ && opt_.start_at_end ? f.size : 0;
    auto t = std::make_unique<Tracked>();
    t->g = new_generation(f, offset);
    t->off = t->handed = offset;
    t->path = f.path;
    files_.push_back(std::move(t));
  }
  if (files_.size() > before) {
    // Written before any of their lines is handed over: a generation number is never reused.
    if (auto e = save(true); !e.empty()) {
      files_.resize(before);
      return e;
    }
    for (std::size_t i = before; i < files_.size(); ++i) {
      auto& t = *files_[i];
      const auto& f = *std::find_if(found.begin(), found.end(),
                                    [&](const Found& x) { return x.dev == t.g->dev && x.ino == t.g->ino; });
      attach(t, f, t.off);
      ++stats_.generations;
      if (t.fd >= 0 && t.off > 0) {
        char last = '\n';
        t.skip_rest = ::pread(t.fd, &last, 1, static_cast<off_t>(t.off - 1)) == 1 && last != '\n';
      }
      log_.info("following {} (generation {}) from byte {}", t.path, t.g->gen, t.off);
    }
  }

  // 4. A generation without a file past its deadline is given up.
  const auto now = Clock::now();
  const auto gone = std::remove_if(files_.begin(), files_.end(), [&](const std::unique_ptr<Tracked>& tp) {
    if (tp->fd >= 0 || tp->ending || now < tp->deadline) return false;
    ++stats_.lost_generations;
    log_.warn(
        "generation {} (last seen as {}, read to byte {}) has no file any more: it was deleted, "
        "truncated without a copy among the patterns, or rotated out of them while the engine was "
        "down; lines written to it after byte {} are not read",
        tp->g->gen, tp->path.empty() ? std::string("a file") : tp->path, tp->off, tp->g->durable.load());
    return true;
  });
  const bool dropped = gone != files_.end();
  files_.erase(gone, files_.end());
  scanned_ = true;
  if (dropped) return save(true);
  return {};
}

bool Tailer::handle(Tracked& t, LineHandler& handler, std::string_view data, std::uint64_t base) {
  std::size_t i = 0;
  while (i < data.size()) {
    const void* nl = std::memchr(data.data() + i, '\n', data.size() - i);
    if (nl == nullptr) {
      const auto rest = data.substr(i);
      if (t.skip_rest) return true;
      if (t.long_line) {
        t.long_bytes += rest.size();
      } else if (t.partial.size() + rest.size() > opt_.max_line) {
        t.long_line = true;
        t.long_bytes = t.partial.size() + rest.size();
        t.partial.append(rest.substr(0, overlong_head));
        t.long_head = t.partial.substr(0, overlong_head);
        t.partial.clear();
      } else {
        t.partial.append(rest);
      }
      return true;
    }
    const auto at = static_cast<std::size_t>(static_cast<const char*>(nl) - data.data());
    const auto seg = data.substr(i, at - i);
    const std::uint64_t end = base + at + 1;
    i = at + 1;
    if (t.skip_rest) {
      t.skip_rest = false;
      t.partial.clear();
      continue;
    }
    t.handed = end;
    if (t.long_line) {
      t.long_line = false;
      ++stats_.overlong;
      const bool ok = handler.overlong(*t.g, t.path, t.long_head, t.long_bytes + seg.size(), end);
      t.long_head.clear();
      if (!ok) return false;
      continue;
    }
    std::string_view text = seg;
    if (!t.partial.empty()) {
      t.partial.append(seg);
      text = t.partial;
    }
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    bool ok = true;
    if (text.size() > opt_.max_line) {
      ++stats_.overlong;
      ok = handler.overlong(*t.g, t.path, text.substr(0, overlong_head), text.size(), end);
    } else {
      ok = handler.line(*t.g, t.path, text, end);
    }
    t.partial.clear();
    if (!ok) return false;
  }
  return true;
}

bool Tailer::finish_if_done(Tracked& t, LineHandler& handler) {
  // A file no longer matched (renamed out of the patterns, or deleted) is read to its end; once
  // it has not grown for rotate_wait, its last line without a LF is a line too, and it ends.
  if (t.seen || Clock::now() - t.last_data < opt_.rotate_wait) return false;
  if (!t.ending) {
    t.ending = true;
    if (!t.partial.empty() && !t.skip_rest && !t.long_line) {
      t.handed = t.off;
      std::string_view text = t.partial;
      if (text.back() == '\r') text.remove_suffix(1);
      if (!handler.line(*t.g, t.path, text, t.off)) return false;
      t.partial.clear();
    }
    handler.ended(*t.g);
    handler.chunk_end(*t.g);
  }
  // Dropped once what was handed over is stored: until then a restart still reads it.
  return t.g->durable.load() >= t.handed;
}

std::size_t Tailer::read(LineHandler& handler) {
  std::size_t total = 0;
  buffer_.resize(opt_.read_chunk);
  bool finished = false;
  for (auto& tp : files_) {
    auto& t = *tp;
    if (t.fd < 0) continue;
    const ssize_t n = ::pread(t.fd, buffer_.data(), buffer_.size(), static_cast<off_t>(t.off));
    if (n < 0) {
      if (errno != EINTR) log_.warn("reading {}: {}", t.path, std::strerror(errno));
      continue;
    }
    if (n == 0) {
      if (finish_if_done(t, handler)) {
        ::close(t.fd);
        t.fd = -1;
        finished = true;
      }
      continue;
    }
    const std::uint64_t base = t.off;
    t.off += static_cast<std::uint64_t>(n);
    t.last_data = Clock::now();
    stats_.bytes_read += static_cast<std::uint64_t>(n);
    total += static_cast<std::size_t>(n);
    const bool go_on =
        handle(t, handler, std::string_view(buffer_.data(), static_cast<std::size_t>(n)), base);
    handler.chunk_end(*t.g);
    if (!go_on) break;
  }
  if (finished) {
    files_.erase(std::remove_if(files_.begin(), files_.end(),
                                [](const std::unique_ptr<Tracked>& tp) { return tp->fd < 0 && tp->ending; }),
                 files_.end());
    if (auto e = save(true); !e.empty()) log_.warn("{}", e);
  }
  return total;
}

std::string Tailer::save(bool force) {
  State s;
  s.epoch = state_.epoch;
  s.next = state_.next;
  for (const auto& tp : files_)
    s.entries.push_back(StateEntry{tp->g->gen, tp->g->dev, tp->g->ino, tp->g->durable.load(), tp->g->head});
  auto text = encode_state(s);
  if (!force && text == last_saved_) return {};
  std::string error;
  if (!store::write_file_atomically(state_path_, text, &error, store::Sync::yes))
    return "cannot write the state file " + state_path_.string() + ": " + error;
  last_saved_ = std::move(text);
  return {};
}

TailStats Tailer::stats() const {
  TailStats s = stats_;
  s.files_open = static_cast<std::uint64_t>(std::count_if(
      files_.begin(), files_.end(), [](const std::unique_ptr<Tracked>& t) { return t->fd >= 0; }));
  return s;
}

}  // namespace weir::components::file_input
