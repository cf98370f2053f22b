#include "flowtest/harness.hpp"

#include <boost/json.hpp>

#include <functional>
#include <limits>

#include "runtime/batch.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::flowtest {

namespace {

constexpr auto npos = static_cast<std::size_t>(-1);

sdk::StatefulProcessor* stateful(sdk::Component* c) {
  return dynamic_cast<sdk::StatefulProcessor*>(c);
}

Millis floor_div(Millis a, Millis b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

class Harness::Clock final : public sdk::Clock {
 public:
  explicit Clock(const Millis& now) : now_(now) {}
  sdk::Millis now() const override { return now_; }

 private:
  const Millis& now_;
};

// Each component's emitter: ids derive as in runtime::StageRound::route, results go to the
// component's readers at once (depth first).
class Harness::Emitter final : public sdk::TimedEmitter {
 public:
  Emitter(Harness& h, std::size_t c) : h_(h), c_(c) {}
  void emit(sdk::Port port, sdk::Record&& rec) override {
    rec.id = h_.derive(c_, port.index(), rec.id, true);
    h_.route(c_, port.index(), std::move(rec));
  }
  void fail(sdk::Record&& rec, std::string_view reason) override {
    const auto& decl = h_.flow_.components[c_];
    auto err = runtime::error_record(h_.flow_.name, decl.id, std::move(rec), reason);
    const auto error_port = decl.info->outputs.size() - 1;
    err.id = h_.derive(c_, error_port, err.id, true);
    h_.route(c_, error_port, std::move(err));
  }
  void emit_at(sdk::Millis at, sdk::Port port, sdk::Record&& rec) override {
    auto& last = h_.last_at_[c_];
    if (at < last)
      h_.problems_.push_back(h_.flow_.components[c_].id + " emitted a result at " + std::to_string(at) +
                             " after one at " + std::to_string(last) +
                             ": emit_at moments must not go back (a replay would drop it)");
    else
      last = at;
    rec.id = h_.derive(c_, port.index(), rec.id, false);
    h_.route(c_, port.index(), std::move(rec));
  }

 private:
  Harness& h_;
  std::size_t c_;
};

Harness::Harness(const flow::Flow& flow)
    : flow_(flow), clock_(std::make_unique<Clock>(now_)), now_ms_([this] { return now_; }) {
  const auto n = flow.components.size();
  components_.resize(n);
  consumers_.resize(n);
  emitted_.resize(n);
  received_.resize(n);
  counted_.resize(n);
  injected_.resize(n, 0);
  last_at_.resize(n, std::numeric_limits<Millis>::min());
  next_tick_.resize(n, std::numeric_limits<Millis>::max());
  for (std::size_t i = 0; i < n; ++i) {
    const auto ports = flow.components[i].info->outputs.size();
    consumers_[i].resize(ports);
    emitted_[i].resize(ports);
    counted_[i].resize(ports, 0);
    emitters_.push_back(std::make_unique<Emitter>(*this, i));
  }
  // Who reads each port, in the flow's order of components, one entry per reference (as
  // graph::make_plan routes them).
  for (std::size_t j = 0; j < n; ++j) {
    for (const auto& ref : flow.components[j].inputs) {
      const auto up = flow.index_of(ref.component);
      if (up == npos) continue;
      const auto& outs = flow.components[up].info->outputs;
      for (std::size_t p = 0; p < outs.size(); ++p)
        if (outs[p].name == ref.port) consumers_[up][p].push_back(j);
    }
  }
}

Harness::~Harness() {
  stop();
}

bool Harness::make(std::size_t c, std::string& error) {
  const auto& decl = flow_.components[c];
  sdk::Context ctx{.flow = flow_.name,
                   .component = decl.id,
                   .log = sdk::Log(flow_.name, decl.id),
                   .nats = nullptr,
                   .data_dir = {},
                   .ack_wait = flow_.settings.ack_wait};
  try {
    auto made = decl.info->create(decl.config.get(), ctx);
    if (auto* s = stateful(made.get())) s->set_clock(clock_.get());
    auto st = made->start();
    if (!st) {
      error = decl.id + ": start failed: " + st.error();
      made->stop();
      return false;
    }
    components_[c] = std::move(made);
  } catch (const std::exception& e) {
    error = decl.id + ": " + e.what();
    return false;
  }
  return true;
}

bool Harness::start(Millis start, std::string& error) {
  now_ = start;
  sdk::expr::ClockOverride use(now_ms_);
  for (std::size_t c = 0; c < flow_.components.size(); ++c) {
    if (flow_.components[c].info->kind != sdk::Kind::processor) continue;
    if (!make(c, error)) return false;
    if (auto* s = stateful(components_[c].get())) {
      const Millis every = s->tick_interval().count();
      if (every > 0) next_tick_[c] = (floor_div(start, every) + 1) * every;
    }
  }
  return true;
}

void Harness::stop() {
  for (auto& c : components_) {
    if (c) c->stop();
    c.reset();
  }
}

std::string Harness::derive(std::size_t c, std::size_t port, const std::string& id, bool counted) {
  const auto& decl = flow_.components[c];
  const auto& name = decl.info->outputs[port].name;
  if (!counted) return runtime::derive_id(id, decl.id, name);
  const auto k = counted_[c][port]++;
  return runtime::derive_id(id, decl.id, k == 0 ? name : name + "/" + std::to_string(k));
}

void Harness::route(std::size_t c, std::size_t port, sdk::Record&& rec) {
  emitted_[c][port].push_back(sdk::Record{rec.id, boost::json::value(rec.value, {})});
  const auto& readers = consumers_[c][port];
  for (std::size_t i = 0; i + 1 < readers.size(); ++i) deliver(readers[i], sdk::Record(rec));
  if (!readers.empty()) deliver(readers.back(), std::move(rec));
}

void Harness::deliver(std::size_t c, sdk::Record&& rec) {
  switch (flow_.components[c].info->kind) {
    case sdk::Kind::output:
      received_[c].push_back(sdk::Record{std::move(rec.id), boost::json::value(rec.value, {})});
      return;
    case sdk::Kind::processor:
      process(c, std::move(rec));
      return;
    case sdk::Kind::input:
      return;  // the loader refuses inputs with inputs
  }
}

void Harness::process(std::size_t c, sdk::Record&& rec) {
  auto* proc = static_cast<sdk::Processor*>(components_[c].get());
  std::fill(counted_[c].begin(), counted_[c].end(), 0);
  auto& out = *emitters_[c];
  try {
    proc->process(std::move(rec), out);
  } catch (const std::exception& e) {
    // As the engine does: the record (maybe moved from; its id is left) goes to error.
    out.fail(std::move(rec), std::string("processor threw: ") + e.what());
  }
}

void Harness::inject(std::size_t input, std::string id, boost::json::value record) {
  sdk::expr::ClockOverride use(now_ms_);
  const auto& decl = flow_.components[input];
  if (id.empty()) id = decl.id + ":" + std::to_string(injected_[input]);
  ++injected_[input];
  std::size_t out = 0;
  for (std::size_t p = 0; p < decl.info->outputs.size(); ++p)
    if (decl.info->outputs[p].name == "out") out = p;
  route(input, out, sdk::Record{std::move(id), std::move(record)});
}

bool Harness::tick_to(Millis to, std::string& error) {
  std::uint64_t ticks = 0;
  for (;;) {
    std::size_t due = npos;
    for (std::size_t c = 0; c < next_tick_.size(); ++c)
      if (next_tick_[c] <= to && (due == npos || next_tick_[c] < next_tick_[due])) due = c;
    if (due == npos) break;
    if (++ticks > max_ticks_per_move) {
      error = "more than " + std::to_string(max_ticks_per_move) +
              " advance() calls in one move of the clock (to " + std::to_string(to) + ")";
      return false;
    }
    now_ = next_tick_[due];
    auto* s = stateful(components_[due].get());
    next_tick_[due] += s->tick_interval().count() > 0 ? s->tick_interval().count() : to - now_ + 1;
    std::fill(counted_[due].begin(), counted_[due].end(), 0);
    try {
      s->advance(now_, *emitters_[due]);
    } catch (const std::exception& e) {
      problems_.push_back(flow_.components[due].id + ": advance(" + std::to_string(now_) +
                          ") threw: " + e.what());
    }
  }
  now_ = to;
  return true;
}

bool Harness::move_to(Millis to, std::string& error) {
  if (to < now_) {
    error = "the clock cannot go back: from " + std::to_string(now_) + " to " + std::to_string(to);
    return false;
  }
  sdk::expr::ClockOverride use(now_ms_);
  return tick_to(to, error);
}

bool Harness::restart(std::string& error) {
  sdk::expr::ClockOverride use(now_ms_);
  for (std::size_t c = 0; c < components_.size(); ++c) {
    if (!components_[c]) continue;
    std::string saved;
    auto* before = stateful(components_[c].get());
    if (before) before->save(saved);
    components_[c]->stop();
    components_[c].reset();
    if (!make(c, error)) return false;
    if (!before) continue;
    auto* after = stateful(components_[c].get());
    if (after == nullptr) {
      error = flow_.components[c].id + ": made anew, it is no stateful processor any more";
      return false;
    }
    auto st = after->load(saved);
    if (!st) {
      error = flow_.components[c].id + ": load() of the state it saved failed: " + st.error();
      return false;
    }
  }
  return true;
}

}  // namespace weir::flowtest
