#include "support/child_process.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

extern char** environ;

namespace weir::testing {

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string log_file, std::vector<std::string> env)
    : log_file_(std::move(log_file)) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  for (auto& e : env) envs.push_back(e);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  std::error_code ec;
  log_start_ = std::filesystem::file_size(log_file_, ec);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(fd);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && running()) kill9();
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    reaped();
    return false;
  }
  return true;
}

void ChildProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  reaped();
}

int ChildProcess::terminate(int timeout_ms) {
  if (pid_ <= 0) return exit_status_;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      reaped();
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill9();
  return -1;
}

// ASan, LSan and TSan reports name their sanitizer ("==12==ERROR: AddressSanitizer: ...",
// "WARNING: ThreadSanitizer: data race"); UBSan's read "file:line:col: runtime error: ...".
void ChildProcess::reaped() {
  std::ifstream in(log_file_);
  in.seekg(static_cast<std::streamoff>(log_start_));
  const std::string out(std::istreambuf_iterator<char>(in), {});
  auto at = std::min(out.find("Sanitizer: "), out.find(": runtime error: "));
  if (at == std::string::npos) return;
  at = out.rfind('\n', at);
  at = at == std::string::npos ? 0 : at + 1;
  FAIL_CHECK("a sanitizer report in the output of the child process (" << log_file_ << "):\n"
                                                                       << out.substr(at, 8000));
}

std::string ChildProcess::log() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string weir_binary() {
  const char* bin = std::getenv("WEIR_BIN");
  REQUIRE_MESSAGE(bin != nullptr, "WEIR_BIN is not set (run through meson test)");
  return bin;
}

}  // namespace weir::testing
