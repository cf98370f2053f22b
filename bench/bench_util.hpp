// Helpers shared by the benchmarks: the 128-byte record, /proc readings and a weir engine
// run as a child process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nats/nats.h>

namespace weir::bus {
class NatsServerProcess;
}

namespace weir::bench {

[[noreturn]] void die(const std::string& who, const std::string& what);

std::string slurp(const std::filesystem::path& p);

// A new folder /tmp/<prefix>-XXXXXX; dies (as `who`) when it cannot be made.
std::filesystem::path scratch_dir(const std::string& prefix, const std::string& who);
// A nats-server with JetStream stored in `store_dir` (created), started; dies (as `who`) on failure.
std::unique_ptr<bus::NatsServerProcess> start_nats(const std::filesystem::path& store_dir,
                                                   const std::string& who);

// A 128-byte sensor-like JSON record; with `t` set it also carries that timestamp (ns).
std::string record(std::uint64_t i, std::int64_t t = -1);

// A line of /proc/<pid>/status in KiB ("VmRSS:", "VmHWM:"); 0 when unreadable.
long status_kib(pid_t pid, const char* key);
// Resets the process's peak RSS (VmHWM) to its current RSS (/proc/<pid>/clear_refs).
bool reset_peak_rss(pid_t pid);
// User + system CPU seconds of a process.
double process_cpu(pid_t pid);
// Microseconds some task on this machine waited for a CPU (/proc/pressure/cpu "some" total);
// its growth over a phase divided by the phase's length tells how contended the machine was.
std::uint64_t cpu_pressure_us();
// CPU seconds per thread name of a process, as a JSON object.
std::string thread_cpu(pid_t pid);

// The foundation benchmark's flow "bench": nats_input (SRC, src.data) → json_filter →
// json_map → nats_output (out.data), every bench record passing.
std::string pipeline_flow();
// Streams SRC (src.>) and OUT (out.>) with limits retention; dies (as `who`) on failure.
void create_pipeline_streams(jsCtx* js, const std::string& who);

// Latency percentiles in ms.
struct Percentiles {
  std::uint64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;  // ms
  std::string json() const;
};

// Sorts ms and reads its percentiles.
Percentiles summarize(std::vector<double>& ms);

// The command line of a benchmark: `--name value` options read into typed variables, and
// `--name` switches into bools. An unknown option, a missing or unreadable value dies (as `who`)
// with the usage line.
class Args {
 public:
  Args(std::string who, std::string usage) : who_(std::move(who)), usage_(std::move(usage)) {}
  Args& add(std::string name, std::string& to);
  Args& add(std::string name, double& to);
  Args& add(std::string name, int& to);
  Args& add(std::string name, std::uint64_t& to);
  Args& add(std::string name, bool& to, bool when_given = true);  // a switch
  void parse(int argc, char** argv) const;

 private:
  struct Option {
    std::string name;
    bool takes_value = true;
    std::function<void(const std::string&)> set;
  };
  std::string who_, usage_;
  std::vector<Option> options_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();

// `weir run` in its own directory (weir.json, flows/, data/, engine.log).
class EngineProcess {
 public:
  EngineProcess(std::string weir, std::filesystem::path dir, std::string nats_url);
  ~EngineProcess();  // terminate()
  EngineProcess(const EngineProcess&) = delete;
  EngineProcess& operator=(const EngineProcess&) = delete;

  void write_flow(const std::string& file, const std::string& json) const;
  // Replaces weir.json (by default: log level warn, HTTP API off).
  void write_config(const std::string& json) const;
  void start();
  // Waits until the log of this start() holds `text` (false when the deadline passes or the
  // engine exited).
  bool wait_log(const std::string& text, std::chrono::milliseconds timeout);
  int terminate();  // SIGTERM and reap; the exit status
  pid_t pid() const { return pid_; }
  std::string log() const { return slurp(dir_ / "engine.log"); }

 private:
  std::string weir_;
  std::filesystem::path dir_;
  std::string url_;
  pid_t pid_ = 0;
  std::size_t log_offset_ = 0;  // where this start()'s lines begin (the log is appended to)
};

}  // namespace weir::bench
