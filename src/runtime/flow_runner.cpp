#include "runtime/flow_runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "bus/topology.hpp"
#include "runtime/consumer_stage.hpp"
#include "runtime/input_stage.hpp"
#include "runtime/janitor.hpp"

namespace weir::runtime {

using namespace std::chrono_literals;

const char* to_string(FlowState s) {
  switch (s) {
    case FlowState::stopped: return "stopped";
    case FlowState::deploying: return "deploying";
    case FlowState::running: return "running";
    case FlowState::failed: return "failed";
  }
  return "unknown";
}

FlowRunner::FlowRunner(flow::Flow flow, bus::Connection& conn, std::filesystem::path data_dir)
    : data_dir_(std::move(data_dir)) {
  shared_.flow = std::move(flow);
  shared_.plan = graph::make_plan(shared_.flow);
  shared_.conn = &conn;
  shared_.stream = graph::stream_name(shared_.flow.name);
  shared_.dlq_subject = graph::dead_letter_subject(shared_.flow.name);
  shared_.counters = std::make_unique<ComponentCounters[]>(shared_.flow.components.size());
}

FlowRunner::~FlowRunner() { stop(0ms); }

bool FlowRunner::deploy_topology() {
  auto js = shared_.conn->jetstream();
  if (!js) {
    error_ = "JetStream: " + js.status().text();
    return false;
  }
  const auto& s = shared_.flow.settings;
  bus::StreamSpec stream;
  stream.name = shared_.stream;
  stream.subjects = {graph::stream_subjects(shared_.flow.name)};
  // Limits retention, with the janitor purging what every consumer acknowledged (janitor.hpp
  // says why not the server's interest retention).
  stream.retention = bus::Retention::limits;
  stream.max_bytes = static_cast<std::int64_t>(s.max_bytes.bytes);
  stream.max_age = s.max_age;
  stream.discard = s.discard == flow::Discard::new_ ? bus::Discard::new_messages : bus::Discard::old_messages;
  stream.duplicate_window = s.duplicate_window;
  auto st = bus::ensure_stream(js->raw(), stream);
  if (!st) {
    error_ = "stream " + stream.name + ": " + st.status().text();
    return false;
  }
  // Dead letters stay until someone looks at them (limits retention), within a slice of the
  // flow's budget; past it the oldest go first.
  bus::StreamSpec dlq;
  dlq.name = graph::dead_letter_stream(shared_.flow.name);
  dlq.subjects = {shared_.dlq_subject};
  dlq.retention = bus::Retention::limits;
  dlq.max_bytes = static_cast<std::int64_t>(std::max<std::uint64_t>(s.max_bytes.bytes / 8, 1024 * 1024));
  dlq.discard = bus::Discard::old_messages;
  dlq.duplicate_window = s.duplicate_window;
  st = bus::ensure_stream(js->raw(), dlq);
  if (!st) {
    error_ = "dead-letter stream " + dlq.name + ": " + st.status().text();
    return false;
  }
  std::set<std::string> wanted;
  for (const auto& stage : shared_.plan.stages) {
    for (const auto& up : stage.upstreams) {
      bus::ConsumerSpec c;
      c.durable = up.durable;
      c.filter_subject = up.subject;
      c.ack_wait = s.ack_wait;
      c.max_ack_pending = 256;
      c.max_deliver = -1;  // the runtime dead-letters after settings.max_deliver, with the reason
      auto r = bus::ensure_consumer(js->raw(), shared_.stream, c);
      if (!r) {
        error_ = "consumer " + c.durable + ": " + r.status().text();
        return false;
      }
      wanted.insert(up.durable);
    }
  }
  std::set<std::string> read_subjects;
  for (const auto& stage : shared_.plan.stages)
    for (const auto& up : stage.upstreams) read_subjects.insert(up.subject);
  // Consumers the plan no longer has would hold the janitor's floor (and so the stream's
  // disk) forever: a redeploy removes them.
  auto names = bus::consumer_names(js->raw(), shared_.stream);
  if (!names) spdlog::warn("[{}] {}", shared_.flow.name, names.status().text());
  for (const auto& name : names ? names.value() : std::vector<std::string>{}) {
    if (wanted.count(name)) continue;
    auto d = bus::delete_consumer(js->raw(), shared_.stream, name);
    spdlog::info("[{}] removed consumer {} that the flow no longer has{}", shared_.flow.name, name,
                 d.ok() ? "" : ": " + d.text());
    // What only that consumer read would stay in the stream forever: purge it.
    auto a = name.find("__");
    auto b = name.rfind("__");
    if (a == std::string::npos || b == a) continue;
    auto subject = graph::port_subject(shared_.flow.name, name.substr(a + 2, b - a - 2), name.substr(b + 2));
    if (!read_subjects.count(subject)) (void)bus::purge_stream(js->raw(), shared_.stream, subject, 0);
  }
  return true;
}

bool FlowRunner::create_components() {
  const auto& f = shared_.flow;
  shared_.components.resize(f.components.size());
  for (std::size_t i = 0; i < f.components.size(); ++i) {
    const auto& decl = f.components[i];
    sdk::Context ctx{f.name, decl.id, shared_.prefix(i), shared_.conn->raw(), data_dir_};
    try {
      shared_.components[i] = decl.info->create(decl.config.get(), ctx);
      auto st = shared_.components[i]->start();
      if (!st) {
        error_ = decl.id + ": " + st.error();
        return false;
      }
    } catch (const std::exception& e) {
      error_ = decl.id + ": " + e.what();
      return false;
    }
  }
  return true;
}

bool FlowRunner::start() {
  state_ = FlowState::deploying;
  if (!deploy_topology() || !create_components()) {
    state_ = FlowState::failed;
    spdlog::error("[{}] flow failed to start: {}", shared_.flow.name, error_);
    for (auto& c : shared_.components)
      if (c) c->stop();
    shared_.components.clear();
    return false;
  }
  // Consumers first: what the inputs publish is kept by the stream for them either way (the
  // durables exist), but starting them first keeps the first records' latency low.
  for (const auto& stage : shared_.plan.stages)
    if (stage.kind != graph::StageKind::input)
      consumers_.push_back(std::make_unique<ConsumerStage>(shared_, stage));
  for (const auto& stage : shared_.plan.stages)
    if (stage.kind == graph::StageKind::input) inputs_.push_back(std::make_unique<InputStage>(shared_, stage));
  for (auto& c : consumers_) c->start();
  for (auto& i : inputs_) i->start();
  janitor_ = std::make_unique<Janitor>(shared_, std::chrono::seconds(1));
  janitor_->start();
  state_ = FlowState::running;
  spdlog::info("[{}] flow running: {} components in {} stages", shared_.flow.name,
               shared_.flow.components.size(), shared_.plan.stages.size());
  return true;
}

void FlowRunner::stop(std::chrono::milliseconds drain) {
  if (state_ != FlowState::running) return;
  shared_.drain_deadline_ns = (std::chrono::steady_clock::now() + drain).time_since_epoch().count();
  shared_.stop = true;
  if (janitor_) janitor_->stop();
  for (auto& i : inputs_) i->join();
  for (auto& c : consumers_) c->join();
  for (auto& c : shared_.components)
    if (c) c->stop();
  inputs_.clear();
  consumers_.clear();
  state_ = FlowState::stopped;
  for (const auto& c : status().components) {
    std::string extra;
    for (const auto& m : c.metrics) extra += fmt::format(", {} {}", m.name, m.value);
    spdlog::info("[{}/{}] records in {}, out {}, errors {}, dead letters {}, retried rounds {}{}", shared_.flow.name,
                 c.id, c.records_in, c.records_out, c.errors, c.dead_letters, c.retries, extra);
  }
  spdlog::info("[{}] flow stopped", shared_.flow.name);
}

FlowStatus FlowRunner::status() const {
  FlowStatus out{shared_.flow.name, state_, error_, {}};
  for (std::size_t i = 0; i < shared_.flow.components.size(); ++i) {
    const auto& c = shared_.counters[i];
    out.components.push_back({shared_.flow.components[i].id, shared_.flow.components[i].type, c.records_in.load(),
                              c.records_out.load(), c.errors.load(), c.dead_letters.load(), c.retries.load(), {}});
    if (shared_.components.size() > i && shared_.components[i]) shared_.components[i]->metrics(out.components.back().metrics);
  }
  return out;
}

}  // namespace weir::runtime
