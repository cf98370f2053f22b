#include "websocket_output/websocket_output.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <deque>
#include <memory>

#include "common/websocket/frame.hpp"
#include "common/websocket/link.hpp"
#include "common/websocket/rate_limit.hpp"

namespace weir::components::websocket_output {

namespace {

using namespace std::chrono_literals;

// A raw client whose socket holds more than this unsent gets no more batches until it drains.
constexpr std::size_t raw_buffer_limit = 4 * 1024 * 1024;

class WebsocketOutput final : public sdk::BatchOutput {
 public:
  WebsocketOutput(const Config& config, const sdk::Context& ctx) : config_(config), ctx_(ctx) {}
  ~WebsocketOutput() override { stop(); }

  sdk::Status start() override {
    // raw_only never says hello: it needs no site name.
    if (!config_.raw_only)
      if (auto st = ws::resolve_site(config_, ctx_, site_); !st) return st;
    ws::Handlers h;
    h.on_open = [this](ws::ConnId c, bool bridge, const std::string& peer) { on_open(c, bridge, peer); };
    h.on_message = [this](ws::ConnId c, std::string&& m, bool binary) {
      on_message(c, std::move(m), binary);
    };
    h.on_close = [this](ws::ConnId c, int code, const std::string& reason) { on_close(c, code, reason); };
    h.on_connect_failed = [this](const std::string& reason) { on_connect_failed(reason); };
    return ws::start_endpoint(config_, ctx_, config_.raw_only ? nullptr : &site_, std::move(h), stats_,
                              endpoint_);
  }

  void stop() override {
    if (!endpoint_) return;
    endpoint_->post([this] {
      if (peer_) endpoint_->send(*peer_, ws::encode_bye("stopping"), true);
    });
    endpoint_->stop();
    endpoint_.reset();
  }

  std::size_t window() const override { return static_cast<std::size_t>(config_.window); }

  void send(sdk::Batch&& batch, Done done) override {
    if (!endpoint_) return;  // stopped: the batch stays unacked and comes back at the next start
    auto item = std::make_shared<Item>(Item{std::move(batch), std::move(done), 0});
    endpoint_->post([this, item] { on_batch(std::move(*item)); });
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    stats_.append(out);
    out.push_back({"frames_unacked", static_cast<double>(unacked_.load()), true,
                   "data frames sent and not yet acknowledged by the peer"});
    out.push_back({"batches_waiting", static_cast<double>(waiting_.load()), true,
                   "batches taken and not yet confirmed (sent or waiting for the link)"});
    out.push_back({"raw_dropped", static_cast<double>(raw_dropped_.load()), false,
                   "batches a slow raw client did not get"});
  }

 private:
  struct Item {
    sdk::Batch batch;
    Done done;
    std::uint64_t seq = 0;  // on the current connection; 0 while not sent on it
  };

  // ---- everything below runs on the endpoint's io thread ----

  void on_batch(Item&& item) {
    for (auto c : raw_.all()) send_raw(c, item.batch);
    if (config_.raw_only) {
      stats_.messages_out += item.batch.records;
      item.done(sdk::Status::ok());
      return;
    }
    items_.push_back(std::move(item));
    waiting_ = items_.size();
    transmit();
  }

  void send_raw(ws::ConnId c, const sdk::Batch& batch) {
    if (endpoint_->buffered(c) > raw_buffer_limit) {
      raw_dropped_++;
      return;
    }
    ws::for_each_json(batch.body, [&](std::string_view json) {
      stats_.bytes_out += json.size();
      endpoint_->send_here(c, json, false);
    });
  }

  // Sends what waits, in order, while the peer's window has room.
  void transmit() {
    if (!peer_ || !welcomed_) return;
    for (auto it = items_.begin(); it != items_.end() && unacked_ < window_;) {
      if (it->seq != 0) {
        ++it;
        continue;
      }
      const auto& b = it->batch;
      std::string msg = ws::encode_data_header(next_seq_, b.id, b.records, b.source, b.position);
      if (msg.size() + b.body.size() > peer_max_frame_) {
        auto done = std::move(it->done);
        it = items_.erase(it);
        waiting_ = items_.size();
        done(sdk::Status::error("batch of " + std::to_string(b.body.size()) + " bytes exceeds the peer's " +
                                "max_frame_size of " + std::to_string(peer_max_frame_)));
        continue;
      }
      msg += b.body;
      it->seq = next_seq_++;
      stats_.bytes_out += msg.size();
      endpoint_->send(*peer_, std::move(msg), true);
      unacked_++;
      ++it;
    }
  }

  void on_open(ws::ConnId c, bool bridge, const std::string& peer) {
    if (!bridge) {
      if (config_.mode == ws::Mode::connect) {
        ctx_.log.warn("{} does not speak {}: closing", config_.url, ws::bridge_subprotocol);
        endpoint_->close(c, 1002, "weir.bridge.v1 expected");
        return;
      }
      raw_.add(c, peer);
      return;
    }
    if (config_.raw_only) {
      endpoint_->close(c, 1008, "this output serves raw clients only");
      return;
    }
    if (peer_) {
      // The peer redialed before this side noticed the old link was dead: the new one wins.
      ctx_.log.info("{} replaces the current bridge connection", peer);
      const auto old = *peer_;
      link_down("replaced by a new connection");
      endpoint_->close(old, 1000, "replaced by a new connection");
    }
    peer_ = c;
    peer_name_ = peer;
    welcomed_ = false;
    endpoint_->send(
        c,
        ws::encode_hello(site_.name, ctx_.flow, ctx_.component, static_cast<std::uint64_t>(config_.window)),
        true);
  }

  void on_message(ws::ConnId c, std::string&& message, bool /*binary*/) {
    stats_.bytes_in += message.size();
    if (!peer_ || c != *peer_) return;  // raw clients only read
    ws::Frame f;
    std::string error;
    if (!ws::decode_frame(message, f, error)) {
      protocol_error(c, error);
      return;
    }
    switch (f.type) {
      case ws::FrameType::welcome:
        if (welcomed_) return protocol_error(c, "a second welcome");
        welcomed_ = true;
        window_ = std::max<std::uint64_t>(1, std::min<std::uint64_t>(f.window, config_.window));
        peer_max_frame_ = f.max_frame_size;
        next_seq_ = 1;
        unacked_ = 0;
        link_up(f.site);
        transmit();
        return;
      case ws::FrameType::ack:
        on_ack(f.seq);
        return;
      case ws::FrameType::nack:
        on_nack(f.seq, f.reason);
        return;
      case ws::FrameType::bye:
        ctx_.log.info("peer says goodbye: {}", f.reason);
        return;
      default:
        protocol_error(c, "unexpected frame");
        return;
    }
  }

  void on_ack(std::uint64_t seq) {
    while (!items_.empty() && items_.front().seq != 0 && items_.front().seq <= seq) {
      auto item = std::move(items_.front());
      items_.pop_front();
      unacked_--;
      stats_.messages_out += item.batch.records;
      item.done(sdk::Status::ok());
    }
    waiting_ = items_.size();
    transmit();
  }

  void on_nack(std::uint64_t seq, const std::string& reason) {
    for (auto it = items_.begin(); it != items_.end(); ++it) {
      if (it->seq != seq) continue;
      auto done = std::move(it->done);
      items_.erase(it);
      unacked_--;
      waiting_ = items_.size();
      done(sdk::Status::error(reason));
      break;
    }
    transmit();
  }

  void protocol_error(ws::ConnId c, const std::string& what) {
    ctx_.log.warn("protocol error from {}: {}", peer_name_, what);
    endpoint_->close(c, 1002, what.substr(0, 120));
  }

  void on_close(ws::ConnId c, int code, const std::string& reason) {
    if (raw_.remove(c)) return;
    if (!peer_ || c != *peer_) return;
    link_down("closed (" + std::to_string(code) + (reason.empty() ? "" : " " + reason) + ")");
  }

  void on_connect_failed(const std::string& reason) {
    // Once per outage, not per attempt; again only when the reason changes (the hub came up
    // but refuses the token, say).
    if (!dial_failures_.should_log(reason)) return;
    ctx_.log.warn("cannot reach {}: {}; retrying with backoff ({} batches wait in the flow's stream)",
                  config_.url, reason, items_.size());
  }

  void link_up(const std::string& peer_site) {
    stats_.up = true;
    stats_.ups++;
    dial_failures_.link_up();
    std::size_t resend = items_.size();
    ctx_.log.info("link up to site {} at {} (window {}{})", peer_site, peer_name_, window_,
                  resend ? ", sending " + std::to_string(resend) + " waiting batches" : "");
  }

  // Everything unconfirmed goes again on the next connection, in order; the receiver drops what
  // it already stored.
  void link_down(const std::string& why) {
    const bool was_up = welcomed_;
    peer_.reset();
    welcomed_ = false;
    for (auto& i : items_) i.seq = 0;
    unacked_ = 0;
    stats_.up = false;
    if (was_up) ctx_.log.warn("link down: {}; {} batches wait for the link", why, items_.size());
  }

  Config config_;
  sdk::Context ctx_;
  ws::SiteIdentity site_;  // set by start(), before the io thread runs
  std::unique_ptr<ws::Endpoint> endpoint_;
  ws::LinkStats stats_;
  std::atomic<std::uint64_t> unacked_{0}, waiting_{0}, raw_dropped_{0};
  // io thread only
  std::deque<Item> items_;
  std::optional<ws::ConnId> peer_;
  std::string peer_name_;
  bool welcomed_ = false;
  ws::DialFailures dial_failures_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t window_ = 1;
  std::uint64_t peer_max_frame_ = 0;
  ws::RawClients raw_{stats_, ctx_.log};
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  sdk::ComponentSpec<Config> s{"websocket_output"};
  s.summary(
       "Sends records to another site over WebSocket (weir.bridge.v1), store-and-forward; raw clients get "
       "JSON.")
      .description(
          "Batches go whole to the peer (a websocket_input) over one WebSocket, with a window of "
          "unacknowledged "
          "frames. A batch is acknowledged in this flow's stream only after the peer stored it in its own "
          "JetStream, so while the link is down records wait in the stream (up to the flow's max_bytes / "
          "max_age) and go out, in order, when it is back; the peer drops what it already stored. Clients "
          "that connect without the subprotocol (a browser, websocat) get one JSON record per text frame, "
          "best effort.");
  ws::add_link_fields(s, "sent");
  s.field("raw_only", &Config::raw_only,
          field().doc(
              "listen mode: serve raw clients only. Records are acknowledged as soon as they are handed to "
              "the clients connected at that moment (at-most-once; none connected: they are dropped). "
              "Without it, records wait for a weir peer."))
      .lint([](const Config& c, sdk::Lint& lint) {
        if (c.raw_only && c.mode != ws::Mode::listen)
          lint.error("raw_only", "invalid_value", "raw_only needs mode \"listen\"");
      })
      .example(boost::json::parse(R"({"id": "uplink", "type": "websocket_output", "inputs": ["hot"],
          "config": {"mode": "connect", "url": "wss://hub.example.net:8765/", "token": "${BRIDGE_TOKEN}",
                     "tls": {"ca": "/etc/weir/tls/hub-ca.crt"}, "site": "site-a"}})"))
      .implementation<WebsocketOutput>();
  return s;
}

}  // namespace weir::components::websocket_output
