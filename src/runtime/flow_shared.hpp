// What every stage of one deployed flow shares. Owned by the FlowRunner; stages hold a reference
// and run on their own threads, so everything here is either immutable after deploy or atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bus/connection.hpp"
#include "bus/msg.hpp"
#include "bus/publisher.hpp"
#include "flow/flow.hpp"
#include "graph/plan.hpp"
#include "runtime/batch.hpp"
#include "sdk/component.hpp"

namespace weir::runtime {

struct ComponentCounters {
  std::atomic<std::uint64_t> records_in{0};
  std::atomic<std::uint64_t> records_out{0};
  std::atomic<std::uint64_t> errors{0};        // records sent to the error port
  std::atomic<std::uint64_t> dead_letters{0};  // records sent to the flow's dead letters
  std::atomic<std::uint64_t> retries{0};       // publish or write rounds that had to be repeated
};

struct FlowShared {
  flow::Flow flow;
  graph::Plan plan;
  bus::Connection* conn = nullptr;
  std::string stream;
  std::string dlq_subject;
  std::vector<std::unique_ptr<sdk::Component>> components;  // by component index
  std::unique_ptr<ComponentCounters[]> counters;            // by component index
  std::atomic<bool> stop{false};
  // Once set, in-flight work still drains until this deadline, then is abandoned (unacked work
  // is redelivered after ack_wait, so nothing is lost either way).
  std::atomic<std::int64_t> drain_deadline_ns{0};

  bool stopping() const { return stop.load(std::memory_order_relaxed); }
  bool past_drain_deadline() const;
  const flow::ComponentDecl& component(std::size_t i) const { return flow.components[i]; }
  std::string prefix(std::size_t i) const { return "[" + flow.name + "/" + flow.components[i].id + "]"; }
};

// The record an error port carries: the original record plus why it failed.
sdk::Record error_record(const FlowShared& shared, std::size_t component, sdk::Record&& rec,
                         std::string_view reason);

// Publishes one batch to a port subject or to the dead letters (with the reason in headers).
bus::Status publish_batch(bus::AsyncPublisher& pub, const std::string& subject, const BatchWriter& batch,
                          const std::string& msg_id, std::string_view error_reason = {},
                          std::string_view component = {});

// Publishes a batch body as it is (one received whole, say) with its record count.
bus::Status publish_batch(bus::AsyncPublisher& pub, const std::string& subject, std::string_view body,
                          std::size_t records, const std::string& msg_id);

// Publishes a message to the dead letters as it is (a batch that cannot be decoded, or one
// delivered too often), with the reason in `Weir-Error`; `records` is the count when known.
bus::Status publish_dead_letter(bus::AsyncPublisher& pub, const std::string& subject, std::string_view body,
                                const std::string& msg_id, std::string_view reason,
                                std::string_view component, std::string_view records = {});

// A consumed message that goes to the dead letters whole (it does not decode, it was delivered
// too often, a peer refused it): logged, and published with the reason and, when known, its
// record count. Counting it is the caller's.
void dead_letter_message(FlowShared& shared, bus::AsyncPublisher& pub, std::size_t component, const bus::Msg& msg,
                         const std::string& in_id, std::string_view reason, std::string_view records = {});

// Records in a batch message: its Weir-Records header, else its lines.
std::size_t batch_records(const bus::Msg& msg);

// Waits for every outstanding publish; failures are retried with the same ids (duplicates are
// dropped by JetStream) until they succeed, or until the stage must give up (stop requested and
// the drain deadline passed). Returns true when everything was acknowledged.
bool settle(FlowShared& shared, bus::AsyncPublisher& pub, const std::string& prefix);

// Names the calling thread (shown by top -H, ps -L and debuggers); cut to 15 characters.
void name_thread(const std::string& name);

// Sleeps up to d, waking early when the flow stops.
void idle(const FlowShared& shared, std::chrono::milliseconds d);

}  // namespace weir::runtime
