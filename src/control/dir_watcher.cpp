#include "control/dir_watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/flow_shared.hpp"

namespace weir::control {

DirWatcher::DirWatcher(std::filesystem::path dir, std::function<void()> on_change,
                       std::chrono::milliseconds settle)
    : dir_(std::move(dir)), on_change_(std::move(on_change)), settle_(settle) {}

DirWatcher::~DirWatcher() {
  stop();
}

bool DirWatcher::start(std::string* error) {
  inotify_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inotify_ < 0 || wake_ < 0) {
    if (error) *error = std::string("inotify: ") + std::strerror(errno);
    stop();
    return false;
  }
  // Writes finishing, files moved in or out (editors, atomic renames), removals, and the folder
  // itself going away.
  const auto mask =
      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF;
  if (inotify_add_watch(inotify_, dir_.c_str(), mask) < 0) {
    if (error) *error = dir_.string() + ": " + std::strerror(errno);
    stop();
    return false;
  }
  thread_ = std::thread([this] {
    runtime::name_thread("flows-watch");
    run();
  });
  return true;
}

void DirWatcher::stop() {
  if (wake_ >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (inotify_ >= 0) ::close(inotify_);
  if (wake_ >= 0) ::close(wake_);
  inotify_ = wake_ = -1;
}

void DirWatcher::run() {
  bool pending = false;
  alignas(inotify_event) char buf[16 * 1024];
  for (;;) {
    pollfd fds[2] = {{inotify_, POLLIN, 0}, {wake_, POLLIN, 0}};
    const int timeout = pending ? static_cast<int>(settle_.count()) : -1;
    const int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN)) return;
    if (n == 0) {  // quiet for `settle` after changes
      pending = false;
      on_change_();
      continue;
    }
    while (::read(inotify_, buf, sizeof buf) > 0) pending = true;
  }
}

}  // namespace weir::control
