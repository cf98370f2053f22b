#include "modbus_input/modbus_input.hpp"

#include <modbus/modbus.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace weir::components::modbus_input {

namespace json = boost::json;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

sdk::ObjectSpec<Register> Register::object_spec() {
  using sdk::field;
  sdk::ObjectSpec<Register> s;
  s.field("name", &Register::name,
          field()
              .required()
              .not_empty()
              .doc("The value's name in the record's `values`.")
              .example("temperature"))
      .field("table", &Register::table,
             field()
                 .doc("Where the value is read.")
                 .option("holding", Table::holding, "Holding registers (function 3).")
                 .option("input", Table::input, "Input registers (function 4).")
                 .option("coil", Table::coil, "Coils (function 1): a bit, true or false.")
                 .option("discrete", Table::discrete, "Discrete inputs (function 2): a bit, true or false."))
      .field("address", &Register::address,
             field().required().range(0, 65535).doc("The first register's (or bit's) address, from 0."));
  modbus::add_type_field<Register>(s, &Register::type, "Registers only: how the register(s) are read.");
  modbus::add_order_fields<Register>(s, &Register::word_order, &Register::byte_order);
  s.field("scale", &Register::scale, field().doc("Registers only: the value is raw × scale + offset."))
      .field("offset", &Register::offset, field().doc("Registers only: added after scale."))
      .field("deadband", &Register::deadband,
             field().min(-1).doc("With report_by_exception: this value's deadband (absolute, after scale "
                                 "and offset); -1 takes the component's `deadband`."));
  s.lint([](const Register& r, sdk::Lint& lint) {
    if (r.address + modbus::words_of(r.type) - 1 > 65535 &&
        (r.table == Table::holding || r.table == Table::input))
      lint.error("address", "out_of_range", "the value's last register is past address 65535");
  });
  return s;
}

sdk::ObjectSpec<Device> Device::object_spec() {
  using sdk::field;
  sdk::ObjectSpec<Device> s;
  s.field("name", &Device::name,
          field()
              .required()
              .not_empty()
              .doc("The device's name, in each of its records and metrics.")
              .example("pump1"));
  modbus::add_link_fields<Device>(s);
  s.field("interval", &Device::interval, field().duration_range(10ms, 24h).doc("Time between two polls."))
      .field("max_gap", &Device::max_gap,
             field().range(0, 124).doc(
                 "Registers (or bits) not in the map a request may read to join two ranges into one "
                 "request. 0 joins only ranges that touch; some devices answer an exception for "
                 "unmapped addresses."))
      .field("registers", &Device::registers,
             field().required().not_empty().doc("The register map: what is read at each poll."));
  s.lint([](const Device& d, sdk::Lint& lint) {
    modbus::lint_link(d, lint);
    std::map<std::string, std::size_t> names;
    for (std::size_t i = 0; i < d.registers.size(); ++i)
      if (auto [it, fresh] = names.emplace(d.registers[i].name, i); !fresh)
        lint.error("registers", "duplicate_name",
                   "registers " + std::to_string(it->second) + " and " + std::to_string(i) +
                       " are both named \"" + d.registers[i].name + "\"");
  });
  return s;
}

// ---- read planning ----

namespace {
bool is_bits(Table t) {
  return t == Table::coil || t == Table::discrete;
}
int width(const Register& r) {
  return is_bits(r.table) ? 1 : modbus::words_of(r.type);
}
}  // namespace

std::vector<Block> plan_reads(const std::vector<Register>& registers, int max_gap) {
  std::vector<std::size_t> order(registers.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& x = registers[a];
    const auto& y = registers[b];
    return x.table != y.table ? x.table < y.table : x.address < y.address;
  });
  std::vector<Block> out;
  for (auto i : order) {
    const auto& r = registers[i];
    const int end = r.address + width(r);
    const int limit = is_bits(r.table) ? MODBUS_MAX_READ_BITS : MODBUS_MAX_READ_REGISTERS;
    if (!out.empty()) {
      auto& b = out.back();
      const int b_end = b.start + b.count;
      if (b.table == r.table && r.address <= b_end + max_gap && std::max(end, b_end) - b.start <= limit) {
        b.count = std::max(end, b_end) - b.start;
        b.members.push_back(i);
        continue;
      }
    }
    out.push_back(Block{r.table, r.address, end - r.address, {i}});
  }
  return out;
}

// ---- report by exception ----

void ExceptionFilter::select(const std::vector<std::optional<double>>& values, clock::time_point now,
                             std::vector<bool>& out) {
  out.assign(values.size(), false);
  const bool full = !last_full_ || (heartbeat_ > 0ns && now - *last_full_ >= heartbeat_);
  if (full) last_full_ = now;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) continue;
    const double v = *values[i];
    if (full || !last_[i] || std::fabs(v - *last_[i]) > deadbands_[i]) {
      out[i] = true;
      last_[i] = v;
    }
  }
}

namespace {

PollObserver& observer_slot() {
  static PollObserver o;
  return o;
}

}  // namespace

void set_poll_observer(PollObserver observer) {
  observer_slot() = std::move(observer);
}

namespace {

// RFC 3339 UTC with milliseconds: the poll's start.
std::string utc_ms(std::chrono::system_clock::time_point tp) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

enum class State { starting = 0, ok = 1, unreachable = 2, backoff = 3 };
const char* state_name(State s) {
  switch (s) {
    case State::starting:
      return "starting";
    case State::ok:
      return "ok";
    case State::unreachable:
      return "unreachable";
    case State::backoff:
      return "backoff";
  }
  return "?";
}

std::string metric_name(const std::string& device) {
  std::string out;
  for (char c : device) out += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

// Readings on their way from the device threads to run(), which alone talks to the sink.
struct Item {
  sdk::Record rec;
  std::string error;  // not empty: the record goes to the error port with this reason
};
constexpr std::size_t queue_max = 1024;

class ModbusInput;

// One device: its thread, its libmodbus context, its schedule and its state.
class Poller {
 public:
  Poller(ModbusInput& owner, const Config& config, const Device& device, std::size_t index)
      : owner_(owner),
        config_(config),
        device_(device),
        index_(index),
        plan_(plan_reads(device.registers, device.max_gap)),
        filter_(deadbands(config, device), config.heartbeat),
        observer_(observer_slot()),
        link_(device) {}

  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  // From run()'s thread when stopping: a request under way returns now (TCP; see Link::abort).
  void abort() { link_.abort(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  void metrics(std::vector<sdk::Metric>& out) const {
    const auto m = "device_" + metric_name(device_.name);
    const auto state = static_cast<State>(state_.load());
    std::string error;
    {
      std::lock_guard lock(mu_);
      error = last_error_;
    }
    out.push_back({m + "_state", static_cast<double>(state), true,
                   "device " + device_.name + ": 0 starting, 1 ok, 2 unreachable, 3 backoff (now " +
                       state_name(state) + (error.empty() ? std::string() : "; last error: " + error) + ")"});
    out.push_back(
        {m + "_polls", static_cast<double>(polls_.load()), false, "device " + device_.name + ": polls made"});
    out.push_back({m + "_failures", static_cast<double>(failures_.load()), false,
                   "device " + device_.name + ": polls that failed (each also a record on the error port)"});
    out.push_back({m + "_missed_ticks", static_cast<double>(missed_.load()), false,
                   "device " + device_.name + ": ticks skipped because a poll ran past them"});
    out.push_back({m + "_values_suppressed", static_cast<double>(suppressed_.load()), false,
                   "device " + device_.name + ": values not sent by report by exception"});
  }

 private:
  static std::vector<double> deadbands(const Config& c, const Device& d) {
    std::vector<double> out;
    for (const auto& r : d.registers) out.push_back(r.deadband >= 0 ? r.deadband : c.deadband);
    return out;
  }

  void loop();
  // One poll: reads every block; an error text (and whether the link failed) when it fails.
  std::string poll(modbus::Link& link, std::vector<std::optional<double>>& values, bool& link_failed);
  void set_state(State s, const std::string& error);
  json::object record_head(std::chrono::system_clock::time_point at) const;

  ModbusInput& owner_;
  const Config& config_;
  const Device& device_;
  std::size_t index_;
  std::vector<Block> plan_;
  ExceptionFilter filter_;
  PollObserver observer_;
  modbus::Link link_;  // used by the device's thread only (but abort())
  std::thread thread_;
  std::atomic<int> state_{static_cast<int>(State::starting)};
  std::atomic<std::uint64_t> polls_{0}, failures_{0}, missed_{0}, suppressed_{0};
  mutable std::mutex mu_;
  std::string last_error_;
};

class ModbusInput final : public sdk::Input {
 public:
  ModbusInput(const Config& config, const sdk::Context& ctx) : config_(config), log_(ctx.log) {
    for (std::size_t i = 0; i < config_.devices.size(); ++i)
      pollers_.push_back(std::make_unique<Poller>(*this, config_, config_.devices[i], i));
  }
  ~ModbusInput() override { halt(); }

  void run(sdk::InputSink& sink) override {
    for (auto& p : pollers_) p->start();
    std::vector<Item> items;
    while (!sink.stopping()) {
      {
        std::unique_lock lock(mu_);
        ready_.wait_for(lock, 100ms, [&] { return !queue_.empty(); });
        while (!queue_.empty()) {
          items.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      space_.notify_all();
      bool go_on = true;
      for (auto& it : items) {
        go_on = it.error.empty() ? sink.push(std::move(it.rec)) : sink.fail(std::move(it.rec), it.error);
        if (!go_on) break;
      }
      items.clear();
      sink.flush();
      if (!go_on) break;
    }
    halt();
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    for (const auto& p : pollers_) p->metrics(out);
  }

  // Device threads: hands a reading (or a failure) to run(); waits while the queue is full (the
  // flow holds the input back), false when stopping.
  bool hand(Item&& item) {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return stop_ || queue_.size() < queue_max; });
    if (stop_) return false;
    queue_.push_back(std::move(item));
    lock.unlock();
    ready_.notify_one();
    return true;
  }
  // Device threads: sleeps until `t`; false when stopping.
  bool sleep_until(clock::time_point t) {
    std::unique_lock lock(mu_);
    return !stopped_.wait_until(lock, t, [&] { return stop_; });
  }
  bool stopping() {
    std::lock_guard lock(mu_);
    return stop_;
  }
  const sdk::Log& log() const { return log_; }

 private:
  void halt() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    stopped_.notify_all();
    space_.notify_all();
    for (auto& p : pollers_) p->abort();
    for (auto& p : pollers_) p->join();
  }

  const Config config_;
  sdk::Log log_;
  std::vector<std::unique_ptr<Poller>> pollers_;
  std::mutex mu_;
  std::condition_variable ready_, space_, stopped_;
  std::deque<Item> queue_;
  bool stop_ = false;
};

void Poller::set_state(State s, const std::string& error) {
  const auto old = static_cast<State>(state_.exchange(static_cast<int>(s)));
  {
    std::lock_guard lock(mu_);
    if (!error.empty()) last_error_ = error;
  }
  if (old == s) return;
  if (s == State::ok)
    owner_.log().info("device {}: {} (was {})", device_.name, state_name(s), state_name(old));
  else
    owner_.log().warn("device {}: {} (was {}): {}", device_.name, state_name(s), state_name(old), error);
}

json::object Poller::record_head(std::chrono::system_clock::time_point at) const {
  json::object o;
  o["device"] = device_.name;
  o["ts"] = utc_ms(at);
  return o;
}

std::string Poller::poll(modbus::Link& link, std::vector<std::optional<double>>& values, bool& link_failed) {
  link_failed = false;
  if (auto e = link.connect(); !e.empty()) {
    link_failed = true;
    return e;
  }
  std::uint16_t regs[MODBUS_MAX_READ_REGISTERS];
  std::uint8_t bits[MODBUS_MAX_READ_BITS];
  auto* ctx = link.ctx();
  for (const auto& b : plan_) {
    int n = -1;
    switch (b.table) {
      case Table::holding:
        n = modbus_read_registers(ctx, b.start, b.count, regs);
        break;
      case Table::input:
        n = modbus_read_input_registers(ctx, b.start, b.count, regs);
        break;
      case Table::coil:
        n = modbus_read_bits(ctx, b.start, b.count, bits);
        break;
      case Table::discrete:
        n = modbus_read_input_bits(ctx, b.start, b.count, bits);
        break;
    }
    if (n != b.count) {
      const int err = n < 0 ? errno : EMBMDATA;
      // A device that answered with an exception is there; anything else (a timeout, a lost
      // connection, a garbled answer) may leave a late answer in the pipe: start afresh.
      link_failed = !modbus::is_device_exception(err);
      if (link_failed) link.close();
      return "reading " + std::to_string(b.count) + " from address " + std::to_string(b.start) + ": " +
             modbus::error_text(err);
    }
    for (auto i : b.members) {
      const auto& r = device_.registers[i];
      const auto at = static_cast<std::size_t>(r.address - b.start);
      if (is_bits(r.table)) {
        values[i] = bits[at] ? 1.0 : 0.0;
      } else {
        const double raw =
            modbus::decode(std::span<const std::uint16_t>(regs + at, static_cast<std::size_t>(width(r))),
                           r.type, r.word_order, r.byte_order);
        values[i] = raw * r.scale + r.offset;
      }
    }
  }
  return {};
}

void Poller::loop() {
  const auto interval = device_.interval;
  auto deadline = clock::now();
  std::uint32_t link_failures = 0;
  std::vector<std::optional<double>> values(device_.registers.size());
  std::vector<bool> send;
  while (owner_.sleep_until(deadline)) {
    const auto started = clock::now();
    if (observer_) observer_(index_, deadline, started);
    const auto at = std::chrono::system_clock::now();
    std::fill(values.begin(), values.end(), std::nullopt);
    bool link_failed = false;
    const auto error = poll(link_, values, link_failed);
    polls_.fetch_add(1);
    auto next = deadline + interval;
    if (error.empty()) {
      link_failures = 0;
      set_state(State::ok, {});
      if (config_.report_by_exception)
        filter_.select(values, started, send);
      else
        send.assign(values.size(), true);
      json::object vals;
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (!send[i]) {
          suppressed_.fetch_add(1);
          continue;
        }
        const auto& r = device_.registers[i];
        const double v = *values[i];
        if (is_bits(r.table))
          vals[r.name] = v != 0;
        else if (!std::isfinite(v))
          vals[r.name] = nullptr;  // a float register holding NaN or an infinity: JSON has no such number
        else if (r.type != Type::float32 && r.type != Type::float64 && r.scale == 1 && r.offset == 0)
          vals[r.name] = static_cast<std::int64_t>(v);
        else
          vals[r.name] = v;
      }
      if (!vals.empty()) {
        auto o = record_head(at);
        o["values"] = std::move(vals);
        if (!owner_.hand(Item{sdk::Record{{}, std::move(o)}, {}})) break;
      }
    } else {
      failures_.fetch_add(1);
      auto o = record_head(at);
      o["error"] = error;
      if (link_failed) {
        // Retries back off: the first at the next tick, then doubling from backoff_initial up to
        // backoff_max; ticks inside the wait are skipped (not counted as missed).
        ++link_failures;
        auto delay = config_.backoff_initial;
        for (std::uint32_t k = 1; k < link_failures && delay < config_.backoff_max; ++k) delay *= 2;
        delay = std::min(delay, config_.backoff_max);
        if (link_failures == 1) delay = interval;
        set_state(delay > interval ? State::backoff : State::unreachable, error);
        if (next < started + delay) next += interval * ((started + delay - next + interval - 1ns) / interval);
      } else {
        set_state(State::ok, error);  // the device answered: an exception, not a dead link
      }
      if (!owner_.hand(Item{sdk::Record{{}, std::move(o)}, device_.name + ": " + error})) break;
    }
    // Absolute deadlines: a poll that ran past ticks skips them, counted, so lateness never
    // accumulates into the schedule.
    if (const auto now = clock::now(); next <= now) {
      const auto skipped = (now - next) / interval + 1;
      next += interval * skipped;
      missed_.fetch_add(static_cast<std::uint64_t>(skipped));
    }
    deadline = next;
  }
}

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"modbus_input"}
      .summary("Polls Modbus TCP and RTU devices; one record per device per poll.")
      .description(
          "Each device is polled on its own thread, on absolute deadlines (every `interval`), so a dead "
          "or slow device never delays the others. A poll reads the device's register map in as few "
          "requests as it allows (adjacent registers of one table joined, up to 125 registers or 2,000 "
          "bits a request) and gives {\"device\": name, \"ts\": poll start (UTC), \"values\": {name: "
          "value}}. A failed poll gives {\"device\", \"ts\", \"error\"} on the error port. Devices that "
          "do not answer are retried with exponential backoff; each device's state, polls, failures "
          "and missed ticks are metrics.")
      .field("devices", &Config::devices, field().required().not_empty().doc("The devices to poll."))
      .field("backoff_initial", &Config::backoff_initial,
             field().duration_range(10ms, 1h).doc(
                 "After a device failed twice in a row (not reached, no answer), the wait before the next "
                 "try; doubled at each further failure."))
      .field("backoff_max", &Config::backoff_max,
             field().duration_range(10ms, 24h).doc(
                 "The longest wait between two tries of a device that does not answer."))
      .field("report_by_exception", &Config::report_by_exception,
             field().doc("Send only the values that changed by more than their deadband since they were last "
                         "sent (a poll where none did gives no record), and every value each `heartbeat`."))
      .field("deadband", &Config::deadband,
             field().min(0).doc("With report_by_exception: the change (absolute, after scale and offset) a "
                                "value must exceed to be sent; 0 sends every change."))
      .field("heartbeat", &Config::heartbeat,
             field().duration_range(0ns, 24h).doc(
                 "With report_by_exception: every value is sent when this long has passed since all were "
                 "last sent; 0 never."))
      .lint([](const Config& c, sdk::Lint& lint) {
        std::map<std::string, std::size_t> names;
        for (std::size_t i = 0; i < c.devices.size(); ++i)
          if (auto [it, fresh] = names.emplace(metric_name(c.devices[i].name), i); !fresh)
            lint.error(
                "devices", "duplicate_name",
                "devices " + std::to_string(it->second) + " and " + std::to_string(i) +
                    " have one name (names are compared with every character but letters and digits as _)");
      })
      .output("out", "One record per device per poll: device, ts and the values read.")
      .example(json::parse(R"({"id": "plant", "type": "modbus_input", "config": {"devices": [
          {"name": "pump1", "host": "10.0.0.5", "interval": "1s",
           "registers": [{"name": "temperature", "address": 0, "type": "float32"},
                         {"name": "running", "table": "coil", "address": 0}]}]}})"))
      .implementation<ModbusInput>();
}

}  // namespace weir::components::modbus_input
