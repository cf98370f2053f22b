#include "runtime/component_nats.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <utility>
#include <vector>

#include "bus/core_subscription.hpp"
#include "bus/msg.hpp"
#include "bus/publisher.hpp"
#include "bus/pull_consumer.hpp"
#include "bus/topology.hpp"
#include "sdk/base/json_write.hpp"

namespace weir::runtime {

namespace {

using namespace std::chrono_literals;

constexpr auto api_timeout = 5s;

std::chrono::milliseconds millis(std::chrono::nanoseconds d) {
  return std::max<std::chrono::milliseconds>(1ms, std::chrono::duration_cast<std::chrono::milliseconds>(d));
}

bool too_large(const bus::Status& st) {
  return st.code() == NATS_MAX_PAYLOAD || st.js_code() == JSStreamMessageExceedsMaximumErr;
}

sdk::NatsStatus to_sdk(const bus::Status& st) {
  if (st.ok()) return sdk::NatsStatus::ok();
  const auto code = too_large(st)       ? sdk::NatsErrc::too_large
                    : st.is_not_found() ? sdk::NatsErrc::not_found
                                        : sdk::NatsErrc::failed;
  return sdk::NatsStatus::error(code, st.text());
}

// nats.c takes header keys and values as C strings: the copies go through buffers of the
// calling thread, which stop allocating once they are large enough.
bus::Result<bus::Msg> make_msg(const sdk::NatsMsg& m) {
  auto msg = bus::Msg::create(m.subject, m.data);
  if (!msg) return msg;
  thread_local std::string key, value;
  for (const auto& h : m.headers) {
    key.assign(h.key);
    value.assign(h.value);
    if (auto st = msg->set_header(key, value); !st) return st;
  }
  if (!m.msg_id.empty()) {
    key.assign(bus::msg_id_header);
    value.assign(m.msg_id);
    if (auto st = msg->set_header(key, value); !st) return st;
  }
  return msg;
}

class Publisher final : public sdk::NatsPublisher {
 public:
  Publisher(bus::Connection& conn, std::unique_ptr<bus::AsyncPublisher> pub)
      : conn_(conn), pub_(std::move(pub)) {}

  sdk::NatsStatus publish(const sdk::NatsMsg& m) override {
    auto msg = make_msg(m);
    if (!msg) {
      unsent_.push_back({std::string(m.msg_id), msg.status().text(), too_large(msg.status())});
      return to_sdk(msg.status());
    }
    return to_sdk(pub_->publish(std::move(msg).value()));  // a failure is listed by wait_all()
  }

  sdk::Status wait(std::chrono::nanoseconds timeout,
                   std::vector<sdk::NatsPublishFailure>& failures) override {
    // On a connection that buffers writes the publishes may still wait for nats.c's flusher: a
    // PING sends them now (its PONG comes back before the PubAcks, which the stream sends once
    // it stored them).
    (void)conn_.flush(millis(timeout));
    std::vector<bus::PublishFailure> listed;
    auto st = pub_->wait_all(millis(timeout), listed);
    sdk::Status result = st.ok() ? sdk::Status::ok() : sdk::Status::error(st.text());
    if (result && !unsent_.empty())
      result = sdk::Status::error(std::to_string(unsent_.size()) +
                                  " publish(es) failed; first: " + unsent_.front().reason);
    for (auto& f : unsent_) failures.push_back(std::move(f));
    unsent_.clear();
    for (auto& f : listed) failures.push_back({std::move(f.msg_id), f.error.text(), too_large(f.error)});
    return result;
  }

 private:
  bus::Connection& conn_;
  std::unique_ptr<bus::AsyncPublisher> pub_;
  std::vector<sdk::NatsPublishFailure> unsent_;  // messages that could not even be made
};

// The messages of one fetch, with what keeps their subscription alive until they are gone.
class Fetched final : public sdk::NatsFetched {
 public:
  explicit Fetched(std::shared_ptr<const void> keep) : keep_(std::move(keep)) {}
  std::vector<bus::Msg>& msgs() { return msgs_; }

  std::size_t size() const override { return msgs_.size(); }
  std::string_view data(std::size_t i) const override { return msgs_[i].view(); }
  sdk::NatsStatus position(std::size_t i, std::string& stream, std::uint64_t& seq) const override {
    auto md = msgs_[i].metadata();
    if (!md) return to_sdk(md.status());
    stream = md->stream;
    seq = md->stream_seq;
    return sdk::NatsStatus::ok();
  }
  // An ack is a buffered publish and does not throw; a failed one only means a redelivery.
  void ack(std::size_t i) override { (void)msgs_[i].ack(); }
  void nak(std::size_t i) override { (void)msgs_[i].nak(); }

 private:
  std::shared_ptr<const void> keep_;  // declared first: outlives the messages
  std::vector<bus::Msg> msgs_;
};

// The JetStream context and the pull subscription bound with it, held by the consumer and by
// every fetch from it.
struct Binding {
  bus::JetStream js;
  bus::PullConsumer consumer;  // declared after js: destroyed before it
};

class Consumer final : public sdk::NatsConsumer {
 public:
  Consumer(std::shared_ptr<Binding> binding, std::string stream, std::string durable,
           std::chrono::nanoseconds ack_wait)
      : binding_(std::move(binding)),
        stream_(std::move(stream)),
        durable_(std::move(durable)),
        ack_wait_(ack_wait) {}

  sdk::NatsStatus fetch(int max, std::chrono::nanoseconds timeout,
                        std::shared_ptr<sdk::NatsFetched>& out) override {
    auto f = std::make_shared<Fetched>(binding_);
    std::vector<bus::Msg> got;
    auto st = binding_->consumer.fetch(in_order_.want(max), millis(timeout), got);
    (void)in_order_.add(got, f->msgs());  // nothing yet while redeliveries are gathered
    out = std::move(f);
    return to_sdk(st);
  }

  bool await_redeliveries(const std::function<bool(std::chrono::nanoseconds)>& sleep,
                          const sdk::Log& log) override {
    std::int64_t unacked = 0;
    const bool go_on = bus::await_redeliveries(
        binding_->js.raw(), stream_, durable_, ack_wait_, sleep,
        [&log](const std::string& line) { log.info("{}", line); }, unacked);
    // Gathered for at most two ack_waits more (see runtime::await_redeliveries).
    in_order_.expect(unacked, 2 * ack_wait_ + std::chrono::seconds(5));
    return go_on;
  }

 private:
  std::shared_ptr<Binding> binding_;
  std::string stream_;
  std::string durable_;
  std::chrono::nanoseconds ack_wait_;
  bus::InOrder in_order_;
};

class Subscription final : public sdk::NatsSubscription {
 public:
  explicit Subscription(bus::CoreSubscription sub)
      : sub_(std::make_shared<bus::CoreSubscription>(std::move(sub))) {}

  sdk::NatsStatus fetch(int max, std::chrono::nanoseconds timeout,
                        std::shared_ptr<sdk::NatsFetched>& out) override {
    auto f = std::make_shared<Fetched>(sub_);
    auto st = sub_->fetch(max, millis(timeout), f->msgs());
    out = std::move(f);
    return to_sdk(st);
  }
  std::int64_t dropped() const override { return sub_->dropped(); }

 private:
  std::shared_ptr<bus::CoreSubscription> sub_;
};

}  // namespace

std::int64_t ComponentNats::max_payload() const {
  return conn_.max_payload();
}

sdk::NatsStatus ComponentNats::publish(const sdk::NatsMsg& m) {
  auto msg = make_msg(m);
  if (!msg) return to_sdk(msg.status());
  return to_sdk(conn_.publish(*msg));
}

sdk::Status ComponentNats::flush(std::chrono::nanoseconds timeout) {
  auto st = conn_.flush(millis(timeout));
  return st.ok() ? sdk::Status::ok() : sdk::Status::error(st.text());
}

// One JetStream API request. No responders means the server runs without JetStream: `stream`
// then stays empty, as when no stream matches.
sdk::Status ComponentNats::stream_for(std::string_view subject, std::string& stream) {
  stream.clear();
  std::string req = "{\"subject\":";
  sdk::write_json_string(req, subject);
  req += '}';
  auto reply = conn_.request("$JS.API.STREAM.NAMES", req, api_timeout);
  const std::string what = "look up the stream that captures " + std::string(subject);
  if (!reply && reply.status().code() == NATS_NO_RESPONDERS) return sdk::Status::ok();
  if (!reply) return sdk::Status::error(what + ": " + reply.status().text());
  boost::system::error_code ec;
  auto v = boost::json::parse(reply->view(), ec);
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

sdk::NatsStatus ComponentNats::stream_info(const std::string& stream, sdk::NatsStreamInfo& info) {
  auto js = conn_.jetstream();
  if (!js) return to_sdk(js.status());
  auto got = bus::stream_info(js->raw(), stream);
  if (!got) return to_sdk(got.status());
  info.created_ns = got->created_ns;
  info.duplicate_window = got->duplicate_window;
  return sdk::NatsStatus::ok();
}

std::chrono::milliseconds ComponentNats::redelivery_wait(std::chrono::nanoseconds ack_wait) const {
  return bus::redelivery_wait(ack_wait);
}

sdk::NatsStatus ComponentNats::publisher(const sdk::NatsPublisherOptions& options,
                                         std::unique_ptr<sdk::NatsPublisher>& out) {
  bus::PublisherOptions o;
  o.max_pending = options.window;
  o.publish_timeout = millis(options.publish_timeout);
  auto pub = bus::AsyncPublisher::create(conn_, o);
  if (!pub) return to_sdk(pub.status());
  out = std::make_unique<Publisher>(conn_, std::move(pub).value());
  return sdk::NatsStatus::ok();
}

sdk::NatsStatus ComponentNats::consumer(const std::string& stream, const sdk::NatsConsumerSpec& spec,
                                        std::unique_ptr<sdk::NatsConsumer>& out) {
  auto js = conn_.jetstream();
  if (!js) return to_sdk(js.status());
  bus::ConsumerSpec cs;
  cs.durable = spec.durable;
  cs.filter_subject = spec.filter_subject;
  cs.ack_wait = spec.ack_wait;
  cs.max_ack_pending = spec.max_ack_pending;
  if (auto e = bus::ensure_consumer(js->raw(), stream, cs); !e) return to_sdk(e.status());
  auto consumer = bus::PullConsumer::bind(js->raw(), stream, spec.durable);
  if (!consumer) return to_sdk(consumer.status());
  auto binding = std::make_shared<Binding>();
  binding->js = std::move(js).value();
  binding->consumer = std::move(consumer).value();
  out = std::make_unique<Consumer>(std::move(binding), stream, spec.durable, spec.ack_wait);
  return sdk::NatsStatus::ok();
}

sdk::NatsStatus ComponentNats::subscribe(const std::string& subject,
                                         std::unique_ptr<sdk::NatsSubscription>& out) {
  bus::CoreSubscriptionOptions o;
  o.subject = subject;
  auto sub = bus::CoreSubscription::subscribe(conn_.raw(), o);
  if (!sub) return to_sdk(sub.status());
  out = std::make_unique<Subscription>(std::move(sub).value());
  return sdk::NatsStatus::ok();
}

std::uint64_t ComponentNats::reconnects() const {
  return conn_.reconnects_now();
}

}  // namespace weir::runtime
