#include "websocket_input/websocket_input.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "common/websocket/frame.hpp"
#include "common/websocket/link.hpp"
#include "common/websocket/rate_limit.hpp"
#include "sdk/base/record_json.hpp"
#include "sdk/nats.hpp"

namespace weir::components::websocket_input {

namespace {

using namespace std::chrono_literals;

// Raw clients get no acknowledgement and so no window: frames beyond this many waiting are
// dropped (counted, logged) rather than held without bound.
constexpr std::size_t raw_queue_limit = 10000;

// What the io thread hands the input's thread.
struct Work {
  ws::ConnId conn = 0;
  bool raw = false;
  // bridge
  std::uint64_t seq = 0;
  sdk::Batch batch;
  // raw
  std::string payload;
};

class WebsocketInput final : public sdk::Input {
 public:
  WebsocketInput(const Config& config, const sdk::Context& ctx) : config_(config), ctx_(ctx) {}
  ~WebsocketInput() override { stop(); }

  sdk::Status start() override {
    if (auto st = ws::resolve_site(config_, ctx_, site_); !st) return st;
    if (ctx_.nats)
      max_payload_ = static_cast<std::size_t>(std::max<std::int64_t>(0, ctx_.nats->max_payload()));
    ws::Handlers h;
    h.on_open = [this](ws::ConnId c, bool bridge, const std::string& peer) { on_open(c, bridge, peer); };
    h.on_message = [this](ws::ConnId c, std::string&& m, bool binary) {
      on_message(c, std::move(m), binary);
    };
    h.on_close = [this](ws::ConnId c, int code, const std::string& reason) { on_close(c, code, reason); };
    h.on_connect_failed = [this](const std::string& reason) {
      if (!dial_failures_.should_log(reason)) return;
      ctx_.log.warn("cannot reach {}: {}; retrying with backoff", config_.url, reason);
    };
    return ws::start_endpoint(config_, ctx_, &site_, std::move(h), stats_, endpoint_);
  }

  void stop() override {
    if (!endpoint_) return;
    endpoint_->stop();
    endpoint_.reset();
  }

  void run(sdk::InputSink& sink) override {
    if (config_.durability == Durability::sync) {
      if (auto st = sink.set_durability(sdk::Durability::synced); st)
        synced_ = true;
      else
        ctx_.log.warn(
            "durability \"sync\" is off: {}. Batches are acknowledged after their PubAck only, so a power "
            "cut at this site can lose what the sender was told is stored",
            st.error());
    }
    std::deque<Work> work;
    while (!sink.stopping()) {
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, 100ms, [&] { return !queue_.empty(); });
        work.swap(queue_);
        raw_queued_ = 0;
      }
      if (work.empty()) continue;
      for (auto& w : work) {
        if (w.raw ? !take_raw(sink, w) : !take_batch(sink, w)) return;
      }
      work.clear();
      // Nothing more waits: publish now, so at low rates a frame is stored (and acked) at once.
      sink.flush();
    }
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    stats_.append(out);
    out.push_back({"raw_dropped", static_cast<double>(raw_dropped_.load()), false,
                   "raw client frames dropped because too many waited"});
    out.push_back({"durability_synced", synced_.load() ? 1.0 : 0.0, true,
                   "1 when batches are acknowledged only once on disk (durability \"sync\" in effect)"});
  }

 private:
  struct Peer {
    std::string name;  // address, for logs
    std::string site;  // from hello; empty until then
    // "<site>/<flow>/<component>/" of the sender, from hello: in front of every id it sends, so
    // that two sender flows (or two outputs of one flow) never collide here.
    std::string id_prefix;
    std::uint64_t next_seq = 1;
    std::uint64_t acked = 0;
    std::uint64_t window = 1;
    std::deque<std::pair<std::uint64_t, bool>> frames;  // seq, stored
  };

  bool take_batch(sdk::InputSink& sink, Work& w) {
    auto conn = w.conn;
    auto seq = w.seq;
    return sink.push_batch(std::move(w.batch), [this, conn, seq] {
      // The PubAck arrived (on the engine's thread): the ack goes out from the io thread.
      if (auto* e = endpoint_.get()) e->post([this, conn, seq] { stored(conn, seq); });
    });
  }

  bool take_raw(sdk::InputSink& sink, Work& w) {
    // A valid JSON frame on one line goes into the batch as it came.
    if (config_.content == Content::json && parser_.passes_as_line(w.payload))
      return sink.push_json(w.payload);
    std::string reason;
    boost::json::value value;
    if (parser_.payload(w.payload, config_.content == Content::text, value, reason))
      return sink.push(sdk::Record{{}, std::move(value)});
    return sink.fail(sdk::Record{{}, sdk::raw_record_value(w.payload, reason)}, reason);
  }

  void enqueue(Work&& w) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(w));
    }
    cv_.notify_one();
  }

  // ---- everything below runs on the endpoint's io thread ----

  void on_open(ws::ConnId c, bool bridge, const std::string& peer) {
    if (!bridge) {
      raw_.add(c, peer);
      return;
    }
    peers_[c].name = peer;  // the sender speaks first (hello)
  }

  void on_message(ws::ConnId c, std::string&& message, bool /*binary*/) {
    stats_.bytes_in += message.size();
    if (raw_.contains(c)) return on_raw(c, std::move(message));
    auto it = peers_.find(c);
    if (it == peers_.end()) return;
    auto& p = it->second;
    ws::Frame f;
    std::string error;
    if (!ws::decode_frame(message, f, error)) return protocol_error(c, p, error);
    if (f.type == ws::FrameType::hello) {
      if (!p.site.empty()) return protocol_error(c, p, "a second hello");
      if (!ws::valid_site_name(f.site)) return protocol_error(c, p, "invalid site name");
      if (!ws::valid_site_name(f.flow) || !ws::valid_site_name(f.component))
        return protocol_error(c, p, "invalid flow or component name");
      p.site = f.site;
      p.id_prefix = f.site + "/" + f.flow + "/" + f.component + "/";
      p.window = std::max<std::uint64_t>(1, std::min<std::uint64_t>(f.window, config_.window));
      endpoint_->send(c, ws::encode_welcome(site_.name, p.window, config_.max_frame_size.bytes), true);
      dial_failures_.link_up();
      stats_.ups++;
      stats_.up = true;
      ctx_.log.info("link up from site {} ({}/{}) at {}", f.site, f.flow, f.component, p.name);
      return;
    }
    if (p.site.empty()) return protocol_error(c, p, "data before hello");
    if (f.type == ws::FrameType::bye) {
      ctx_.log.info("site {} says goodbye: {}", p.site, f.reason);
      return;
    }
    if (f.type != ws::FrameType::data) return protocol_error(c, p, "unexpected frame");
    if (f.seq != p.next_seq) return protocol_error(c, p, "frame " + std::to_string(f.seq) + " out of order");
    if (p.frames.size() >= p.window) return protocol_error(c, p, "more frames than the window");
    p.next_seq++;
    p.frames.emplace_back(f.seq, false);
    Work w;
    w.conn = c;
    w.seq = f.seq;
    w.batch.id = p.id_prefix + f.batch;
    w.batch.records = f.records;
    // The sender's stream position, keyed by the sending consumer: what a replay repeats exactly.
    if (!f.source.empty()) {
      w.batch.source = p.id_prefix + f.source;
      w.batch.position = f.position;
    }
    if (!ws::rewrite_body(f.body, f.records, p.id_prefix, w.batch.body, error))
      return refuse(c, p, f.seq, error);
    if (max_payload_ && w.batch.body.size() > max_payload_)
      return refuse(c, p, f.seq,
                    "batch of " + std::to_string(w.batch.body.size()) +
                        " bytes exceeds the receiving NATS server's max_payload");
    stats_.messages_in += f.records;
    enqueue(std::move(w));
  }

  // A batch that can never be stored: the sender dead-letters it.
  void refuse(ws::ConnId c, Peer& p, std::uint64_t seq, const std::string& why) {
    ctx_.log.warn("refusing batch {} from site {}: {}", seq, p.site, why);
    endpoint_->send(c, ws::encode_nack(seq, why), true);
    mark_stored(c, p, seq);
  }

  void on_raw(ws::ConnId c, std::string&& message) {
    std::lock_guard lock(mu_);
    if (raw_queued_ >= raw_queue_limit) {
      raw_dropped_++;
      if (auto n = raw_drop_log_.allow())
        ctx_.log.warn("raw clients send faster than the flow stores: frame dropped{}",
                      ws::RateLimit::suppressed_text(*n));
      return;
    }
    ++raw_queued_;
    stats_.messages_in++;
    Work w;
    w.conn = c;
    w.raw = true;
    w.payload = std::move(message);
    queue_.push_back(std::move(w));
    cv_.notify_one();
  }

  void stored(ws::ConnId c, std::uint64_t seq) {
    auto it = peers_.find(c);
    if (it == peers_.end()) return;  // that connection is gone; the sender sends it again
    mark_stored(c, it->second, seq);
  }

  // Acks are cumulative: up to the last frame before the first one not stored yet.
  void mark_stored(ws::ConnId c, Peer& p, std::uint64_t seq) {
    for (auto& [s, done] : p.frames)
      if (s == seq) done = true;
    std::uint64_t acked = p.acked;
    while (!p.frames.empty() && p.frames.front().second) {
      acked = p.frames.front().first;
      p.frames.pop_front();
    }
    if (acked != p.acked) {
      p.acked = acked;
      std::string ack = ws::encode_ack(acked);
      stats_.bytes_out += ack.size();
      endpoint_->send(c, std::move(ack), true);
    }
  }

  void protocol_error(ws::ConnId c, Peer& p, const std::string& what) {
    ctx_.log.warn("protocol error from {}: {}", p.site.empty() ? p.name : p.site, what);
    endpoint_->close(c, 1002, what.substr(0, 120));
  }

  void on_close(ws::ConnId c, int code, const std::string& reason) {
    if (raw_.remove(c)) return;
    auto it = peers_.find(c);
    if (it == peers_.end()) return;
    if (!it->second.site.empty())
      ctx_.log.warn("link down from site {}: closed ({}{}); {} frames were not yet stored", it->second.site,
                    code, reason.empty() ? "" : " " + reason, it->second.frames.size());
    peers_.erase(it);
    bool any = false;
    for (auto& [id, p] : peers_) any = any || !p.site.empty();
    stats_.up = any;
  }

  Config config_;
  sdk::Context ctx_;
  ws::SiteIdentity site_;  // set by start(), before the io thread runs
  std::unique_ptr<ws::Endpoint> endpoint_;
  std::size_t max_payload_ = 0;
  ws::LinkStats stats_;
  std::atomic<std::uint64_t> raw_dropped_{0};
  std::atomic<bool> synced_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> queue_;
  std::size_t raw_queued_ = 0;
  sdk::RecordParser parser_;  // the run thread's: raw clients' records
  // io thread only
  std::map<ws::ConnId, Peer> peers_;
  ws::RawClients raw_{stats_, ctx_.log};
  ws::DialFailures dial_failures_;
  ws::RateLimit raw_drop_log_{std::chrono::seconds(10)};
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"websocket_input"};
  s.summary("Receives records from another site over WebSocket (weir.bridge.v1); raw clients may send JSON.")
      .description(
          "The receiving end of a site bridge: each batch from the peer (a websocket_output) is stored whole "
          "in this flow's stream and acknowledged to the sender only after its JetStream PubAck and, with "
          "durability \"sync\" (the default), once it is on disk. Batch and "
          "record ids keep their origin, prefixed with the sender's site, flow and component "
          "(\"site-a/uplink/to_hub/SRC:42\"), so senders never collide, and a batch the sender repeats "
          "after a reconnect or restart is recognised and not stored twice. Clients that connect without "
          "the subprotocol may send one JSON payload per text frame, each published as one record, best "
          "effort.")
      .output("out", "Records from the peer or from raw clients.");
  ws::add_link_fields(s, "received");
  s.field("content", &Config::content,
          field()
              .doc("How raw clients' frames are read.")
              .option("json", Content::json,
                      "Each frame is one JSON value; an invalid one goes to the error port.")
              .option("text", Content::text, "Each frame becomes a JSON string as it is."))
      .field("durability", &Config::durability,
             field()
                 .doc("When a batch is acknowledged to the sender, which then forgets it.")
                 .option("sync", Durability::sync,
                         "Once it is on disk: after its PubAck, the flow stream's files in the nats-server "
                         "store are fsynced, one fsync for every acknowledgement waiting (group commit). "
                         "Survives a power cut. Needs the store folder: the embedded server's, or "
                         "nats.store_dir; without it, a warning and then as none.")
                 .option("none", Durability::none,
                         "After its PubAck. nats-server 2.9 fsyncs every 2 minutes, so a power cut at this "
                         "site can lose batches the sender was told are stored."))
      .example(boost::json::parse(R"({"id": "from_sites", "type": "websocket_input",
          "config": {"mode": "listen", "listen": "0.0.0.0:8765", "token": "${BRIDGE_TOKEN}",
                     "tls": {"cert": "/etc/weir/tls/hub.crt", "key": "/etc/weir/tls/hub.key"}}})"))
      .implementation<WebsocketInput>();
  return s;
}

}  // namespace weir::components::websocket_input
