// powercut_fs: a FUSE file system for power-cut tests. It passes everything through to a backing
// directory, except that file data written is kept in memory until the file is fsynced: the
// disk cache of a machine whose power may go at any moment.
//
//   powercut_fs [--ext4-replace] BACKING MOUNTPOINT   (stays in the foreground; logs to stderr)
//
// What it models:
// - Data: write() lands in memory, per file (per inode, whatever name or descriptor it was
//   written through, as a kernel's dirty pages are), overlaid on what the backing file holds for
//   reads and stat sizes. fsync() or fdatasync() of any descriptor of the file writes that file's
//   pending data to the backing file and fsyncs it: from then on it survives a cut. close() does
//   not sync.
// - Metadata: create, mkdir, unlink, rmdir, rename, link, symlink, chmod, chown, utimens and
//   truncate (also O_TRUNC at open) reach the backing directory at once and survive a cut, as on
//   a journaling file system that commits metadata before a crash but no data with it (ext4's
//   data=writeback, without its rename and truncate heuristics). So a file created or truncated
//   and written but never fsynced is there after a cut, with its synced size and contents only:
//   a rewrite by truncate-then-write, or by write-new-then-rename, is empty until fsynced.
// - With --ext4-replace, the two replacement patterns that ext4 (data=ordered, auto_da_alloc,
//   its defaults) puts on disk before the next journal commit are durable at once: a file
//   truncated to zero and written has its data written back when it is closed, and a file
//   renamed over another has its data written back before the rename. Appends to a file that
//   stays are still lost without an fsync.
// - SIGUSR1 cuts the power: every write not yet synced is forgotten, and from then on every
//   operation fails with EIO (the disk is gone) until the process ends. Start a new powercut_fs
//   on the same backing directory to "power on": it shows exactly what was synced.
// - SIGUSR2 writes back everything pending (as the kernel does with dirty pages after ~30 s):
//   tests use it after setting up, so that only what happens later is at risk.
// - SIGTERM or SIGINT unmount and exit.
// Each signal's effect is logged as one line ("powercut_fs: cut: ...", "powercut_fs: flushed:
// ...") once done, so a caller knows when it took effect.
#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// Pending data of one file, as extents by offset; they never overlap or touch.
struct Node {
  std::map<off_t, std::string> extents;
  int fd = -1;            // a descriptor of the backing file, held while extents are pending
  int open = 0;           // handles open on it
  bool gone = false;      // its last name was removed
  bool replaced = false;  // truncated to zero since its last write-back (--ext4-replace)

  bool pending() const { return !extents.empty(); }
  off_t end() const {
    if (extents.empty()) return 0;
    const auto& last = *extents.rbegin();
    return last.first + static_cast<off_t>(last.second.size());
  }

  void put(off_t off, const char* data, std::size_t len) {
    const off_t end = off + static_cast<off_t>(len);
    auto it = extents.upper_bound(off);
    if (it != extents.begin()) {
      auto prev = std::prev(it);
      if (prev->first + static_cast<off_t>(prev->second.size()) >= off) it = prev;
    }
    if (it == extents.end() || it->first > end) {
      extents.emplace(off, std::string(data, len));
      return;
    }
    // Merge into the first extent that overlaps or touches [off, end): one that starts at or
    // before `off` is extended; a later one is absorbed below, like those after it.
    off_t start = std::min(it->first, off);
    std::string s;
    if (it->first <= off) {
      s = std::move(it->second);
      it = extents.erase(it);
    }
    const auto need = static_cast<std::size_t>(end - start);
    if (s.size() < need) s.resize(need);
    std::memcpy(s.data() + (off - start), data, len);
    // Absorb the following extents that overlap or touch.
    while (it != extents.end() && it->first <= start + static_cast<off_t>(s.size())) {
      const off_t s_end = start + static_cast<off_t>(s.size());
      const off_t it_end = it->first + static_cast<off_t>(it->second.size());
      if (it_end > s_end)
        s.append(it->second, static_cast<std::size_t>(s_end - it->first), std::string::npos);
      it = extents.erase(it);
    }
    extents.emplace(start, std::move(s));
  }

  void truncate(off_t size) {
    for (auto it = extents.begin(); it != extents.end();) {
      if (it->first >= size) {
        it = extents.erase(it);
      } else {
        if (it->first + static_cast<off_t>(it->second.size()) > size)
          it->second.resize(static_cast<std::size_t>(size - it->first));
        ++it;
      }
    }
  }

  // Copies what is pending in [off, off + len) over buf (which holds the backing data).
  void overlay(char* buf, off_t off, std::size_t len) const {
    const off_t end = off + static_cast<off_t>(len);
    auto it = extents.upper_bound(off);
    if (it != extents.begin()) --it;
    for (; it != extents.end() && it->first < end; ++it) {
      const off_t e_end = it->first + static_cast<off_t>(it->second.size());
      const off_t from = std::max(off, it->first), to = std::min(end, e_end);
      if (from < to)
        std::memcpy(buf + (from - off), it->second.data() + (from - it->first),
                    static_cast<std::size_t>(to - from));
    }
  }
};

struct Handle {
  int fd = -1;
  ino_t ino = 0;
};

struct State {
  std::string backing;
  std::mutex mu;
  std::map<ino_t, Node> nodes;
  bool dead = false;
  bool ext4_replace = false;

  std::string path(const char* p) const { return backing + p; }
};

State* state() {
  return static_cast<State*>(fuse_get_context()->private_data);
}
Handle* handle(fuse_file_info* fi) {
  return reinterpret_cast<Handle*>(fi->fh);
}

#define LOCKED_ALIVE(st)        \
  State& st = *state();         \
  std::lock_guard lock_(st.mu); \
  if (st.dead) return -EIO

// Writes a node's pending data to the backing file and fsyncs it. Lock held.
int write_back(Node& n, bool datasync) {
  if (n.pending()) {
    for (const auto& [off, data] : n.extents) {
      std::size_t done = 0;
      while (done < data.size()) {
        auto w = ::pwrite(n.fd, data.data() + done, data.size() - done, off + static_cast<off_t>(done));
        if (w < 0) return -errno;
        done += static_cast<std::size_t>(w);
      }
    }
    n.extents.clear();
  }
  n.replaced = false;
  if (n.fd >= 0 && (datasync ? ::fdatasync(n.fd) : ::fsync(n.fd)) != 0) return -errno;
  return 0;
}

// Forgets a node that nobody can reach any more. Lock held.
void forget_if_unused(State& st, ino_t ino) {
  auto it = st.nodes.find(ino);
  if (it == st.nodes.end()) return;
  auto& n = it->second;
  if (n.open > 0 || (!n.gone && n.pending())) return;
  if (n.fd >= 0) ::close(n.fd);
  st.nodes.erase(it);
}

// The path's last link is about to go (unlink, rmdir, rename over it): its pending data with it.
void removing(State& st, const std::string& backing_path) {
  struct stat s {};
  if (::lstat(backing_path.c_str(), &s) != 0 || !S_ISREG(s.st_mode) || s.st_nlink > 1) return;
  auto it = st.nodes.find(s.st_ino);
  if (it == st.nodes.end()) return;
  it->second.gone = true;
  it->second.extents.clear();
  forget_if_unused(st, s.st_ino);
}

void adjust_size(State& st, struct stat* s) {
  if (!S_ISREG(s->st_mode)) return;
  auto it = st.nodes.find(s->st_ino);
  if (it == st.nodes.end() || !it->second.pending()) return;
  s->st_size = std::max(s->st_size, it->second.end());
  s->st_blocks = (s->st_size + 511) / 512;
}

void* op_init(fuse_conn_info* /*conn*/, fuse_config* cfg) {
  cfg->hard_remove = 1;  // an unlinked open file is not renamed to .fuse_hidden*
  cfg->nullpath_ok = 1;  // operations on an open file go by its handle
  cfg->use_ino = 1;
  cfg->attr_timeout = 0;  // sizes change under pending writes: never cached stale
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  return fuse_get_context()->private_data;
}

int op_getattr(const char* path, struct stat* s, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  int r = fi ? ::fstat(handle(fi)->fd, s) : ::lstat(st.path(path).c_str(), s);
  if (r != 0) return -errno;
  adjust_size(st, s);
  return 0;
}

int op_access(const char* path, int mask) {
  LOCKED_ALIVE(st);
  return ::access(st.path(path).c_str(), mask) == 0 ? 0 : -errno;
}

int op_readlink(const char* path, char* buf, size_t size) {
  LOCKED_ALIVE(st);
  auto n = ::readlink(st.path(path).c_str(), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

int op_mknod(const char* path, mode_t mode, dev_t dev) {
  LOCKED_ALIVE(st);
  return ::mknod(st.path(path).c_str(), mode, dev) == 0 ? 0 : -errno;
}

int op_mkdir(const char* path, mode_t mode) {
  LOCKED_ALIVE(st);
  return ::mkdir(st.path(path).c_str(), mode) == 0 ? 0 : -errno;
}

int op_unlink(const char* path) {
  LOCKED_ALIVE(st);
  const auto p = st.path(path);
  removing(st, p);
  return ::unlink(p.c_str()) == 0 ? 0 : -errno;
}

int op_rmdir(const char* path) {
  LOCKED_ALIVE(st);
  return ::rmdir(st.path(path).c_str()) == 0 ? 0 : -errno;
}

int op_symlink(const char* target, const char* path) {
  LOCKED_ALIVE(st);
  return ::symlink(target, st.path(path).c_str()) == 0 ? 0 : -errno;
}

int op_rename(const char* from, const char* to, unsigned int flags) {
  LOCKED_ALIVE(st);
  const auto f = st.path(from), t = st.path(to);
  if (flags != 0) return -EINVAL;  // no RENAME_EXCHANGE / RENAME_NOREPLACE
  struct stat fs {
  }, ts{};
  if (::lstat(f.c_str(), &fs) == 0 && ::lstat(t.c_str(), &ts) == 0 && fs.st_ino != ts.st_ino) {
    removing(st, t);
    // ext4 puts a file renamed over another on disk before the rename.
    auto it = st.nodes.find(fs.st_ino);
    if (st.ext4_replace && it != st.nodes.end() && it->second.pending())
      if (int r = write_back(it->second, true); r != 0) return r;
  }
  return ::rename(f.c_str(), t.c_str()) == 0 ? 0 : -errno;
}

int op_link(const char* from, const char* to) {
  LOCKED_ALIVE(st);
  return ::link(st.path(from).c_str(), st.path(to).c_str()) == 0 ? 0 : -errno;
}

int op_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  int r = fi ? ::fchmod(handle(fi)->fd, mode) : ::chmod(st.path(path).c_str(), mode);
  return r == 0 ? 0 : -errno;
}

int op_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  int r = fi ? ::fchown(handle(fi)->fd, uid, gid) : ::lchown(st.path(path).c_str(), uid, gid);
  return r == 0 ? 0 : -errno;
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  struct stat s {};
  if (fi) {
    if (::ftruncate(handle(fi)->fd, size) != 0 || ::fstat(handle(fi)->fd, &s) != 0) return -errno;
  } else {
    const auto p = st.path(path);
    if (::truncate(p.c_str(), size) != 0 || ::lstat(p.c_str(), &s) != 0) return -errno;
  }
  auto& n = st.nodes[s.st_ino];
  n.truncate(size);
  if (size == 0) n.replaced = true;
  forget_if_unused(st, s.st_ino);
  return 0;
}

int op_utimens(const char* path, const struct timespec tv[2], fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  int r = fi ? ::futimens(handle(fi)->fd, tv)
             : ::utimensat(AT_FDCWD, st.path(path).c_str(), tv, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : -errno;
}

// Every backing file is opened read-write, whatever the caller asked: an fsync through a
// read-only descriptor must still write the file's pending data. The kernel checks the caller's
// access mode on its own descriptor.
int open_backing(State& st, const char* path, fuse_file_info* fi, int extra, mode_t mode) {
  int flags = (fi->flags & ~(O_ACCMODE | O_APPEND)) | O_RDWR | O_CLOEXEC | extra;
  int fd = ::open(st.path(path).c_str(), flags, mode);
  if (fd < 0) return -errno;
  struct stat s {};
  if (::fstat(fd, &s) != 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  auto& n = st.nodes[s.st_ino];
  n.open++;
  n.gone = false;
  if (fi->flags & O_TRUNC) {
    n.extents.clear();
    n.replaced = true;
  }
  fi->fh = reinterpret_cast<uint64_t>(new Handle{fd, s.st_ino});
  return 0;
}

int op_create(const char* path, mode_t mode, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  return open_backing(st, path, fi, O_CREAT, mode);
}

int op_open(const char* path, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  return open_backing(st, path, fi, 0, 0);
}

int op_read(const char* /*path*/, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  auto* h = handle(fi);
  struct stat s {};
  if (::fstat(h->fd, &s) != 0) return -errno;
  adjust_size(st, &s);
  if (off >= s.st_size) return 0;
  const auto len = static_cast<std::size_t>(std::min<off_t>(static_cast<off_t>(size), s.st_size - off));
  std::size_t got = 0;
  while (got < len) {
    auto r = ::pread(h->fd, buf + got, len - got, off + static_cast<off_t>(got));
    if (r < 0) return -errno;
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  std::memset(buf + got, 0, len - got);  // beyond the backing file: pending data or a hole
  auto it = st.nodes.find(h->ino);
  if (it != st.nodes.end()) it->second.overlay(buf, off, len);
  return static_cast<int>(len);
}

int op_write(const char* /*path*/, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  auto* h = handle(fi);
  auto& n = st.nodes[h->ino];
  if (n.fd < 0) {
    n.fd = ::fcntl(h->fd, F_DUPFD_CLOEXEC, 0);
    if (n.fd < 0) return -errno;
  }
  n.put(off, buf, size);
  return static_cast<int>(size);
}

int op_statfs(const char* /*path*/, struct statvfs* s) {
  LOCKED_ALIVE(st);
  return ::statvfs(st.backing.c_str(), s) == 0 ? 0 : -errno;
}

int op_flush(const char* /*path*/, fuse_file_info* /*fi*/) {
  LOCKED_ALIVE(st);
  return 0;  // close() does not sync
}

int op_release(const char* /*path*/, fuse_file_info* fi) {
  State& st = *state();
  std::lock_guard lock(st.mu);
  auto* h = handle(fi);
  auto it = st.nodes.find(h->ino);
  if (it != st.nodes.end()) {
    auto& n = it->second;
    n.open--;
    struct stat s {};
    if (::fstat(h->fd, &s) == 0 && s.st_nlink == 0) {
      n.gone = true;
      n.extents.clear();
    }
    // ext4 writes back a file truncated to zero and written when it is closed.
    if (st.ext4_replace && !st.dead && n.replaced && n.pending()) (void)write_back(n, true);
    forget_if_unused(st, h->ino);
  }
  ::close(h->fd);
  delete h;
  return 0;
}

int op_fsync(const char* /*path*/, int datasync, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  auto* h = handle(fi);
  auto it = st.nodes.find(h->ino);
  if (it == st.nodes.end() || it->second.fd < 0)
    return (datasync ? ::fdatasync(h->fd) : ::fsync(h->fd)) == 0 ? 0 : -errno;
  return write_back(it->second, datasync != 0);
}

int op_opendir(const char* path, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  DIR* d = ::opendir(st.path(path).c_str());
  if (!d) return -errno;
  fi->fh = reinterpret_cast<uint64_t>(d);
  return 0;
}

int op_readdir(const char* /*path*/, void* buf, fuse_fill_dir_t fill, off_t /*off*/, fuse_file_info* fi,
               fuse_readdir_flags /*flags*/) {
  LOCKED_ALIVE(st);
  DIR* d = reinterpret_cast<DIR*>(fi->fh);
  ::rewinddir(d);
  while (dirent* e = ::readdir(d)) {
    struct stat s {};
    s.st_ino = e->d_ino;
    s.st_mode = static_cast<mode_t>(DTTOIF(e->d_type));
    if (fill(buf, e->d_name, &s, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  return 0;
}

int op_releasedir(const char* /*path*/, fuse_file_info* fi) {
  ::closedir(reinterpret_cast<DIR*>(fi->fh));
  return 0;
}

int op_fsyncdir(const char* /*path*/, int datasync, fuse_file_info* fi) {
  LOCKED_ALIVE(st);
  int fd = ::dirfd(reinterpret_cast<DIR*>(fi->fh));
  return (datasync ? ::fdatasync(fd) : ::fsync(fd)) == 0 ? 0 : -errno;
}

void log_line(const std::string& s) {
  std::string line = "powercut_fs: " + s + "\n";
  (void)!::write(2, line.data(), line.size());
}

// SIGUSR1 and SIGUSR2 are blocked in every thread and taken here.
void signal_loop(State* st) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  for (;;) {
    int sig = 0;
    if (::sigwait(&set, &sig) != 0) continue;
    std::lock_guard lock(st->mu);
    std::size_t files = 0, bytes = 0;
    if (sig == SIGUSR1) {
      for (auto& [ino, n] : st->nodes) {
        if (n.pending()) ++files;
        for (const auto& [off, data] : n.extents) bytes += data.size();
        n.extents.clear();
      }
      st->dead = true;
      log_line("cut: forgot " + std::to_string(bytes) + " bytes in " + std::to_string(files) +
               " files; every operation fails from now on");
    } else if (!st->dead) {
      int errors = 0;
      std::vector<ino_t> written;
      for (auto& [ino, n] : st->nodes) {
        if (!n.pending()) continue;
        ++files;
        for (const auto& [off, data] : n.extents) bytes += data.size();
        if (write_back(n, false) != 0) ++errors;
        written.push_back(ino);
      }
      for (auto ino : written) forget_if_unused(*st, ino);
      log_line("flushed: " + std::to_string(bytes) + " bytes in " + std::to_string(files) + " files" +
               (errors ? ", " + std::to_string(errors) + " failed" : ""));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool ext4_replace = false;
  if (argc == 4 && std::string(argv[1]) == "--ext4-replace") {
    ext4_replace = true;
    ++argv;
    --argc;
  }
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s [--ext4-replace] BACKING_DIR MOUNTPOINT\n", argv[0]);
    return 2;
  }
  char resolved[PATH_MAX];
  if (!::realpath(argv[1], resolved)) {
    std::fprintf(stderr, "powercut_fs: %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  auto* st = new State;
  st->backing = resolved;
  st->ext4_replace = ext4_replace;

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // FUSE's threads inherit the mask
  std::thread(signal_loop, st).detach();

  fuse_operations ops{};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.access = op_access;
  ops.readlink = op_readlink;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.symlink = op_symlink;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.chmod = op_chmod;
  ops.chown = op_chown;
  ops.truncate = op_truncate;
  ops.utimens = op_utimens;
  ops.create = op_create;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.statfs = op_statfs;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.releasedir = op_releasedir;
  ops.fsyncdir = op_fsyncdir;

  std::string mount = argv[2];
  std::vector<std::string> args = {argv[0], "-f", mount, "-o", "fsname=powercut,subtype=powercut"};
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  log_line("serving " + st->backing + " on " + mount);
  int rc = fuse_main(static_cast<int>(cargs.size()), cargs.data(), &ops, st);
  log_line("unmounted (" + std::to_string(rc) + ")");
  return rc;
}
