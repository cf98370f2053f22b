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
    Status st = from_nats(s, what);
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

namespace {

// One pull request: `no_wait`, what is stored now (up to `batch`); else a long poll that ends at
// the first `batch` messages or at `timeout`. Appends what came to `out`.
natsStatus pull(natsSubscription* sub, int batch, std::chrono::milliseconds timeout, bool no_wait,
                std::vector<Msg>& out) {
  jsFetchRequest req;
  jsFetchRequest_Init(&req);
  req.Batch = batch;
  req.NoWait = no_wait;
  // Also with no_wait: the client waits this long for the server's answer (nats.c shortens the
  // server's side by 10 ms).
  req.Expires = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  natsMsgList list{nullptr, 0};
  const natsStatus s = natsSubscription_FetchRequest(&list, sub, &req);
  out.reserve(out.size() + static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // ownership moved into Msg; natsMsgList_Destroy skips nulls
  }
  natsMsgList_Destroy(&list);
  return s;
}

// Nothing waiting (404), or the long poll expired (408 or the client's own timeout).
bool nothing(natsStatus s) {
  return s == NATS_NOT_FOUND || s == NATS_TIMEOUT;
}

}  // namespace

// natsSubscription_Fetch returns only once `max_msgs` messages came or the timeout passed: at a
// low rate a message would wait for the ones after it (up to the whole timeout). So: what is
// stored now (one no_wait request); when nothing is, a long poll that returns with the first
// message. What comes after it is taken by the next call, without waiting.
Status PullConsumer::fetch(int max_msgs, std::chrono::milliseconds timeout, std::vector<Msg>& out) {
  if (sub_ == nullptr) return Status::error("fetch on an unbound pull consumer");
  if (max_msgs <= 0) return Status::error("fetch: max_msgs must be positive");
  const auto before = out.size();
  natsStatus s = pull(sub_, max_msgs, timeout, true, out);
  if (out.size() == before && nothing(s)) s = pull(sub_, 1, timeout, false, out);
  if (out.size() > before || nothing(s)) return Status::success();
  return from_nats(s, "fetch " + stream_ + "/" + durable_);
}

}  // namespace weir::bus
