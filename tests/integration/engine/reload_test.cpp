// Hot reload in process: runtime::Engine::apply() on a flow nats_input → json_filter → json_map →
// nats_output while records flow, against a real nats-server. Only the stages whose components
// changed are redeployed (the others keep their threads), and every record arrives exactly once.
//
// The output publishes on a core subject that no stream captures, read by a plain subscription:
// a record handled twice would arrive twice (a stream's duplicate window would hide it).
#include <doctest/doctest.h>
#include <sys/types.h>

#include <boost/json.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bus/core_subscription.hpp"
#include "bus/publisher.hpp"
#include "flow/loader.hpp"
#include "registry/registry.hpp"
#include "runtime/engine.hpp"
#include "support/nats_fixture.hpp"

using namespace weir;
using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t chunk = 4000;  // records published between two changes
constexpr auto patience = 120s;        // how long a condition may take before the test fails

// Which versions of the flow the text is made of.
struct Version {
  int filter = 0;          // part of json_filter's expression (every version passes the same records)
  int map = 0;             // the `v` json_map sets on every record
  int fetch_batch = 1024;  // nats_input's
  bool tag = false;        // a json_map `tag` between src and keep: a change of edges
  bool enabled = true;
};

bool passes(std::uint64_t n) {
  return n % 10 != 3;
}

std::string flow_text(const Version& v) {
  const std::string keep_input = v.tag ? "tag" : "src";
  std::string tag = v.tag ? R"({ "id": "tag", "type": "json_map", "inputs": ["src"],
      "config": { "set": { "tagged": "true" } } },)"
                          : "";
  return R"({
  "version": 1,
  "name": "reload",
  "enabled": )" +
         std::string(v.enabled ? "true" : "false") + R"(,
  "settings": { "ack_wait": "5s" },
  "components": [
    { "id": "src", "type": "nats_input",
      "config": { "subject": "src.data", "stream": "SRC", "ack_wait": "5s", "fetch_batch": )" +
         std::to_string(v.fetch_batch) + R"( } },
    )" + tag +
         R"(
    { "id": "keep", "type": "json_filter", "inputs": [")" +
         keep_input + R"("],
      "config": { "where": "n % 10 != 3 && n >= -)" +
         std::to_string(v.filter) + R"(" } },
    { "id": "shape", "type": "json_map", "inputs": ["keep"], "config": { "set": { "v": ")" +
         std::to_string(v.map) + R"(" } } },
    { "id": "sink", "type": "nats_output", "inputs": ["shape"], "config": { "subject": "out.data" } }
  ]
})";
}

flow::Flow load(const Version& v) {
  auto r = flow::load_flow_text(flow_text(v), "reload.json", registry::builtins(), ::getenv);
  std::string diags;
  for (const auto& d : r.diagnostics.items()) diags += sdk::format(d) + "\n";
  REQUIRE_MESSAGE(r.flow, diags);
  return std::move(*r.flow);
}

// The thread of the flow's stage named `name` ("in:src", "st:keep", "out:sink"); 0 when there is
// none. A stage started anew runs on a new thread, so a changed id means a restarted stage.
pid_t stage_thread(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string comm;
    std::getline(std::ifstream(task.path() / "comm"), comm);
    if (comm == name) return static_cast<pid_t>(std::stol(task.path().filename().string()));
  }
  return 0;
}

// Waits until the stage runs (its thread is named once it started) and returns its thread.
pid_t running_stage(const std::string& name) {
  pid_t tid = 0;
  REQUIRE(wait_until([&] { return (tid = stage_thread(name)) != 0; }, patience));
  return tid;
}

// A real nats-server with the source stream SRC, the output subscription, and an engine.
class Site {
 public:
  Site() {
    bus::StreamSpec src;
    src.name = "SRC";
    src.subjects = {"src.>"};
    src.retention = bus::Retention::limits;
    auto r = bus::ensure_stream(js_.raw(), src);
    REQUIRE_MESSAGE(r.ok(), r.status().text());
    bus::CoreSubscriptionOptions o;
    o.subject = "out.data";
    o.max_pending_msgs = 1 << 20;
    o.max_pending_bytes = 256 << 20;
    auto sub = bus::CoreSubscription::subscribe(conn_->raw(), o);
    REQUIRE_MESSAGE(sub.ok(), sub.status().text());
    out_ = std::move(sub).value();
    engine_ = std::make_unique<runtime::Engine>(*engine_conn_, data_.path(), 100ms);
  }
  ~Site() {
    engine_.reset();  // components hold nats.c objects made from the connection
    engine_conn_.reset();
  }

  runtime::Engine& engine() { return *engine_; }
  bus::JetStream& js() { return js_; }

  // {"n": i} for i in [from, to) on src.data.
  void publish(std::uint64_t from, std::uint64_t to) {
    auto pub = bus::AsyncPublisher::create(*conn_);
    REQUIRE(pub.ok());
    for (auto i = from; i < to; ++i) {
      const auto n = std::to_string(i);
      auto st = pub.value()->publish("src.data", R"({"n":)" + n + "}", "src-" + n);
      if (!st.ok()) FAIL(st.text());
    }
    std::vector<bus::PublishFailure> failures;
    auto st = pub.value()->wait_all(60s, failures);
    REQUIRE_MESSAGE(st.ok(), st.text());
    REQUIRE(failures.empty());
  }

  // Takes what arrived on out.data so far; each record's n with the `v` it carries.
  void receive() {
    std::vector<bus::Msg> msgs;
    auto st = out_.fetch(10000, 10ms, msgs);
    REQUIRE_MESSAGE((st.ok() || st.is_timeout()), st.text());
    for (const auto& m : msgs) {
      auto o = boost::json::parse(m.view()).as_object();
      got_.push_back({o.at("n").as_int64(), o.contains("v") ? o.at("v").as_int64() : -1});
      highest_ = std::max(highest_, got_.back().n);
    }
  }

  // Waits until a record numbered `n` or above arrived.
  void wait_past(std::uint64_t n) {
    REQUIRE(wait_until(
        [&] {
          receive();
          return highest_ >= static_cast<std::int64_t>(n);
        },
        patience));
  }

  // Waits until every record of [0, total) that the filter passes arrived, then checks that
  // each arrived exactly once and that none arrived that the filter drops.
  void check_all(std::uint64_t total) {
    std::uint64_t want = 0;
    for (std::uint64_t i = 0; i < total; ++i) want += passes(i);
    wait_until(
        [&] {
          receive();
          return got_.size() >= want;
        },
        patience);
    std::map<std::int64_t, int> seen;
    for (const auto& r : got_) seen[r.n]++;
    std::string lost, twice, wrong;
    for (std::uint64_t i = 0; i < total; ++i) {
      const auto c = seen.count(static_cast<std::int64_t>(i)) ? seen[static_cast<std::int64_t>(i)] : 0;
      if (passes(i) && c == 0 && lost.size() < 200) lost += std::to_string(i) + " ";
      if (c > 1 && twice.size() < 200) twice += std::to_string(i) + " ";
      if (!passes(i) && c > 0 && wrong.size() < 200) wrong += std::to_string(i) + " ";
    }
    CHECK_MESSAGE(lost.empty(), "lost: " << lost);
    CHECK_MESSAGE(twice.empty(), "arrived more than once: " << twice);
    CHECK_MESSAGE(wrong.empty(), "should have been filtered out: " << wrong);
    CHECK(got_.size() == want);
  }

  // Every record numbered `from` or above carries a `v` of at least `min`.
  void check_versions_from(std::uint64_t from, std::int64_t min) {
    std::string older;
    for (const auto& r : got_)
      if (r.n >= static_cast<std::int64_t>(from) && r.v < min && older.size() < 200)
        older += std::to_string(r.n) + "(v" + std::to_string(r.v) + ") ";
    CHECK_MESSAGE(older.empty(), "handled by an older config after the change: " << older);
  }

  bool any_version(std::int64_t v) const {
    for (const auto& r : got_)
      if (r.v == v) return true;
    return false;
  }

 private:
  struct Received {
    std::int64_t n = 0;
    std::int64_t v = 0;
  };

  TempDir data_{"weir-reload"};
  NatsServer server_;
  std::unique_ptr<bus::Connection> conn_ = connect_to(server_, "test");
  std::unique_ptr<bus::Connection> engine_conn_ = connect_to(server_, "engine");
  bus::JetStream js_ = [this] {
    auto j = conn_->jetstream();
    if (!j) throw std::runtime_error(j.status().text());
    return std::move(j).value();
  }();
  bus::CoreSubscription out_;
  std::unique_ptr<runtime::Engine> engine_;
  std::vector<Received> got_;
  std::int64_t highest_ = -1;
};

runtime::ApplyResult apply(Site& site, const Version& v, std::string* what = nullptr) {
  std::string told;
  auto r = site.engine().apply(load(v), &told);
  MESSAGE("apply: " << runtime::to_string(r) << ": " << told);
  if (what) *what = told;
  return r;
}

}  // namespace

TEST_CASE("changing processors three times redeploys only their stage and loses nothing") {
  Site site;
  REQUIRE(apply(site, {}) == runtime::ApplyResult::deployed);
  // Status is read all along, as the HTTP API does, while components are replaced.
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) {
      for (const auto& f : site.engine().status())
        for (const auto& c : f.components) (void)c.metrics.size();
      (void)site.engine().deployed();
    }
  });
  struct Join {
    std::atomic<bool>& done;
    std::thread& t;
    ~Join() {
      done = true;
      t.join();
    }
  } join{done, reader};
  const auto input = running_stage("in:src");
  const auto output = running_stage("out:sink");
  site.publish(0, chunk);

  // The filter alone, the map alone, then both: each is one fused stage, keep + shape.
  const Version versions[] = {{.filter = 1, .map = 0}, {.filter = 1, .map = 2}, {.filter = 3, .map = 3}};
  const char* expected[] = {"stage keep (components keep)", "stage keep (components shape)",
                            "stage keep (components keep, shape)"};
  for (int k = 0; k < 3; ++k) {
    CAPTURE(k);
    site.wait_past(chunk * k);  // records are in flight while the change happens
    const auto stage = running_stage("st:keep");
    std::string what;
    CHECK(apply(site, versions[k], &what) == runtime::ApplyResult::updated);
    CHECK(what == expected[k]);
    CHECK(running_stage("st:keep") != stage);
    CHECK(stage_thread("in:src") == input);
    CHECK(stage_thread("out:sink") == output);
    site.publish(chunk * (k + 1), chunk * (k + 2));
  }
  site.check_all(chunk * 4);
  // Whatever was published after a change returned is handled by the new config.
  site.check_versions_from(chunk * 2, 2);
  site.check_versions_from(chunk * 3, 3);
  CHECK(site.any_version(0));
  CHECK(site.any_version(2));

  // The same flow again: nothing restarts.
  const auto stage = stage_thread("st:keep");
  CHECK(apply(site, versions[2]) == runtime::ApplyResult::unchanged);
  CHECK(stage_thread("st:keep") == stage);
  CHECK(stage_thread("in:src") == input);
  auto deployed = site.engine().deployed();
  REQUIRE(deployed.size() == 1);
  CHECK(deployed[0].name == "reload");
  CHECK(deployed[0].file == "reload.json");
  CHECK(deployed[0].fingerprint == load(versions[2]).fingerprint());
  CHECK(deployed[0].state == runtime::FlowState::running);
}

TEST_CASE("a changed input restarts only the input stage") {
  Site site;
  REQUIRE(apply(site, {}) == runtime::ApplyResult::deployed);
  const auto input = running_stage("in:src");
  const auto stage = running_stage("st:keep");
  const auto output = running_stage("out:sink");
  site.publish(0, chunk);
  site.wait_past(0);

  std::string what;
  CHECK(apply(site, {.fetch_batch = 100}, &what) == runtime::ApplyResult::updated);
  CHECK(what == "stage src (components src)");
  CHECK(running_stage("in:src") != input);
  CHECK(stage_thread("st:keep") == stage);
  CHECK(stage_thread("out:sink") == output);
  site.publish(chunk, 2 * chunk);
  site.check_all(2 * chunk);
}

TEST_CASE("a change of edges redeploys the whole flow and loses nothing") {
  Site site;
  REQUIRE(apply(site, {}) == runtime::ApplyResult::deployed);
  const auto input = running_stage("in:src");
  const auto output = running_stage("out:sink");
  site.publish(0, chunk);
  site.wait_past(0);

  CHECK(apply(site, {.map = 1, .tag = true}) == runtime::ApplyResult::redeployed);
  CHECK(running_stage("in:src") != input);
  CHECK(running_stage("out:sink") != output);
  CHECK(running_stage("st:tag") != 0);  // tag, keep and shape are one fused stage now
  CHECK(stage_thread("st:keep") == 0);
  site.publish(chunk, 2 * chunk);
  site.check_all(2 * chunk);
  site.check_versions_from(chunk, 1);

  // Back to the first shape while the flow is idle (everything handled and acknowledged): the
  // new reader of src.out starts where the removed one stopped, so it reads exactly what the
  // input publishes from now on and nothing of what the stream still holds from before. (Mid-
  // stream, batches the old reader had fetched but not handled are read again, rightly.)
  CHECK(apply(site, {.map = 2}) == runtime::ApplyResult::redeployed);
  site.publish(2 * chunk, 3 * chunk);
  site.check_all(3 * chunk);
  auto status = site.engine().status("reload");
  REQUIRE(status);
  std::uint64_t published = 0, read = 0;
  for (const auto& c : status->components) {
    if (c.id == "src") published = c.records_out;
    if (c.id == "keep") read = c.records_in;
  }
  CHECK(published == chunk);
  CHECK(read == published);
}

TEST_CASE("remove() then apply() resumes from the durable positions") {
  Site site;
  REQUIRE(apply(site, {}) == runtime::ApplyResult::deployed);
  site.publish(0, chunk);
  site.wait_past(chunk - 1);

  CHECK(site.engine().remove("reload", 5s));
  CHECK_FALSE(site.engine().status("reload"));
  CHECK_FALSE(site.engine().remove("reload", 5s));
  site.publish(chunk, 2 * chunk);  // waits in SRC meanwhile
  CHECK(apply(site, {}) == runtime::ApplyResult::deployed);
  site.wait_past(2 * chunk - 1);

  // Disabling a flow removes it the same way.
  CHECK(apply(site, {.enabled = false}) == runtime::ApplyResult::removed);
  CHECK_FALSE(site.engine().status("reload"));
  CHECK(apply(site, {.enabled = false}) == runtime::ApplyResult::unchanged);
  site.publish(2 * chunk, 3 * chunk);
  CHECK(apply(site, {}) == runtime::ApplyResult::deployed);

  CHECK(site.engine().restart("reload", 5s));
  CHECK_FALSE(site.engine().restart("other", 5s));
  site.publish(3 * chunk, 4 * chunk);
  site.check_all(4 * chunk);
}

TEST_CASE("a flow that cannot start is retried until it runs") {
  Site site;
  // nats_input's stream does not exist yet: the flow fails to start.
  auto text = flow_text({});
  auto r = flow::load_flow_text(std::string(text).replace(text.find("\"SRC\""), 5, "\"LATER\""), "later.json",
                                registry::builtins(), ::getenv);
  REQUIRE(r.flow);
  std::string what;
  CHECK(site.engine().apply(std::move(*r.flow), &what) == runtime::ApplyResult::failed);
  CHECK(what.find("LATER") != std::string::npos);
  auto st = site.engine().status("reload");
  REQUIRE(st);
  CHECK(st->state == runtime::FlowState::failed);

  // Now it exists, capturing src.> in place of SRC.
  REQUIRE(bus::delete_stream(site.js().raw(), "SRC").ok());
  bus::StreamSpec later;
  later.name = "LATER";
  later.subjects = {"src.>"};
  later.retention = bus::Retention::limits;
  auto made = bus::ensure_stream(site.js().raw(), later);
  REQUIRE_MESSAGE(made.ok(), made.status().text());
  REQUIRE(wait_until([&] { return site.engine().status("reload")->state == runtime::FlowState::running; },
                     patience));
  site.publish(0, chunk);
  site.check_all(chunk);
}
