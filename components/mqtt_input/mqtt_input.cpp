#include "mqtt_input/mqtt_input.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <unordered_map>

#include "core/hash.hpp"
#include "sdk/base/record_json.hpp"
#include "store/atomic_file.hpp"

namespace weir::components::mqtt_input {

// ---- DeliveryLog ----

namespace {
constexpr std::uint64_t reserve_block = 65536;
// Released QoS 2 entries kept: half the packet id space. A broker that numbers its messages in
// turn (mosquitto does) uses an id again only after 65,535 others, so a released entry is gone
// before a new message could be taken for it; mosquitto 2.0.11 restarted was seen sending 4,400
// messages again, more than 1,300 of them already released.
constexpr std::size_t released_max = 32768;
}  // namespace

DeliveryLog::~DeliveryLog() {
  if (fd_ >= 0) ::close(fd_);
}

std::string DeliveryLog::open(const std::string& path, const std::string& client_id) {
  path_ = path;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return "cannot create " + std::filesystem::path(path).parent_path().string() + ": " + ec.message();
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string op;
    l >> op;
    unsigned id = 0;
    std::string hash;
    std::uint64_t pos = 0, run = 0;
    if (op == "e" && l >> epoch_) {
    } else if (op == "g" && l >> run) {
      run_ = std::max(run_, run + 1);  // this run is the next one
    } else if (op == "r" && l >> pos) {
      reserved_ = std::max(reserved_, pos);
    } else if (op == "+" && l >> id >> hash >> pos >> run && id > 0 && id <= 0xFFFF && hash.size() == 16) {
      if (hash.find_first_not_of("0123456789abcdef") != std::string::npos) continue;
      ids_[static_cast<std::uint16_t>(id)] = Entry{std::stoull(hash, nullptr, 16), pos, run};
      run_ = std::max(run_, run + 1);
      next_ = std::max(next_, pos + 1);
    } else if (op == "-" && l >> id) {
      ids_.erase(static_cast<std::uint16_t>(id));
    } else if (op == "x" && l >> id) {
      if (auto it = ids_.find(static_cast<std::uint16_t>(id)); it != ids_.end())
        mark_released(it->first, it->second);
    }
    // Anything else is a line torn by a kill: what it stood for was not pushed yet.
  }
  // Positions handed out before may have been lost with the last lines (a power cut): start
  // above the last reservation.
  next_ = std::max(next_, reserved_ + 1);
  if (epoch_.empty()) {
    std::random_device rd;
    epoch_ = core::hex64((static_cast<std::uint64_t>(rd()) << 32) | rd());
  }
  base_ = "mqtt:" + client_id + ":" + epoch_;
  for (char& c : base_)
    if (c == ' ') c = '_';  // a source key holds no space
  if (auto e = rewrite(); !e.empty()) return e;
  return fd_ < 0 ? "cannot write " + path + ": " + std::strerror(errno) : std::string();
}

DeliveryLog::At DeliveryLog::arrive(std::uint16_t id, std::uint64_t hash) {
  const auto pos = next_++;
  if (pos > reserved_) reserve();
  ids_[id] = Entry{hash, pos, run_};
  append("+ " + std::to_string(id) + " " + core::hex64(hash) + " " + std::to_string(pos) + " " +
         std::to_string(run_) + "\n");
  return {run_, pos};
}

DeliveryLog::At DeliveryLog::find(std::uint16_t id, std::uint64_t hash) const {
  auto it = ids_.find(id);
  if (it == ids_.end() || it->second.hash != hash) return {};
  return {it->second.run, it->second.pos};
}

void DeliveryLog::remove(std::uint16_t id) {
  if (ids_.erase(id) == 0) return;
  append("- " + std::to_string(id) + "\n");
}

void DeliveryLog::release(std::uint16_t id) {
  auto it = ids_.find(id);
  if (it == ids_.end() || it->second.released) return;
  mark_released(id, it->second);
  append("x " + std::to_string(id) + "\n");
  while (released_.size() > released_max) {
    const auto [old, pos] = released_.front();
    released_.pop_front();
    if (stands(old, pos)) remove(old);
  }
}

bool DeliveryLog::stands(std::uint16_t id, std::uint64_t pos) const {
  // A new message may have taken the id since it was released.
  auto it = ids_.find(id);
  return it != ids_.end() && it->second.released && it->second.pos == pos;
}

void DeliveryLog::mark_released(std::uint16_t id, Entry& e) {
  e.released = true;
  released_.emplace_back(id, e.pos);
}

std::size_t DeliveryLog::size() const {
  std::size_t n = 0;
  for (const auto& [id, e] : ids_) n += e.released ? 0 : 1;
  return n;
}

void DeliveryLog::clear() {
  ids_.clear();
  released_.clear();
  (void)rewrite();
}

void DeliveryLog::reserve() {
  reserved_ = next_ - 1 + reserve_block;
  append("r " + std::to_string(reserved_) + "\n");
  if (fd_ >= 0) ::fsync(fd_);
}

void DeliveryLog::append(const std::string& line) {
  if (fd_ < 0) return;
  // One write per line: a process killed mid-way leaves at most a torn last line, which open()
  // ignores (the message it stood for was not pushed yet).
  if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return;
  if (++lines_ > 4 * ids_.size() + 4096) (void)rewrite();  // compacted when much longer than its content
}

std::string DeliveryLog::rewrite() {
  if (path_.empty()) return {};
  std::string text = "e " + epoch_ + "\ng " + std::to_string(run_) + "\nr " +
                     std::to_string(std::max(reserved_, next_ - 1)) + "\n";
  for (const auto& [id, e] : ids_)
    text += "+ " + std::to_string(id) + " " + core::hex64(e.hash) + " " + std::to_string(e.pos) + " " +
            std::to_string(e.run) + "\n";
  // Released entries oldest first, so that a reload keeps the order they leave in.
  std::deque<std::pair<std::uint16_t, std::uint64_t>> kept;
  for (const auto& [id, pos] : released_)
    if (stands(id, pos)) {
      text += "x " + std::to_string(id) + "\n";
      kept.emplace_back(id, pos);
    }
  // The new file is complete on disk before it replaces the old one (a kill or a power cut
  // leaves the old or the new).
  std::string error;
  if (!store::write_file_atomically(path_, text, &error)) return error;  // appends go on to the old file
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  reserved_ = std::max(reserved_, next_ - 1);
  lines_ = ids_.size() + kept.size() + 3;
  released_.swap(kept);
  return {};
}

namespace {

using namespace std::chrono_literals;

// Messages taken from the broker and not yet handed to the flow: past either bound, reading
// stops (the broker holds the rest) until run() took them.
constexpr std::size_t queue_max_messages = 4096;
constexpr std::size_t queue_max_bytes = 16u << 20;
// With a linger: a queue this long is stored at once.
constexpr std::size_t linger_batch = 512;

std::uint64_t message_hash(const mqtt::Publish& p) {
  return core::fnv1a64(p.payload, core::fnv1a64(std::string_view(p.topic.data(), p.topic.size() + 1)));
}

// A QoS 1/2 message between its arrival and the end of its exchange with the broker.
struct Held {
  std::uint64_t hash = 0;
  std::uint64_t serial = 0;  // tells a callback whether this is still its message
  std::uint8_t qos = 1;
  bool stored = false;  // the flow holds it: PUBACK / PUBREC may go out (again)
};

struct Arrival {
  mqtt::Publish pub;
  std::uint64_t serial = 0;  // 0: QoS 0, nothing to acknowledge
  DeliveryLog::At at;        // its run and position in the log (pos 0: QoS 0, none)
};

// What the client's I/O thread, run() and the engine's durable callbacks share. Callbacks may run
// after the component is gone, so they hold it by shared_ptr.
struct Shared {
  explicit Shared(sdk::Log log) : log(std::move(log)) {}
  sdk::Log log;
  std::unique_ptr<mqtt::Client> client;
  mqtt::Version version = mqtt::Version::v311;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Arrival> queue;
  std::size_t queued_bytes = 0;
  bool paused = false;
  std::unordered_map<std::uint16_t, Held> held;
  std::uint64_t serial = 0;
  DeliveryLog log_file;

  std::atomic<std::uint64_t> received{0}, resent{0}, acked{0}, session_lost{0};

  bool send_ack(mqtt::Type type, std::uint16_t id, std::uint64_t conn) {
    std::string bytes;
    mqtt::encode(bytes, mqtt::Ack{type, id, 0}, version);
    if (!client->send(conn, std::move(bytes))) return false;
    if (type != mqtt::Type::pubcomp) acked.fetch_add(1);
    return true;
  }

  // A QoS 1 message is done once its PUBACK went out: the broker may use its id for a new
  // message from then on, which must not be taken for a resend of this one. (A PUBACK lost with
  // the link makes the broker send the message again, as a new one: stored twice, at least once.)
  void puback(std::unordered_map<std::uint16_t, Held>::iterator it, std::uint64_t conn) {
    if (!send_ack(mqtt::Type::puback, it->first, conn)) return;  // no link: kept for the resend
    log_file.remove(it->first);
    held.erase(it);
  }

  // I/O thread.
  void on_publish(std::uint64_t conn, mqtt::Publish&& p) {
    std::unique_lock lock(mu);
    received.fetch_add(1);
    std::uint64_t serial_of = 0;
    DeliveryLog::At position;
    if (p.qos > 0) {
      const auto hash = message_hash(p);
      auto it = held.find(p.packet_id);
      // A PUBLISH sent again (DUP set) for a message held here: acknowledged once stored, never
      // handed to the flow twice. Without DUP it is a new message, whatever the id was before.
      if (it != held.end() && p.dup && it->second.hash == hash) {
        resent.fetch_add(1);
        if (it->second.stored && p.qos == 2) send_ack(mqtt::Type::pubrec, p.packet_id, conn);
        if (it->second.stored && p.qos == 1) puback(it, conn);
        return;
      }
      // A message the run before took: its position, so that the flow stores it once. Any other
      // (DUP or not) is noted with the next position before it goes to the flow.
      if (p.dup) position = log_file.find(p.packet_id, hash);
      if (position.pos != 0)
        resent.fetch_add(1);
      else
        position = log_file.arrive(p.packet_id, hash);
      serial_of = ++serial;
      held[p.packet_id] = Held{hash, serial_of, p.qos, false};
    }
    queued_bytes += p.payload.size() + p.topic.size();
    queue.push_back({std::move(p), serial_of, position});
    if (!paused && (queue.size() >= queue_max_messages || queued_bytes >= queue_max_bytes)) {
      paused = true;
      client->pause_reading(true);
    }
    lock.unlock();
    cv.notify_one();
  }

  // I/O thread: the broker releases a QoS 2 message; it is done once PUBCOMP goes out.
  void on_ack(std::uint64_t conn, const mqtt::Ack& a) {
    if (a.type != mqtt::Type::pubrel) return;
    std::lock_guard lock(mu);
    auto it = held.find(a.packet_id);
    if (it != held.end() && !it->second.stored) return;  // PUBREL before our PUBREC: not ours to complete
    if (it != held.end()) held.erase(it);
    log_file.release(a.packet_id);
    send_ack(mqtt::Type::pubcomp, a.packet_id, conn);
  }

  // I/O thread.
  void on_connected(bool session_present) {
    if (session_present) return;  // the broker sends again what it has not seen acknowledged
    std::lock_guard lock(mu);
    if (!held.empty() || log_file.size() > 0) {
      session_lost.fetch_add(1);
      log.warn(
          "the broker did not keep the session: {} messages it had not seen acknowledged are its to lose "
          "(those already here are still stored)",
          held.size());
    }
    held.clear();
    log_file.clear();
  }

  // An engine thread: the flow stored the message.
  void durable(std::uint16_t id, std::uint64_t serial_of) {
    std::lock_guard lock(mu);
    auto it = held.find(id);
    if (it == held.end() || it->second.serial != serial_of) return;  // its session is gone
    it->second.stored = true;
    if (it->second.qos == 2)
      send_ack(mqtt::Type::pubrec, id, client->connection());
    else
      puback(it, client->connection());
  }
};

class MqttInput final : public sdk::Input {
 public:
  MqttInput(const Config& config, const sdk::Context& ctx) : config_(config), ctx_(ctx) {}

  ~MqttInput() override { stop(); }

  sdk::Status start() override {
    auto options = mqtt::client_options(config_, ctx_);
    for (const auto& t : config_.topics)
      options.subscriptions.emplace_back(t, static_cast<std::uint8_t>(config_.qos));
    if (const auto path = subscribed_path(options.connect.client_id);
        !path.empty() && !config_.clean_session) {
      std::ifstream in(path);
      const std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      options.subscribed_before = before == subscriptions_text();
    }
    shared_ = std::make_shared<Shared>(ctx_.log);
    shared_->version = options.connect.version;
    if (config_.qos > 0) {
      if (ctx_.data_dir.empty())
        return sdk::Status::error("QoS 1 and 2 need the engine's data dir (none is set)");
      const auto path = ctx_.data_dir / "mqtt_input" / (options.connect.client_id + ".deliveries");
      if (auto e = shared_->log_file.open(path.string(), options.connect.client_id); !e.empty())
        return sdk::Status::error(e);
    }
    std::weak_ptr<Shared> weak = shared_;
    mqtt::Client::Handlers h;
    h.publish = [weak](std::uint64_t conn, mqtt::Publish&& p) {
      if (auto s = weak.lock()) s->on_publish(conn, std::move(p));
    };
    h.ack = [weak](std::uint64_t conn, const mqtt::Ack& a) {
      if (auto s = weak.lock()) s->on_ack(conn, a);
    };
    h.connected = [weak](std::uint64_t, bool session_present, const mqtt::ConnAck&) {
      if (auto s = weak.lock()) s->on_connected(session_present);
    };
    // Remembered, so that a kept session is not subscribed again (its retained messages would
    // come again).
    h.subscribed = [path = subscribed_path(options.connect.client_id),
                    text = subscriptions_text()](std::uint64_t) {
      if (path.empty()) return;
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
      std::ofstream(path, std::ios::trunc) << text;
    };
    // Logged before the client's thread exists: its first line and this one do not race for
    // spdlog's default logger.
    ctx_.log.info("subscribing to {} at {} (QoS {}, {} session)", fmt::join(config_.topics, ", "),
                  config_.url, config_.qos, config_.clean_session ? "clean" : "persistent");
    shared_->client = std::make_unique<mqtt::Client>(std::move(options), std::move(h));
    if (auto e = shared_->client->start()) return sdk::Status::error(*e);
    return sdk::Status::ok();
  }

  void run(sdk::InputSink& sink) override {
    std::deque<Arrival> batch;
    while (!sink.stopping()) {
      {
        std::unique_lock lock(shared_->mu);
        shared_->cv.wait_for(lock, 200ms, [&] { return !shared_->queue.empty(); });
        // With a linger, more messages may join the first one's batch: until the linger passed,
        // or no more can come (the broker's window of unacknowledged messages is full), or the
        // queue holds a full batch.
        if (config_.linger.count() > 0 && !shared_->queue.empty()) {
          const auto until = std::chrono::steady_clock::now() + config_.linger;
          shared_->cv.wait_until(lock, until, [&] {
            return shared_->queue.size() >= linger_batch ||
                   (config_.qos > 0 &&
                    shared_->held.size() >= static_cast<std::size_t>(config_.max_inflight)) ||
                   sink.stopping();
          });
        }
        batch.swap(shared_->queue);
        shared_->queued_bytes = 0;
        if (shared_->paused) {
          shared_->paused = false;
          shared_->client->pause_reading(false);
        }
      }
      for (auto& a : batch)
        if (!deliver(sink, a)) return;
      if (!batch.empty()) sink.flush();
      batch.clear();
    }
  }

  void stop() override {
    if (shared_ && shared_->client) shared_->client->stop();
  }

  // Where the subscriptions made under a client id are kept ("" without a data dir).
  std::string subscribed_path(const std::string& client_id) const {
    return ctx_.data_dir.empty() ? std::string()
                                 : (ctx_.data_dir / "mqtt_input" / (client_id + ".subscribed")).string();
  }
  std::string subscriptions_text() const {
    std::string t = "qos " + std::to_string(config_.qos) + "\n";
    for (const auto& f : config_.topics) t += f + "\n";
    return t;
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    if (!shared_ || !shared_->client) return;
    const auto& c = *shared_->client;
    out.push_back({"link_up", c.ready() ? 1.0 : 0.0, true, "1 while connected to the broker and subscribed"});
    out.push_back({"connects", static_cast<double>(c.connects()), false, "connections the broker accepted"});
    out.push_back({"disconnects", static_cast<double>(c.disconnects()), false, "connections lost"});
    out.push_back({"messages_received", static_cast<double>(shared_->received.load()), false,
                   "PUBLISH packets received, resent ones included"});
    out.push_back({"messages_resent", static_cast<double>(shared_->resent.load()), false,
                   "PUBLISH packets the broker sent again for a message already here (not stored twice)"});
    out.push_back({"messages_acked", static_cast<double>(shared_->acked.load()), false,
                   "PUBACK / PUBREC sent once the flow stored the message"});
    out.push_back(
        {"sessions_lost", static_cast<double>(shared_->session_lost.load()), false,
         "connections where the broker had not kept the session while messages were unacknowledged"});
  }

 private:
  bool deliver(sdk::InputSink& sink, Arrival& a) {
    std::function<void()> on_durable;
    if (a.serial != 0)
      on_durable = [s = shared_, id = a.pub.packet_id, serial = a.serial] { s->durable(id, serial); };
    std::string reason;
    boost::json::value value;
    if (!parser_.payload(a.pub.payload, config_.content == Content::text, value, reason))
      return sink.fail({{}, with_topic(sdk::raw_record_value(a.pub.payload, reason), a.pub.topic)}, reason,
                       std::move(on_durable));
    sdk::Record rec{{}, with_topic(std::move(value), a.pub.topic)};
    if (a.at.pos == 0) return sink.push(std::move(rec), std::move(on_durable));
    const std::string source = shared_->log_file.source(a.at.run);
    return sink.push_at(sdk::Position{source, a.at.pos}, std::move(rec), std::move(on_durable));
  }

  // The topic at `topic_field` of an object record; any other record is wrapped first as
  // {"payload": <record>}.
  boost::json::value with_topic(boost::json::value v, const std::string& topic) const {
    if (config_.topic_field.empty()) return v;
    if (!v.is_object()) {
      boost::json::object o;
      o["payload"] = std::move(v);
      v = std::move(o);
    }
    v.get_object()[config_.topic_field] = topic;
    return v;
  }

  Config config_;
  sdk::Context ctx_;
  std::shared_ptr<Shared> shared_;
  sdk::RecordParser parser_;
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"mqtt_input"};
  s.summary(
       "Subscribes to MQTT topics (3.1.1 or 5) and stores each message as a record; acknowledged to the "
       "broker "
       "only once stored.")
      .description(
          "Each message becomes one record (its payload as JSON, or as a string with `content: text`). With "
          "QoS 1 "
          "or 2 and a persistent session (the default), the PUBACK (QoS 1) or PUBREC (QoS 2) goes to the "
          "broker only "
          "after the flow's stream stored the record, so an engine killed at any moment loses nothing: the "
          "broker "
          "sends again what it has not seen acknowledged. QoS 1: a message stored but not yet acknowledged "
          "when "
          "the engine is killed is stored again (at least once). QoS 2: such a message is recognised by its "
          "packet "
          "id and content and stored once (see the README for the remaining window). QoS 0 is at most once. "
          "A payload that is not JSON goes to `error`.");
  mqtt::add_connection_fields(
      s,
      "Maximum QoS of the subscriptions: 0 at most once, 1 at least once, 2 exactly once "
      "into the flow (README).");
  s.field("topics", &Config::topics,
          field()
              .required()
              .doc("Topic filters to subscribe to; `+` matches one level, `#` the rest.")
              .example(boost::json::parse(R"(["sensors/+/temperature", "plant/line1/#"])")))
      .field("content", &Config::content,
             field()
                 .doc("How a payload becomes a record.")
                 .option("json", Content::json,
                         "Parse the payload as JSON; one that does not parse goes to `error`.")
                 .option("text", Content::text, "Take the payload as a JSON string (UTF-8 only)."))
      .field("linger", &Config::linger,
             field()
                 .duration_range(0ms, 1s)
                 .advanced()
                 .doc("How long the input waits after a message for more to store with it as one batch (at "
                      "most 512, or until the broker's window of unacknowledged messages, `max_inflight`, is "
                      "full). 0: what has arrived is stored at once (lowest latency). At high rates a few "
                      "milliseconds make batches larger and cost less CPU per message; every message waits "
                      "up to that much longer.")
                 .example("5ms"))
      .field("topic_field", &Config::topic_field,
             field()
                 .doc("Puts the message's topic into the record at this key; a record that is not an object "
                      "becomes {\"payload\": <record>} first. Empty: the topic is not kept.")
                 .example("topic"))
      .lint([](const Config& c, sdk::Lint& lint) {
        if (c.topics.empty()) lint.error("topics", "invalid_value", "at least one topic filter is needed");
        for (std::size_t i = 0; i < c.topics.size(); ++i) {
          std::string error;
          if (!mqtt::valid_topic_filter(c.topics[i], error))
            lint.error("topics", "invalid_value",
                       "topics[" + std::to_string(i) + "] \"" + c.topics[i] + "\": " + error);
        }
      })
      .output("out", "One record per message.")
      .example(boost::json::parse(R"({"id": "plant", "type": "mqtt_input",
          "config": {"url": "mqtt://127.0.0.1:1883", "topics": ["sensors/#"], "qos": 2, "topic_field": "topic"}})"))
      .implementation<MqttInput>();
  return s;
}

}  // namespace weir::components::mqtt_input
