#include "bus/connection.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace weir::bus {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split_urls(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(start, end - start);
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
    start = end + 1;
  }
  return out;
}

}  // namespace

const char* to_string(ConnState s) {
  switch (s) {
    case ConnState::connected:
      return "connected";
    case ConnState::reconnecting:
      return "reconnecting";
    case ConnState::closed:
      return "closed";
  }
  return "unknown";
}

JetStream& JetStream::operator=(JetStream&& o) noexcept {
  if (this != &o) {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    js_ = std::exchange(o.js_, nullptr);
  }
  return *this;
}

JetStream::~JetStream() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
}

// Lives on the heap because nats.c delivers connection events on its own async-callback thread,
// possibly after ~Connection started; it is freed once the "closed" event has been seen.
struct Connection::Callbacks {
  std::string name;
  std::atomic<ConnState> state{ConnState::connected};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> async_errors{0};
  std::atomic<bool> closing{false};  // set by ~Connection: a requested close is not a failure
  std::mutex mu;
  std::condition_variable cv;
  bool closed_seen = false;

  void transition(ConnState to, const char* detail) noexcept {
    const ConnState from = state.exchange(to);
    if (from == to) return;
    try {
      if (to == ConnState::connected || closing.load())
        spdlog::info("nats [{}]: {} -> {}{}", name, to_string(from), to_string(to), detail);
      else
        spdlog::warn("nats [{}]: {} -> {}{}", name, to_string(from), to_string(to), detail);
    } catch (...) {
    }
  }

  static void on_disconnected(natsConnection*, void* closure) {
    auto* self = static_cast<Callbacks*>(closure);
    // nats.c reports "disconnected" before "closed" on a requested close, too.
    if (self->closing.load() || self->state.load() == ConnState::closed) return;
    self->transition(ConnState::reconnecting, "");
  }
  static void on_reconnected(natsConnection*, void* closure) {
    auto* self = static_cast<Callbacks*>(closure);
    self->reconnects.fetch_add(1);
    self->transition(ConnState::connected, " (reconnected)");
  }
  static void on_closed(natsConnection*, void* closure) {
    auto* self = static_cast<Callbacks*>(closure);
    self->transition(ConnState::closed, "");
    try {
      std::lock_guard lock(self->mu);
      self->closed_seen = true;
      self->cv.notify_all();
    } catch (...) {  // a failed mutex lock: ~Connection then times out and leaks this state
    }
  }
  static void on_error(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
    auto* self = static_cast<Callbacks*>(closure);
    // Slow-consumer errors can come per message: log the 1st, 2nd, 4th, 8th... occurrence.
    const auto n = self->async_errors.fetch_add(1) + 1;
    if ((n & (n - 1)) != 0) return;
    try {
      spdlog::warn("nats [{}]: asynchronous error: {} ({} so far)", self->name, natsStatus_GetText(err), n);
    } catch (...) {
    }
  }
};

Result<std::unique_ptr<Connection>> Connection::connect(const ConnectOptions& o,
                                                        const std::atomic<bool>* stop) {
  if (Status init = init_nats_library(); !init) return init;
  const auto urls = split_urls(o.url);
  if (urls.empty()) return Status::error("nats connect: empty server URL");

  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s != NATS_OK) return from_nats(s, "nats connect: options");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);

  std::vector<const char*> url_ptrs;
  url_ptrs.reserve(urls.size());
  for (const auto& u : urls) url_ptrs.push_back(u.c_str());
  auto cb = std::make_unique<Callbacks>();
  cb->name = o.name;

  s = natsOptions_SetServers(opts, url_ptrs.data(), static_cast<int>(url_ptrs.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, o.name.c_str());
  if (s == NATS_OK && !o.user.empty()) s = natsOptions_SetUserInfo(opts, o.user.c_str(), o.password.c_str());
  if (s == NATS_OK && !o.token.empty()) s = natsOptions_SetToken(opts, o.token.c_str());
  if (s == NATS_OK && !o.creds_file.empty())
    s = natsOptions_SetUserCredentialsFromFiles(opts, o.creds_file.c_str(), nullptr);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, o.reconnect_wait.count());
  if (s == NATS_OK)
    s = natsOptions_SetReconnectJitter(opts, o.reconnect_jitter.count(), o.reconnect_jitter.count());
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, o.reconnect_buffer_bytes);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
  if (s == NATS_OK && o.send_asap) s = natsOptions_SetSendAsap(opts, true);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, &Callbacks::on_disconnected, cb.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, &Callbacks::on_reconnected, cb.get());
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, &Callbacks::on_closed, cb.get());
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, &Callbacks::on_error, cb.get());
  if (s != NATS_OK) return from_nats(s, "nats connect: options");

  // Not natsOptions_SetRetryOnFailedConnect: with MaxReconnect -1 it would block forever and
  // could not honour `stop`; retry here instead.
  const auto deadline = Clock::now() + o.connect_timeout;
  std::minstd_rand rng(std::random_device{}());
  bool logged_wait = false;
  for (;;) {
    natsConnection* nc = nullptr;
    s = natsConnection_Connect(&nc, opts);
    if (s == NATS_OK) {
      spdlog::info("nats [{}]: connected to {}", o.name, o.url);
      auto conn = std::unique_ptr<Connection>(new Connection(nc, cb.release(), o.api_timeout));
      conn->store_dir_ = o.store_dir;
      return conn;
    }
    Status err = from_nats(s, "nats connect to " + o.url);
    if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_SSL_ERROR || s == NATS_INVALID_ARG) return err;
    const bool stopping = stop != nullptr && stop->load();
    if (stopping || Clock::now() >= deadline) return err;
    if (!logged_wait) {
      spdlog::warn("nats [{}]: {}; retrying for up to {} ms", o.name, err.text(), o.connect_timeout.count());
      logged_wait = true;
    }
    auto wait = o.reconnect_wait;
    if (o.reconnect_jitter.count() > 0)
      wait += std::chrono::milliseconds(rng() % static_cast<unsigned>(o.reconnect_jitter.count()));
    const auto until = std::min(Clock::now() + wait, deadline);
    while (Clock::now() < until && !(stop != nullptr && stop->load()))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Connection::~Connection() {
  cb_->closing.store(true);
  natsConnection_Close(nc_);
  bool seen = false;
  {
    std::unique_lock lock(cb_->mu);
    seen = cb_->cv.wait_for(lock, std::chrono::seconds(10), [&] { return cb_->closed_seen; });
  }
  natsConnection_Destroy(nc_);
  // Without the closed event, nats.c may still call into cb_ later: leaking it is the safe choice.
  if (seen) delete cb_;
}

ConnState Connection::state() const {
  return cb_->state.load();
}

std::uint64_t Connection::reconnects() const {
  return cb_->reconnects.load();
}

std::string Connection::connected_url() const {
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(nc_, buf, sizeof(buf)) != NATS_OK) return {};
  return buf;
}

Result<JetStream> Connection::jetstream(const jsOptions* opts) const {
  jsOptions o;
  if (opts != nullptr) {
    o = *opts;
  } else {
    jsOptions_Init(&o);
  }
  if (o.Wait <= 0) o.Wait = api_timeout_.count();
  jsCtx* js = nullptr;
  const natsStatus s = natsConnection_JetStream(&js, nc_, &o);
  if (s != NATS_OK) return from_nats(s, "jetstream context");
  return JetStream(js);
}

Status Connection::flush(std::chrono::milliseconds timeout) const {
  return from_nats(natsConnection_FlushTimeout(nc_, timeout.count()), "nats flush");
}

Status Connection::publish(const Msg& msg) const {
  const natsStatus s = natsConnection_PublishMsg(nc_, msg.raw());
  if (s == NATS_OK) return Status::success();
  return from_nats(s, "publish to " + std::string(msg.subject()));
}

Result<Msg> Connection::request(const std::string& subject, std::string_view data,
                                std::chrono::milliseconds timeout) const {
  natsMsg* raw = nullptr;
  const natsStatus s = natsConnection_Request(&raw, nc_, subject.c_str(), data.data(),
                                              static_cast<int>(data.size()), timeout.count());
  Msg reply(raw);
  if (s != NATS_OK) return from_nats(s, "request on " + subject);
  return reply;
}

std::int64_t Connection::max_payload() const {
  return natsConnection_GetMaxPayload(nc_);
}

std::uint64_t Connection::reconnects_now() const {
  natsStatistics* stats = nullptr;
  if (natsStatistics_Create(&stats) != NATS_OK) return 0;
  std::uint64_t n = 0;
  if (natsConnection_GetStats(nc_, stats) == NATS_OK)
    (void)natsStatistics_GetCounts(stats, nullptr, nullptr, nullptr, nullptr, &n);
  natsStatistics_Destroy(stats);
  return n;
}

}  // namespace weir::bus
