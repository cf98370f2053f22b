// Drives a stateful processor (sdk/state.hpp) without an engine: a clock the test sets, an
// emitter that records every result with its port and moment, and the check that a save() in
// the middle of a stream, loaded into a fresh instance, gives exactly the results of a run
// without the break (what the crash guarantee of dedupe, throttle and deadband rests on).
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "sdk/base/json_write.hpp"
#include "sdk/state.hpp"
#include "support/component_testing.hpp"

namespace weir::testing {

struct FakeClock : sdk::Clock {
  sdk::Millis t = 0;
  sdk::Millis now() const override { return t; }
};

// Every result as one line "<port> <id> <json>" (plus " @<at>" for emit_at), failures as
// "error <id> <reason>", in order.
struct TimedCollector : sdk::TimedEmitter {
  std::vector<std::string> lines;
  sdk::Millis last_at = 0;
  void emit(sdk::Port port, sdk::Record&& rec) override {
    lines.push_back(std::to_string(port.index()) + " " + rec.id + " " + sdk::to_json(rec.value));
  }
  void emit_at(sdk::Millis at, sdk::Port port, sdk::Record&& rec) override {
    CHECK_MESSAGE(at >= last_at, "emit_at went back in time: " << at << " after " << last_at);
    last_at = at;
    lines.push_back(std::to_string(port.index()) + " " + rec.id + " " + sdk::to_json(rec.value) + " @" +
                    std::to_string(at));
  }
  void fail(sdk::Record&& rec, std::string_view reason) override {
    lines.push_back("error " + rec.id + " " + std::string(reason));
  }
  // The ids sent to port `port`, in order.
  std::vector<std::string> ids(std::size_t port) const {
    std::vector<std::string> out;
    const auto prefix = std::to_string(port) + " ";
    for (const auto& l : lines)
      if (l.starts_with(prefix))
        out.push_back(l.substr(prefix.size(), l.find(' ', prefix.size()) - prefix.size()));
    return out;
  }
};

// One step of a stream: a record (json) with the clock at `now`, or, with json empty, an
// advance() to `now`.
struct Step {
  sdk::Millis now = 0;
  std::string json;
};

struct Keyed {
  FakeClock clock;
  std::unique_ptr<sdk::StatefulProcessor> p;
  TimedCollector out;
  int seq = 0;

  Keyed(const std::string& type, const std::string& config)
      : p(started<sdk::StatefulProcessor>(type, config)) {
    p->set_clock(&clock);
  }
  void step(const Step& s) {
    clock.t = s.now;
    if (s.json.empty())
      p->advance(s.now, out);
    else
      p->process(rec(s.json, "r" + std::to_string(++seq)), out);
  }
  void run(const std::vector<Step>& steps, std::size_t from = 0,
           std::size_t to = static_cast<std::size_t>(-1)) {
    for (std::size_t i = from; i < steps.size() && i < to; ++i) step(steps[i]);
  }
  void record(sdk::Millis now, const std::string& json) { step({now, json}); }
};

// Runs `steps` whole on one instance and, for every break point, half on one instance, save(),
// load() into a fresh one, then the rest: the results must be the same, line for line.
inline void check_resume(const std::string& type, const std::string& config, const std::vector<Step>& steps) {
  Keyed whole(type, config);
  whole.run(steps);
  for (std::size_t cut = 1; cut < steps.size(); ++cut) {
    CAPTURE(cut);
    Keyed first(type, config);
    first.run(steps, 0, cut);
    std::string saved;
    first.p->save(saved);
    Keyed second(type, config);
    second.seq = first.seq;
    second.out = first.out;
    auto st = second.p->load(saved);
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    CHECK(second.p->state_size().keys == first.p->state_size().keys);
    second.run(steps, cut);
    CHECK(second.out.lines == whole.out.lines);
  }
}

// load() of what is not a state of this config fails cleanly, and the component still works.
inline void check_bad_states(const std::string& type, const std::string& config,
                             const std::string& other_config, const std::string& record_json) {
  Keyed other(type, other_config);
  other.record(1000, record_json);
  std::string saved_other;
  other.p->save(saved_other);
  std::string saved;
  {
    Keyed same(type, config);
    same.record(1000, record_json);
    same.p->save(saved);
  }
  const std::vector<std::string> bad = {
      "garbage", "{", "[]", "null", R"({"state": "other/1"})", saved_other, saved.substr(0, saved.size() / 2),
      // Right envelope, broken entries.
      std::string(saved).replace(saved.find("\"keys\":[") + 8, 0, "[1],"),
      std::string(saved).replace(saved.find("\"keys\":[") + 8, 0, "[\"k\",\"x\",{}],"),
      // The same key twice.
      std::string(saved).replace(
          saved.rfind(']'), 0,
          "," + saved.substr(saved.find("\"keys\":[") + 8, saved.rfind(']') - saved.find("\"keys\":[") - 8))};
  for (const auto& b : bad) {
    CAPTURE(b);
    Keyed k(type, config);
    auto st = k.p->load(b);
    CHECK_FALSE(st.is_ok());
    CHECK(!st.error().empty());
    CHECK(k.p->state_size().keys == 0);
    k.record(1000, record_json);  // starts empty: the first record passes
    REQUIRE(k.out.lines.size() == 1);
    CHECK(k.out.lines[0].starts_with("0 "));
  }
}

}  // namespace weir::testing
