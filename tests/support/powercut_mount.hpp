// A powercut_fs mount (powercut_fs.cpp) for power-cut tests: a directory whose unsynced writes
// a test can make vanish, as a power cut would. Needs /dev/fuse and the right to mount (root,
// or a container with --device /dev/fuse --cap-add SYS_ADMIN); without them the constructor
// throws: a power-cut test never silently skips.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace weir::testing {

class ChildProcess;

// The powercut_fs binary (POWERCUT_FS, set by meson).
std::string powercut_fs_binary();

class PowerCutMount {
 public:
  // Creates both directories and mounts `backing` on `mountpoint`; the file system's log goes
  // to `log_file`. Throws std::runtime_error, with the log, when the mount does not come up.
  // `ext4_replace`: replacements by truncate or rename survive as on ext4 (powercut_fs.cpp).
  PowerCutMount(std::string backing, std::string mountpoint, std::string log_file, bool ext4_replace = false);
  ~PowerCutMount();
  PowerCutMount(const PowerCutMount&) = delete;
  PowerCutMount& operator=(const PowerCutMount&) = delete;

  const std::string& path() const { return mountpoint_; }
  const std::string& backing() const { return backing_; }
  pid_t pid() const;
  bool mounted() const;

  // The power goes: every write not fsynced is forgotten, every operation fails from now on.
  // Returns once the file system has done it. Send the signal yourself (kill(pid(), SIGUSR1)) to
  // cut at the same moment as other kills, then call await_cut().
  void cut();
  void await_cut();
  // Writes back everything pending, as the kernel does with old dirty pages.
  void flush_all();
  // Unmounts and ends the file system process (what was cut stays lost).
  void unmount();
  // Mounts again on what the backing directory holds: the power is back.
  void mount();
  std::string log() const;

 private:
  std::size_t count_log(const std::string& what) const;
  std::string backing_, mountpoint_, log_file_;
  bool ext4_replace_ = false;
  std::unique_ptr<ChildProcess> fs_;
  std::size_t cuts_ = 0;  // cuts confirmed in the log so far
};

}  // namespace weir::testing
