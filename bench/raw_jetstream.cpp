#include "raw_jetstream.hpp"

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

namespace weir::bench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int publish_window = 4096;  // the AsyncPublisher default window
constexpr int fetch_batch = 256;

void check(natsStatus s, const char* what) {
  if (s == NATS_OK) return;
  std::string text = std::string("raw_jetstream: ") + what + ": " + natsStatus_GetText(s);
  if (const char* detail = nats_GetLastError(nullptr); detail != nullptr && *detail != '\0')
    text += std::string(" (") + detail + ")";
  throw std::runtime_error(text);
}

std::atomic<std::size_t> g_publish_errors{0};

void on_publish_error(jsCtx*, jsPubAckErr*, void*) {
  g_publish_errors.fetch_add(1);
}

double rate(std::size_t n, Clock::duration d) {
  const double s = std::chrono::duration<double>(d).count();
  return s > 0 ? static_cast<double>(n) / s : 0.0;
}

// Owns the nats.c objects so that an exception on any step still releases them in order.
struct Session {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  std::string stream;
  ~Session() {
    natsSubscription_Destroy(sub);
    if (js != nullptr && !stream.empty()) js_DeleteStream(js, stream.c_str(), nullptr, nullptr);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
};

// A fixed payload of payload_bytes when `make` is empty, else make(i).
RawResult run(const std::string& url, std::size_t n, std::size_t payload_bytes,
              const std::function<std::string(std::size_t)>& make) {
  Session sn;
  check(natsConnection_ConnectTo(&sn.nc, url.c_str()), "connect");

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = publish_window;
  jo.PublishAsync.ErrHandler = &on_publish_error;
  check(natsConnection_JetStream(&sn.js, sn.nc, &jo), "jetstream context");

  const std::string tag = std::to_string(Clock::now().time_since_epoch().count());
  sn.stream = "RAWBENCH_" + tag;
  const std::string subject = "rawbench." + tag + ".data";
  const char* subjects[] = {subject.c_str()};

  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = sn.stream.c_str();
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Retention = js_InterestPolicy;
  check(js_AddStream(nullptr, sn.js, &sc, nullptr, nullptr), "add stream");

  // The consumer exists before the first publish: interest retention drops uninteresting messages.
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = "rawbench";
  cc.FilterSubject = subject.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.MaxAckPending = 10 * fetch_batch;
  check(js_AddConsumer(nullptr, sn.js, sn.stream.c_str(), &cc, nullptr, nullptr), "add consumer");

  const std::string fixed(payload_bytes, 'x');
  std::string made;
  g_publish_errors = 0;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    const std::string id = std::to_string(i);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id.c_str();
    if (make) made = make(i);
    const std::string& payload = make ? made : fixed;
    check(js_PublishAsync(sn.js, subject.c_str(), payload.data(), static_cast<int>(payload.size()), &po),
          "publish async");
  }
  check(js_PublishAsyncComplete(sn.js, nullptr), "publish async complete");
  const auto t1 = Clock::now();
  if (g_publish_errors.load() != 0)
    throw std::runtime_error("raw_jetstream: " + std::to_string(g_publish_errors.load()) +
                             " publishes failed");

  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = sn.stream.c_str();
  so.Consumer = "rawbench";
  check(js_PullSubscribe(&sn.sub, sn.js, subject.c_str(), "rawbench", nullptr, &so, nullptr),
        "bind pull consumer");

  std::size_t received = 0;
  const auto t2 = Clock::now();
  while (received < n) {
    natsMsgList list{nullptr, 0};
    const natsStatus s = natsSubscription_Fetch(&list, sn.sub, fetch_batch, 5000, nullptr);
    if (s != NATS_OK && !(s == NATS_TIMEOUT && list.Count > 0)) {
      natsMsgList_Destroy(&list);
      check(s, "fetch");
    }
    for (int i = 0; i < list.Count; ++i) natsMsg_Ack(list.Msgs[i], nullptr);
    received += static_cast<std::size_t>(list.Count);
    natsMsgList_Destroy(&list);
  }
  check(natsConnection_FlushTimeout(sn.nc, 10000), "flush acks");
  const auto t3 = Clock::now();

  RawResult r;
  r.publish_msgs_per_s = rate(n, t1 - t0);
  r.fetch_msgs_per_s = rate(n, t3 - t2);
  r.one_hop_msgs_per_s = rate(n, (t1 - t0) + (t3 - t2));
  return r;
}

}  // namespace

RawResult run_raw_jetstream(const std::string& url, std::size_t n, std::size_t payload_bytes) {
  return run(url, n, payload_bytes, {});
}

RawResult run_raw_jetstream(const std::string& url, std::size_t n,
                            const std::function<std::string(std::size_t)>& payload) {
  return run(url, n, 0, payload);
}

}  // namespace weir::bench
