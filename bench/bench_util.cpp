#include "bench_util.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bus/nats_server_process.hpp"
#include "bus/topology.hpp"

namespace fs = std::filesystem;

namespace weir::bench {

void die(const std::string& who, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", who.c_str(), what.c_str());
  std::exit(1);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path scratch_dir(const std::string& prefix, const std::string& who) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) die(who, "mkdtemp failed");
  return tmpl;
}

std::unique_ptr<bus::NatsServerProcess> start_nats(const fs::path& store_dir, const std::string& who) {
  bus::NatsServerOptions so;
  so.store_dir = store_dir.string();
  fs::create_directories(store_dir);
  auto server = std::make_unique<bus::NatsServerProcess>(so);
  if (auto st = server->start(); !st.ok()) die(who, "nats-server: " + st.text());
  return server;
}

std::string record(std::uint64_t i, std::int64_t t) {
  std::string s = R"({"seq":)" + std::to_string(i);
  if (t >= 0) s += R"(,"t":)" + std::to_string(t);
  s += R"(,"sensor":"s-)" + std::to_string(i % 16) + R"(","site":"a","value":)" + std::to_string(i % 100) +
       R"(.5,"pad":")";
  const std::size_t target = 128 - 2;  // room for the closing quote and brace
  if (s.size() < target) s.append(target - s.size(), 'x');
  return s + "\"}";
}

long status_kib(pid_t pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key));
  return 0;
}

bool reset_peak_rss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  return static_cast<bool>(out.flush());
}

namespace {

// utime + stime (fields 14 and 15) of a /proc stat line, in clock ticks.
double stat_ticks(const std::string& stat) {
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  double total = 0;
  for (int i = 3; i <= 15 && in >> field; ++i)
    if (i == 14 || i == 15) total += std::stod(field);
  return total;
}

}  // namespace

double process_cpu(pid_t pid) {
  return stat_ticks(slurp("/proc/" + std::to_string(pid) + "/stat")) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::uint64_t cpu_pressure_us() {
  const auto text = slurp("/proc/pressure/cpu");
  const auto at = text.find("total=");
  return at == std::string::npos ? 0 : std::strtoull(text.c_str() + at + 6, nullptr, 10);
}

std::string thread_cpu(pid_t pid) {
  std::map<std::string, double> by_name;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    auto name = slurp(t.path() / "comm");
    while (!name.empty() && name.back() == '\n') name.pop_back();
    by_name[name] += stat_ticks(slurp(t.path() / "stat")) / tick;
  }
  std::string out = "{";
  for (const auto& [name, secs] : by_name) {
    if (out.size() > 1) out += ",";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", secs);
    out += "\"" + name + "\":" + buf;
  }
  return out + "}";
}

Args& Args::add(std::string name, std::string& to) {
  options_.push_back({std::move(name), true, [&to](const std::string& v) { to = v; }});
  return *this;
}
Args& Args::add(std::string name, double& to) {
  options_.push_back({std::move(name), true, [&to](const std::string& v) { to = std::stod(v); }});
  return *this;
}
Args& Args::add(std::string name, int& to) {
  options_.push_back({std::move(name), true, [&to](const std::string& v) { to = std::stoi(v); }});
  return *this;
}
Args& Args::add(std::string name, std::uint64_t& to) {
  options_.push_back({std::move(name), true, [&to](const std::string& v) {
                        if (v.starts_with('-')) throw std::invalid_argument(v);
                        to = std::stoull(v);
                      }});
  return *this;
}
Args& Args::add(std::string name, bool& to, bool when_given) {
  options_.push_back({std::move(name), false, [&to, when_given](const std::string&) { to = when_given; }});
  return *this;
}

void Args::parse(int argc, char** argv) const {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto o = std::find_if(options_.begin(), options_.end(), [&](const Option& x) { return x.name == a; });
    if (o == options_.end()) die(who_, "unknown option " + a + "\nusage: " + usage_);
    if (o->takes_value && i + 1 >= argc) die(who_, a + " needs a value\nusage: " + usage_);
    const std::string v = o->takes_value ? argv[++i] : std::string();
    try {
      o->set(v);
    } catch (const std::logic_error&) {
      die(who_, "bad value for " + a + ": " + v);
    }
  }
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

Percentiles summarize(std::vector<double>& ms) {
  Percentiles p;
  p.count = ms.size();
  if (ms.empty()) return p;
  std::sort(ms.begin(), ms.end());
  auto at = [&ms](double q) {
    return ms[static_cast<std::size_t>(q * static_cast<double>(ms.size() - 1) + 0.5)];
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = ms.back();
  double sum = 0;
  for (double l : ms) sum += l;
  p.mean = sum / static_cast<double>(ms.size());
  return p;
}

std::string Percentiles::json() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, R"({"p50":%.2f,"p90":%.2f,"p99":%.2f,"p999":%.2f,"max":%.2f,"mean":%.2f})",
                p50, p90, p99, p999, max, mean);
  return buf;
}

std::string pipeline_flow() {
  return R"({
  "name": "bench",
  "components": [
    { "id": "src", "type": "nats_input", "config": { "subject": "src.data", "stream": "SRC" } },
    { "id": "keep", "type": "json_filter", "inputs": ["src"], "config": { "where": "value >= 0 && site == \"a\"" } },
    { "id": "shape", "type": "json_map", "inputs": ["keep"], "config": { "set": { "f": "value * 9 / 5 + 32" } } },
    { "id": "sink", "type": "nats_output", "inputs": ["shape"], "config": { "subject": "out.data" } }
  ]
})";
}

void create_pipeline_streams(jsCtx* js, const std::string& who) {
  for (auto [name, subject] : {std::pair{"SRC", "src.>"}, std::pair{"OUT", "out.>"}}) {
    bus::StreamSpec s;
    s.name = name;
    s.subjects = {subject};
    s.retention = bus::Retention::limits;
    if (auto r = bus::ensure_stream(js, s); !r) die(who, r.status().text());
  }
}

EngineProcess::EngineProcess(std::string weir, fs::path dir, std::string nats_url)
    : weir_(std::move(weir)), dir_(std::move(dir)), url_(std::move(nats_url)) {
  fs::create_directories(dir_ / "flows");
  std::ofstream(dir_ / "weir.json") << R"({"log": {"level": "warn"}, "http": {"listen": ""}})";
}

EngineProcess::~EngineProcess() {
  terminate();
}

void EngineProcess::write_config(const std::string& json) const {
  std::ofstream(dir_ / "weir.json") << json;
}

void EngineProcess::write_flow(const std::string& file, const std::string& json) const {
  std::ofstream(dir_ / "flows" / file) << json;
}

void EngineProcess::start() {
  const auto log = dir_ / "engine.log";
  const auto config = dir_ / "weir.json", flows = dir_ / "flows", data = dir_ / "data";
  log_offset_ = this->log().size();
  pid_ = fork();
  if (pid_ < 0) die("bench", "fork failed");
  if (pid_ != 0) return;
  // The engine goes with the benchmark, also when it dies on an error.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  execlp(weir_.c_str(), weir_.c_str(), "run", "--config", config.c_str(), "--nats-url", url_.c_str(),
         "--flows", flows.c_str(), "--data-dir", data.c_str(), "--log-level", "info",
         static_cast<char*>(nullptr));
  _exit(127);
}

bool EngineProcess::wait_log(const std::string& text, std::chrono::milliseconds timeout) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (log().find(text, log_offset_) == std::string::npos) {
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) pid_ = 0;
    if (pid_ <= 0 || std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

int EngineProcess::terminate() {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = 0;
  return status;
}

}  // namespace weir::bench
