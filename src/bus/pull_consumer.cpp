#include "bus/pull_consumer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "bus/topology.hpp"

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

namespace {

// One natsSubscription_Fetch; appends what came.
natsStatus fetch_into(natsSubscription* sub, int batch, std::chrono::milliseconds timeout,
                      std::vector<Msg>& out, jsErrCode& code) {
  natsMsgList list{nullptr, 0};
  const natsStatus s = natsSubscription_Fetch(&list, sub, batch, timeout.count(), &code);
  out.reserve(out.size() + static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // ownership moved into Msg; natsMsgList_Destroy skips nulls
  }
  natsMsgList_Destroy(&list);
  return s;
}

}  // namespace

// nats.c 3.4 (Debian 12) overflows the array it returns when a fetch starts with messages already
// queued on the subscription (late deliveries for an earlier fetch that timed out first) that
// make up more than half of its batch: it then waits for a count it has passed, and writes past
// the end as more arrive (fixed upstream in 3.10, nats.c #749; found here by ASan in the bridge
// test, with link cuts and 20 ms fetches). So queued messages are taken one per fetch (a batch
// of 1 can never pass its count), and only an empty queue gets a batch. What can still reach a
// batched fetch is what lands in the microseconds between the check and the fetch's own look.
Status PullConsumer::fetch(int max_msgs, std::chrono::milliseconds timeout, std::vector<Msg>& out) {
  if (sub_ == nullptr) return Status::error("fetch on an unbound pull consumer");
  if (max_msgs <= 0) return Status::error("fetch: max_msgs must be positive");
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = NATS_OK;
  int queued = 0;
  if (natsSubscription_GetPending(sub_, &queued, nullptr) == NATS_OK && queued > 0) {
    for (int taken = 0; taken < max_msgs && queued > 0 && s == NATS_OK; ++taken) {
      s = fetch_into(sub_, 1, timeout, out, code);
      if (natsSubscription_GetPending(sub_, &queued, nullptr) != NATS_OK) queued = 0;
    }
  } else {
    s = fetch_into(sub_, max_msgs, timeout, out, code);
  }
  // A timeout only means nothing (more) was waiting.
  return (s == NATS_OK || s == NATS_TIMEOUT) ? Status::success()
                                             : from_nats(s, "fetch " + stream_ + "/" + durable_, code);
}

bool await_redeliveries(jsCtx* js, const std::string& stream, const std::string& durable,
                        std::chrono::nanoseconds ack_wait,
                        const std::function<bool(std::chrono::nanoseconds)>& sleep,
                        const std::function<void(const std::string&)>& note, std::int64_t& unacked) {
  using namespace std::chrono_literals;
  unacked = 0;
  auto info = consumer_info(js, stream, durable);
  const auto ghosts_gone = std::chrono::steady_clock::now() + pull_request_expiry_wait;
  if (info && info->num_waiting > 0)
    note(fmt::format(
        "{} pull requests on {} still open at the server (an earlier run's): waiting for them to expire",
        info->num_waiting, durable));
  while (info && info->num_waiting > 0 && std::chrono::steady_clock::now() < ghosts_gone) {
    if (!sleep(50ms)) return false;
    info = consumer_info(js, stream, durable);
  }
  if (!info || info->num_ack_pending == 0) return sleep(0ns);  // no wait: only whether to go on
  unacked = info->num_ack_pending;
  const auto wait = redelivery_wait(ack_wait);
  note(fmt::format(
      "{} messages of {} were unacknowledged (a crash or a broker restart): reading again in {} ms, when "
      "they are due first",
      info->num_ack_pending, durable, wait.count()));
  return sleep(wait);
}

void sort_by_stream_seq(std::vector<Msg>& msgs) {
  std::vector<std::pair<std::uint64_t, std::size_t>> order;
  order.reserve(msgs.size());
  bool sorted = true;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    auto md = msgs[i].metadata();
    const auto seq = md ? md->stream_seq : std::numeric_limits<std::uint64_t>::max();
    if (!order.empty() && seq < order.back().first) sorted = false;
    order.emplace_back(seq, i);
  }
  if (sorted) return;
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Msg> out;
  out.reserve(msgs.size());
  for (const auto& [seq, i] : order) out.push_back(std::move(msgs[i]));
  msgs.swap(out);
}

void InOrder::expect(std::int64_t unacked, std::chrono::steady_clock::duration patience) {
  owed_ = unacked;
  until_ = std::chrono::steady_clock::now() + patience;
}

bool InOrder::add(std::vector<Msg>& fetched, std::vector<Msg>& ready) {
  for (auto& m : fetched) held_.push_back(std::move(m));
  fetched.clear();
  if (held_.empty()) return false;
  if (owed_ > 0 && static_cast<std::int64_t>(held_.size()) < owed_ &&
      std::chrono::steady_clock::now() < until_)
    return false;
  owed_ = 0;
  sort_by_stream_seq(held_);
  ready.swap(held_);
  held_.clear();
  return true;
}

int InOrder::want(int batch) const {
  const auto missing = owed_ - static_cast<std::int64_t>(held_.size());
  return static_cast<int>(std::clamp<std::int64_t>(missing, batch, std::max(batch, 4096)));
}

}  // namespace weir::bus
