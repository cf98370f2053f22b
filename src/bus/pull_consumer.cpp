#include "bus/pull_consumer.hpp"

#include <utility>

namespace weir::bus {

Result<PullConsumer> PullConsumer::bind(jsCtx* js, const std::string& stream, const std::string& durable) {
  const std::string what = "bind pull consumer " + stream + "/" + durable;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Consumer = durable.c_str();
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  // With Stream+Consumer set, nats.c looks the consumer up and binds; the subject may stay
  // empty (it is only checked against the consumer's filter when given).
  const natsStatus s = js_PullSubscribe(&sub, js, "", durable.c_str(), nullptr, &so, &code);
  if (s != NATS_OK) {
    Status st = from_nats(s, what, code);
    if (s == NATS_NOT_FOUND || code == JSConsumerNotFoundErr || code == JSStreamNotFoundErr)
      return Status::error(s, code, st.text() + " - create it first with ensure_consumer");
    return st;
  }
  // Fetched messages are delivered into the subscription's own queue: no slow-consumer limit.
  natsSubscription_SetPendingLimits(sub, -1, -1);
  return PullConsumer(sub, stream, durable);
}

PullConsumer::PullConsumer(PullConsumer&& o) noexcept
    : sub_(std::exchange(o.sub_, nullptr)), stream_(std::move(o.stream_)), durable_(std::move(o.durable_)) {}

PullConsumer& PullConsumer::operator=(PullConsumer&& o) noexcept {
  if (this != &o) {
    natsSubscription_Destroy(sub_);
    sub_ = std::exchange(o.sub_, nullptr);
    stream_ = std::move(o.stream_);
    durable_ = std::move(o.durable_);
  }
  return *this;
}

// natsSubscription_Destroy (not Unsubscribe/Drain): Destroy clears nats.c's "delete consumer"
// flag before unsubscribing, so even a consumer nats.c had created would survive.
PullConsumer::~PullConsumer() {
  natsSubscription_Destroy(sub_);
}

Status PullConsumer::fetch(int max_msgs, std::chrono::milliseconds timeout, std::vector<Msg>& out) {
  if (sub_ == nullptr) return Status::error("fetch on an unbound pull consumer");
  if (max_msgs <= 0) return Status::error("fetch: max_msgs must be positive");
  natsMsgList list{nullptr, 0};
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_Fetch(&list, sub_, max_msgs, timeout.count(), &code);
  // A timeout only means nothing (more) was waiting.
  Status result = (s == NATS_OK || s == NATS_TIMEOUT)
                      ? Status::success()
                      : from_nats(s, "fetch " + stream_ + "/" + durable_, code);
  out.reserve(out.size() + static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // ownership moved into Msg; natsMsgList_Destroy skips nulls
  }
  natsMsgList_Destroy(&list);
  return result;
}

}  // namespace weir::bus
