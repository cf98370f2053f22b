#include "store/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

#include "core/unique_fd.hpp"

namespace weir::store {

namespace {

bool set_error(std::string* error, std::string_view what, const std::filesystem::path& p, int err) {
  if (error)
    *error =
        std::string(what) + " " + p.string() + ": " + std::error_code(err, std::generic_category()).message();
  return false;
}

using Fd = core::UniqueFd;
using core::write_all;

// ".name.tmp-<pid>-<n>": unique among threads and processes writing the same file.
std::filesystem::path temp_name(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
  return path.parent_path() / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                               std::to_string(counter++));
}

}  // namespace

bool write_file_atomically(const std::filesystem::path& path, std::string_view text, std::string* error,
                           Sync sync) {
  if (path.filename().empty()) return set_error(error, "write", path, EISDIR);
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();

  std::filesystem::path tmp;
  int raw = -1;
  do {
    tmp = temp_name(path);
    raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  } while (raw < 0 && errno == EEXIST);
  if (raw < 0) return set_error(error, "create", tmp, errno);
  Fd fd(raw);
  auto abandon = [&](std::string_view what, const std::filesystem::path& p) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return set_error(error, what, p, err);
  };

  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && ::fchmod(fd.get(), st.st_mode & 07777) != 0)
    return abandon("chmod", tmp);
  if (!write_all(fd.get(), text)) return abandon("write", tmp);
  if (sync == Sync::yes && ::fsync(fd.get()) != 0) return abandon("fsync", tmp);
  if (fd.close() != 0) return abandon("close", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return abandon("rename to", path);

  // The rename is durable only once the directory entry is on disk.
  if (sync == Sync::no) return true;
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) return set_error(error, "fsync directory", dir, errno);
  return true;
}

}  // namespace weir::store
