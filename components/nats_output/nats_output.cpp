#include "nats_output/nats_output.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <utility>
#include <vector>

#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/nats.hpp"

namespace weir::components::nats_output {

namespace {

using namespace std::chrono_literals;

constexpr int publish_window = 4096;
// What a restart of the engine (or of the box) may take, on top of the redelivery wait.
constexpr std::chrono::milliseconds restart_allowance = 60s;
constexpr std::string_view msg_id_header = "Nats-Msg-Id";

class NatsOutput final : public sdk::Output {
 public:
  NatsOutput(const Config& config, const sdk::Context& ctx)
      : config_(config), ctx_(ctx), id_prefix_(msg_id(ctx.flow, ctx.component, "")) {
    for (const auto& [key, value] : config_.headers) headers_.push_back({key, value});
  }

  sdk::Status start() override {
    if (ctx_.nats == nullptr) return sdk::Status::error("no NATS connection");
    if (auto st = ctx_.nats->stream_for(config_.subject, stream_); !st) return st;
    if (stream_.empty()) {
      ctx_.log.info("no JetStream stream captures {}: publishing with core NATS (at-most-once)",
                    config_.subject);
      return sdk::Status::ok();
    }
    // The engine's JetStream publisher. No per-message PubAck deadline (nats.c 3.4 keeps a timer
    // entry per message until its deadline even when the PubAck came long before): settle()
    // bounds the wait. A full window waits for room up to ack_timeout.
    sdk::NatsPublisherOptions o;
    o.window = publish_window;
    o.publish_timeout = config_.ack_timeout;
    if (auto st = ctx_.nats->publisher(o, pub_); !st)
      return sdk::Status::error("jetstream publisher: " + st.error());
    ctx_.log.info("publishing to {}, stored by stream {}", config_.subject, stream_);
    check_duplicate_window();
    return sdk::Status::ok();
  }

  // The target stream's duplicate window is what drops a batch this output publishes again
  // after a crash: it must outlast the redelivery (ack_wait + 25 % + 1 s once the engine is back)
  // plus a restart. Known only once the stream is found, so this is a warning at start, kept as
  // a metric, not a validation error.
  void check_duplicate_window() {
    sdk::NatsStreamInfo info;
    if (!ctx_.nats->stream_info(stream_, info)) return;
    const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(info.duplicate_window);
    const auto redelivery = ctx_.nats->redelivery_wait(ctx_.ack_wait);
    const auto needed = redelivery + restart_allowance;
    window_ms_ = static_cast<double>(window.count());
    if (window >= needed) return;
    window_short_ = true;
    ctx_.log.warn(
        "stream {} drops repeated message ids for {} ms only, while a batch published again after a crash "
        "comes {} ms after the restart (the flow's ack_wait + 25 % + 1 s) plus the restart itself: a batch "
        "redelivered later than the window is stored twice. Set the stream's duplicate_window to at least "
        "{} s (this allows {} s for a restart)",
        stream_, window.count(), redelivery.count(), (needed.count() + 999) / 1000,
        std::chrono::duration_cast<std::chrono::seconds>(restart_allowance).count());
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    out.push_back({"duplicate_window_ms", window_ms_.load(), true,
                   "the target stream's duplicate window (0: core NATS, or not known)"});
    out.push_back({"duplicate_window_short", window_short_.load() ? 1.0 : 0.0, true,
                   "1 when the target stream's duplicate window is shorter than a redelivery after a crash"});
  }

  // What is still outstanding is taken back: no PubAck is handled for it once this returns.
  void stop() override { pub_.reset(); }

  sdk::Status write(std::span<const sdk::Record> records, sdk::Rejects& rejects) override {
    sdk::Status first;
    const auto max = ctx_.nats->max_payload();
    for (std::size_t i = 0; i < records.size(); ++i) {
      const auto& rec = records[i];
      payload_.clear();
      sdk::write_json(payload_, rec.value);
      if (max > 0 && static_cast<std::int64_t>(payload_.size()) > max) {
        rejects.add(i, "record " + rec.id + ": " + std::to_string(payload_.size()) +
                           " bytes exceed the server's max_payload of " + std::to_string(max));
        continue;
      }
      id_ = id_prefix_;
      id_ += rec.id;
      const sdk::NatsMsg m{config_.subject, payload_, headers_, id_};
      // A JetStream publish that fails is listed by settle() too: a record too large is rejected there.
      const auto st = pub_ ? pub_->publish(m) : ctx_.nats->publish(m);
      if (st.code() == sdk::NatsErrc::too_large) {
        if (!pub_) rejects.add(i, st.error());
      } else if (!st) {
        first = sdk::Status::error(st.error());
        break;
      }
    }
    // Even after a failed publish, wait: the batch comes back, and the outstanding PubAcks must
    // not land in the next write's count.
    sdk::Status settled = pub_ ? settle(records, rejects) : flush();
    if (!first.is_ok()) return first;
    return settled;
  }

 private:
  // Waits for every PubAck of this write. A message refused for its size rejects that record;
  // any other failure fails the batch, which the engine delivers again with the same ids.
  sdk::Status settle(std::span<const sdk::Record> records, sdk::Rejects& rejects) {
    std::vector<sdk::NatsPublishFailure> failures;
    const auto st = pub_->wait(config_.ack_timeout, failures);
    std::size_t failed = 0;
    const sdk::NatsPublishFailure* first = nullptr;
    for (const auto& f : failures) {
      if (f.too_large && reject(records, f, rejects)) continue;
      if (!first) first = &f;
      ++failed;
    }
    if (failed == 0) return failures.empty() ? st : sdk::Status::ok();
    return sdk::Status::error(std::to_string(failed) + " of " + std::to_string(records.size()) +
                              " publishes to " + config_.subject + " failed; first (" + first->msg_id +
                              "): " + first->reason);
  }

  // A message refused for its size never fits: the record goes to the error port.
  bool reject(std::span<const sdk::Record> records, const sdk::NatsPublishFailure& f,
              sdk::Rejects& rejects) const {
    for (std::size_t i = 0; i < records.size(); ++i)
      if (id_prefix_ + records[i].id == f.msg_id) {
        rejects.add(i, f.reason);
        return true;
      }
    return false;
  }

  sdk::Status flush() {
    if (auto st = ctx_.nats->flush(config_.ack_timeout); !st)
      return sdk::Status::error("flush publishes to " + config_.subject + ": " + st.error());
    return sdk::Status::ok();
  }

  Config config_;
  sdk::Context ctx_;
  std::vector<sdk::NatsHeader> headers_;  // views of config_.headers
  std::string id_prefix_;
  std::string stream_;  // empty: core publish
  std::atomic<double> window_ms_{0};
  std::atomic<bool> window_short_{false};
  std::unique_ptr<sdk::NatsPublisher> pub_;  // null: core publish
  std::string payload_;
  std::string id_;
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
          else if (iequals(key, msg_id_header))
            lint.error("headers", "invalid_value",
                       "Nats-Msg-Id is set from the record id; it cannot be configured");
        }
      })
      .example(boost::json::parse(R"({"id": "uplink", "type": "nats_output", "inputs": ["hot"],
                                      "config": {"subject": "hub.readings"}})"))
      .implementation<NatsOutput>();
}

}  // namespace weir::components::nats_output
