#include "support/powercut_mount.hpp"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/child_process.hpp"

namespace weir::testing {

using namespace std::chrono_literals;

namespace {

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace

std::string powercut_fs_binary() {
  const char* bin = std::getenv("POWERCUT_FS");
  if (bin == nullptr || *bin == '\0')
    throw std::runtime_error("POWERCUT_FS is not set (run through meson test)");
  return bin;
}

PowerCutMount::PowerCutMount(std::string backing, std::string mountpoint, std::string log_file,
                             bool ext4_replace)
    : backing_(std::move(backing)),
      mountpoint_(std::move(mountpoint)),
      log_file_(std::move(log_file)),
      ext4_replace_(ext4_replace) {
  std::filesystem::create_directories(backing_);
  std::filesystem::create_directories(mountpoint_);
  mountpoint_ = std::filesystem::canonical(mountpoint_).string();
  cuts_ = count_log("powercut_fs: cut:");
  mount();
}

PowerCutMount::~PowerCutMount() {
  try {
    unmount();
  } catch (...) {
  }
}

pid_t PowerCutMount::pid() const {
  return fs_ ? fs_->pid() : -1;
}

bool PowerCutMount::mounted() const {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mountpoint options ... - fstype source superopts
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == mountpoint_ && line.find(" - fuse.powercut ") != std::string::npos) return true;
  }
  return false;
}

void PowerCutMount::mount() {
  if (fs_) throw std::runtime_error("powercut_fs is mounted already");
  if (::access("/dev/fuse", R_OK | W_OK) != 0)
    throw std::runtime_error(
        "no usable /dev/fuse: the power-cut tests need FUSE (apt install fuse3; in a container: "
        "--device /dev/fuse --cap-add SYS_ADMIN)");
  std::vector<std::string> argv{powercut_fs_binary()};
  if (ext4_replace_) argv.push_back("--ext4-replace");
  argv.push_back(backing_);
  argv.push_back(mountpoint_);
  fs_ = std::make_unique<ChildProcess>(argv, log_file_);
  if (!wait_for([&] { return mounted() || !fs_->running(); }, 10s) || !mounted()) {
    const auto text = log();
    fs_.reset();
    throw std::runtime_error("powercut_fs did not mount " + mountpoint_ + ":\n" + text);
  }
}

void PowerCutMount::unmount() {
  if (!fs_) return;
  fs_->terminate(10000);
  fs_.reset();
  // A file system that died without unmounting leaves a dead mount behind.
  if (mounted() && ::umount2(mountpoint_.c_str(), MNT_DETACH) != 0)
    throw std::runtime_error("cannot unmount " + mountpoint_);
}

std::size_t PowerCutMount::count_log(const std::string& what) const {
  const auto text = log();
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

void PowerCutMount::cut() {
  if (!fs_) throw std::runtime_error("powercut_fs is not mounted");
  ::kill(fs_->pid(), SIGUSR1);
  await_cut();
}

void PowerCutMount::await_cut() {
  if (!wait_for([&] { return count_log("powercut_fs: cut:") > cuts_; }, 10s))
    throw std::runtime_error("powercut_fs did not confirm the cut:\n" + log());
  cuts_ = count_log("powercut_fs: cut:");
}

void PowerCutMount::flush_all() {
  if (!fs_) throw std::runtime_error("powercut_fs is not mounted");
  const auto before = count_log("powercut_fs: flushed:");
  ::kill(fs_->pid(), SIGUSR2);
  if (!wait_for([&] { return count_log("powercut_fs: flushed:") > before; }, 10s))
    throw std::runtime_error("powercut_fs did not confirm the write-back:\n" + log());
}

std::string PowerCutMount::log() const {
  std::ifstream in(log_file_);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace weir::testing
