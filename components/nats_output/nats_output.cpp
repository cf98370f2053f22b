#include "nats_output/nats_output.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <utility>
#include <vector>

#include "bus/connection.hpp"
#include "bus/msg.hpp"
#include "bus/pull_consumer.hpp"
#include "bus/topology.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"

namespace weir::components::nats_output {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int publish_window = 4096;
constexpr auto api_timeout = 5s;
// What a restart of the engine (or of the box) may take, on top of the redelivery wait.
constexpr std::chrono::milliseconds restart_allowance = 60s;

long long millis(std::chrono::nanoseconds d) {
  return std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// Which stream captures `subject`: one JetStream API request, at start. No responders means
// the server runs without JetStream; `stream` then stays empty, as when no stream matches.
sdk::Status find_stream(natsConnection* nc, const std::string& subject, std::string& stream) {
  std::string req = "{\"subject\":";
  sdk::write_json_string(req, subject);
  req += '}';
  natsMsg* raw = nullptr;
  const natsStatus s = natsConnection_Request(&raw, nc, "$JS.API.STREAM.NAMES", req.data(),
                                              static_cast<int>(req.size()), millis(api_timeout));
  bus::Msg reply(raw);
  if (s == NATS_NO_RESPONDERS) return sdk::Status::ok();
  const std::string what = "look up the stream that captures " + subject;
  if (s != NATS_OK) return sdk::Status::error(bus::from_nats(s, what).text());
  boost::system::error_code ec;
  auto v = boost::json::parse(reply.view(), ec);
  if (ec || !v.is_object()) return sdk::Status::error(what + ": unreadable JetStream API reply");
  const auto& o = v.get_object();
  if (const auto* err = o.if_contains("error")) {
    const auto* text = err->is_object() ? err->get_object().if_contains("description") : nullptr;
    return sdk::Status::error(what + ": " +
                              (text && text->is_string() ? std::string(text->get_string()) : "error"));
  }
  const auto* streams = o.if_contains("streams");
  if (streams && streams->is_array() && !streams->get_array().empty() && streams->get_array()[0].is_string())
    stream = streams->get_array()[0].get_string();
  return sdk::Status::ok();
}

class NatsOutput final : public sdk::Output {
 public:
  NatsOutput(const Config& config, const sdk::Context& ctx)
      : config_(config), ctx_(ctx), id_prefix_(msg_id(ctx.flow, ctx.component, "")) {}

  // No PubAck handler may run once this object is gone: take back what is still outstanding
  // (nats.c then never calls back for it) and let a handler already running finish.
  ~NatsOutput() override { drain(); }

  sdk::Status start() override {
    if (ctx_.nats == nullptr) return sdk::Status::error("no NATS connection");
    if (auto st = find_stream(ctx_.nats, config_.subject, stream_); !st) return st;
    if (stream_.empty()) {
      ctx_.log.info("no JetStream stream captures {}: publishing with core NATS (at-most-once)",
                    config_.subject);
      return sdk::Status::ok();
    }
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = millis(api_timeout);
    o.PublishAsync.MaxPending = publish_window;
    o.PublishAsync.AckHandler = &NatsOutput::on_ack;
    o.PublishAsync.AckHandlerClosure = this;
    jsCtx* js = nullptr;
    if (natsStatus s = natsConnection_JetStream(&js, ctx_.nats, &o); s != NATS_OK)
      return sdk::Status::error(bus::from_nats(s, "jetstream context").text());
    js_ = bus::JetStream(js);
    ctx_.log.info("publishing to {}, stored by stream {}", config_.subject, stream_);
    check_duplicate_window();
    return sdk::Status::ok();
  }

  // The target stream's duplicate window is what drops a batch this output publishes again
  // after a crash: it must outlast the redelivery (ack_wait + 25 % + 1 s once the engine is back)
  // plus a restart. Known only once the stream is found, so this is a warning at start, kept as
  // a metric, not a validation error.
  void check_duplicate_window() {
    auto info = bus::stream_info(js_.raw(), stream_);
    if (!info) return;
    const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(info->duplicate_window);
    const auto needed = bus::redelivery_wait(ctx_.ack_wait) + restart_allowance;
    window_ms_ = static_cast<double>(window.count());
    if (window >= needed) return;
    window_short_ = true;
    ctx_.log.warn(
        "stream {} drops repeated message ids for {} ms only, while a batch published again after a crash "
        "comes {} ms after the restart (the flow's ack_wait + 25 % + 1 s) plus the restart itself: a batch "
        "redelivered later than the window is stored twice. Set the stream's duplicate_window to at least "
        "{} s (this allows {} s for a restart)",
        stream_, window.count(), bus::redelivery_wait(ctx_.ack_wait).count(), (needed.count() + 999) / 1000,
        std::chrono::duration_cast<std::chrono::seconds>(restart_allowance).count());
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    out.push_back({"duplicate_window_ms", window_ms_.load(), true,
                   "the target stream's duplicate window (0: core NATS, or not known)"});
    out.push_back({"duplicate_window_short", window_short_.load() ? 1.0 : 0.0, true,
                   "1 when the target stream's duplicate window is shorter than a redelivery after a crash"});
  }

  void stop() override { drain(); }

  sdk::Status write(std::span<const sdk::Record> records, sdk::Rejects& rejects) override {
    sdk::Status first;
    for (std::size_t i = 0; i < records.size(); ++i) {
      bus::Msg m;
      if (auto st = make(records[i], m); !st) {
        if (st.code() != NATS_MAX_PAYLOAD) {
          first = sdk::Status::error(st.text());
          break;
        }
        rejects.add(i, st.text());
        continue;
      }
      const natsStatus s = js_ ? publish_js(m) : natsConnection_PublishMsg(ctx_.nats, m.raw());
      if (s == NATS_MAX_PAYLOAD) {
        rejects.add(i, bus::from_nats(s, "publish to " + config_.subject).text());
      } else if (s != NATS_OK) {
        first = sdk::Status::error(bus::from_nats(s, "publish to " + config_.subject).text());
        break;
      }
    }
    // Even after a failed publish, wait: the batch comes back, and the outstanding PubAcks must
    // not land in the next write's count.
    sdk::Status settled = js_ ? settle(records, rejects) : flush();
    if (!first.is_ok()) return first;
    return settled;
  }

 private:
  struct Failure {
    std::string msg_id;
    std::string reason;
    int js_code = 0;
  };

  bus::Status make(const sdk::Record& rec, bus::Msg& out) {
    payload_.clear();
    sdk::write_json(payload_, rec.value);
    const auto max = natsConnection_GetMaxPayload(ctx_.nats);
    if (max > 0 && static_cast<std::int64_t>(payload_.size()) > max)
      return bus::Status::error(NATS_MAX_PAYLOAD, 0,
                                "record " + rec.id + ": " + std::to_string(payload_.size()) +
                                    " bytes exceed the server's max_payload of " + std::to_string(max));
    auto m = bus::Msg::create(config_.subject, payload_);
    if (!m) return m.status();
    for (const auto& [key, value] : config_.headers)
      if (auto st = m->set_header(key, value); !st) return st;
    if (auto st = m->set_header(bus::msg_id_header, id_prefix_ + rec.id); !st) return st;
    out = std::move(m).value();
    return bus::Status::success();
  }

  natsStatus publish_js(bus::Msg& m) {
    // No per-message MaxWait: nats.c 3.4 keeps a timer entry per message until its deadline even
    // when the PubAck came long before (tens of MB at full rate). settle() bounds the wait.
    // A full window stalls for StallWait and returns NATS_TIMEOUT; PubAcks free it.
    const auto deadline = Clock::now() + config_.ack_timeout;
    natsStatus s = NATS_OK;
    published_any_ = true;
    do {
      s = js_PublishMsgAsync(js_.raw(), m.raw_ref(), nullptr);  // takes the message on success
    } while (s == NATS_TIMEOUT && Clock::now() < deadline);
    return s;
  }

  // Waits for every PubAck of this write. A stream refusing a message for its size rejects that
  // record; any other failure fails the batch, which the engine delivers again with the same ids.
  sdk::Status settle(std::span<const sdk::Record> records, sdk::Rejects& rejects) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = millis(config_.ack_timeout);
    // On a buffering connection the publishes wait up to 1 ms for nats.c's flusher: a PING sends
    // them now (its PONG comes back before the PubAcks, which the stream sends once it stored them).
    (void)natsConnection_FlushTimeout(ctx_.nats, millis(config_.ack_timeout));
    if (js_PublishAsyncComplete(js_.raw(), &po) != NATS_OK)
      take_back("no PubAck within " + std::to_string(millis(config_.ack_timeout)) + " ms");
    std::vector<Failure> failures;
    {
      std::lock_guard lock(mu_);
      failures.swap(failures_);
    }
    std::size_t failed = 0;
    const Failure* first = nullptr;
    for (const auto& f : failures) {
      if (f.js_code == JSStreamMessageExceedsMaximumErr && reject(records, f, rejects)) continue;
      if (!first) first = &f;
      ++failed;
    }
    if (lost_failure_.exchange(false))
      return sdk::Status::error("publishes to " + config_.subject + " failed (out of memory reporting them)");
    if (failed == 0) return sdk::Status::ok();
    return sdk::Status::error(std::to_string(failed) + " of " + std::to_string(records.size()) +
                              " publishes to " + config_.subject + " failed; first (" + first->msg_id +
                              "): " + first->reason);
  }

  // A message the stream refuses for its size never fits: the record goes to the error port.
  bool reject(std::span<const sdk::Record> records, const Failure& f, sdk::Rejects& rejects) const {
    for (std::size_t i = 0; i < records.size(); ++i)
      if (id_prefix_ + records[i].id == f.msg_id) {
        rejects.add(i, f.reason);
        return true;
      }
    return false;
  }

  sdk::Status flush() {
    const natsStatus s = natsConnection_FlushTimeout(ctx_.nats, millis(config_.ack_timeout));
    if (s != NATS_OK)
      return sdk::Status::error(bus::from_nats(s, "flush publishes to " + config_.subject).text());
    return sdk::Status::ok();
  }

  // Outstanding publishes are taken out of nats.c's pending list (so no handler comes for them
  // later) and counted as failed; a handler that had already started gets to finish.
  void take_back(const std::string& reason) {
    // nats.c 3.4 dereferences its pending map, which exists only after the first async publish.
    if (!published_any_) return;
    natsMsgList pending{nullptr, 0};
    if (js_PublishAsyncGetPendingList(&pending, js_.raw()) == NATS_OK) {
      std::lock_guard lock(mu_);
      for (int i = 0; i < pending.Count; ++i) {
        bus::Msg m(std::exchange(pending.Msgs[i], nullptr));
        failures_.push_back({m.msg_id(), reason, 0});
      }
      natsMsgList_Destroy(&pending);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 5000;
    (void)js_PublishAsyncComplete(js_.raw(), &po);
  }

  void drain() {
    if (!js_) return;
    take_back("output stopped");
    js_ = bus::JetStream();
    std::lock_guard lock(mu_);
    failures_.clear();
  }

  // Runs on nats.c's reply thread and owns `msg`; must not throw.
  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    bus::Msg m(msg);
    if (pa != nullptr) return;  // stored, or a duplicate the stream already holds
    auto* self = static_cast<NatsOutput*>(closure);
    try {
      std::string reason;
      if (pae != nullptr && pae->Err == NATS_TIMEOUT)
        reason = "no PubAck within " + std::to_string(millis(self->config_.ack_timeout)) + " ms";
      else if (pae != nullptr && pae->Err == NATS_NO_RESPONDERS)
        reason = "no stream captures the subject any more (no responders)";
      else
        reason = pae != nullptr && pae->ErrText != nullptr ? pae->ErrText : "publish failed";
      const int code = pae != nullptr ? static_cast<int>(pae->ErrCode) : 0;
      if (code != 0) reason += " [jetstream error " + std::to_string(code) + "]";
      std::lock_guard lock(self->mu_);
      self->failures_.push_back({m.msg_id(), std::move(reason), code});
    } catch (...) {
      self->lost_failure_ = true;  // out of memory: still fail the batch, without the detail
    }
  }

  Config config_;
  sdk::Context ctx_;
  bool published_any_ = false;
  std::string id_prefix_;
  std::string stream_;  // empty: core publish
  std::atomic<double> window_ms_{0};
  std::atomic<bool> window_short_{false};
  bus::JetStream js_;
  std::string payload_;
  std::mutex mu_;  // guards failures_, appended from nats.c's reply thread
  std::vector<Failure> failures_;
  std::atomic<bool> lost_failure_{false};
};

bool valid_subject(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string_view::npos)
    return false;
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == '*' || c == '>' || static_cast<unsigned char>(c) <= ' '; });
}

bool valid_header_name(std::string_view s) {
  return !s.empty() && std::none_of(s.begin(), s.end(), [](char c) {
    return c == ':' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
  });
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

std::string msg_id(const std::string& flow, const std::string& component, const std::string& record_id) {
  return flow + "." + component + ":" + record_id;
}

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"nats_output"}
      .summary(
          "Publishes each record as a JSON message on a NATS subject, with a PubAck when a stream stores it.")
      .description(
          "Each record becomes one message: its value as compact JSON, with a `Nats-Msg-Id` header "
          "`<flow>.<component>:<record id>`. When a JetStream stream captures `subject` (looked up at "
          "start), "
          "a batch counts as written only once the stream acknowledged every message, and a batch delivered "
          "again republishes the same ids, which the stream's duplicate window drops: effectively once. "
          "Otherwise the messages go out as core NATS publishes, at-most-once.")
      .field(
          "subject", &Config::subject,
          field().required().not_empty().doc("Subject to publish to; no wildcards.").example("hub.readings"))
      .field(
          "headers", &Config::headers,
          field().doc("Headers added to every message.").example(boost::json::object{{"source", "site-a"}}))
      .field("ack_timeout", &Config::ack_timeout,
             field()
                 .advanced()
                 .duration_range(100ms, 5min)
                 .doc("How long a batch waits for its PubAcks (or, without a stream, for the server's flush "
                      "reply) before it fails and is delivered again."))
      .lint([](const Config& c, sdk::Lint& lint) {
        if (!valid_subject(c.subject))
          lint.error("subject", "invalid_value",
                     "a subject to publish to may not hold wildcards ('*', '>'), whitespace or empty tokens",
                     "name one subject, e.g. \"hub.readings\"");
        for (const auto& [key, value] : c.headers) {
          if (!valid_header_name(key))
            lint.error("headers", "invalid_value",
                       "header name " + sdk::quote(key) + " may not hold ':' or whitespace");
          else if (value.find_first_of("\r\n") != std::string::npos)
            lint.error("headers", "invalid_value",
                       "header " + sdk::quote(key) + " may not hold a line break");
          else if (iequals(key, bus::msg_id_header))
            lint.error("headers", "invalid_value",
                       "Nats-Msg-Id is set from the record id; it cannot be configured");
        }
      })
      .example(boost::json::parse(R"({"id": "uplink", "type": "nats_output", "inputs": ["hot"],
                                      "config": {"subject": "hub.readings"}})"))
      .implementation<NatsOutput>();
}

}  // namespace weir::components::nats_output
