#include "runtime/flow_runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "bus/stream_messages.hpp"
#include "bus/topology.hpp"
#include "runtime/consumer_stage.hpp"
#include "runtime/input_stage.hpp"
#include "runtime/janitor.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/state.hpp"

namespace weir::runtime {

using namespace std::chrono_literals;

const char* to_string(FlowState s) {
  switch (s) {
    case FlowState::stopped:
      return "stopped";
    case FlowState::deploying:
      return "deploying";
    case FlowState::running:
      return "running";
    case FlowState::failed:
      return "failed";
  }
  return "unknown";
}

namespace {

// Whether `next` runs on the same stages, consumers and routes as `running` (components by the
// same ids at the same places, so plan indices mean the same), with the same settings.
bool same_shape(const flow::Flow& running, const graph::Plan& plan, const flow::Flow& next) {
  if (next.name != running.name || next.settings != running.settings ||
      next.components.size() != running.components.size())
    return false;
  for (std::size_t i = 0; i < next.components.size(); ++i)
    if (next.components[i].id != running.components[i].id) return false;
  return graph::make_plan(next) == plan;
}

// While stages are joined: once `drain` has passed, every component is interrupted, so that a
// write retrying against a peer that is down (http_output, mqtt_output) does not hold the stop
// (a SIGTERM, a reload) for its own retry time. Ends, without interrupting, when it goes out of
// scope first.
class InterruptAfter {
 public:
  InterruptAfter(std::chrono::milliseconds drain, std::vector<sdk::Component*> components)
      : thread_([this, drain, components = std::move(components)] {
          std::unique_lock lock(mu_);
          if (cv_.wait_for(lock, drain, [this] { return done_; })) return;
          lock.unlock();
          for (auto* c : components) c->interrupt();
        }) {}
  ~InterruptAfter() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  InterruptAfter(const InterruptAfter&) = delete;
  InterruptAfter& operator=(const InterruptAfter&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

FlowRunner::FlowRunner(flow::Flow flow, bus::Connection& conn, std::filesystem::path data_dir,
                       sdk::Nats& components_nats)
    : data_dir_(std::move(data_dir)) {
  shared_.flow = std::move(flow);
  shared_.plan = graph::make_plan(shared_.flow);
  shared_.conn = &conn;
  shared_.components_nats = &components_nats;
  // The server's max_payload bounds every message the flow publishes (0 while not connected:
  // the default of nats-server then).
  if (const auto max = conn.raw() ? conn.max_payload() : 0; max > 0)
    shared_.max_body = max_body_bytes(static_cast<std::size_t>(max));
  shared_.stream = graph::stream_name(shared_.flow.name);
  shared_.dlq_subject = graph::dead_letter_subject(shared_.flow.name);
  shared_.counters = std::make_unique<ComponentCounters[]>(shared_.flow.components.size());
  shared_.taps = std::make_shared<TapHub>(shared_.flow.components.size());
}

FlowRunner::~FlowRunner() {
  stop(0ms);
}

bool FlowRunner::deploy_topology(std::string& error) {
  auto js = shared_.conn->jetstream();
  if (!js) {
    error = "JetStream: " + js.status().text();
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
  // Recovery reads a publisher's last messages by subject (runtime/positions.hpp).
  stream.allow_direct = true;
  auto st = bus::ensure_stream(js->raw(), stream);
  if (!st) {
    error = "stream " + stream.name + ": " + st.status().text();
    return false;
  }
  // One checkpoint per publisher: what it stored, whatever the janitor purged since.
  bus::StreamSpec positions;
  positions.name = graph::positions_stream(shared_.flow.name);
  positions.subjects = {graph::positions_subjects(shared_.flow.name)};
  positions.retention = bus::Retention::limits;
  positions.max_msgs_per_subject = 1;
  positions.allow_direct = true;
  positions.discard = bus::Discard::old_messages;
  st = bus::ensure_stream(js->raw(), positions);
  if (!st) {
    error = "positions stream " + positions.name + ": " + st.status().text();
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
    error = "dead-letter stream " + dlq.name + ": " + st.status().text();
    return false;
  }
  std::set<std::string> wanted, read_subjects;
  for (const auto& stage : shared_.plan.stages)
    for (const auto& up : stage.upstreams) {
      wanted.insert(up.durable);
      read_subjects.insert(up.subject);
    }
  // The consumers the plan no longer has, with the subject each read (from its name,
  // "<reader>__<component>__<port>") and where it stood.
  struct Stale {
    std::string durable, subject;
    std::uint64_t resume = 0;  // its ack floor + 1: what it had not confirmed yet
  };
  std::vector<Stale> stale;
  auto names = bus::consumer_names(js->raw(), shared_.stream);
  if (!names) spdlog::warn("[{}] {}", shared_.flow.name, names.status().text());
  for (const auto& name : names ? names.value() : std::vector<std::string>{}) {
    if (wanted.count(name)) continue;
    Stale st{name, {}, 0};
    const auto a = name.find("__");
    const auto b = name.rfind("__");
    if (a != std::string::npos && b != a)
      st.subject = graph::port_subject(shared_.flow.name, name.substr(a + 2, b - a - 2), name.substr(b + 2));
    // The acks of a stage that just stopped may still be on their way (they are not waited for):
    // give them up to a second to land, so that the new reader does not start before them.
    for (int i = 0; i < 20; ++i) {
      auto info = bus::consumer_info(js->raw(), shared_.stream, name);
      if (!info) break;
      st.resume = info->ack_floor_stream_seq + 1;
      if (info->num_ack_pending == 0) break;
      if (i == 0) (void)shared_.conn->flush(std::chrono::seconds(1));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stale.push_back(std::move(st));
  }
  // After a power cut a stream can come back shorter than its consumers remember (nats-server
  // 2.9 syncs neither, and a consumer's small state file may reach the disk before the stream's
  // tail). Such a consumer would skip the sequences the stream now hands out again: it is made
  // anew from where the stream and its acknowledgements agree.
  auto stream_now = bus::stream_info(js->raw(), shared_.stream);
  // A stream that came back shorter than its consumers were delivered (after a power cut) would
  // hand out again sequences its readers already handled, and sinks would take the new records
  // for replays. When every consumer of the stream has handled everything the stream still holds
  // (an emptied stream, whose last sequence nats-server 2.9 keeps in an index file it does not
  // fsync, always qualifies), the stream's next sequence is moved past the highest any consumer
  // was delivered: nothing is removed that a reader still needs.
  std::uint64_t renumbered_from = 0;
  if (stream_now && names) {
    std::uint64_t delivered = 0;
    bool handled = true;
    for (const auto& name : names.value()) {
      auto info = bus::consumer_info(js->raw(), shared_.stream, name);
      if (!info) {
        handled = false;
        continue;
      }
      delivered = std::max(delivered, info->delivered_stream_seq);
      if (info->ack_floor_stream_seq < stream_now->last_seq &&
          (info->num_pending > 0 || info->num_ack_pending > 0))
        handled = false;
    }
    if ((handled || stream_now->messages == 0) && delivered > stream_now->last_seq) {
      if (auto p = bus::purge_stream(js->raw(), shared_.stream, "", delivered + 1); !p.ok()) {
        error = "stream " + shared_.stream + " came back at sequence " +
                std::to_string(stream_now->last_seq) + " and cannot be moved past " +
                std::to_string(delivered) + ": " + p.text();
        return false;
      }
      renumbered_from = delivered + 1;
      spdlog::warn(
          "[{}] stream {} came back {}at sequence {} while its consumers were delivered up to {} (as after a "
          "power "
          "cut), and they handled all it holds: it goes on from sequence {}",
          shared_.flow.name, shared_.stream, stream_now->messages == 0 ? "empty " : "", stream_now->last_seq,
          delivered, renumbered_from);
    }
  }
  for (const auto& stage : shared_.plan.stages) {
    for (const auto& up : stage.upstreams) {
      std::uint64_t restart_at = 0;
      if (stream_now) {
        auto info = bus::consumer_info(js->raw(), shared_.stream, up.durable);
        if (info && info->delivered_stream_seq > stream_now->last_seq) {
          restart_at = renumbered_from != 0 ? renumbered_from
                                            : std::min(info->ack_floor_stream_seq, stream_now->last_seq) + 1;
          if (auto d = bus::delete_consumer(js->raw(), shared_.stream, up.durable); !d.ok()) {
            error = "consumer " + up.durable + " is ahead of its stream and cannot be made anew: " + d.text();
            return false;
          }
          spdlog::warn(
              "[{}] consumer {} was delivered up to sequence {} but the stream ends at {} (it lost its tail, "
              "as in a power cut): made anew from sequence {}",
              shared_.flow.name, up.durable, info->delivered_stream_seq, stream_now->last_seq, restart_at);
        }
      }
      bus::ConsumerSpec c;
      c.durable = up.durable;
      c.filter_subject = up.subject;
      c.ack_wait = s.ack_wait;
      c.max_ack_pending = 256;
      c.max_deliver = -1;  // the runtime dead-letters after settings.max_deliver, with the reason
      // An edge redirected (a component put between two, one renamed): the new reader of a port
      // starts where the old one stopped confirming, instead of reading again what the old one
      // handled and the stream still holds. (When several stood on the port: the earliest.)
      for (const auto& st : stale)
        if (st.subject == up.subject && st.resume > 0 && (c.start_seq == 0 || st.resume < c.start_seq))
          c.start_seq = st.resume;
      if (restart_at > 0 && (c.start_seq == 0 || restart_at < c.start_seq)) c.start_seq = restart_at;
      auto r = bus::ensure_consumer(js->raw(), shared_.stream, c);
      if (!r) {
        error = "consumer " + c.durable + ": " + r.status().text();
        return false;
      }
      if (r.value() == bus::Ensured::created && c.start_seq > 0)
        spdlog::info("[{}] consumer {} starts at sequence {}, where the one it replaces stopped",
                     shared_.flow.name, c.durable, c.start_seq);
    }
  }
  // A backlog on an edge the new version drops (the component in front of a reader was
  // removed, the reader stays): moved onto the reader's new edge, so that it still arrives.
  for (const auto& st : stale) {
    if (st.subject.empty() || read_subjects.count(st.subject) || st.resume == 0) continue;
    const auto reader = st.durable.substr(0, st.durable.find("__"));
    const graph::Stage* to = nullptr;
    for (const auto& stage : shared_.plan.stages)
      if (stage.id == reader && !stage.upstreams.empty()) to = &stage;
    if (to == nullptr) continue;  // the reader is gone too: nobody is left to deliver to
    auto moved = move_backlog(js->raw(), st.subject, st.resume, to->upstreams.front().subject);
    if (!moved) {
      error = "moving the backlog of " + st.subject + " to " + reader + ": " + moved.status().text();
      return false;
    }
    if (moved.value() > 0)
      spdlog::info("[{}] moved {} batches waiting on {} to {}, which {} now reads", shared_.flow.name,
                   moved.value(), st.subject, to->upstreams.front().subject, reader);
  }
  // Consumers the plan no longer has would hold the janitor's floor (and so the stream's
  // disk) forever: a redeploy removes them.
  for (const auto& st : stale) {
    auto d = bus::delete_consumer(js->raw(), shared_.stream, st.durable);
    spdlog::info("[{}] removed consumer {} that the flow no longer has{}", shared_.flow.name, st.durable,
                 d.ok() ? "" : ": " + d.text());
    // What only that consumer read would stay in the stream forever: purge it.
    if (!st.subject.empty() && !read_subjects.count(st.subject))
      (void)bus::purge_stream(js->raw(), shared_.stream, st.subject, 0);
  }
  return true;
}

bus::Result<std::size_t> FlowRunner::move_backlog(jsCtx* js, const std::string& from_subject,
                                                  std::uint64_t from_seq, const std::string& to_subject) {
  auto pub = bus::AsyncPublisher::create(*shared_.conn);
  if (!pub) return pub.status();
  std::size_t n = 0;
  for (std::uint64_t seq = from_seq;;) {
    auto m = bus::get_next_msg(js, shared_.stream, from_subject, seq);
    if (!m) {
      if (m.status().is_not_found()) break;
      return m.status();
    }
    seq = m->seq + 1;
    // Its id derives from the original's, so that a deploy repeated after a crash (the old
    // consumer not yet removed) stores it once within the duplicate window. Its position
    // header stays behind: it belonged to the publisher of the edge that is gone.
    const auto id = m->header("Nats-Msg-Id");
    const std::string records(m->header("Weir-Records").value_or(""));
    std::vector<bus::Header> h;
    if (!records.empty()) h.push_back({"Weir-Records", records});
    const std::string from_id = id ? std::string(*id) : "seq:" + std::to_string(m->seq);
    auto st = pub.value()->publish(to_subject, m->data, derive_id(from_id, "moved", to_subject), h);
    if (!st.ok()) return st;
    ++n;
  }
  std::vector<bus::PublishFailure> failures;
  auto st = pub.value()->wait_all(std::chrono::seconds(30), failures);
  if (!st.ok()) return st;
  return n;
}

std::unique_ptr<sdk::Component> FlowRunner::start_component(std::size_t i, std::string& error) {
  const auto& decl = shared_.flow.components[i];
  sdk::Context ctx{.flow = shared_.flow.name,
                   .component = decl.id,
                   .log = sdk::Log(shared_.flow.name, decl.id),
                   .nats = shared_.components_nats,
                   .data_dir = data_dir_,
                   .ack_wait = shared_.flow.settings.ack_wait};
  try {
    auto c = decl.info->create(decl.config.get(), ctx);
    auto st = c->start();
    if (st) return c;
    error = decl.id + ": " + st.error();
    c->stop();
  } catch (const std::exception& e) {
    error = decl.id + ": " + e.what();
  }
  return nullptr;
}

bool FlowRunner::create_components(std::string& error) {
  std::vector<std::unique_ptr<sdk::Component>> made;
  for (std::size_t i = 0; i < shared_.flow.components.size(); ++i) {
    auto c = start_component(i, error);
    if (!c) {
      for (auto& m : made) m->stop();
      return false;
    }
    made.push_back(std::move(c));
  }
  std::lock_guard lock(mu_);
  shared_.components.swap(made);  // a previous run's instances, stopped, go with `made`
  return true;
}

void FlowRunner::set_state(FlowState state, std::string error) {
  std::lock_guard lock(mu_);
  state_ = state;
  error_ = std::move(error);
}

bool FlowRunner::start() {
  set_state(FlowState::deploying, {});
  // No stage runs now: a flow stopped before starts afresh.
  shared_.stop = false;
  shared_.drain_deadline_ns = 0;
  std::string error;
  if (!deploy_topology(error) || !create_components(error)) {
    spdlog::error("[{}] flow failed to start: {}", shared_.flow.name, error);
    std::vector<std::unique_ptr<sdk::Component>> previous;  // stopped already
    {
      std::lock_guard lock(mu_);
      previous.swap(shared_.components);
      state_ = FlowState::failed;
      error_ = error;
    }
    return false;
  }
  // Consumers first: what the inputs publish is kept by the stream for them either way (the
  // durables exist), but starting them first keeps the first records' latency low.
  for (const auto& stage : shared_.plan.stages)
    if (stage.kind != graph::StageKind::input)
      consumers_.push_back(std::make_unique<ConsumerStage>(shared_, stage));
  for (const auto& stage : shared_.plan.stages)
    if (stage.kind == graph::StageKind::input)
      inputs_.push_back(std::make_unique<InputStage>(shared_, stage));
  for (auto& c : consumers_) c->start();
  for (auto& i : inputs_) i->start();
  janitor_ = std::make_unique<Janitor>(shared_, std::chrono::seconds(1));
  janitor_->start();
  set_state(FlowState::running, {});
  spdlog::info("[{}] flow running: {} components in {} stages", shared_.flow.name,
               shared_.flow.components.size(), shared_.plan.stages.size());
  return true;
}

void FlowRunner::stop(std::chrono::milliseconds drain) {
  if (state_ != FlowState::running) return;
  shared_.drain_deadline_ns = (std::chrono::steady_clock::now() + drain).time_since_epoch().count();
  shared_.stop = true;
  if (janitor_) janitor_->stop();
  {
    std::vector<sdk::Component*> all;
    for (auto& c : shared_.components)
      if (c) all.push_back(c.get());
    InterruptAfter watchdog(drain, std::move(all));
    for (auto& i : inputs_) i->join();
    for (auto& c : consumers_) c->join();
  }
  for (auto& c : shared_.components)
    if (c) c->stop();
  inputs_.clear();
  consumers_.clear();
  set_state(FlowState::stopped, {});
  for (const auto& c : status().components) {
    std::string extra;
    for (const auto& m : c.metrics) extra += fmt::format(", {} {}", m.name, m.value);
    spdlog::info("[{}/{}] records in {}, out {}, errors {}, dead letters {}, retried rounds {}{}",
                 shared_.flow.name, c.id, c.records_in, c.records_out, c.errors, c.dead_letters, c.retries,
                 extra);
  }
  spdlog::info("[{}] flow stopped", shared_.flow.name);
}

bool FlowRunner::update(flow::Flow next, std::chrono::milliseconds drain, std::string* what) {
  if (state_ != FlowState::running || !same_shape(shared_.flow, shared_.plan, next)) return false;
  // The plan stays as it is (stages hold references into it); only stages with a changed
  // member are redeployed.
  std::vector<const graph::Stage*> changed;
  std::string told;
  for (const auto& stage : shared_.plan.stages) {
    std::string ids;
    for (const auto& m : stage.members)
      if (shared_.flow.components[m.component].fingerprint != next.components[m.component].fingerprint)
        ids += (ids.empty() ? "" : ", ") + next.components[m.component].id;
    if (ids.empty()) continue;
    changed.push_back(&stage);
    told += (told.empty() ? "stage " : "; stage ") + stage.id + " (components " + ids + ")";
  }
  if (what) *what = told;
  {
    std::lock_guard lock(mu_);
    shared_.flow.file = next.file;
    shared_.flow.description = next.description;
  }
  if (changed.empty()) return true;
  spdlog::info("[{}] redeploying {}", shared_.flow.name, told);
  auto redeployed = [&](const graph::Stage& stage) {
    return std::find(changed.begin(), changed.end(), &stage) != changed.end();
  };
  // Every changed stage stops before any starts again: a component holding something its
  // successor needs (a listening port) lets go of it first.
  for (auto& c : consumers_)
    if (redeployed(c->stage())) c->request_stop(drain);
  for (auto& i : inputs_)
    if (redeployed(i->stage())) i->request_stop(drain);
  {
    std::vector<sdk::Component*> members;
    for (const auto* stage : changed)
      for (const auto& m : stage->members)
        if (shared_.components[m.component]) members.push_back(shared_.components[m.component].get());
    InterruptAfter watchdog(drain, std::move(members));
    for (auto& c : consumers_)
      if (redeployed(c->stage())) c->join();
    for (auto& i : inputs_)
      if (redeployed(i->stage())) i->join();
  }
  // The old instances go before their declarations do: a component may point into its config.
  for (const auto* stage : changed)
    for (const auto& m : stage->members) {
      std::unique_ptr<sdk::Component> old;
      {
        std::lock_guard lock(mu_);
        old.swap(shared_.components[m.component]);
      }
      if (old) old->stop();
    }
  {
    std::lock_guard lock(mu_);
    for (const auto* stage : changed)
      for (const auto& m : stage->members)
        shared_.flow.components[m.component] = std::move(next.components[m.component]);
  }
  std::string error;
  for (const auto* stage : changed)
    for (const auto& m : stage->members) {
      auto c = start_component(m.component, error);
      if (!c) {
        spdlog::error("[{}] flow failed to redeploy {}: {}", shared_.flow.name, told, error);
        stop(drain);
        set_state(FlowState::failed, error);
        return true;
      }
      std::lock_guard lock(mu_);
      shared_.components[m.component] = std::move(c);
    }
  // Anew on the same durable consumers, so they resume where the old stages acked.
  for (auto& c : consumers_) {
    const auto& stage = c->stage();
    if (!redeployed(stage)) continue;
    c = std::make_unique<ConsumerStage>(shared_, stage);
    c->start();
  }
  for (auto& i : inputs_) {
    const auto& stage = i->stage();
    if (!redeployed(stage)) continue;
    i = std::make_unique<InputStage>(shared_, stage);
    i->start();
  }
  return true;
}

FlowState FlowRunner::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::string FlowRunner::file() const {
  std::lock_guard lock(mu_);
  return shared_.flow.file;
}

std::string FlowRunner::fingerprint() const {
  std::lock_guard lock(mu_);
  return shared_.flow.fingerprint();
}

FlowStatus FlowRunner::status() const {
  std::lock_guard lock(mu_);
  FlowStatus out{shared_.flow.name, state_, error_, {}};
  for (std::size_t i = 0; i < shared_.flow.components.size(); ++i) {
    const auto& c = shared_.counters[i];
    auto& s = out.components.emplace_back();
    s.id = shared_.flow.components[i].id;
    s.type = shared_.flow.components[i].type;
    s.records_in = c.records_in.load();
    s.records_out = c.records_out.load();
    s.errors = c.errors.load();
    s.dead_letters = c.dead_letters.load();
    s.retries = c.retries.load();
    s.replays = c.replays.load();
    const auto& outputs = shared_.flow.components[i].info->outputs;
    for (std::size_t p = 0; p + 1 < outputs.size(); ++p)
      s.ports_out.emplace_back(outputs[p].name, p < ComponentCounters::max_ports ? c.port_out[p].load() : 0);
    if (shared_.components.size() > i && shared_.components[i]) {
      shared_.components[i]->metrics(s.metrics);
      if (dynamic_cast<const sdk::StatefulProcessor*>(shared_.components[i].get())) {
        s.metrics.push_back({"state_snapshots", static_cast<double>(c.snapshots.load()), false,
                             "Snapshots of its state stored (state and the input positions they cover)."});
        s.metrics.push_back({"state_snapshot_bytes", static_cast<double>(c.snapshot_bytes.load()), true,
                             "Size of its last stored snapshot."});
        s.metrics.push_back({"state_snapshot_seconds", static_cast<double>(c.snapshot_us.load()) / 1e6, false,
                             "Time spent saving and storing its snapshots."});
      }
    }
    s.failing = c.failing.load();
    if (s.failing) s.last_error = c.last_error();
    s.processing = c.processing.snapshot();
  }
  return out;
}

bool FlowRunner::tap_points(const std::string& component, const std::string& port,
                            std::vector<std::pair<std::size_t, std::size_t>>& points,
                            std::string& resolved_port, std::string* error) const {
  std::lock_guard lock(mu_);
  const auto& f = shared_.flow;
  const auto c = f.index_of(component);
  if (c == std::string::npos) {
    if (error) *error = "flow " + sdk::quote(f.name) + " has no component \"" + component + "\"";
    return false;
  }
  const auto& decl = f.components[c];
  const auto& outputs = decl.info->outputs;
  auto output_index = [&](const std::string& name) {
    for (std::size_t p = 0; p < outputs.size(); ++p)
      if (outputs[p].name == name) return p;
    return std::string::npos;
  };
  resolved_port = port.empty() ? (output_index("out") != std::string::npos ? "out" : "in") : port;
  points.clear();
  if (resolved_port == "in") {
    for (const auto& in : decl.inputs) {
      const auto u = f.index_of(in.component);
      if (u == std::string::npos) continue;
      const auto& up_outputs = f.components[u].info->outputs;
      for (std::size_t p = 0; p < up_outputs.size(); ++p)
        if (up_outputs[p].name == in.port) points.emplace_back(u, p);
    }
    if (points.empty() && error)
      *error = "component " + sdk::quote(component) + " reads nothing: it has no `in` to tap";
    return !points.empty();
  }
  const auto p = output_index(resolved_port);
  if (p == std::string::npos) {
    std::string names;
    for (const auto& o : outputs) names += (names.empty() ? "" : ", ") + o.name;
    if (!decl.inputs.empty()) names += ", in";
    if (error)
      *error = "component " + sdk::quote(component) + " has no port \"" + resolved_port +
               "\" (ports: " + names + ")";
    return false;
  }
  points.emplace_back(c, p);
  return true;
}

std::vector<ConsumerLag> FlowRunner::consumer_lag() const {
  std::vector<ConsumerLag> out;
  if (state() != FlowState::running) return out;
  auto js = shared_.conn->jetstream();
  if (!js) return out;
  for (const auto& stage : shared_.plan.stages)
    for (const auto& up : stage.upstreams) {
      auto info = bus::consumer_info(js->raw(), shared_.stream, up.durable);
      if (!info) continue;
      out.push_back({shared_.flow.name, stage.id, up.component + "." + up.port, info->num_pending,
                     info->num_ack_pending});
    }
  return out;
}

}  // namespace weir::runtime
