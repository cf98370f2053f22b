#include "bus/store_sync.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "core/unique_fd.hpp"

namespace weir::bus {

namespace fs = std::filesystem;

namespace {

Status sync_path(const fs::path& p, bool directory) {
  core::UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0)));
  if (fd.get() < 0) {
    // A block removed by a purge meanwhile has nothing left to keep.
    if (errno == ENOENT && !directory) return Status::success();
    return Status::error("open " + p.string() + ": " + std::strerror(errno));
  }
  if ((directory ? ::fsync(fd.get()) : ::fdatasync(fd.get())) != 0)
    return Status::error("fsync " + p.string() + ": " + std::strerror(errno));
  return Status::success();
}

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// <store>/jetstream/<account>/streams/<name>, for `name` (every stream when empty).
std::vector<fs::path> stream_folders(const fs::path& store, const std::string& name) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (fs::directory_iterator acc(store / "jetstream", ec), end; !ec && acc != end; acc.increment(ec)) {
    if (!name.empty()) {
      const auto dir = acc->path() / "streams" / name;
      if (fs::is_directory(dir / "msgs", ec)) found.push_back(dir);
      continue;
    }
    std::error_code ec2;
    for (fs::directory_iterator s(acc->path() / "streams", ec2); !ec2 && s != end; s.increment(ec2))
      if (fs::is_directory(s->path() / "msgs", ec2)) found.push_back(s->path());
  }
  return found;
}

}  // namespace

StreamSync::StreamSync(fs::path store_dir, std::string stream)
    : store_dir_(std::move(store_dir)), stream_(std::move(stream)) {}

Status StreamSync::resolve() {
  const auto found = stream_folders(store_dir_, stream_);
  if (stream_.empty()) {
    // Streams come and go: keep what is known of those still there.
    std::map<fs::path, Folder> next;
    for (const auto& dir : found) next[dir] = std::move(folders_[dir]);
    folders_ = std::move(next);
    return Status::success();
  }
  folders_.clear();
  if (found.size() == 1) {
    folders_[found.front()] = Folder{};
    return Status::success();
  }
  const auto where = (store_dir_ / "jetstream").string();
  if (found.empty())
    return Status::error("no folder of stream " + stream_ + " under " + where +
                         "/*/streams (is nats.store_dir the store of the server weir uses?)");
  return Status::error("stream " + stream_ + " is in several accounts under " + where);
}

Status StreamSync::sync_folder(const fs::path& stream_dir, Folder& f) {
  const auto msgs = stream_dir / "msgs";
  std::set<std::string> names;
  struct stat ms {};
  DIR* d = ::opendir(msgs.c_str());
  if (d == nullptr) return Status::error("open " + msgs.string() + ": " + std::strerror(errno));
  if (::fstat(::dirfd(d), &ms) != 0) ms.st_ino = 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (ends_with(name, ".blk") || ends_with(name, ".idx")) names.insert(std::move(name));
  }
  ::closedir(d);
  for (const auto& name : names)
    if (auto st = sync_path(msgs / name, false); !st) return st;
  // New names (a new block), and a msgs folder made anew by a purge, must reach the disk too.
  if (names != f.names || ms.st_ino != f.msgs_ino) {
    if (auto st = sync_path(msgs, true); !st) return st;
    if (ms.st_ino != f.msgs_ino)
      if (auto st = sync_path(stream_dir, true); !st) return st;
    f.names = std::move(names);
    f.msgs_ino = ms.st_ino;
  }
  return Status::success();
}

Status StreamSync::sync() {
  Status last;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(attempt));
    if (stream_.empty() || folders_.empty()) {
      last = resolve();
      if (!last.ok()) continue;
    }
    bool again = false;
    for (auto& [dir, f] : folders_) {
      auto st = sync_folder(dir, f);
      if (st.ok()) continue;
      std::error_code ec;
      if (fs::is_directory(dir / "msgs", ec)) return st;
      // Its msgs folder is gone: a purge is putting a new one in place (for a moment), or the
      // stream was deleted. Look again.
      last = st;
      again = true;
    }
    if (!again) return Status::success();
    if (!stream_.empty()) folders_.clear();
  }
  return last;
}

Result<std::vector<std::uint64_t>> block_first_seqs(const fs::path& store_dir, const std::string& stream) {
  const auto found = stream_folders(store_dir, stream);
  if (found.size() != 1)
    return Status::error("stream " + stream + ": " + (found.empty() ? "no folder" : "several folders") +
                         " under " + (store_dir / "jetstream").string());
  const auto msgs = found.front() / "msgs";
  std::vector<std::uint64_t> seqs;
  DIR* d = ::opendir(msgs.c_str());
  if (d == nullptr) return Status::error("open " + msgs.string() + ": " + std::strerror(errno));
  std::vector<std::string> blocks;
  while (dirent* e = ::readdir(d))
    if (ends_with(e->d_name, ".blk")) blocks.emplace_back(e->d_name);
  ::closedir(d);
  constexpr std::uint64_t deleted_bit = std::uint64_t{1} << 63;
  for (const auto& name : blocks) {
    core::UniqueFd fd(::open((msgs / name).c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) continue;  // removed by a purge meanwhile
    unsigned char head[12];
    if (::pread(fd.get(), head, sizeof head, 0) != static_cast<ssize_t>(sizeof head)) continue;
    std::uint64_t seq = 0;
    for (int i = 7; i >= 0; --i) seq = (seq << 8) | head[4 + i];
    seq &= ~deleted_bit;
    if (seq != 0) seqs.push_back(seq);
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

}  // namespace weir::bus
