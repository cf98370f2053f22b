// Watches one folder (inotify) and calls back, on its own thread, once changes settle: an editor's
// save is often several events (a temp file written, renamed over the old one), so events are
// gathered until `settle` passes without a new one. The callback rescans the folder; it is not
// told what changed.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

namespace weir::control {

class DirWatcher {
 public:
  DirWatcher(std::filesystem::path dir, std::function<void()> on_change,
             std::chrono::milliseconds settle = std::chrono::milliseconds(250));
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  // Starts watching. False with *error when the folder cannot be watched (missing, no inotify).
  bool start(std::string* error);
  void stop();

 private:
  void run();

  std::filesystem::path dir_;
  std::function<void()> on_change_;
  std::chrono::milliseconds settle_;
  int inotify_ = -1;
  int wake_ = -1;  // eventfd that stop() writes
  std::thread thread_;
};

}  // namespace weir::control
