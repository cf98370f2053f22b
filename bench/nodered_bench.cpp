// weir against Node-RED on the same flow, side by side in one run, through one driver, over
// WebSocket (--transport ws, the default) or through one MQTT broker (--transport mqtt):
//
//   weir:     websocket_input (raw) → json_filter → json_map → websocket_output (raw_only),
//             every hop a JetStream stream of the engine's nats-server (durability sync);
//   Node-RED: websocket in → function → websocket out.
//   MQTT:     weir mqtt_input → json_filter → json_map → mqtt_output, Node-RED mqtt in →
//             function → mqtt out, QoS 1 on every hop, one mosquitto (pinned with the driver).
//
// Both keep `value > 50` and add "f": value*9/5+32 and "alert": true. The system under test
// (weir and its nats-server, or node) is pinned to CPU 0, this driver to CPU 1. Every output is
// checked against the record it came from (exact double comparison); a mismatch, a lost record
// or a duplicate makes the exit status 1. See bench/README.md.
//
// build/bench/nodered_bench --weir build/src/app/weir --node-red DIR [--runs K] [--records N]
//   [--rate R] [--latency-secs S] [--window W] [--only weir|node-red] [--durability sync|none]
//   [--transport ws|mqtt] [--mosquitto PATH] [--linger DURATION]
// DIR holds bin/node and node_modules/node-red (bench/nodered.sh installs both).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "bench_util.hpp"
#include "bus/connection.hpp"
#include "bus/core_subscription.hpp"
#include "bus/nats_server_process.hpp"
#include "common/mqtt/client.hpp"
#include "common/websocket/link.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const std::string me = "nodered_bench";

struct Options {
  std::string weir;
  std::string node_red;  // DIR with bin/node and node_modules/node-red
  int runs = 3;
  std::uint64_t records = 100000;  // throughput phase
  std::uint64_t warmup = 4000;
  double rate = 2000;  // latency phase, records/s
  double latency_secs = 15;
  std::uint64_t window = 1000;      // records sent and not yet accounted for
  std::string only;                 // "", "weir" or "node-red"
  std::string durability = "sync";  // weir's websocket_input
  bool hops = false;                // weir: also time each record on the flow's subjects
  bool pin = true;                  // --no-pin: let the scheduler place everything
  std::string transport = "ws";     // or "mqtt"
  std::string mosquitto = "/usr/sbin/mosquitto";
  std::string linger = "0s";  // weir's mqtt_input `linger`
};

Options parse(int argc, char** argv) {
  Options o;
  weir::bench::Args(me,
                    "nodered_bench --weir PATH --node-red DIR [--runs K] [--records N] [--rate R] "
                    "[--latency-secs S] [--window W] [--only weir|node-red] [--durability sync|none] "
                    "[--hops] [--no-pin] [--transport ws|mqtt] [--mosquitto PATH] [--linger DURATION]")
      .add("--weir", o.weir)
      .add("--node-red", o.node_red)
      .add("--runs", o.runs)
      .add("--records", o.records)
      .add("--rate", o.rate)
      .add("--latency-secs", o.latency_secs)
      .add("--window", o.window)
      .add("--only", o.only)
      .add("--durability", o.durability)
      .add("--hops", o.hops)
      .add("--no-pin", o.pin, false)
      .add("--transport", o.transport)
      .add("--mosquitto", o.mosquitto)
      .add("--linger", o.linger)
      .parse(argc, argv);
  if (o.transport != "ws" && o.transport != "mqtt") weir::bench::die(me, "--transport is ws or mqtt");
  if (o.only != "node-red" && o.weir.empty()) weir::bench::die(me, "--weir PATH is required");
  if (o.only != "weir" && o.node_red.empty()) weir::bench::die(me, "--node-red DIR is required");
  if (o.runs < 1 || o.records == 0 || o.rate <= 0 || o.latency_secs <= 0 || o.window == 0)
    weir::bench::die(me, "runs, records, rate, latency-secs and window must be positive");
  return o;
}

// ---- the records and what must come out of them ----

// value = k / 10 for k in 0..999: one in ten integral, written without a decimal point ("64").
std::uint64_t tenths(std::uint64_t id) {
  return (id * 7919 + 13) % 1000;
}
double value_of(std::uint64_t id) {
  return static_cast<double>(tenths(id)) / 10.0;
}
bool passes(std::uint64_t id) {
  return value_of(id) > 50;
}
double f_of(std::uint64_t id) {
  return value_of(id) * 9 / 5 + 32;
}
constexpr std::int64_t ts_base = 1700000000123;

std::string input_record(std::uint64_t id) {
  const auto k = tenths(id);
  std::string value = std::to_string(k / 10);
  if (k % 10 != 0) value += "." + std::to_string(k % 10);
  return R"({"id":)" + std::to_string(id) + R"(,"site":"a","sensor":"temp-7","value":)" + value +
         R"(,"ts":)" + std::to_string(ts_base + static_cast<std::int64_t>(id)) + "}";
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// ---- CPU pinning ----

int cpus() {
  return static_cast<int>(std::thread::hardware_concurrency());
}

bool pin_thread(pid_t tid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(tid, sizeof set, &set) == 0;
}

// Every thread of pid onto cpu (threads made later inherit it from their maker).
void pin_process(pid_t pid, int cpu) {
  std::error_code ec;
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
    pin_thread(static_cast<pid_t>(std::stol(t.path().filename().string())), cpu);
}

// ---- the driver: a raw client into the system's input and one on its output ----

// ---- the driver's two ends: WebSocket, or MQTT through the broker ----

constexpr const char* mqtt_in_topic = "bench/in";
constexpr const char* mqtt_out_topic = "bench/out";

class Link {
 public:
  virtual ~Link() = default;
  virtual void send(std::string text) = 0;
  virtual void stop() = 0;
};

using OnMessage = std::function<void(const std::string&)>;

class WsLink final : public Link {
 public:
  WsLink(const std::string& url, const OnMessage& on_message) {
    weir::ws::EndpointOptions o;
    o.mode = weir::ws::EndpointOptions::Mode::connect;
    o.url = url;
    o.offer_bridge = false;
    o.max_frame_size = 16 * 1024 * 1024;
    o.reconnect_max = 500ms;
    o.thread_name = on_message ? "drv-out" : "drv-in";
    weir::ws::Handlers h;
    h.on_open = [this](weir::ws::ConnId c, bool, const std::string&) { conn_.store(c); };
    h.on_close = [this](weir::ws::ConnId, int, const std::string&) { conn_.store(0); };
    if (on_message) h.on_message = [on_message](weir::ws::ConnId, std::string&& m, bool) { on_message(m); };
    std::string error;
    ep_ = weir::ws::Endpoint::create(std::move(o), std::move(h), error);
    if (!ep_ || !ep_->start(error)) throw std::runtime_error(url + ": " + error);
    const auto deadline = Clock::now() + 60s;
    while (conn_.load() == 0) {
      if (Clock::now() > deadline) throw std::runtime_error(url + ": no connection within 60 s");
      std::this_thread::sleep_for(10ms);
    }
  }
  void send(std::string text) override { ep_->send(conn_.load(), std::move(text), false); }
  void stop() override { ep_->stop(); }

 private:
  std::atomic<weir::ws::ConnId> conn_{0};
  std::unique_ptr<weir::ws::Endpoint> ep_;
};

// QoS 1 both ways: the publisher keeps at most `inflight` messages unacknowledged (the broker's
// max_inflight_messages), the subscriber acknowledges each message as it takes it.
class MqttLink final : public Link {
 public:
  MqttLink(const std::string& url, const std::string& client_id, const OnMessage& on_message) {
    namespace mqtt = weir::mqtt;
    mqtt::ClientOptions o;
    bool tls = false;
    if (auto e = mqtt::parse_broker_url(url, o.host, o.port, tls)) throw std::runtime_error(*e);
    o.connect.client_id = client_id;
    o.connect.clean_start = true;
    o.backoff_max = 500ms;
    if (on_message) o.subscriptions.emplace_back(mqtt_out_topic, 1);
    mqtt::Client::Handlers h;
    h.publish = [this, on_message](std::uint64_t conn, mqtt::Publish&& p) {
      if (p.qos > 0) {
        std::string ack;
        mqtt::encode(ack, mqtt::Ack{mqtt::Type::puback, p.packet_id, 0}, mqtt::Version::v311);
        client_->send(conn, std::move(ack));
      }
      if (on_message) on_message(p.payload);
    };
    h.ack = [this](std::uint64_t, const mqtt::Ack& a) {
      if (a.type != mqtt::Type::puback) return;
      std::lock_guard lock(mu_);
      if (inflight_ > 0) --inflight_;
      cv_.notify_one();
    };
    client_ = std::make_unique<mqtt::Client>(std::move(o), std::move(h));
    if (auto e = client_->start()) throw std::runtime_error(url + ": " + *e);
    const auto deadline = Clock::now() + 60s;
    while (!client_->ready()) {
      if (Clock::now() > deadline) throw std::runtime_error(url + ": not subscribed within 60 s");
      std::this_thread::sleep_for(10ms);
    }
  }
  void send(std::string text) override {
    namespace mqtt = weir::mqtt;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return inflight_ < inflight_max; });
      ++inflight_;
    }
    if (++id_ == 0) id_ = 1;
    std::string bytes;
    mqtt::encode(bytes, mqtt::Publish{mqtt_in_topic, std::move(text), 1, false, false, id_},
                 mqtt::Version::v311);
    client_->send(client_->connection(), std::move(bytes));
  }
  void stop() override { client_->stop(); }

  static constexpr std::size_t inflight_max = 100;

 private:
  std::unique_ptr<weir::mqtt::Client> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t inflight_ = 0;
  std::uint16_t id_ = 0;  // sender only
};

std::unique_ptr<Link> open_link(const std::string& url, const std::string& name,
                                const OnMessage& on_message) {
  if (url.starts_with("mqtt://")) return std::make_unique<MqttLink>(url, name, on_message);
  return std::make_unique<WsLink>(url, on_message);
}

class Driver {
 public:
  explicit Driver(std::uint64_t capacity)
      : sent_ns_(new std::atomic<std::int64_t>[capacity]), seen_(capacity, 0) {
    for (std::uint64_t i = 0; i < capacity; ++i) sent_ns_[i].store(0, std::memory_order_relaxed);
  }
  ~Driver() { stop(); }

  // Connects to both ends (the output first, so nothing is sent before it can be seen).
  void connect(const std::string& in_url, const std::string& out_url) {
    out_ = open_link(out_url, "bench-driver-out", [this](const std::string& m) { take(m); });
    in_ = open_link(in_url, "bench-driver-in", {});
  }

  void stop() {
    if (in_) in_->stop();
    if (out_) out_->stop();
  }

  // Sends records [next_, next_+n) as fast as the window allows; returns when every passing one
  // came out (false on the deadline).
  bool burst(std::uint64_t n, std::uint64_t window, std::chrono::seconds deadline) {
    const auto end = next_ + n;
    const auto t_end = Clock::now() + deadline;
    while (next_ < end) {
      while (expected_.load(std::memory_order_relaxed) - received_.load(std::memory_order_relaxed) >=
             window) {
        if (Clock::now() > t_end) return false;
        std::this_thread::sleep_for(20us);
      }
      send_one();
    }
    return drain(t_end);
  }

  // Sends `rate` records a second for `secs`, timing the passing ones; returns when they came out.
  bool paced(double rate, double secs, std::chrono::seconds drain_deadline) {
    const auto n = static_cast<std::uint64_t>(rate * secs);
    {
      std::lock_guard lock(mu_);
      latencies_.clear();
      latencies_.reserve(n);
    }
    timing_.store(true, std::memory_order_release);
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < n; ++i) {
      std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(static_cast<double>(i) / rate)));
      send_one();
    }
    const bool ok = drain(Clock::now() + drain_deadline);
    timing_.store(false, std::memory_order_release);
    return ok;
  }

  // When record id was sent (ns on the steady clock; 0: not yet) and whether the paced phase runs.
  std::int64_t sent_ns(std::uint64_t id) const { return sent_ns_[id].load(std::memory_order_acquire); }
  bool timing() const { return timing_.load(std::memory_order_acquire); }

  std::vector<double> latencies() {
    std::lock_guard lock(mu_);
    return latencies_;
  }
  std::uint64_t sent() const { return next_; }
  std::uint64_t expected() const { return expected_.load(); }
  std::uint64_t received() const { return received_.load(); }
  std::uint64_t duplicates() const { return duplicates_.load(); }
  std::uint64_t mismatches() const { return mismatches_.load(); }
  std::vector<std::string> samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }

 private:
  void send_one() {
    const auto id = next_++;
    if (passes(id)) expected_.fetch_add(1, std::memory_order_relaxed);
    sent_ns_[id].store(now_ns(), std::memory_order_release);
    in_->send(input_record(id));
  }

  bool drain(Clock::time_point deadline) {
    while (received_.load(std::memory_order_acquire) < expected_.load(std::memory_order_relaxed)) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(100us);
    }
    return true;
  }

  void mismatch(const std::string& what) {
    mismatches_.fetch_add(1);
    std::lock_guard lock(mu_);
    if (samples_.size() < 5) samples_.push_back(what);
  }

  // On the output endpoint's io thread.
  void take(const std::string& m) {
    const auto t = now_ns();
    boost::system::error_code ec;
    const json::value v = json::parse(m, ec);
    const json::object* r = ec ? nullptr : v.if_object();
    const json::value* idv = r ? r->if_contains("id") : nullptr;
    if (!idv || !idv->is_int64() || idv->as_int64() < 0 ||
        static_cast<std::uint64_t>(idv->as_int64()) >= next_) {
      mismatch("not a record sent: " + m.substr(0, 200));
      return;
    }
    const auto id = static_cast<std::uint64_t>(idv->as_int64());
    if (seen_[id]++) {
      duplicates_.fetch_add(1);
      return;
    }
    // Numbers are read from their text with from_chars: Boost.JSON 1.81's parser may be one ulp
    // off, which would count correct outputs as mismatches.
    auto number = [r, &m](const char* key, double& out) {
      const json::value* x = r->if_contains(key);
      if (!x || !x->is_number()) return false;
      const std::string quoted = std::string("\"") + key + "\":";
      const auto at = m.find(quoted);
      if (at == std::string::npos) return false;
      const char* begin = m.data() + at + quoted.size();
      while (*begin == ' ') ++begin;
      return std::from_chars(begin, m.data() + m.size(), out).ec == std::errc();
    };
    double value = 0, f = 0;
    const json::value* alert = r->if_contains("alert");
    const json::value* site = r->if_contains("site");
    const json::value* sensor = r->if_contains("sensor");
    const json::value* ts = r->if_contains("ts");
    if (!passes(id))
      mismatch("record " + std::to_string(id) + " should have been filtered out: " + m);
    else if (!number("value", value) || value != value_of(id) || !number("f", f) || f != f_of(id) || !alert ||
             !alert->is_bool() || !alert->get_bool() || !site || *site != "a" || !sensor ||
             *sensor != "temp-7" || !ts || !ts->is_int64() ||
             ts->get_int64() != ts_base + static_cast<std::int64_t>(id)) {
      char want[64];
      std::snprintf(want, sizeof want, "%.17g", f_of(id));
      mismatch("record " + std::to_string(id) + ": " + m + " (f should be " + want + ")");
    }
    if (timing_.load(std::memory_order_acquire)) {
      const auto sent = sent_ns_[id].load(std::memory_order_acquire);
      std::lock_guard lock(mu_);
      latencies_.push_back(static_cast<double>(t - sent) / 1e6);
    }
    received_.fetch_add(1, std::memory_order_release);
  }

  std::unique_ptr<Link> in_, out_;
  std::unique_ptr<std::atomic<std::int64_t>[]> sent_ns_;
  std::vector<std::uint8_t> seen_;  // io thread only
  std::uint64_t next_ = 0;          // sender only; read by the io thread for ids it was sent
  std::atomic<std::uint64_t> expected_{0}, received_{0}, duplicates_{0}, mismatches_{0};
  std::atomic<bool> timing_{false};
  std::mutex mu_;
  std::vector<double> latencies_;
  std::vector<std::string> samples_;
};

// ---- where the time goes in weir: each record timed on the flow's subjects ----

class HopTimer {
 public:
  HopTimer(const std::string& url, const std::string& subjects, const Driver& d) : d_(d) {
    weir::bus::ConnectOptions co;
    co.url = url;
    auto c = weir::bus::Connection::connect(co);
    if (!c) throw std::runtime_error("hops: " + c.status().text());
    conn_ = std::move(c.value());
    weir::bus::CoreSubscriptionOptions so;
    so.subject = subjects;
    auto sub = weir::bus::CoreSubscription::subscribe(conn_->raw(), so);
    if (!sub) throw std::runtime_error("hops: " + sub.status().text());
    sub_ = std::move(sub.value());
    thread_ = std::thread([this] { run(); });
  }
  ~HopTimer() {
    stop_ = true;
    thread_.join();
  }
  // {"<subject>": {p50...}, ...} of what was timed while the driver's paced phase ran.
  std::string json() {
    std::lock_guard lock(mu_);
    std::string out = "{";
    for (auto& [subject, ms] : ms_) {
      if (out.size() > 1) out += ",";
      const auto& [msgs, records] = counts_[subject];
      auto p = weir::bench::summarize(ms).json();
      p.pop_back();
      out += "\"" + subject + "\":" + p + ",\"messages\":" + std::to_string(msgs) +
             ",\"records\":" + std::to_string(records) + "}";
    }
    return out + "}";
  }

 private:
  void run() {
    std::vector<weir::bus::Msg> msgs;
    while (!stop_) {
      msgs.clear();
      (void)sub_.fetch(256, 50ms, msgs);
      const auto t = now_ns();
      const bool timing = d_.timing();
      for (auto& m : msgs) {
        const std::string_view body = m.view();
        static constexpr std::string_view key = "{\"id\":";
        std::lock_guard lock(mu_);
        const std::string subject(m.subject());
        auto& ms = ms_[subject];
        auto& count = counts_[subject];
        count.first++;
        for (auto at = body.find(key); at != std::string_view::npos; at = body.find(key, at + key.size())) {
          count.second++;
          std::uint64_t id = 0;
          const char* b = body.data() + at + key.size();
          if (!timing || std::from_chars(b, body.data() + body.size(), id).ec != std::errc()) continue;
          if (const auto sent = d_.sent_ns(id); sent != 0) ms.push_back(static_cast<double>(t - sent) / 1e6);
        }
      }
    }
  }

  const Driver& d_;
  std::unique_ptr<weir::bus::Connection> conn_;
  weir::bus::CoreSubscription sub_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::vector<double>> ms_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> counts_;  // messages, records
};

// Starts `args` with its output in `logfile`; dies when it cannot fork.
pid_t spawn_logged(const std::vector<std::string>& args, const std::string& logfile) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) weir::bench::die(me, "fork failed");
  if (pid == 0) {
    const int fd = ::open(logfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// ---- the MQTT broker both systems use (--transport mqtt) ----

class Broker {
 public:
  Broker(const std::string& bin, const fs::path& dir) : dir_(dir) {
    fs::create_directories(dir);
    port_ = weir::bench::free_port();
    const auto conf = (dir / "mosquitto.conf").string();
    std::ofstream(conf)
        << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
        << "max_inflight_messages " << MqttLink::inflight_max
        << "\nmax_queued_messages 1000000\nlog_dest stderr\nlog_type error\nlog_type warning\n";
    const auto logfile = (dir / "mosquitto.log").string();
    pid_ = spawn_logged({bin, "-c", conf}, logfile);
    // Up once a client gets through.
    const auto deadline = Clock::now() + 20s;
    for (;;) {
      try {
        MqttLink probe(url(), "bench-probe", {});
        probe.stop();
        break;
      } catch (const std::exception& e) {
        if (Clock::now() > deadline)
          weir::bench::die(me, std::string("mosquitto did not start: ") + e.what());
      }
    }
  }
  ~Broker() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

 private:
  fs::path dir_;
  pid_t pid_ = 0;
  std::uint16_t port_ = 0;
};

// ---- the systems under test ----

class System {
 public:
  virtual ~System() = default;
  virtual std::string name() const = 0;
  virtual void start() = 0;
  virtual std::vector<pid_t> pids() const = 0;
  virtual std::string in_url() const = 0;
  virtual std::string out_url() const = 0;
  virtual std::string log() const = 0;
  virtual std::string nats_url() const { return ""; }
  virtual void stop() = 0;
};

class Weir final : public System {
 public:
  // `broker`: an MQTT broker URL for the MQTT flow, empty for the WebSocket one.
  Weir(std::string bin, fs::path dir, std::string durability, std::string broker, std::string linger)
      : bin_(std::move(bin)),
        dir_(std::move(dir)),
        durability_(std::move(durability)),
        broker_(std::move(broker)),
        linger_(std::move(linger)) {}
  std::string name() const override { return "weir"; }
  void start() override {
    server_ = weir::bench::start_nats(dir_ / "nats", me);
    engine_ = std::make_unique<weir::bench::EngineProcess>(bin_, dir_ / "engine", server_->url());
    in_port_ = weir::bench::free_port();
    out_port_ = weir::bench::free_port();
    engine_->write_config(R"({"log": {"level": "info"}, "http": {"listen": ""}, "nats": {"store_dir": ")" +
                          (dir_ / "nats").string() + R"("}})");
    engine_->write_flow("nrbench.json", broker_.empty() ? ws_flow() : mqtt_flow());
    engine_->start();
    if (!engine_->wait_log("flows up", 60s)) weir::bench::die(me, "weir did not start:\n" + engine_->log());
    // The input's subscription must stand before the first record is published.
    if (!broker_.empty() && (!engine_->wait_log("[nrbench/in] connected to", 60s) ||
                             !engine_->wait_log("[nrbench/out] connected to", 60s)))
      weir::bench::die(me, "weir did not connect to the broker:\n" + engine_->log());
  }
  std::string ws_flow() const {
    return R"({
  "name": "nrbench",
  "components": [
    { "id": "in", "type": "websocket_input",
      "config": { "mode": "listen", "listen": "127.0.0.1:)" +
           std::to_string(in_port_) + R"(",
                  "durability": ")" +
           durability_ +
           R"(" } },
    { "id": "keep", "type": "json_filter", "inputs": ["in"], "config": { "where": "value > 50" } },
    { "id": "shape", "type": "json_map", "inputs": ["keep"],
      "config": { "set": { "f": "value * 9 / 5 + 32", "alert": "true" } } },
    { "id": "out", "type": "websocket_output", "inputs": ["shape"],
      "config": { "mode": "listen", "listen": "127.0.0.1:)" +
           std::to_string(out_port_) + R"(", "raw_only": true } }
  ]
})";
  }
  // QoS 1 in and out with persistent sessions (the defaults: acknowledged to the broker only
  // once stored); the broker's in-flight window on both.
  // Client ids of this run's own: the broker keeps a persistent session, which would hand a
  // later run what was published to its topic meanwhile.
  std::string mqtt_flow() const {
    const std::string window = std::to_string(MqttLink::inflight_max);
    const std::string ids = "bench-" + dir_.filename().string();
    return R"({
  "name": "nrbench",
  "components": [
    { "id": "in", "type": "mqtt_input",
      "config": { "url": ")" +
           broker_ + R"(", "topics": [")" + mqtt_in_topic + R"("], "qos": 1, "max_inflight": )" + window +
           R"(, "client_id": ")" + ids + R"(-in", "linger": ")" + linger_ + R"(" } },
    { "id": "keep", "type": "json_filter", "inputs": ["in"], "config": { "where": "value > 50" } },
    { "id": "shape", "type": "json_map", "inputs": ["keep"],
      "config": { "set": { "f": "value * 9 / 5 + 32", "alert": "true" } } },
    { "id": "out", "type": "mqtt_output", "inputs": ["shape"],
      "config": { "url": ")" +
           broker_ + R"(", "topic": ")" + mqtt_out_topic + R"(", "qos": 1, "max_inflight": )" + window +
           R"(, "client_id": ")" + ids + R"(-out" } }
  ]
})";
  }
  std::vector<pid_t> pids() const override { return {server_->pid(), engine_->pid()}; }
  std::string in_url() const override {
    return broker_.empty() ? "ws://127.0.0.1:" + std::to_string(in_port_) + "/" : broker_;
  }
  std::string out_url() const override {
    return broker_.empty() ? "ws://127.0.0.1:" + std::to_string(out_port_) + "/" : broker_;
  }
  std::string log() const override { return engine_ ? engine_->log() : ""; }
  std::string nats_url() const override { return server_->url(); }
  void stop() override {
    if (engine_) engine_->terminate();
    engine_.reset();
    server_.reset();
  }

 private:
  std::string bin_;
  fs::path dir_;
  std::string durability_, broker_, linger_;
  std::unique_ptr<weir::bus::NatsServerProcess> server_;
  std::unique_ptr<weir::bench::EngineProcess> engine_;
  std::uint16_t in_port_ = 0, out_port_ = 0;
};

class NodeRed final : public System {
 public:
  // `broker`: as for Weir.
  NodeRed(fs::path install, fs::path dir, std::string broker)
      : install_(std::move(install)), dir_(std::move(dir)), broker_(std::move(broker)) {}
  ~NodeRed() override { stop(); }
  std::string name() const override { return "node-red"; }
  void start() override {
    fs::create_directories(dir_);
    port_ = weir::bench::free_port();
    std::ofstream(dir_ / "settings.js")
        << "module.exports = {\n  uiPort: " << port_
        << ",\n  uiHost: \"127.0.0.1\",\n  flowFile: \"flows.json\",\n"
           "  httpAdminRoot: false,\n  logging: { console: { level: \"info\" } },\n"
           "  telemetry: { enabled: false }\n};\n";
    // The function node returns a new message: websocket out would otherwise answer the input's
    // session (msg._session), which belongs to the other listener.
    const std::string fn = R"({ "id": "fn", "type": "function", "z": "tab", "outputs": 1, "wires": [["out"]],
    "func": "const r = JSON.parse(msg.payload);\nif (!(r.value > 50)) return null;\nr.f = r.value * 9 / 5 + 32;\nr.alert = true;\nreturn { payload: JSON.stringify(r) };" })";
    if (broker_.empty()) {
      std::ofstream(dir_ / "flows.json") << R"([
  { "id": "tab", "type": "tab", "label": "bench" },
  { "id": "l_in", "type": "websocket-listener", "path": "/in", "wholemsg": "false" },
  { "id": "l_out", "type": "websocket-listener", "path": "/out", "wholemsg": "false" },
  { "id": "in", "type": "websocket in", "z": "tab", "server": "l_in", "client": "", "wires": [["fn"]] },
  )" + fn + R"(,
  { "id": "out", "type": "websocket out", "z": "tab", "server": "l_out", "client": "" }
])";
    } else {
      // QoS 1 in and out, as weir's flow.
      std::string host;
      std::uint16_t port = 0;
      bool tls = false;
      if (auto e = weir::mqtt::parse_broker_url(broker_, host, port, tls)) weir::bench::die(me, *e);
      std::ofstream(dir_ / "flows.json") << R"([
  { "id": "tab", "type": "tab", "label": "bench" },
  { "id": "broker", "type": "mqtt-broker", "broker": ")" +
                                                host + R"(", "port": ")" + std::to_string(port) +
                                                R"(",
    "clientid": "nr-bench", "autoConnect": true, "usetls": false, "protocolVersion": "4", "keepalive": "60",
    "cleansession": true },
  { "id": "in", "type": "mqtt in", "z": "tab", "topic": ")" +
                                                mqtt_in_topic + R"(", "qos": "1", "datatype": "utf8",
    "broker": "broker", "nl": false, "rap": true, "inputs": 0, "wires": [["fn"]] },
  )" + fn + R"(,
  { "id": "out", "type": "mqtt out", "z": "tab", "topic": ")" +
                                                mqtt_out_topic + R"(", "qos": "1", "retain": "false",
    "broker": "broker", "wires": [] }
])";
    }
    const std::string node = (install_ / "bin" / "node").string();
    const std::string red = (install_ / "node_modules" / "node-red" / "red.js").string();
    const std::string settings = (dir_ / "settings.js").string(), user = dir_.string();
    const std::string logfile = (dir_ / "node-red.log").string();
    pid_ = spawn_logged(
        {node, red, "--settings", settings, "--userDir", user, "--no-telemetry", "flows.json"}, logfile);
    const auto deadline = Clock::now() + 60s;
    const std::string ready = broker_.empty() ? "Started flows" : "Connected to broker";
    while (log().find(ready) == std::string::npos) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        weir::bench::die(me, "Node-RED exited:\n" + log());
      }
      if (Clock::now() > deadline) weir::bench::die(me, "Node-RED did not start:\n" + log());
      std::this_thread::sleep_for(50ms);
    }
  }
  std::vector<pid_t> pids() const override { return {pid_}; }
  std::string in_url() const override {
    return broker_.empty() ? "ws://127.0.0.1:" + std::to_string(port_) + "/in" : broker_;
  }
  std::string out_url() const override {
    return broker_.empty() ? "ws://127.0.0.1:" + std::to_string(port_) + "/out" : broker_;
  }
  std::string log() const override { return weir::bench::slurp(dir_ / "node-red.log"); }
  void stop() override {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + 10s;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
      if (Clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    pid_ = 0;
  }

 private:
  fs::path install_, dir_;
  std::string broker_;
  pid_t pid_ = 0;
  std::uint16_t port_ = 0;
};

// ---- one run of one system ----

double cpu_of(const std::vector<pid_t>& pids) {
  double s = 0;
  for (pid_t p : pids) s += weir::bench::process_cpu(p);
  return s;
}

long kib_of(const std::vector<pid_t>& pids, const char* key) {
  long s = 0;
  for (pid_t p : pids) s += weir::bench::status_kib(p, key);
  return s;
}

std::string num(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

struct RunResult {
  std::string json;
  double per_cpu = 0, p99 = 0, peak_mb = 0;
  bool ok = false;
};

RunResult run_one(System& sys, const Options& o, bool pinned) {
  sys.start();
  const auto pids = sys.pids();
  if (pinned)
    for (pid_t p : pids) pin_process(p, 0);
  const std::uint64_t capacity =
      o.warmup + o.records + static_cast<std::uint64_t>(o.rate * o.latency_secs) + 16;
  Driver d(capacity);
  RunResult r;
  std::string j = R"({"system":")" + sys.name() + "\"";
  auto add = [&j](const std::string& k, const std::string& v) { j += ",\"" + k + "\":" + v; };
  try {
    d.connect(sys.in_url(), sys.out_url());
    std::this_thread::sleep_for(500ms);
    add("idle_rss_mb", num("%.1f", static_cast<double>(kib_of(pids, "VmRSS:")) / 1024));
    if (!d.burst(o.warmup, o.window, 120s)) throw std::runtime_error("warm-up records did not all come out");
    if (pinned)
      for (pid_t p : pids) pin_process(p, 0);  // threads made since the start

    // With --hops (diagnosis: it costs the server a delivery per message) also during the burst.
    std::unique_ptr<HopTimer> hops;
    if (o.hops && !sys.nats_url().empty())
      hops = std::make_unique<HopTimer>(sys.nats_url(), "weir.nrbench.>", d);
    // Throughput: records out per CPU-second of the system's processes.
    const double cpu0 = cpu_of(pids);
    const auto out0 = d.received();
    const auto t0 = Clock::now();
    if (!d.burst(o.records, o.window, 600s))
      throw std::runtime_error("throughput records did not all come out");
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = cpu_of(pids) - cpu0;
    const auto out = static_cast<double>(d.received() - out0);
    r.per_cpu = out / cpu;
    add("records_in", std::to_string(o.records));
    add("records_out", num("%.0f", out));
    add("records_out_per_s", num("%.0f", out / secs));
    add("cpu_s", num("%.3f", cpu));
    add("records_out_per_cpu_s", num("%.0f", r.per_cpu));
    // Where the CPU went (cumulative since the start, warm-up included), by thread name.
    std::string threads = "[";
    for (pid_t p : pids) threads += (threads.size() > 1 ? "," : "") + weir::bench::thread_cpu(p);
    add("thread_cpu_s", threads + "]");

    // Latency at a steady rate.
    if (!d.paced(o.rate, o.latency_secs, 60s)) throw std::runtime_error("paced records did not all come out");
    auto ms = d.latencies();
    const auto p = weir::bench::summarize(ms);
    r.p99 = p.p99;
    add("latency_rate", num("%.0f", o.rate));
    add("latency_ms", p.json());
    if (hops) add("hops_ms", hops->json());
  } catch (const std::exception& e) {
    add("error", json::serialize(json::value(e.what())));
  }
  // Late duplicates get a moment to show.
  std::this_thread::sleep_for(1s);
  const long peak = kib_of(pids, "VmHWM:");
  r.peak_mb = static_cast<double>(peak) / 1024;
  add("peak_rss_mb", num("%.1f", r.peak_mb));
  d.stop();
  const auto lost = d.expected() - std::min(d.expected(), d.received());
  add("sent", std::to_string(d.sent()));
  add("expected_out", std::to_string(d.expected()));
  add("received", std::to_string(d.received()));
  add("lost", std::to_string(lost));
  add("duplicates", std::to_string(d.duplicates()));
  add("mismatches", std::to_string(d.mismatches()));
  json::array samples;
  for (auto& s : d.samples()) samples.emplace_back(s);
  if (!samples.empty()) add("mismatch_samples", json::serialize(samples));
  r.ok = lost == 0 && d.duplicates() == 0 && d.mismatches() == 0 && j.find("\"error\"") == std::string::npos;
  if (!r.ok)
    std::fprintf(stderr, "%s: %s run failed; its log:\n%s\n", me.c_str(), sys.name().c_str(),
                 sys.log().c_str());
  sys.stop();
  r.json = j + "}";
  return r;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt(me));
  spdlog::set_level(spdlog::level::warn);
  const Options o = parse(argc, argv);
  const bool pinned = o.pin && cpus() >= 2;
  // The driver's threads (made after this) run on CPU 1; the systems are moved to CPU 0.
  if (pinned) pin_thread(0, 1);
  const fs::path dir = weir::bench::scratch_dir("weir-nodered-bench", me);
  std::unique_ptr<Broker> broker;
  if (o.transport == "mqtt") {
    broker = std::make_unique<Broker>(o.mosquitto, dir / "mosquitto");
    if (pinned) pin_process(broker->pid(), 1);  // with the driver: outside the system under test
  }
  const std::string broker_url = broker ? broker->url() : std::string();
  std::vector<double> w_cpu, w_p99, w_rss, n_cpu, n_p99, n_rss;
  bool ok = true;
  for (int run = 0; run < o.runs; ++run) {
    for (const std::string which : {"weir", "node-red"}) {
      if (!o.only.empty() && o.only != which) continue;
      std::unique_ptr<System> sys;
      const auto sub = dir / (which + "-" + std::to_string(run));
      if (which == "weir")
        sys = std::make_unique<Weir>(o.weir, sub, o.durability, broker_url, o.linger);
      else
        sys = std::make_unique<NodeRed>(o.node_red, sub, broker_url);
      const auto r = run_one(*sys, o, pinned);
      std::printf("{\"run\":%d,%s\n", run + 1, r.json.c_str() + 1);
      std::fflush(stdout);
      ok = ok && r.ok;
      auto& cpu = which == "weir" ? w_cpu : n_cpu;
      auto& p99 = which == "weir" ? w_p99 : n_p99;
      auto& rss = which == "weir" ? w_rss : n_rss;
      cpu.push_back(r.per_cpu);
      p99.push_back(r.p99);
      rss.push_back(r.peak_mb);
    }
  }
  broker.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::string s = R"({"bench":"nodered","transport":")" + o.transport + R"(","runs":)" +
                  std::to_string(o.runs) + R"(,"pinned":)" + (pinned ? "true" : "false") + R"(,"records":)" +
                  std::to_string(o.records) + R"(,"latency_rate":)" + num("%.0f", o.rate);
  auto side = [&](const char* name, const std::vector<double>& cpu, const std::vector<double>& p99,
                  const std::vector<double>& rss) {
    if (cpu.empty()) return;
    s += std::string(",\"") + name + R"(":{"records_out_per_cpu_s":)" + num("%.0f", median(cpu)) +
         R"(,"p99_ms":)" + num("%.2f", median(p99)) + R"(,"peak_rss_mb":)" + num("%.1f", median(rss)) + "}";
  };
  side("weir", w_cpu, w_p99, w_rss);
  side("node_red", n_cpu, n_p99, n_rss);
  if (!w_cpu.empty() && !n_cpu.empty()) {
    // Per run (same run, same machine state), then the median of the ratios.
    std::vector<double> cpu_ratio, p99_ratio, rss_ratio;
    for (std::size_t i = 0; i < w_cpu.size() && i < n_cpu.size(); ++i) {
      cpu_ratio.push_back(w_cpu[i] / n_cpu[i]);
      p99_ratio.push_back(w_p99[i] / n_p99[i]);
      rss_ratio.push_back(w_rss[i] / n_rss[i]);
    }
    s += R"(,"per_cpu_ratio":)" + num("%.2f", median(cpu_ratio)) + R"(,"p99_ratio":)" +
         num("%.2f", median(p99_ratio)) + R"(,"peak_rss_ratio":)" + num("%.2f", median(rss_ratio)) +
         (o.transport == "mqtt"
              ? R"(,"targets":{"per_cpu_ratio_min":3,"peak_rss_ratio_max":0.5})"
              : R"(,"targets":{"per_cpu_ratio_min":6,"p99_ratio_max":1,"peak_rss_ratio_max":0.5})");
  }
  s += std::string(R"(,"correct":)") + (ok ? "true" : "false") + "}";
  std::printf("%s\n", s.c_str());
  return ok ? 0 : 1;
}
