#include "bus/publisher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace weir::bus {

namespace {

using Clock = std::chrono::steady_clock;

Result<Msg> make_msg(const std::string& subject, std::string_view data, std::span<const Header> headers) {
  auto msg = Msg::create(subject, data);
  if (!msg) return msg.status();
  for (const auto& h : headers) {
    Status s = msg->set_header(std::string(h.key), std::string(h.value));
    if (!s) return s;
  }
  return msg;
}

std::string describe(const Msg& m) {
  std::string id = m.msg_id();
  std::string out = "publish to " + std::string(m.subject());
  if (!id.empty()) out += " (msg id " + id + ")";
  return out;
}

}  // namespace

Result<std::unique_ptr<AsyncPublisher>> AsyncPublisher::create(const Connection& conn,
                                                               const PublisherOptions& options) {
  std::unique_ptr<AsyncPublisher> self(new AsyncPublisher(options));
  jsOptions o;
  jsOptions_Init(&o);
  o.PublishAsync.MaxPending = std::max(1, options.max_pending);
  o.PublishAsync.AckHandler = &AsyncPublisher::on_ack;
  o.PublishAsync.AckHandlerClosure = self.get();
  o.PublishAsync.StallWait = std::clamp<std::int64_t>(options.publish_timeout.count(), 1, 200);
  auto js = conn.jetstream(&o);
  if (!js) return js.status();
  self->js_ = std::move(js).value();
  return self;
}

AsyncPublisher::~AsyncPublisher() {
  if (!js_) return;
  const std::size_t dropped = take_back_outstanding("publisher destroyed");
  if (dropped > 0) spdlog::warn("jetstream publisher: destroyed with {} publishes not acknowledged", dropped);
  // A reply handler that was already running finishes before the context goes away; after
  // take_back_outstanding() no further handler call can start.
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 5000;
  (void)js_PublishAsyncComplete(js_.raw(), &po);
}

// Runs on nats.c's reply-subscription thread. Owns `msg`. Must not throw.
void AsyncPublisher::on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* self = static_cast<AsyncPublisher*>(closure);
  Msg m(msg);
  // Before completed_: a wait_all() that sees this publish complete also sees its sequence.
  if (pa != nullptr && pa->Stream != nullptr && !self->options_.track_stream.empty() &&
      self->options_.track_stream == pa->Stream) {
    auto seen = self->last_acked_seq_.load();
    while (pa->Sequence > seen && !self->last_acked_seq_.compare_exchange_weak(seen, pa->Sequence)) {
    }
  }
  self->completed_.fetch_add(1);
  if (pa != nullptr) {
    self->acked_.fetch_add(1);
    if (pa->Duplicate) self->duplicates_.fetch_add(1);
    return;
  }
  try {
    std::string text = describe(m) + ": ";
    if (pae != nullptr && pae->Err == NATS_TIMEOUT)
      text += "no PubAck within ack_timeout (" + std::to_string(self->options_.ack_timeout.count()) + " ms)";
    else if (pae != nullptr && pae->Err == NATS_NO_RESPONDERS)
      text += "no stream listens on this subject (no responders)";
    else
      text += (pae != nullptr && pae->ErrText != nullptr) ? pae->ErrText : "publish failed";
    if (pae != nullptr && pae->ErrCode != 0)
      text += " [jetstream error " + std::to_string(pae->ErrCode) + "]";
    Status err = Status::error(pae != nullptr ? pae->Err : NATS_ERR, pae != nullptr ? pae->ErrCode : 0,
                               std::move(text));
    self->record_failure(std::move(m), std::move(err));
  } catch (...) {
    // Out of memory: the message is lost to retry, not to counting; the next wait_all() fails.
    self->failed_.fetch_add(1);
    self->lost_.fetch_add(1);
  }
}

void AsyncPublisher::record_failure(Msg msg, Status error) {
  PublishFailure f;
  f.msg_id = msg.msg_id();
  f.subject = std::string(msg.subject());
  f.error = std::move(error);
  f.message = std::move(msg);
  failed_.fetch_add(1);
  std::lock_guard lock(mu_);
  failures_.push_back(std::move(f));
}

Status AsyncPublisher::publish(const std::string& subject, std::string_view data, const std::string& msg_id,
                               std::span<const Header> headers) {
  auto msg = make_msg(subject, data, headers);
  if (!msg) return msg.status();
  return publish_owned(std::move(msg).value(), msg_id.empty() ? nullptr : msg_id.c_str());
}

Status AsyncPublisher::publish(Msg msg) {
  if (!msg) return Status::error("publish of an empty message");
  return publish_owned(std::move(msg), nullptr);
}

Status AsyncPublisher::publish_owned(Msg msg, const char* msg_id) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = msg_id;
  po.MaxWait = options_.ack_timeout.count();
  if (window_stuck_) {
    if (msg_id != nullptr && msg.msg_id().empty()) (void)msg.set_header(msg_id_header, msg_id);
    Status err = Status::error(NATS_TIMEOUT, 0,
                               describe(msg) + ": publish window still full; call wait_all() to settle it");
    Status ret = err;
    record_failure(std::move(msg), std::move(err));
    return ret;
  }
  const auto deadline = Clock::now() + options_.publish_timeout;
  for (;;) {
    const natsStatus s = js_PublishMsgAsync(js_.raw(), msg.raw_ref(), &po);
    if (s == NATS_OK) {  // nats.c now owns the message (msg is empty)
      published_.fetch_add(1);
      return Status::success();
    }
    // NATS_TIMEOUT here is a stall: the window stayed full for StallWait. Keep waiting until
    // publish_timeout; PubAcks (or their timeouts) free the window.
    if (s == NATS_TIMEOUT && Clock::now() < deadline) continue;
    if (s == NATS_TIMEOUT) window_stuck_ = true;
    // Convert first: describe() makes nats.c calls that may replace the thread's last error.
    Status err = from_nats(s, {});
    err.context(describe(msg));
    if (msg_id != nullptr && msg.msg_id().empty()) (void)msg.set_header(msg_id_header, msg_id);
    Status ret = err;
    record_failure(std::move(msg), std::move(err));
    return ret;
  }
}

std::size_t AsyncPublisher::take_back_outstanding(const char* reason) {
  // nats.c 3.4 dereferences its pending map, which exists only after the first async publish.
  if (published_.load() == 0) return 0;
  natsMsgList pending{nullptr, 0};
  if (js_PublishAsyncGetPendingList(&pending, js_.raw()) != NATS_OK) return 0;
  const auto n = static_cast<std::size_t>(pending.Count);
  for (int i = 0; i < pending.Count; ++i) {
    Msg m(pending.Msgs[i]);
    pending.Msgs[i] = nullptr;
    completed_.fetch_add(1);
    try {
      Status err = Status::error(NATS_TIMEOUT, 0, describe(m) + ": " + reason);
      record_failure(std::move(m), std::move(err));
    } catch (...) {
      failed_.fetch_add(1);
      lost_.fetch_add(1);
    }
  }
  natsMsgList_Destroy(&pending);
  return n;
}

Status AsyncPublisher::wait_all(std::chrono::milliseconds timeout, std::vector<PublishFailure>& failures) {
  window_stuck_ = false;
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = std::max<std::int64_t>(1, timeout.count());
  natsStatus s = js_PublishAsyncComplete(js_.raw(), &po);
  if (s == NATS_TIMEOUT) {
    take_back_outstanding(
        ("no PubAck within wait_all timeout of " + std::to_string(timeout.count()) + " ms").c_str());
    // Handlers that had already started still hold nats.c's pending count; let them finish so
    // their outcome lands in this wait and not in the next one.
    po.MaxWait = 5000;
    s = js_PublishAsyncComplete(js_.raw(), &po);
  }
  std::vector<PublishFailure> mine;
  {
    std::lock_guard lock(mu_);
    mine.swap(failures_);
  }
  // Failures that could not be listed (out of memory) are one entry without a message.
  if (const auto lost = lost_.exchange(0); lost > 0) {
    PublishFailure f;
    f.error =
        Status::error(std::to_string(lost) + " publish(es) failed and could not be listed (out of memory)");
    mine.push_back(std::move(f));
  }
  if (mine.empty()) {
    if (s != NATS_OK) return from_nats(s, "wait for PubAcks");
    return Status::success();
  }
  std::string text = std::to_string(mine.size()) + " publish(es) failed; first: " + mine.front().error.text();
  Status err = Status::error(mine.front().error.code(), mine.front().error.js_code(), std::move(text));
  for (auto& f : mine) failures.push_back(std::move(f));
  return err;
}

Status AsyncPublisher::retry(std::vector<PublishFailure>& failures) {
  Status first;
  for (auto& f : failures) {
    if (!f.message) continue;
    Status s = publish_owned(std::move(f.message), nullptr);
    if (!s && first.ok()) first = std::move(s);
  }
  failures.clear();
  return first;
}

Result<PubAck> AsyncPublisher::publish_sync(const std::string& subject, std::string_view data,
                                            const std::string& msg_id, std::span<const Header> headers,
                                            std::chrono::milliseconds timeout) {
  auto msg = make_msg(subject, data, headers);
  if (!msg) return msg.status();
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = msg_id.empty() ? nullptr : msg_id.c_str();
  po.MaxWait = timeout.count();
  jsPubAck* pa = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_PublishMsg(&pa, js_.raw(), msg->raw(), &po, &code);
  if (s != NATS_OK) {
    Status err = from_nats(s, {}, code);
    return err.context(describe(*msg));
  }
  PubAck out;
  out.stream = pa->Stream != nullptr ? pa->Stream : "";
  out.sequence = pa->Sequence;
  out.duplicate = pa->Duplicate;
  jsPubAck_Destroy(pa);
  return out;
}

std::uint64_t AsyncPublisher::outstanding() const {
  const auto p = published_.load();
  const auto c = completed_.load();
  return p > c ? p - c : 0;
}

PublisherStats AsyncPublisher::stats() const {
  return PublisherStats{published_.load(), acked_.load(), duplicates_.load(), failed_.load()};
}

}  // namespace weir::bus
