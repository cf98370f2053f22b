#include "support/mosquitto_harness.hpp"

#include "bus/nats_server_process.hpp"  // find_executable
#include "support/free_port.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace weir::testing {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string tail(const std::string& s, std::size_t n = 4000) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

std::string find_tool(const std::string& name, const std::string& package) {
  if (auto found = bus::find_executable(name)) return *found;
  throw std::runtime_error(name + " not found: apt install " + package);
}

int move_above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

// fork + exec of args (args[0] a path) with stdin /dev/null and stdout and stderr appended to
// `out_file`. With die_with_parent the child gets SIGKILL when the calling thread ends. Throws
// when the exec fails.
pid_t spawn(std::vector<std::string> args, const std::string& out_file, bool die_with_parent) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int out_fd =
      move_above_stdio(::open(out_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (out_fd < 0) throw std::runtime_error("cannot open " + out_file + ": " + std::strerror(errno));
  int exec_pipe[2];  // closes without data when the exec succeeds
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    ::close(out_fd);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  exec_pipe[0] = move_above_stdio(exec_pipe[0]);
  exec_pipe[1] = move_above_stdio(exec_pipe[1]);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {  // async-signal-safe calls only
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
    ::dup2(exec_pipe[1], 3);
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    ::syscall(SYS_close_range, 4U, ~0U, 0U);
    ::execv(argv[0], argv.data());
    const int err = errno;
    (void)!::write(3, &err, sizeof err);
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(exec_pipe[1]);
  if (pid < 0) {
    ::close(exec_pipe[0]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (n > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw std::runtime_error("cannot exec " + args[0] + ": " + std::strerror(child_errno));
  }
  return pid;
}

// Runs a setup tool (openssl, mosquitto_passwd) to completion; throws with its output on failure.
void run(const std::vector<std::string>& args, const std::string& out_file) {
  const pid_t pid = spawn(args, out_file, false);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error("failed (wait status " + std::to_string(status) + "): " + cmd + "\n" +
                             tail(read_file(out_file)));
  }
}

bool accepts_tcp(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::string mosquitto_binary() {
  const char* env = std::getenv("WEIR_MOSQUITTO");
  const std::string wanted = env != nullptr && *env != '\0' ? env : "mosquitto";
  if (auto found = bus::find_executable(wanted)) return *found;
  throw std::runtime_error("mosquitto not found: apt install mosquitto (or set WEIR_MOSQUITTO; looked for '" +
                           wanted + "')");
}

Mosquitto::Mosquitto(MosquittoOptions o) : opt_(std::move(o)) {
  binary_ = mosquitto_binary();
  dir_ = std::make_unique<TempDir>("weir-mosquitto");
  std::filesystem::create_directories(dir_->file("store"));
  port_ = free_port();
  if (opt_.tls) setup_tls();
  if (!opt_.username.empty()) {
    // Beside the broker first (a $WEIR_MOSQUITTO build), then PATH.
    std::string passwd = std::filesystem::path(binary_).parent_path() / "mosquitto_passwd";
    if (::access(passwd.c_str(), X_OK) != 0) passwd = find_tool("mosquitto_passwd", "mosquitto");
    run({passwd, "-b", "-c", dir_->file("passwd"), opt_.username, opt_.password}, dir_->file("setup.log"));
  }
  write_config();
  start();
}

Mosquitto::~Mosquitto() {
  (void)terminate(5000);
}

std::string Mosquitto::url() const {
  return (opt_.tls ? "mqtts://localhost:" : "mqtt://127.0.0.1:") + std::to_string(port_);
}
std::string Mosquitto::ca_file() const {
  return dir_->file("ca.crt");
}
std::string Mosquitto::client_cert_file() const {
  return dir_->file("client.crt");
}
std::string Mosquitto::client_key_file() const {
  return dir_->file("client.key");
}
std::string Mosquitto::dir() const {
  return dir_->path();
}
std::string Mosquitto::log() const {
  return read_file(dir_->file("mosquitto.log"));
}

// A CA, and a server and a client certificate it signs; EC P-256 keys. Own config files, so
// the system's openssl.cnf adds no extensions of its own.
void Mosquitto::setup_tls() {
  const std::string openssl = find_tool("openssl", "openssl");
  const std::string out = dir_->file("setup.log");
  const std::vector<std::string> ec_key{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                        "-nodes"};
  write_file(dir_->file("ca.cnf"),
             "[req]\nprompt = no\ndistinguished_name = dn\nx509_extensions = ext\n"
             "[dn]\nCN = weir test CA\n"
             "[ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
             "subjectKeyIdentifier = hash\n");
  std::vector<std::string> ca{openssl, "req", "-x509", "-config", dir_->file("ca.cnf")};
  ca.insert(ca.end(), ec_key.begin(), ec_key.end());
  ca.insert(ca.end(), {"-keyout", dir_->file("ca.key"), "-out", dir_->file("ca.crt"), "-days", "2"});
  run(ca, out);
  const auto leaf = [&](const std::string& name, const std::string& cn, const std::string& ext) {
    const std::string cnf = dir_->file(name + ".cnf");
    write_file(cnf, "[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = " + cn +
                        "\n[ext]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                        "authorityKeyIdentifier = keyid\n" +
                        ext);
    std::vector<std::string> req{openssl, "req", "-new", "-config", cnf};
    req.insert(req.end(), ec_key.begin(), ec_key.end());
    req.insert(req.end(), {"-keyout", dir_->file(name + ".key"), "-out", dir_->file(name + ".csr")});
    run(req, out);
    run({openssl,
         "x509",
         "-req",
         "-in",
         dir_->file(name + ".csr"),
         "-CA",
         dir_->file("ca.crt"),
         "-CAkey",
         dir_->file("ca.key"),
         "-CAserial",
         dir_->file("ca.srl"),
         "-CAcreateserial",
         "-days",
         "2",
         "-sha256",
         "-extfile",
         cnf,
         "-extensions",
         "ext",
         "-out",
         dir_->file(name + ".crt")},
        out);
  };
  leaf("server", "localhost", "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1\n");
  leaf("client", "weir-test-client", "extendedKeyUsage = clientAuth\n");
}

void Mosquitto::write_config() {
  std::string c = "# written by tests/support/mosquitto_harness.cpp\n";
  // Run as root, mosquitto would switch to the user `mosquitto`, which cannot use this temp dir.
  if (::geteuid() == 0) c += "user root\n";
  c += "persistence true\n";
  c += "persistence_location " + dir_->file("store") + "/\n";
  // Saved every second (and on a graceful stop): a SIGKILL loses at most ~1 s of the broker's state.
  c += "autosave_interval " + std::to_string(opt_.autosave_interval) + "\n";
  c += "log_dest file " + dir_->file("mosquitto.log") + "\n";
  for (const char* t : {"error", "warning", "notice", "information"})
    c += std::string("log_type ") + t + "\n";
  // Every packet in the log, when a test is being looked into.
  if (const char* d = std::getenv("WEIR_MOSQUITTO_DEBUG"); d != nullptr && *d == '1') c += "log_type all\n";
  c += "log_timestamp_format %Y-%m-%dT%H:%M:%S\n";
  c += "max_inflight_messages " + std::to_string(opt_.max_inflight) + "\n";
  c += "max_queued_messages " + std::to_string(opt_.max_queued) + "\n";
  if (opt_.username.empty()) {
    c += "allow_anonymous true\n";  // mosquitto 2 refuses anonymous clients by default
  } else {
    c += "allow_anonymous false\npassword_file " + dir_->file("passwd") + "\n";
  }
  c += "listener " + std::to_string(port_) + " 127.0.0.1\n";
  if (opt_.tls) {
    c += "cafile " + ca_file() + "\n";
    c += "certfile " + dir_->file("server.crt") + "\nkeyfile " + dir_->file("server.key") + "\n";
    c += std::string("require_certificate ") + (opt_.require_client_cert ? "true" : "false") + "\n";
  }
  write_file(dir_->file("mosquitto.conf"), c);
}

void Mosquitto::start() {
  if (running()) return;
  // The broker's own stdout and stderr (config errors before the log file opens) go to its log.
  pid_ = spawn({binary_, "-c", dir_->file("mosquitto.conf")}, dir_->file("mosquitto.log"), true);
  const bool up = wait_until([&] { return !running() || accepts_tcp(port_); }, std::chrono::seconds(10));
  if (!running()) {
    throw std::runtime_error("mosquitto on port " + std::to_string(port_) + " exited; its log:\n" +
                             tail(log()));
  }
  if (!up) {
    (void)terminate(1000);
    throw std::runtime_error("mosquitto did not accept a connection on port " + std::to_string(port_) +
                             " in 10 s; its log:\n" + tail(log()));
  }
}

bool Mosquitto::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r < 0 && errno == EINTR) return true;
  pid_ = -1;  // reaped (or ECHILD: someone else reaped it)
  return false;
}

bool Mosquitto::terminate(int grace_ms) {
  if (!running()) return true;
  ::kill(pid_, SIGTERM);
  if (wait_until([&] { return !running(); }, std::chrono::milliseconds(grace_ms))) return true;
  kill9();
  return false;
}

void Mosquitto::stop() {
  if (!terminate(10000))
    throw std::runtime_error("mosquitto ignored SIGTERM for 10 s and was killed; its log:\n" + tail(log()));
}

void Mosquitto::restart() {
  stop();
  start();
}

void Mosquitto::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace weir::testing
