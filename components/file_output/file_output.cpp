#include "file_output/file_output.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/unique_fd.hpp"
#include "sdk/base/json_write.hpp"
#include "store/atomic_file.hpp"

namespace weir::components::file_output {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) {
  return std::system_category().message(err);
}

sdk::Status sys_error(const char* what, const fs::path& p, int err) {
  return sdk::Status::error(std::string(what) + " " + p.string() + ": " + errno_text(err));
}

// write(2) until everything is written; a partial write or EINTR just continues.
// A rename or a new file is durable only once its directory is.
void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

class FileOutput final : public sdk::Output {
 public:
  FileOutput(const Config& config, const sdk::Context& ctx) : config_(config), log_(ctx.log) {
    path_ = config.path;
    if (path_.is_relative() && !ctx.data_dir.empty()) path_ = ctx.data_dir / path_;
  }

  ~FileOutput() override { close_file(); }

  sdk::Status start() override {
    std::error_code ec;
    if (path_.has_parent_path()) fs::create_directories(path_.parent_path(), ec);
    if (ec) return sdk::Status::error("cannot create " + path_.parent_path().string() + ": " + ec.message());
    if (auto st = recover(); !st) return st;
    if (auto st = open_file(); !st) return st;
    if (config_.fsync == Fsync::interval) {
      std::lock_guard lk(mu_);
      stopping_ = false;
      flusher_ = std::thread([this] { flush_loop(); });
    }
    return sdk::Status::ok();
  }

  void stop() override { close_file(); }

  // Called by one thread at a time. Lines go out in chunks of one write(2); on any failure the
  // error is returned and the engine delivers the whole batch again (lines already written stay).
  // Exactly once: a batch at or below the highest position written for its source is a replay.
  // The positions are saved after the lines (state_path()), so that a crash between the two
  // leaves lines that start() cuts off again: their batch is delivered again.
  sdk::Status write_at(const sdk::Position& at, std::span<const sdk::Record> records,
                       sdk::Rejects& rejects) override {
    if (!at.source.empty()) {
      auto it = written_.find(std::string(at.source));
      if (it != written_.end() && at.seq <= it->second) return sdk::Status::ok();
    }
    if (auto st = write(records, rejects); !st) return st;
    if (at.source.empty()) return sdk::Status::ok();
    written_[std::string(at.source)] = at.seq;
    return save_state();
  }

  sdk::Status write(std::span<const sdk::Record> records, sdk::Rejects&) override {
    if (fd_ < 0) {
      if (auto st = open_file(); !st) return st;
    }
    constexpr std::size_t chunk_bytes = 256 * 1024;
    for (const auto& r : records) {
      line_.clear();
      sdk::write_json(line_, r.value);
      line_ += '\n';
      const auto pending = size_ + buffer_.size();
      if (config_.max_size.bytes > 0 && pending > 0 && pending + line_.size() > config_.max_size.bytes) {
        if (auto st = drain(); !st) return st;
        if (auto st = rotate(); !st) return st;
      }
      buffer_ += line_;
      if (config_.fsync == Fsync::always) {
        if (auto st = drain(); !st) return st;
        if (auto st = sync(); !st) return st;
      } else if (buffer_.size() >= chunk_bytes) {
        if (auto st = drain(); !st) return st;
      }
    }
    if (auto st = drain(); !st) return st;
    if (config_.fsync == Fsync::batch && !records.empty()) return sync();
    if (config_.fsync == Fsync::interval) {
      std::lock_guard lk(mu_);
      dirty_ = true;
    }
    return sdk::Status::ok();
  }

 private:
  sdk::Status open_file() {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return sys_error("cannot open", path_, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return sys_error("cannot stat", path_, err);
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
    // A line cut short by a crash stays as it is; the next record starts on a line of its own
    // (read access is only for this check).
    char last = '\n';
    if (size_ > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
      if (!core::write_all(fd, "\n")) {
        const int err = errno;
        ::close(fd);
        return sys_error("cannot write", path_, err);
      }
      ++size_;
    }
    sync_dir(path_.has_parent_path() ? path_.parent_path() : fs::path("."));
    std::lock_guard lk(mu_);
    fd_ = fd;
    return sdk::Status::ok();
  }

  fs::path state_path() const { return fs::path(path_.string() + ".weir-pos"); }
  bool durable_state() const { return config_.fsync != Fsync::interval; }

  // "file <inode> <bytes>" (the current file and how much of it is confirmed), then one line
  // "<source> <position>" per source.
  sdk::Status save_state() {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return sys_error("cannot stat", path_, errno);
    std::string body = "file " + std::to_string(st.st_ino) + " " + std::to_string(size_) + "\n";
    for (const auto& [source, pos] : written_) body += source + " " + std::to_string(pos) + "\n";
    std::string error;
    if (!store::write_file_atomically(state_path(), body, &error,
                                      durable_state() ? store::Sync::yes : store::Sync::no))
      return sdk::Status::error("cannot save the positions: " + error);
    return sdk::Status::ok();
  }

  // Cuts off what was written after the last saved state (a crash came between the lines and
  // their state): those batches are delivered again and written then.
  sdk::Status recover() {
    const int fd = ::open(state_path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sdk::Status::ok();  // never written with positions
    std::string body;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) body.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    std::uint64_t ino = 0, confirmed = 0;
    std::size_t pos = 0;
    bool header = true;
    while (pos < body.size()) {
      auto end = body.find('\n', pos);
      if (end == std::string::npos) end = body.size();
      const std::string line = body.substr(pos, end - pos);
      pos = end + 1;
      char name[512];
      unsigned long long a = 0, b = 0;
      if (header) {
        if (std::sscanf(line.c_str(), "file %llu %llu", &a, &b) != 2)
          return sdk::Status::error(state_path().string() +
                                    " is damaged: delete it to start over (at-least-once)");
        ino = a;
        confirmed = b;
        header = false;
      } else if (std::sscanf(line.c_str(), "%511s %llu", name, &a) == 2) {
        written_[name] = a;
      }
    }
    auto cut = [&](const fs::path& p, std::uint64_t to) -> sdk::Status {
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) <= to)
        return sdk::Status::ok();
      log_.info("cutting {} bytes off {}: written after the last confirmed batch, they come again",
                static_cast<std::uint64_t>(st.st_size) - to, p.string());
      if (::truncate(p.c_str(), static_cast<off_t>(to)) != 0) return sys_error("cannot cut back", p, errno);
      return sdk::Status::ok();
    };
    struct stat cur {};
    const bool have = ::stat(path_.c_str(), &cur) == 0;
    if (have && cur.st_ino == ino) return cut(path_, confirmed);
    // Rotated after the state was saved: the confirmed part is in <path>.1, the new file holds
    // only what came after it.
    const fs::path first(path_.string() + ".1");
    struct stat old {};
    if (::stat(first.c_str(), &old) == 0 && old.st_ino == ino) {
      if (auto st = cut(first, confirmed); !st) return st;
      return have ? cut(path_, 0) : sdk::Status::ok();
    }
    log_.warn("the file {} last confirmed is gone: positions kept, nothing cut", path_.string());
    return sdk::Status::ok();
  }

  sdk::Status drain() {
    if (buffer_.empty()) return sdk::Status::ok();
    if (!core::write_all(fd_, buffer_)) {
      const int err = errno;
      // Drop a partly written line so that the redelivered batch starts on a clean line.
      if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        log_.warn("cannot cut {} back after a failed write: {}", path_.string(), errno_text(errno));
      }
      buffer_.clear();
      return sys_error("cannot write", path_, err);
    }
    size_ += buffer_.size();
    buffer_.clear();
    return sdk::Status::ok();
  }

  sdk::Status sync() {
    if (::fdatasync(fd_) != 0) return sys_error("cannot fsync", path_, errno);
    return sdk::Status::ok();
  }

  // path.<n-1> → path.<n> ... path → path.1; a rename over path.<max_files> deletes the oldest.
  sdk::Status rotate() {
    if (auto st = sync(); !st) return st;
    close_fd();
    auto numbered = [&](int i) { return fs::path(path_.string() + "." + std::to_string(i)); };
    for (int i = config_.max_files - 1; i >= 1; --i) {
      if (::rename(numbered(i).c_str(), numbered(i + 1).c_str()) != 0 && errno != ENOENT)
        return sys_error("cannot rotate", numbered(i), errno);
    }
    if (::rename(path_.c_str(), numbered(1).c_str()) != 0) return sys_error("cannot rotate", path_, errno);
    return open_file();
  }

  // The flusher only ever syncs a dup of the descriptor, so a slow fsync never holds up write().
  void flush_loop() {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      cv_.wait_for(lk, config_.fsync_interval, [this] { return stopping_; });
      if (!dirty_ || fd_ < 0) continue;
      const int fd = ::dup(fd_);
      dirty_ = false;
      lk.unlock();
      if (fd >= 0) {
        if (::fdatasync(fd) != 0) log_.warn("cannot fsync {}: {}", path_.string(), errno_text(errno));
        ::close(fd);
      }
      lk.lock();
    }
  }

  void close_fd() {
    std::lock_guard lk(mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void close_file() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    if (fd_ >= 0 && ::fdatasync(fd_) != 0)
      log_.warn("cannot fsync {}: {}", path_.string(), errno_text(errno));
    close_fd();
  }

  Config config_;
  sdk::Log log_;
  fs::path path_;
  std::uint64_t size_ = 0;  // bytes in the current file, as written
  std::string line_, buffer_;
  // fd_ is changed only by the writing thread, under mu_, because the flusher reads it.
  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool dirty_ = false;
  std::thread flusher_;
  std::map<std::string, std::uint64_t> written_;  // highest position written, by source
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  using namespace std::chrono_literals;
  return sdk::ComponentSpec<Config>{"file_output"}
      .summary("Appends records to a file as NDJSON, one record per line, with size rotation.")
      .description(
          "Each record's value is written as one line of compact JSON. A batch is acknowledged only "
          "once its lines are written and, per `fsync`, on disk. Exactly once: beside the file, "
          "`<path>.weir-pos` records how much of it is confirmed and the last batch written from each "
          "upstream; after a crash the start cuts off lines written after it (their batch is delivered "
          "again) and a batch delivered again is not written twice. With `fsync: interval` this holds "
          "across process crashes, not power cuts. When the file would "
          "grow past `max_size` it is renamed to `<path>.1` (older files shift to `.2`, `.3`...) "
          "and a new file is started; at most `max_files` rotated files are kept.")
      .field("path", &Config::path,
             field()
                 .required()
                 .not_empty()
                 .doc("File to append to. A relative path is inside the engine's data dir; missing "
                      "folders are created.")
                 .example("out/readings.ndjson"))
      .field("fsync", &Config::fsync,
             field()
                 .option("always", Fsync::always, "Flush to disk after every line: safest, slowest.")
                 .option("batch", Fsync::batch, "Flush to disk once per batch, before it is acknowledged.")
                 .option("interval", Fsync::interval,
                         "Flush to disk at most every `fsync_interval`, in the background. A process "
                         "crash loses nothing, but a power loss can lose the last interval of records "
                         "that were already acknowledged.")
                 .doc("When written lines are forced to disk."))
      .field("fsync_interval", &Config::fsync_interval,
             field().duration_range(10ms, 1h).advanced().doc(
                 "Time between background flushes when `fsync` is `interval`."))
      .field("max_size", &Config::max_size,
             field().doc("Size at which the file is rotated; 0 never rotates. A line longer than this "
                         "gets a file of its own."))
      .field("max_files", &Config::max_files,
             field().range(1, 1000).doc("Rotated files to keep beside the current one; the oldest is "
                                        "deleted."))
      .lint([](const Config& c, sdk::Lint& l) {
        if (!c.path.empty() && (c.path.back() == '/' || fs::path(c.path).filename() == ".."))
          l.error("path", "invalid_value", "must name a file, not a folder", "e.g. out/readings.ndjson");
      })
      .example(boost::json::parse(R"({"id": "archive", "type": "file_output", "inputs": ["sensors"],
                                      "config": {"path": "archive/readings.ndjson", "max_size": "16MiB"}})"))
      .implementation<FileOutput>();
}

}  // namespace weir::components::file_output
