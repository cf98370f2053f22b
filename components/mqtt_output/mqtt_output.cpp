#include "mqtt_output/mqtt_output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "sdk/base/json_write.hpp"
#include "sdk/expr/expr.hpp"
#include "store/atomic_file.hpp"

namespace weir::components::mqtt_output {

// ---- Progress ----
//
// File lines: "B <batch> <records> <position> <source>" starts a batch (one per upstream
// source: an output with several inputs has a batch in progress per input); "P <batch> <index>
// <id>" published; "R <batch> <index>" PUBREC'd; "C <batch> <index>" confirmed; "D <position>
// <source>" that source's batches up to there are written whole; "X <id>" an id a batch left
// with the broker unconfirmed.

Progress::~Progress() {
  if (fd_ >= 0) ::close(fd_);
}

std::string Progress::open(const std::string& path) {
  path_ = path;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return "cannot create " + std::filesystem::path(path).parent_path().string() + ": " + ec.message();
  std::ifstream in(path);
  std::map<std::uint64_t, std::string> handles;  // batch number in the file -> source
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    char op = 0;
    l >> op;
    std::uint64_t h = 0, a = 0, b = 0;
    auto slot = [&](std::uint64_t handle, std::uint64_t index) -> Slot* {
      auto it = handles.find(handle);
      if (it == handles.end()) return nullptr;
      auto& slots = batches_[it->second].slots;
      return index < slots.size() ? &slots[index] : nullptr;
    };
    if (op == 'B' && l >> h >> a >> b && a <= 1'000'000) {
      std::string source;
      l.get();
      std::getline(l, source);
      handles[h] = source;
      // A later batch of the same source: what the earlier one left with the broker stays reserved.
      if (auto old = batches_.find(source); old != batches_.end())
        for (const auto& sl : old->second.slots)
          if (sl.state == State::published || sl.state == State::released) reserved_.insert(sl.id);
      batches_[source] = Batch{h, b, std::vector<Slot>(a)};
      next_handle_ = std::max(next_handle_, h + 1);
    } else if (op == 'P' && l >> h >> a >> b && b > 0 && b <= 0xFFFF) {
      if (auto* s = slot(h, a)) *s = Slot{State::published, static_cast<std::uint16_t>(b)};
    } else if (op == 'R' && l >> h >> a) {
      if (auto* s = slot(h, a)) s->state = State::released;
    } else if (op == 'C' && l >> h >> a) {
      if (auto* s = slot(h, a)) s->state = State::done;
    } else if (op == 'F' && l >> h >> a >> b && b <= 0xFF) {
      if (auto* s = slot(h, a)) *s = Slot{State::refused, s->id, static_cast<std::uint8_t>(b)};
    } else if (op == 'X' && l >> b && b > 0 && b <= 0xFFFF) {
      reserved_.insert(static_cast<std::uint16_t>(b));
    } else if (op == 'D' && l >> b) {
      std::string source;
      l.get();
      std::getline(l, source);
      auto& high = completed_[source];
      high = std::max(high, b);
    }
    // Anything else is a line torn by a kill: what it stood for had not gone out yet.
  }
  for (const auto& [source, batch] : batches_)
    for (const auto& s : batch.slots)
      if (s.state == State::published || s.state == State::released) busy_.insert(s.id);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  return fd_ < 0 ? "cannot write " + path + ": " + std::strerror(errno) : std::string();
}

bool Progress::begin(const std::string& source, std::uint64_t position, std::size_t records) {
  if (!source.empty()) {
    auto it = completed_.find(source);
    if (it != completed_.end() && position <= it->second) return false;
  }
  auto& batch = batches_[source];
  current_ = &batch;
  if (!source.empty() && batch.position == position && batch.slots.size() == records && batch.handle != 0)
    return true;  // the batch in progress for this source, delivered again
  // A new batch for this source: what its previous one left with the broker stays reserved.
  for (const auto& s : batch.slots)
    if (s.state == State::published || s.state == State::released) reserved_.insert(s.id);
  batch = Batch{next_handle_++, position, std::vector<Slot>(records)};
  // Appended: at low rates every batch is a record or two, and a rewrite per batch would cost
  // more than the publish. The file is rewritten (compacted) once it grew long.
  if (appended_ > 64 * 1024) {
    rewrite();
  } else {
    append("B " + std::to_string(batch.handle) + " " + std::to_string(records) + " " +
           std::to_string(position) + " " + source + "\n");
  }
  return true;
}

void Progress::rewrite() {
  if (path_.empty()) return;
  // The file starts over with what is still true (atomically: a kill leaves the old or the new).
  std::string text;
  for (auto id : reserved_) text += "X " + std::to_string(id) + "\n";
  for (const auto& [s, high] : completed_) text += "D " + std::to_string(high) + " " + s + "\n";
  for (const auto& [source, b] : batches_) {
    text += "B " + std::to_string(b.handle) + " " + std::to_string(b.slots.size()) + " " +
            std::to_string(b.position) + " " + source + "\n";
    for (std::size_t i = 0; i < b.slots.size(); ++i) {
      const auto& sl = b.slots[i];
      const std::string head = std::to_string(b.handle) + " " + std::to_string(i);
      if (sl.state == State::none) continue;
      text += "P " + head + " " + std::to_string(sl.id) + "\n";
      if (sl.state == State::released) text += "R " + head + "\n";
      if (sl.state == State::done) text += "C " + head + "\n";
      if (sl.state == State::refused) text += "F " + head + " " + std::to_string(sl.code) + "\n";
    }
  }
  std::string error;
  if (!store::write_file_atomically(path_, text, &error)) return;  // appends go on to the old file
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  appended_ = 0;
}

void Progress::complete() {
  if (current_ == nullptr) return;
  std::string source;
  for (auto it = batches_.begin(); it != batches_.end(); ++it)
    if (&it->second == current_) {
      source = it->first;
      const auto position = it->second.position;
      batches_.erase(it);
      current_ = nullptr;
      if (source.empty()) return;
      auto& high = completed_[source];
      high = std::max(high, position);
      append("D " + std::to_string(position) + " " + source + "\n");
      return;
    }
}

void Progress::published(const std::vector<std::pair<std::size_t, std::uint16_t>>& sent) {
  std::string text;
  for (auto [i, id] : sent) {
    current_->slots[i] = Slot{State::published, id};
    busy_.insert(id);
    text +=
        "P " + std::to_string(current_->handle) + " " + std::to_string(i) + " " + std::to_string(id) + "\n";
  }
  append(text);
}

void Progress::released(std::size_t index) {
  current_->slots[index].state = State::released;
  append("R " + std::to_string(current_->handle) + " " + std::to_string(index) + "\n");
}

void Progress::refused(std::size_t index, std::uint8_t code) {
  auto& sl = current_->slots[index];
  sl.state = State::refused;
  sl.code = code;
  busy_.erase(sl.id);
  append("F " + std::to_string(current_->handle) + " " + std::to_string(index) + " " + std::to_string(code) +
         "\n");
}

void Progress::session_lost() {
  reserved_.clear();
}

void Progress::done(std::size_t index) {
  auto& sl = current_->slots[index];
  sl.state = State::done;
  busy_.erase(sl.id);
  append("C " + std::to_string(current_->handle) + " " + std::to_string(index) + "\n");
}

void Progress::append(const std::string& text) {
  if (fd_ < 0 || text.empty()) return;
  if (::write(fd_, text.data(), text.size()) > 0) appended_ += text.size();
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class MqttOutput final : public sdk::Output {
 public:
  MqttOutput(const Config& config, const sdk::Context& ctx) : config_(config), ctx_(ctx) {}
  ~MqttOutput() override { stop(); }

  sdk::Status start() override {
    auto options = mqtt::client_options(config_, ctx_);
    version_ = options.connect.version;
    if (config_.qos > 0 && !ctx_.data_dir.empty()) {
      const auto path = ctx_.data_dir / "mqtt_output" / (options.connect.client_id + ".progress");
      if (auto e = progress_.open(path.string()); !e.empty()) return sdk::Status::error(e);
    }
    mqtt::Client::Handlers h;
    h.connected = [this](std::uint64_t conn, bool session_present, const mqtt::ConnAck& a) {
      on_connected(conn, session_present, a);
    };
    h.disconnected = [this](std::uint64_t) {
      std::lock_guard lock(mu_);
      live_ = 0;
    };
    h.ack = [this](std::uint64_t conn, const mqtt::Ack& a) { on_ack(conn, a); };
    // Logged before the client's thread exists: its first line and this one do not race for
    // spdlog's default logger.
    ctx_.log.info("publishing to {} (QoS {}{})", config_.url, config_.qos,
                  config_.topic.empty() ? ", topic per record" : ", topic " + config_.topic);
    client_ = std::make_unique<mqtt::Client>(std::move(options), std::move(h));
    if (auto e = client_->start()) return sdk::Status::error(*e);
    return sdk::Status::ok();
  }

  void stop() override {
    if (client_) client_->stop();
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  // A write waiting for confirmations ends at once; the client stays until stop().
  void interrupt() override {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }

  sdk::Status write(std::span<const sdk::Record> records, sdk::Rejects& rejects) override {
    return write_at(sdk::Position{}, records, rejects);
  }

  sdk::Status write_at(const sdk::Position& at, std::span<const sdk::Record> records,
                       sdk::Rejects& rejects) override {
    std::unique_lock lock(mu_);
    records_ = &records;
    if (!progress_.begin(std::string(at.source), at.seq, records.size())) {
      skipped_.fetch_add(records.size());
      return sdk::Status::ok();  // written whole before (its upstream ack was lost with a crash)
    }
    auto& slots = progress_.slots();
    // What a batch delivered again finds: confirmed records are skipped; a PUBREC'd one only
    // needs its PUBREL; a published one goes out again with DUP and its id.
    ids_.clear();
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (slots[i].state == Progress::State::published || slots[i].state == Progress::State::released)
        ids_[slots[i].id] = i;
    resume_ = true;
    std::string topic, payload;
    std::size_t next = 0;
    auto deadline = Clock::now() + config_.ack_timeout;
    for (;;) {
      if (stopping_) return sdk::Status::error("stopping");
      // The connection as on_connected saw it: its session state is known for it.
      const auto conn = live_;
      if (conn != 0 && resume_) resend(conn, slots);
      // New publishes while the window has room.
      std::string bytes;
      std::vector<std::pair<std::size_t, std::uint16_t>> sent;
      while (conn != 0 && next < records.size() && ids_.size() < window_) {
        const std::size_t i = next++;
        if (slots[i].state != Progress::State::none) continue;
        std::string why;
        if (!render(records[i], topic, payload, why)) {
          rejects.add(i, why);  // left as it is: a write of this batch again reports it again
          continue;
        }
        mqtt::Publish p{topic, payload, static_cast<std::uint8_t>(config_.qos), config_.retain, false, 0};
        if (p.qos > 0) {
          p.packet_id = next_id();
          if (p.packet_id == 0) {
            --next;
            break;  // no free id now: wait for confirmations
          }
          ids_[p.packet_id] = i;
          sent.emplace_back(i, p.packet_id);
        } else {
          slots[i].state = Progress::State::done;
        }
        mqtt::encode(bytes, p, version_);
      }
      if (!sent.empty()) progress_.published(sent);
      const bool wrote = !bytes.empty();
      if (wrote && !client_->send(conn, std::move(bytes))) resume_ = true;  // lost with the link
      // QoS 0 has no confirmations to wait for: a backlog past 4 MiB in front of the socket is
      // the backpressure instead.
      while (config_.qos == 0 && client_->backlog() > (4u << 20) && !stopping_ && live_ != 0)
        cv_.wait_for(lock, 10ms);
      if (wrote) deadline = Clock::now() + config_.ack_timeout;
      if (next >= records.size() && ids_.empty()) break;
      if (Clock::now() >= deadline)
        return sdk::Status::error(
            std::to_string(ids_.size() + records.size() - next) + " of " + std::to_string(records.size()) +
            " records not confirmed by the broker within " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(config_.ack_timeout).count()) +
            " s (" + (live_ != 0 ? "connected" : "not connected") + ")");
      cv_.wait_until(lock, std::min(deadline, Clock::now() + 100ms));
    }
    // What the broker refused is kept with the batch, so every write of it reports it.
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (slots[i].state == Progress::State::refused)
        rejects.add(i, "the broker refused the message: " + mqtt::connack_text(slots[i].code, version_));
    if (config_.qos > 0) progress_.complete();
    return sdk::Status::ok();
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    if (!client_) return;
    out.push_back(
        {"link_up", client_->connection() != 0 ? 1.0 : 0.0, true, "1 while connected to the broker"});
    out.push_back(
        {"connects", static_cast<double>(client_->connects()), false, "connections the broker accepted"});
    out.push_back({"disconnects", static_cast<double>(client_->disconnects()), false, "connections lost"});
    out.push_back({"messages_resent", static_cast<double>(resent_.load()), false,
                   "PUBLISH / PUBREL sent again after a reconnect or a restart"});
    out.push_back(
        {"records_skipped", static_cast<double>(skipped_.load()), false,
         "records of batches delivered again that the broker had confirmed whole (not published twice)"});
  }

 private:
  bool render(const sdk::Record& r, std::string& topic, std::string& payload, std::string& why) const {
    if (config_.topic_expr.program) {
      boost::json::value v;
      sdk::expr::EvalError err;
      if (!config_.topic_expr.program->eval(r.value, v, err)) {
        why = "topic_expr: " + err.message;
        return false;
      }
      if (!v.is_string()) {
        why = "topic_expr gave " + sdk::to_json(v) + ", not a string";
        return false;
      }
      topic.assign(v.get_string().data(), v.get_string().size());
      if (!mqtt::valid_topic_name(topic, why)) {
        why = "topic \"" + topic + "\": " + why;
        return false;
      }
    } else {
      topic = config_.topic;
    }
    payload.clear();
    sdk::write_json(payload, r.value);
    return true;
  }

  // A packet id no record of this batch holds and no earlier batch left with the broker.
  // 0 when every id is taken (the window is far smaller: only ids left with the broker by
  // batches that never completed can fill the space).
  std::uint16_t next_id() {
    for (int tries = 0; tries < 0xFFFF; ++tries) {
      id_ = static_cast<std::uint16_t>(id_ == 0xFFFF ? 1 : id_ + 1);
      if (!ids_.contains(id_) && !progress_.in_use(id_)) return id_;
    }
    return 0;
  }

  // After a (re)connection: what the broker has not confirmed goes again. With the session kept,
  // a PUBLISH with DUP and its id (the broker drops it if it has it) or the PUBREL; without it,
  // the broker forgot: PUBLISHes go again (QoS 2 may then deliver twice), PUBREC'd ones count as
  // delivered (the broker took them over with its PUBREC). Called with mu_ held.
  void resend(std::uint64_t conn, std::vector<Progress::Slot>& slots) {
    resume_ = false;
    if (ids_.empty()) return;
    std::string bytes;
    std::string topic, payload, why;
    for (auto it = ids_.begin(); it != ids_.end();) {
      const std::size_t i = it->second;
      if (slots[i].state == Progress::State::released && session_present_) {
        mqtt::encode(bytes, mqtt::Ack{mqtt::Type::pubrel, it->first, 0}, version_);
      } else if (render(current_records_view(i), topic, payload, why)) {
        // Without the session the broker forgot even what it PUBREC'd (mosquitto passes a QoS 2
        // message on at PUBREL): published again, as new.
        if (slots[i].state == Progress::State::released) progress_.published({{i, it->first}});
        mqtt::encode(bytes,
                     mqtt::Publish{topic, payload, static_cast<std::uint8_t>(config_.qos), config_.retain,
                                   session_present_, it->first},
                     version_);
      }
      resent_.fetch_add(1);
      ++it;
    }
    if (!client_->send(conn, std::move(bytes))) resume_ = true;
  }

  const sdk::Record& current_records_view(std::size_t i) const { return (*records_)[i]; }

  // I/O thread.
  void on_connected(std::uint64_t conn, bool session_present, const mqtt::ConnAck& a) {
    std::lock_guard lock(mu_);
    live_ = conn;
    session_present_ = session_present;
    if (!session_present) progress_.session_lost();
    window_ = std::min<std::size_t>(static_cast<std::size_t>(config_.max_inflight), a.receive_maximum);
    resume_ = true;
    cv_.notify_all();
  }

  // I/O thread.
  void on_ack(std::uint64_t conn, const mqtt::Ack& a) {
    std::lock_guard lock(mu_);
    auto it = ids_.find(a.packet_id);
    if (it == ids_.end()) {
      if (a.type == mqtt::Type::puback || a.type == mqtt::Type::pubcomp) progress_.release(a.packet_id);
      // A PUBREC for what is confirmed already (sent again after a reconnect): finish it.
      if (a.type == mqtt::Type::pubrec) {
        std::string bytes;
        mqtt::encode(bytes, mqtt::Ack{mqtt::Type::pubrel, a.packet_id, 0}, version_);
        client_->send(conn, std::move(bytes));
      }
      return;
    }
    const std::size_t i = it->second;
    auto& slot = progress_.slots()[i];
    if (a.reason >= 0x80) {  // MQTT 5: the broker refused this message for good
      progress_.refused(i, a.reason);
      ids_.erase(it);
    } else if (a.type == mqtt::Type::puback || a.type == mqtt::Type::pubcomp) {
      progress_.done(i);
      ids_.erase(it);
    } else if (a.type == mqtt::Type::pubrec) {
      if (slot.state != Progress::State::released) progress_.released(i);
      std::string bytes;
      mqtt::encode(bytes, mqtt::Ack{mqtt::Type::pubrel, a.packet_id, 0}, version_);
      client_->send(conn, std::move(bytes));
    }
    cv_.notify_all();
  }

  Config config_;
  sdk::Context ctx_;
  mqtt::Version version_ = mqtt::Version::v311;
  std::unique_ptr<mqtt::Client> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  Progress progress_;
  std::unordered_map<std::uint16_t, std::size_t> ids_;  // in flight: packet id -> index in the batch
  std::uint64_t live_ = 0;                              // the connection on_connected saw, 0 when down
  const std::span<const sdk::Record>* records_ = nullptr;
  std::uint16_t id_ = 0;
  std::size_t window_ = 1;
  bool session_present_ = false;
  bool resume_ = false;
  bool stopping_ = false;
  std::atomic<std::uint64_t> resent_{0};
  std::atomic<std::uint64_t> skipped_{0};
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"mqtt_output"};
  s.summary(
       "Publishes each record as JSON to an MQTT broker (3.1.1 or 5); a batch is acknowledged in the flow "
       "only "
       "once the broker confirmed every record.")
      .description(
          "Each record is published as its JSON text, to `topic` or to the topic `topic_expr` computes from "
          "it. With "
          "QoS 1 the batch is acknowledged upstream after every PUBACK, with QoS 2 after every PUBCOMP; a "
          "broker "
          "that does not confirm within `ack_timeout` makes the batch come again. What was published is "
          "noted in "
          "the engine's data dir before it goes out, so a batch delivered again after a crash skips what the "
          "broker confirmed and, with a persistent session, sends the rest with their packet ids (QoS 2: the "
          "broker drops what it has, so nothing is delivered twice). A record whose topic cannot be computed "
          "goes "
          "to `error`.");
  mqtt::add_connection_fields(
      s, "QoS of the publishes: 0 at most once, 1 at least once, 2 exactly once (README).");
  s.field("topic", &Config::topic, field().doc("The topic every record goes to.").example("weir/out"))
      .field("topic_expr", &Config::topic_expr,
             field()
                 .doc("An expression computing each record's topic (a string without wildcards), e.g. "
                      "`\"plant/\" + site + \"/temperature\"`. When set, `topic` is not used.")
                 .example("\"plant/\" + site + \"/temperature\""))
      .field("retain", &Config::retain,
             field().doc("Publish with the retain flag: the broker keeps the last one."))
      .field("ack_timeout", &Config::ack_timeout,
             field().duration_range(1s, 1h).doc("QoS 1 and 2: how long a batch waits for the broker's "
                                                "confirmations (from the last progress) before "
                                                "it fails and comes again."))
      .lint([](const Config& c, sdk::Lint& lint) {
        if (c.topic.empty() && c.topic_expr.source.empty())
          lint.error("topic", "missing_field", "set `topic`, or `topic_expr` for a topic per record");
        if (!c.topic.empty() && !c.topic_expr.source.empty())
          lint.warning("topic", "unused", "`topic_expr` is set: `topic` is not used", "remove one of them");
        std::string error;
        if (!c.topic.empty() && !mqtt::valid_topic_name(c.topic, error))
          lint.error("topic", "invalid_value", error);
      })
      .example(boost::json::parse(R"({"id": "uplink", "type": "mqtt_output", "inputs": ["readings"],
          "config": {"url": "mqtt://127.0.0.1:1883", "topic": "weir/readings", "qos": 1}})"))
      .implementation<MqttOutput>();
  return s;
}

}  // namespace weir::components::mqtt_output
