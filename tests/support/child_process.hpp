// A child process for end-to-end tests: the real weir binary, output to a file, killed by the
// test (SIGTERM or SIGKILL) and always reaped. In the sanitizer builds (packaging/dev.sh asan,
// tsan) the child is sanitized too: a report it wrote to its log fails the test once the child
// is reaped, whether or not the test looks at its exit status (a killed engine has none).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace weir::testing {

class ChildProcess {
 public:
  // Starts argv[0] with the given arguments; stdout and stderr go to `log_file` (appended).
  ChildProcess(std::vector<std::string> argv, std::string log_file, std::vector<std::string> env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void kill9();
  // SIGTERM and wait up to timeout_ms; returns the exit status (of an already exited child: the
  // one running() saw), or -1 if it had to be killed.
  int terminate(int timeout_ms = 20000);
  std::string log() const;

 private:
  void reaped();

  pid_t pid_ = -1;
  int exit_status_ = -1;  // once reaped
  std::string log_file_;
  std::uintmax_t log_start_ = 0;  // the log's size before this child (it may be appended to)
};

// The weir binary under test (WEIR_BIN, set by meson).
std::string weir_binary();

}  // namespace weir::testing
