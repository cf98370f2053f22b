#include "common/websocket/site_id.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <random>
#include <system_error>

#include "common/websocket/frame.hpp"
#include "core/unique_fd.hpp"

namespace weir::ws {

namespace {

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

using Fd = core::UniqueFd;
using core::write_all;

// How to fix it, at the end of every error: the configured name never touches the data dir.
constexpr const char* set_site_hint =
    "set `site` in the component's config (a name unique among the sites bridged together)";

enum class ReadResult { found, absent, failed };

ReadResult read_name(const std::filesystem::path& path, std::string& name, std::string& error) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return ReadResult::absent;
    error =
        "cannot read the site name from " + path.string() + ": " + errno_text(errno) + "; " + set_site_hint;
    return ReadResult::failed;
  }
  std::string text;
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error =
          "cannot read the site name from " + path.string() + ": " + errno_text(errno) + "; " + set_site_hint;
      return ReadResult::failed;
    }
    if (n == 0 || text.size() > 4096) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (!valid_site_name(text)) {
    error = path.string() + " does not hold a site name (1 to 64 of A-Z a-z 0-9 _ . : - on one line): put " +
            "back the name the other sites know this one by, remove the file to make a new one, or " +
            set_site_hint;
    return ReadResult::failed;
  }
  name = std::move(text);
  return ReadResult::found;
}

// Writes `name` to a temporary file beside `path`, fsyncs it and links it into place, so that
// `path` appears complete or not at all. Returns 0 or an errno value with `failed_step` set;
// EEXIST means another writer was first (its name is the one to use).
int create_name_file(const std::filesystem::path& path, const std::string& name, std::string& failed_step) {
  static std::atomic<unsigned> counter{0};
  const auto tmp = path.parent_path() / ("." + path.filename().string() + ".tmp-" +
                                         std::to_string(::getpid()) + "-" + std::to_string(counter++));
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    failed_step = "create " + tmp.string();
    return errno;
  }
  auto abandon = [&](std::string step) {
    const int err = errno;
    ::unlink(tmp.c_str());
    failed_step = std::move(step);
    return err;
  };
  if (!write_all(fd.get(), name + "\n")) return abandon("write " + tmp.string());
  if (::fsync(fd.get()) != 0) return abandon("fsync " + tmp.string());
  if (fd.close() != 0) return abandon("close " + tmp.string());
  // link() never replaces an existing file, unlike rename(). A file system without hard links
  // gets rename(): one engine owns its data dir, and the caller holds a lock in this process.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS) return abandon("link " + path.string());
    if (::rename(tmp.c_str(), path.c_str()) != 0) return abandon("rename to " + path.string());
  } else {
    ::unlink(tmp.c_str());
  }
  // The new name is durable only once the directory entry is on disk.
  const auto dir = path.parent_path();
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) {
    failed_step = "fsync " + dir.string();
    return errno;
  }
  return 0;
}

}  // namespace

std::string new_site_name(std::string_view host) {
  std::string out;
  for (char c : host) {
    if (out.size() == 55) break;  // 55 + "-" + 8 hex digits = 64
    out += valid_site_char(c) ? c : '-';
  }
  if (out.empty()) out = "weir";
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%08x", static_cast<unsigned>(rd()));
  return out + suffix;
}

bool resolve_site(const std::string& configured, const std::filesystem::path& data_dir, SiteIdentity& out,
                  std::string& error) {
  if (!configured.empty()) {
    out = {configured, "config"};
    return true;
  }
  if (data_dir.empty()) {
    error = std::string("no data dir to keep this site's name in: ") + set_site_hint;
    return false;
  }
  const auto path = data_dir / site_id_file;
  // Both bridge components of every flow share the file: the first to start creates it.
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::string name;
  switch (read_name(path, name, error)) {
    case ReadResult::found:
      out = {name, path.string()};
      return true;
    case ReadResult::failed:
      return false;
    case ReadResult::absent:
      break;
  }
  char host[256] = {};
  name = new_site_name(::gethostname(host, sizeof host - 1) == 0 ? host : "");
  std::string step;
  const int err = create_name_file(path, name, step);
  if (err == 0) {
    out = {name, path.string() + ", created now"};
    return true;
  }
  if (err == EEXIST) {  // another process was first
    if (read_name(path, name, error) != ReadResult::found) return false;
    out = {name, path.string()};
    return true;
  }
  error = "cannot keep this site's name in " + path.string() + " (" + step + ": " + errno_text(err) +
          "): make the data dir writable, or " + set_site_hint;
  return false;
}

}  // namespace weir::ws
