// The monitor thread of NatsServerProcess: spawns the child, watches readiness and exit,
// stops it, and restarts it when supervised. See the header for why all of it runs here.

#include "bus/nats_server_process.hpp"

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace weir::bus {

namespace {

using Clock = std::chrono::steady_clock;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return "was killed by signal " + std::to_string(WTERMSIG(status)) +
           (name != nullptr ? std::string(" (SIG") + name + ")" : std::string());
  }
  return "ended (wait status " + std::to_string(status) + ")";
}

int move_above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

// Reaps `pid` without blocking. Returns true when it has exited (status set).
bool reaped(pid_t pid, int& status) {
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return true;
    if (r == 0) return false;
    if (errno == EINTR) continue;
    // ECHILD: someone else reaped it (e.g. SIGCHLD set to SIG_IGN); it is gone either way.
    status = 0;
    return true;
  }
}

}  // namespace

pid_t NatsServerProcess::spawn(std::string& error) {
  std::vector<std::string> args{binary_, "-js", "-a", opt_.host, "-sd", opt_.store_dir};
  if (port_ > 0) {
    args.insert(args.end(), {"-p", std::to_string(port_)});
  } else {
    args.insert(args.end(), {"-p", "-1", "--ports_file_dir", ports_dir_});
  }
  args.insert(args.end(), opt_.extra_args.begin(), opt_.extra_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int log_fd = move_above_stdio(::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log_fd < 0) {
    error = "cannot open log " + log_file_ + ": " + std::strerror(errno);
    return -1;
  }
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    ::close(log_fd);
    return -1;
  }
  exec_pipe[0] = move_above_stdio(exec_pipe[0]);
  exec_pipe[1] = move_above_stdio(exec_pipe[1]);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child: async-signal-safe calls only (the parent is multi-threaded).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    // Own process group: a terminal's Ctrl-C reaches the engine only, which then stops the
    // server after draining instead of losing it first.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // exec keeps the mask; the engine may block signals
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // SIG_IGN survives exec
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::dup2(exec_pipe[1], 3);
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    ::syscall(SYS_close_range, 4U, ~0U, 0U);  // no engine socket or file leaks into the server
    ::execv(argv[0], argv.data());
    const int err = errno;
    (void)!::write(3, &err, sizeof(err));
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(exec_pipe[1]);
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    ::close(exec_pipe[0]);
    return -1;
  }
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (n > 0) {  // exec failed; the pipe closes without data on success
    int status = 0;
    ::waitpid(pid, &status, 0);
    error = "cannot execute " + binary_ + ": " + std::strerror(child_errno);
    return -1;
  }
  return pid;
}

bool NatsServerProcess::accepting() const {
  if (port_ <= 0) return false;
  std::string host = opt_.host;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port_));
    len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port_));
    len = sizeof(sockaddr_in6);
  } else {
    host = "127.0.0.1";  // a host name: the server listens there, loopback reaches it in tests
    ::inet_pton(AF_INET, host.c_str(), &v4->sin_addr);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port_));
    len = sizeof(sockaddr_in);
  }
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  ::close(fd);
  return ok;
}

// nats-server writes "<argv0 basename>_<pid>.ports" once its listeners are up; 2.9 writes
// {"nats":["nats://127.0.0.1:42255"]} (later versions add other listeners and keys).
std::optional<int> NatsServerProcess::read_ports_file(pid_t pid) const {
  DIR* dir = ::opendir(ports_dir_.c_str());
  if (dir == nullptr) return std::nullopt;
  const std::string suffix = "_" + std::to_string(pid) + ".ports";
  std::string path;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      path = ports_dir_ + "/" + name;
  }
  ::closedir(dir);
  if (path.empty()) return std::nullopt;
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto scheme = text.find("nats://");
  const auto end = text.find('"', scheme);
  if (scheme == std::string::npos || end == std::string::npos) return std::nullopt;
  const auto colon = text.rfind(':', end);
  if (colon == std::string::npos || colon < scheme + 7) return std::nullopt;
  const int port = std::atoi(text.substr(colon + 1, end - colon - 1).c_str());
  if (port <= 0) return std::nullopt;
  return port;
}

void NatsServerProcess::monitor() {
  auto backoff = opt_.restart_backoff_min;
  bool down_logged = false;
  std::unique_lock lock(mu_);
  for (;;) {
    lock.unlock();
    std::string spawn_error;
    const pid_t child = spawn(spawn_error);
    lock.lock();
    int status = 0;
    std::string ended;
    bool was_ready = false;
    if (child <= 0) {
      ended = spawn_error;
    } else {
      pid_ = child;
      ready_ = false;
      for (;;) {
        if (stopping_) {
          lock.unlock();
          ::kill(child, SIGTERM);
          const auto deadline = Clock::now() + opt_.stop_timeout;
          bool gone = reaped(child, status);
          while (!gone && Clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            gone = reaped(child, status);
          }
          if (!gone) {
            spdlog::warn("nats-server: pid {} ignored SIGTERM for {} ms; killing it", child,
                         opt_.stop_timeout.count());
            ::kill(child, SIGKILL);
            while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
            }
          }
          lock.lock();
          break;
        }
        lock.unlock();
        const bool exited = reaped(child, status);
        bool now_ready = false;
        if (!exited && !was_ready) {
          if (port_ == 0) {
            if (auto p = read_ports_file(child)) {
              lock.lock();
              port_ = *p;
              lock.unlock();
            }
          }
          now_ready = accepting();
        }
        lock.lock();
        if (exited) break;
        if (now_ready) {
          was_ready = true;
          ready_ = true;
          ever_ready_ = true;
          if (down_logged) spdlog::info("nats-server: restarted, pid {} on port {}", child, port_);
          down_logged = false;
          backoff = opt_.restart_backoff_min;
          cv_.notify_all();
        }
        cv_.wait_for(lock, was_ready ? std::chrono::milliseconds(250) : std::chrono::milliseconds(20),
                     [&] { return stopping_; });
      }
      ended = describe_status(status);
      pid_ = 0;
      ready_ = false;
    }
    exit_text_ = ended;
    if (stopping_ || !opt_.supervise || !ever_ready_) {
      phase_ = Phase::exited;
      cv_.notify_all();
      return;
    }
    if (!down_logged) {
      spdlog::warn("nats-server: {} unexpectedly; restarting on port {} (same store)", ended, port_);
      down_logged = true;
    }
    ++restarts_;
    cv_.wait_for(lock, backoff, [&] { return stopping_; });
    backoff = std::min(backoff * 2, opt_.restart_backoff_max);
    if (stopping_) {
      phase_ = Phase::exited;
      cv_.notify_all();
      return;
    }
  }
}

}  // namespace weir::bus
