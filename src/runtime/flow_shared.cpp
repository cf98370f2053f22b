#include "runtime/flow_shared.hpp"

#include <spdlog/spdlog.h>

#include <pthread.h>
#include <boost/json.hpp>

#include <thread>

#include "bus/pull_consumer.hpp"
#include "bus/topology.hpp"
#include "core/hash.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/record_json.hpp"

namespace weir::runtime {

using namespace std::chrono_literals;

void ComponentCounters::set_failing(std::string reason) {
  std::lock_guard lock(error_mu_);
  last_error_ = std::move(reason);
  failing = true;
}

void ComponentCounters::clear_failing() {
  if (!failing.exchange(false)) return;
  std::lock_guard lock(error_mu_);
  last_error_.clear();
}

std::string ComponentCounters::last_error() const {
  std::lock_guard lock(error_mu_);
  return last_error_;
}

bool FlowShared::past_drain_deadline() const {
  auto deadline = drain_deadline_ns.load();
  if (deadline == 0) return false;
  return std::chrono::steady_clock::now().time_since_epoch().count() > deadline;
}

void StageStop::request(std::chrono::milliseconds drain) {
  deadline_ns_ = (std::chrono::steady_clock::now() + drain).time_since_epoch().count();
  stop_ = true;
}

bool StageStop::past_drain_deadline() const {
  if (shared_.stopping() && shared_.past_drain_deadline()) return true;
  return stop_.load() && std::chrono::steady_clock::now().time_since_epoch().count() > deadline_ns_.load();
}

std::string oversize_reason(std::size_t bytes, std::size_t max_body) {
  return "record of " + std::to_string(bytes) + " bytes, more than the limit of " +
         std::to_string(std::min(max_body, sdk::record_max_bytes)) +
         " (the NATS server's max_payload, less " + "room for headers, bounds a message)";
}

sdk::Record oversize_error_record(const FlowShared& shared, std::size_t component, std::string id,
                                  std::string_view json, std::string& reason) {
  reason = oversize_reason(json.size(), shared.max_body);
  return error_record(shared, component, sdk::Record{std::move(id), sdk::raw_record_value(json, reason)},
                      reason);
}

sdk::Record oversize_error_record(const FlowShared& shared, std::size_t component, sdk::Record&& rec,
                                  std::string& reason) {
  return oversize_error_record(shared, component, std::move(rec.id), sdk::to_json(rec.value), reason);
}

bool cut_error_record(sdk::Record& err, std::size_t max_body) {
  auto* env = err.value.if_object();
  if (env == nullptr) return false;
  auto* inner = env->if_contains("record");
  if (inner == nullptr || (inner->is_object() && inner->as_object().contains("raw_bytes"))) return false;
  const std::string text = sdk::to_json(*inner);
  *inner = sdk::raw_record_value(text, oversize_reason(text.size(), max_body));
  return true;
}

sdk::Record error_record(const FlowShared& shared, std::size_t component, sdk::Record&& rec,
                         std::string_view reason) {
  return error_record(shared.flow.name, shared.flow.components[component].id, std::move(rec), reason);
}

bus::Status publish_batch(bus::AsyncPublisher& pub, const std::string& subject, const BatchWriter& batch,
                          const std::string& msg_id, std::string_view error_reason,
                          std::string_view component, std::string_view origin, std::string_view position) {
  if (!error_reason.empty())
    return publish_dead_letter(pub, subject, batch.body(), msg_id, error_reason, component,
                               std::to_string(batch.count()), origin, true);
  return publish_batch(pub, subject, batch.body(), batch.count(), msg_id, position);
}

bus::Status publish_batch(bus::AsyncPublisher& pub, const std::string& subject, std::string_view body,
                          std::size_t records, const std::string& msg_id, std::string_view position) {
  const std::string count = std::to_string(records);
  bus::Header h[] = {{"Weir-Records", count}, {position_header, position}};
  return pub.publish(subject, body, msg_id, std::span(h, position.empty() ? 1 : 2));
}

bus::Status publish_dead_letter(bus::AsyncPublisher& pub, const std::string& subject, std::string_view body,
                                const std::string& msg_id, std::string_view reason,
                                std::string_view component, std::string_view records, std::string_view origin,
                                bool error_records) {
  // Header values are one line; a reason may come from a parser and hold anything.
  std::string line(reason.substr(0, 512));
  for (auto& c : line)
    if (c == '\r' || c == '\n') c = ' ';
  bus::Header h[5] = {{"Weir-Error", line}, {"Weir-Component", component}};
  std::size_t n = 2;
  if (!records.empty()) h[n++] = {"Weir-Records", records};
  if (!origin.empty()) h[n++] = {"Weir-Subject", origin};
  if (error_records) h[n++] = {"Weir-Body", "errors"};
  return pub.publish(subject, body, msg_id, std::span(h, n));
}

void dead_letter_message(FlowShared& shared, bus::AsyncPublisher& pub, std::size_t component,
                         const bus::Msg& msg, const std::string& in_id, std::string_view reason,
                         std::string_view records) {
  const auto prefix = shared.prefix(component);
  spdlog::warn("{} batch {} to dead letters: {}", prefix, in_id, reason);
  const auto& id = shared.flow.components[component].id;
  auto st = publish_dead_letter(pub, shared.dlq_subject, msg.view(), derive_id(in_id, id, "dead"), reason, id,
                                records, msg.subject());
  if (!st.ok()) spdlog::debug("{} dead letter publish: {}", prefix, st.text());
}

std::size_t batch_records(const bus::Msg& msg) {
  if (auto h = msg.header("Weir-Records")) return std::strtoull(std::string(*h).c_str(), nullptr, 10);
  std::size_t n = 0;
  for (char c : msg.view()) n += c == '\n';
  return n;
}

bool settle(const StageStop& stop, bus::AsyncPublisher& pub, const std::string& prefix) {
  std::vector<bus::PublishFailure> failures;
  auto backoff = 100ms;
  bool logged = false;
  for (;;) {
    failures.clear();
    auto st = pub.wait_all(5s, failures);
    if (st.ok() && failures.empty()) {
      if (logged) spdlog::info("{} publishing again", prefix);
      return true;
    }
    if (stop.stopping() && stop.past_drain_deadline()) {
      spdlog::warn("{} stopping with {} publishes unacknowledged; their input is redelivered later", prefix,
                   failures.size());
      return false;
    }
    if (!logged) {
      spdlog::warn("{} publish failed ({}), retrying with the same message ids", prefix,
                   failures.empty() ? st.text() : failures.front().error.text());
      logged = true;
    }
    idle(stop, backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2s));
    if (!failures.empty()) {
      auto rst = pub.retry(failures);
      (void)rst;  // what could not be re-sent comes back as a failure from the next wait
    }
  }
}

bool await_redeliveries(const StageStop& stop, jsCtx* js, const std::string& stream,
                        const std::string& durable, std::chrono::nanoseconds ack_wait,
                        const std::string& prefix, bus::InOrder& in_order) {
  auto sleep = [&stop](std::chrono::nanoseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (stop.stopping()) return false;
      std::this_thread::sleep_for(50ms);
    }
    return !stop.stopping();
  };
  std::int64_t unacked = 0;
  const bool go_on = bus::await_redeliveries(
      js, stream, durable, ack_wait, sleep,
      [&prefix](const std::string& line) { spdlog::info("{} {}", prefix, line); }, unacked);
  // Gathered for at most two ack_waits more: one that is not redelivered by then (acked at the
  // last moment by the killed run, or the consumer's state lost) is not waited for.
  in_order.expect(unacked, 2 * ack_wait + 5s);
  return go_on;
}

std::string consumer_source(const std::string& durable, std::int64_t stream_created_ns) {
  return durable + "@" + core::hex64(static_cast<std::uint64_t>(stream_created_ns));
}

GroupCommit* FlowShared::group_commit(std::string& error) {
  std::lock_guard lock(commit_mu);
  if (commit) return commit.get();
  if (conn == nullptr || conn->store_dir().empty()) {
    error =
        "the nats-server's store folder is unknown: set nats.store_dir (WEIR_NATS_STORE_DIR) to the "
        "server's JetStream store_dir as this host sees it (the embedded server's is known)";
    return nullptr;
  }
  // One sync now: a wrong folder or one this process may not read shows at once, as an error,
  // rather than as acknowledgements that never come.
  auto sync = std::make_unique<bus::StreamSync>(conn->store_dir(), stream);
  if (auto st = sync->sync(); !st.ok()) {
    error = st.text();
    return nullptr;
  }
  commit = std::make_unique<GroupCommit>(std::move(sync), "[" + flow.name + "]");
  return commit.get();
}

bool FlowShared::await_on_disk(const std::vector<bus::Msg>& msgs, const StageStop& stop) {
  if (!sync_gate.load(std::memory_order_relaxed) || msgs.empty()) return true;
  auto* c = group_commit_if_any();
  if (c == nullptr) return true;
  std::uint64_t last = 0;
  for (const auto& m : msgs)
    if (auto meta = m.metadata()) last = std::max(last, meta->stream_seq);
  return c->wait_synced(last, [&] { return stop.past_drain_deadline(); });
}

void FlowShared::ack_when_on_disk(std::vector<bus::Msg>&& msgs, const std::string& prefix) {
  auto ack = [prefix](std::vector<bus::Msg>& ms) {
    for (auto& m : ms) {
      auto st = m.ack();
      if (!st.ok()) spdlog::debug("{} ack: {}", prefix, st.text());  // redelivered, then deduped
    }
  };
  if (msgs.empty()) return;
  if (!sync_gate.load(std::memory_order_relaxed)) return ack(msgs);
  GroupCommit* c = nullptr;
  {
    std::lock_guard lock(commit_mu);
    if (!store_commit)
      store_commit = std::make_unique<GroupCommit>(std::make_unique<bus::StreamSync>(conn->store_dir(), ""),
                                                   "[" + flow.name + " store]");
    c = store_commit.get();
  }
  auto held = std::make_shared<std::vector<bus::Msg>>(std::move(msgs));
  c->submit({[held, ack] { ack(*held); }});
}

void FlowShared::drain_acks() {
  GroupCommit* c = nullptr;
  {
    std::lock_guard lock(commit_mu);
    c = store_commit.get();
  }
  if (c && !c->drain(std::chrono::seconds(10)))
    spdlog::warn(
        "[{}] stopping before the store synced: some handled messages stay unacknowledged and come back",
        flow.name);
}

GroupCommit* FlowShared::group_commit_if_any() {
  std::lock_guard lock(commit_mu);
  return commit.get();
}

void name_thread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

void idle(const StageStop& stop, std::chrono::milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (stop.stopping() && stop.past_drain_deadline()) return;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(d, 20ms));
  }
}

}  // namespace weir::runtime
