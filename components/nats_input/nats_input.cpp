#include "nats_input/nats_input.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "sdk/base/record_json.hpp"
#include "sdk/base/units.hpp"
#include "sdk/nats.hpp"

namespace weir::components::nats_input {

namespace {

using namespace std::chrono_literals;

// Bounds every blocking fetch, so that run() notices a stop within this time.
constexpr auto fetch_timeout = 500ms;
constexpr auto retry_pause = 1s;

// JetStream stream and consumer names may not hold whitespace, '.', '*', '>' or path separators.
bool valid_name(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' || static_cast<unsigned char>(c) <= ' ';
  });
}

class NatsInput final : public sdk::Input {
 public:
  NatsInput(const Config& config, const sdk::Context& ctx)
      : config_(config),
        ctx_(ctx),
        durable_(config.durable.empty() ? default_durable(ctx.flow, ctx.component) : config.durable) {}

  sdk::Status start() override {
    if (ctx_.nats == nullptr) return sdk::Status::error("no NATS connection");
    if (!config_.stream.empty()) return bind();
    if (auto st = ctx_.nats->subscribe(config_.subject, core_); !st) return st;
    std::random_device rd;
    run_prefix_ = fmt::format("{:08x}", rd());
    return sdk::Status::ok();
  }

  void run(sdk::InputSink& sink) override {
    if (consumer_)
      run_stream(sink);
    else
      run_core(sink);
  }

  // Fetched messages whose callbacks the engine still holds keep what their acks need.
  void stop() override {
    consumer_.reset();
    core_.reset();
  }

 private:
  sdk::Status bind() {
    sdk::NatsStreamInfo info;
    if (auto st = ctx_.nats->stream_info(config_.stream, info); !st) {
      if (st.code() == sdk::NatsErrc::not_found)
        return sdk::Status::error("stream \"" + config_.stream +
                                  "\" does not exist: create it (capturing \"" + config_.subject +
                                  "\"), or leave out `stream` to read a core subscription");
      return st;
    }
    sdk::NatsConsumerSpec cs;
    cs.durable = durable_;
    cs.filter_subject = config_.subject;
    cs.ack_wait = config_.ack_wait;
    // Unacked messages are at most one fetch round whose records wait for their PubAck.
    cs.max_ack_pending = std::max<std::int64_t>(1000, 2 * static_cast<std::int64_t>(config_.fetch_batch));
    if (auto st = ctx_.nats->consumer(config_.stream, cs, consumer_); !st) return st;
    // Positions are the stream's sequences, which start over in a stream made anew.
    source_ = "nats:" + config_.stream + "/" + durable_ + "@" +
              fmt::format("{:016x}", static_cast<std::uint64_t>(info.created_ns));
    return sdk::Status::ok();
  }

  // Records must reach the engine in position order (a position at or below what was stored is
  // taken for a replay). After a crash, or a broker restart, what was delivered and not acked
  // comes back only after ack_wait, while new messages would come at once: so when messages are
  // unacked, nothing is fetched until they are due (they are then delivered first, and the
  // consumer hands them over together in stream order).
  bool await_redeliveries(sdk::InputSink& sink) {
    return consumer_->await_redeliveries([&sink](std::chrono::nanoseconds d) { return sink.sleep_for(d); },
                                         ctx_.log);
  }

  void run_stream(sdk::InputSink& sink) {
    auto seen_reconnects = ctx_.nats->reconnects();
    if (!await_redeliveries(sink)) return;
    while (!sink.stopping()) {
      if (const auto n = ctx_.nats->reconnects(); n != seen_reconnects) {
        seen_reconnects = n;
        if (!await_redeliveries(sink)) return;
      }
      std::shared_ptr<sdk::NatsFetched> round;
      const auto st = consumer_->fetch(config_.fetch_batch, fetch_timeout, round);
      if (!st && round->size() == 0) {
        report(st.error());
        if (!sink.sleep_for(retry_pause)) return;
        // The consumer was deleted under us (by hand, or a stream re-creation): make it again.
        if (st.code() == sdk::NatsErrc::not_found) {
          if (auto b = bind(); !b) ctx_.log.warn("{}", b.error());
        }
        continue;
      }
      last_error_.clear();
      for (std::size_t i = 0; i < round->size(); ++i) {
        if (!deliver_stream(sink, round, i)) {
          // Not taken: hand these back at once rather than after ack_wait.
          for (std::size_t j = i; j < round->size(); ++j) round->nak(j);
          return;
        }
      }
      if (round->size() > 0) sink.flush();
    }
  }

  // Each record's on_durable acks its own message once the engine holds the record durably. If
  // the engine drops the callbacks (its publish failed), the messages go unacked and the stream
  // delivers them again after ack_wait.
  bool deliver_stream(sdk::InputSink& sink, const std::shared_ptr<sdk::NatsFetched>& round, std::size_t i) {
    // Runs on whichever engine thread settles the batch. A failed ack only means a redelivery,
    // which the origin id makes harmless.
    auto ack = [round, i] { round->ack(i); };
    std::string stream;
    std::uint64_t seq = 0;
    if (auto st = round->position(i, stream, seq); !st)
      return sink.fail({"", sdk::raw_record_value(round->data(i), "no JetStream metadata")},
                       "no JetStream metadata: " + st.error(), ack);
    const sdk::Position at{source_, seq};
    return deliver(sink, stream + ":" + std::to_string(seq), round->data(i), ack, &at);
  }

  void run_core(sdk::InputSink& sink) {
    std::int64_t dropped = 0;
    while (!sink.stopping()) {
      std::shared_ptr<sdk::NatsFetched> msgs;
      const auto st = core_->fetch(config_.fetch_batch, fetch_timeout, msgs);
      if (!st && msgs->size() == 0) {
        report(st.error());
        if (!sink.sleep_for(retry_pause)) return;
        continue;
      }
      last_error_.clear();
      for (std::size_t i = 0; i < msgs->size(); ++i) {
        std::string id = config_.subject + ":" + run_prefix_ + "-" + std::to_string(counter_++);
        if (!deliver(sink, std::move(id), msgs->data(i), {})) return;
      }
      if (msgs->size() > 0) sink.flush();
      if (const auto now = core_->dropped(); now > dropped) {
        ctx_.log.warn("{} messages on {} dropped: this reader is too slow for a core subscription",
                      now - dropped, config_.subject);
        dropped = now;
      }
    }
  }

  // A failing read repeats every retry_pause while NATS is away: warn once per distinct error.
  void report(const std::string& error) {
    if (error == last_error_) {
      ctx_.log.debug("read from {}: {}", config_.subject, error);
      return;
    }
    ctx_.log.warn("read from {}: {}", config_.subject, error);
    last_error_ = error;
  }

  bool deliver(sdk::InputSink& sink, std::string id, std::string_view payload,
               std::function<void()> on_durable, const sdk::Position* at = nullptr) {
    auto push = [&](sdk::Record&& rec) {
      return at != nullptr ? sink.push_at(*at, std::move(rec), std::move(on_durable))
                           : sink.push(std::move(rec), std::move(on_durable));
    };
    std::string reason;
    boost::json::value value;
    if (parser_.payload(payload, config_.content == Content::text, value, reason))
      return push({std::move(id), std::move(value)});
    return sink.fail({std::move(id), sdk::raw_record_value(payload, reason)}, reason, std::move(on_durable));
  }

  Config config_;
  sdk::Context ctx_;
  std::string durable_;
  std::unique_ptr<sdk::NatsConsumer> consumer_;  // with `stream`
  std::unique_ptr<sdk::NatsSubscription> core_;  // without
  sdk::RecordParser parser_;                     // reused across messages: keeps its buffers
  std::string run_prefix_;
  std::uint64_t counter_ = 0;
  std::string last_error_;
  std::string source_;  // the position key of what run_stream reads
};

}  // namespace

std::string default_durable(const std::string& flow, const std::string& component) {
  std::string out = "weir_" + flow + "_" + component;
  for (char& c : out) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"nats_input"}
      .summary(
          "Reads messages from a NATS subject: durably from a JetStream stream, or from a core subscription.")
      .description(
          "With `stream`, a durable pull consumer on that existing stream reads the messages on `subject`; "
          "each message is acknowledged only once the flow has stored its record, so nothing is lost and a "
          "redelivery carries the same record id (`<stream>:<sequence>`). Without `stream`, a core NATS "
          "subscription reads at-most-once: what arrives while the flow is down or too slow is lost. "
          "Each message becomes one record; a payload that is not JSON goes to `error` with the payload as "
          "a string, unless `content` is `text`.")
      .field("subject", &Config::subject,
             field()
                 .required()
                 .not_empty()
                 .doc("Subject to read; `*` and `>` wildcards allowed. With `stream` it must lie within the "
                      "stream's subjects.")
                 .example("sensors.>"))
      .field("stream", &Config::stream,
             field()
                 .doc("An existing JetStream stream to read durably (at-least-once, effectively once "
                      "downstream). Leave it out for a core subscription (at-most-once).")
                 .example("SENSORS"))
      .field(
          "durable", &Config::durable,
          field().advanced().doc("Name of the durable consumer on `stream`; the default is "
                                 "`weir_<flow>_<component>`. Engines running the same flow share it, and so "
                                 "share the work."))
      .field("content", &Config::content,
             field()
                 .doc("How a payload becomes a record.")
                 .option("json", Content::json,
                         "Parse the payload as JSON; one that does not parse goes to `error`.")
                 .option("text", Content::text, "Take the payload as it is, as a JSON string."))
      .field("ack_wait", &Config::ack_wait,
             field().duration_range(1s, 12h).doc(
                 "With `stream`: how long the stream waits for a message's ack before it delivers the "
                 "message again (after a crash, say)."))
      .field("fetch_batch", &Config::fetch_batch,
             field().advanced().range(1, 4096).doc("Most messages fetched in one round."))
      .lint([](const Config& c, sdk::Lint& lint) {
        if (!c.stream.empty() && !valid_name(c.stream))
          lint.error("stream", "invalid_value",
                     "a stream name may not hold whitespace, '.', '*', '>', '/' or '\\'");
        if (!c.durable.empty() && !valid_name(c.durable))
          lint.error("durable", "invalid_value",
                     "a consumer name may not hold whitespace, '.', '*', '>', '/' or '\\'");
        if (!c.durable.empty() && c.stream.empty())
          lint.error("durable", "invalid_value",
                     "`durable` needs `stream`: a core subscription has no consumer",
                     "set `stream`, or remove `durable`");
      })
      .flow_lint([](const Config& c, const sdk::FlowSettings& flow, sdk::Lint& lint) {
        // A message this input took before a crash comes back after ack_wait plus the restart:
        // the batch its records go into is dropped as a repeat only within the window.
        if (c.stream.empty() || 2 * c.ack_wait <= flow.duplicate_window) return;
        lint.warning(
            "ack_wait", "short_duplicate_window",
            "ack_wait " + sdk::format_duration(c.ack_wait) + " is more than half the flow's " +
                "duplicate_window " + sdk::format_duration(flow.duplicate_window) +
                ": a message delivered again after a crash arrives after ack_wait plus the " +
                "restart time, beyond the window: its records are still stored once (by position), but one "
                "that is not JSON goes to the error port again",
            "set ack_wait to at most " + sdk::format_duration(flow.duplicate_window / 2) +
                ", or the flow's settings.duplicate_window to at least " +
                sdk::format_duration(2 * c.ack_wait));
      })
      .output("out", "One record per message.")
      .example(boost::json::parse(R"({"id": "sensors", "type": "nats_input",
                                      "config": {"subject": "sensors.>", "stream": "SENSORS"}})"))
      .implementation<NatsInput>();
}

}  // namespace weir::components::nats_input
