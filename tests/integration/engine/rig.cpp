#include "rig.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "bus/publisher.hpp"
#include "bus/pull_consumer.hpp"
#include "bus/topology.hpp"
#include "support/free_port.hpp"

namespace weir::testing {

using namespace std::chrono_literals;

EngineRig::EngineRig(const std::string& nats_store_dir)
    : dir_("weir-e2e"), http_port_(free_port()), server_(nats_store_dir) {
  std::filesystem::create_directories(flows_dir());
  write_config(R"("http": {"listen": "127.0.0.1:)" + std::to_string(http_port_) + R"(", "token": ")" +
               token() + R"("})");
  bus::ConnectOptions o;
  o.url = server_.url();
  o.connect_timeout = 10s;
  auto c = bus::Connection::connect(o);
  REQUIRE_MESSAGE(c.ok(), c.status().text());
  conn_ = std::move(c.value());
}

EngineRig::~EngineRig() {
  engine_.reset();
  conn_.reset();
}

void EngineRig::write_config(const std::string& extra) {
  // `extra` may set its own log level.
  const bool own_log = extra.find("\"log\"") != std::string::npos;
  std::ofstream(dir_.file("weir.json"))
      << R"({"shutdown_timeout": "5s")" << (own_log ? "" : R"(, "log": {"level": "info"})")
      << (extra.empty() ? "" : ", ") << extra << "}";
}

std::string EngineRig::api() const {
  return "127.0.0.1:" + std::to_string(http_port_);
}

void EngineRig::create_streams() {
  auto js = conn_->jetstream();
  REQUIRE(js.ok());
  bus::StreamSpec src;
  src.name = "SRC";
  src.subjects = {"src.>"};
  src.retention = bus::Retention::limits;
  auto r = bus::ensure_stream(js->raw(), src);
  REQUIRE_MESSAGE(r.ok(), r.status().text());
  bus::StreamSpec out;
  out.name = "OUT";
  out.subjects = {"out.>"};
  out.retention = bus::Retention::limits;
  out.duplicate_window = 5min;
  r = bus::ensure_stream(js->raw(), out);
  REQUIRE_MESSAGE(r.ok(), r.status().text());
}

void EngineRig::publish_source(std::uint64_t from, std::uint64_t to, std::size_t pad, int copies,
                               int first_copy) {
  const std::string padding = pad > 0 ? R"(,"pad":")" + std::string(pad, 'x') + "\"" : "";
  std::vector<std::string> bodies;
  for (auto i = from; i < to; ++i)
    bodies.push_back(R"({"n":)" + std::to_string(i) + R"(,"value":)" + std::to_string(i % 100) +
                     R"(,"site":")" + (i % 2 ? "b" : "a") + "\"" + padding + "}");
  for (int copy = first_copy; copy < copies; ++copy)
    publish_records(bodies, from, copy == 0 ? "" : "#" + std::to_string(copy));
}

void EngineRig::publish_records(const std::vector<std::string>& bodies, std::uint64_t first,
                                const std::string& suffix) {
  auto pub = bus::AsyncPublisher::create(*conn_);
  REQUIRE(pub.ok());
  std::vector<bus::PublishFailure> failures;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    auto st = pub.value()->publish("src.data", bodies[i], "src-" + std::to_string(first + i) + suffix);
    REQUIRE_MESSAGE(st.ok(), st.text());
  }
  auto st = pub.value()->wait_all(60s, failures);
  REQUIRE_MESSAGE(st.ok(), st.text());
  REQUIRE(failures.empty());
}

void EngineRig::write_flow(const std::string& file, const std::string& json) {
  std::ofstream(flows_dir() + "/" + file) << json;
}

void EngineRig::start_engine() {
  REQUIRE_FALSE(engine_);
  ++runs_;
  engine_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{
          weir_binary(), "run", "--config", dir_.file("weir.json"), "--nats-url",
          engine_nats_port_ != 0 ? "nats://127.0.0.1:" + std::to_string(engine_nats_port_) : server_.url(),
          "--flows", flows_dir(), "--data-dir", dir_.file("data")},
      dir_.file("engine.log"));
}

void EngineRig::kill_engine() {
  REQUIRE(engine_);
  engine_->kill9();
  engine_.reset();
}

int EngineRig::stop_engine() {
  REQUIRE(engine_);
  auto rc = engine_->terminate();
  engine_.reset();
  return rc;
}

std::string EngineRig::engine_log() const {
  std::ifstream in(dir_.file("engine.log"));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::uint64_t EngineRig::out_count() {
  auto js = conn_->jetstream();
  if (!js.ok()) return 0;
  auto info = bus::stream_info(js->raw(), "OUT");
  return info.ok() ? info->messages : 0;
}

std::uint64_t EngineRig::stream_messages(const std::string& stream) {
  auto js = conn_->jetstream();
  if (!js.ok()) return UINT64_MAX;
  auto info = bus::stream_info(js->raw(), stream);
  return info.ok() ? info->messages : UINT64_MAX;
}

std::uint64_t EngineRig::consumer_outstanding(const std::string& stream, const std::string& durable) {
  auto js = conn_->jetstream();
  if (!js.ok()) return UINT64_MAX;
  auto info = bus::consumer_info(js->raw(), stream, durable);
  return info.ok() ? info->num_pending +
                         static_cast<std::uint64_t>(std::max<std::int64_t>(0, info->num_ack_pending))
                   : UINT64_MAX;
}

std::string EngineRig::debug_state() {
  auto js = conn_->jetstream();
  if (!js.ok()) return "no JetStream";
  std::string out;
  for (const char* stream : {"SRC", "OUT", "WEIR_PIPELINE", "WEIR_DLQ_PIPELINE"}) {
    auto info = bus::stream_info(js->raw(), stream);
    if (info.ok())
      out += std::string(stream) + ": " + std::to_string(info->messages) + " messages, seq " +
             std::to_string(info->first_seq) + ".." + std::to_string(info->last_seq) + "\n";
  }
  for (auto [stream, durable] :
       {std::pair{"SRC", "weir_pipeline_src"}, std::pair{"WEIR_PIPELINE", "keep__src__out"},
        std::pair{"WEIR_PIPELINE", "sink__shape__out"}}) {
    auto c = bus::consumer_info(js->raw(), stream, durable);
    if (c.ok())
      out += std::string(durable) + ": pending " + std::to_string(c->num_pending) + ", ack pending " +
             std::to_string(c->num_ack_pending) + ", redelivered " + std::to_string(c->num_redelivered) +
             ", waiting " + std::to_string(c->num_waiting) + ", ack floor " +
             std::to_string(c->ack_floor_stream_seq) + "\n";
    else
      out += std::string(durable) + ": " + c.status().text() + "\n";
  }
  return out;
}

std::uint64_t EngineRig::wait_out(std::uint64_t n, std::chrono::seconds deadline) {
  std::uint64_t count = 0;
  wait_until([&] { return (count = out_count()) >= n; }, deadline, 100ms);
  return count;
}

std::vector<OutMessage> EngineRig::read_out() {
  auto js = conn_->jetstream();
  REQUIRE(js.ok());
  bus::ConsumerSpec spec;
  spec.durable = "reader_" + std::to_string(runs_) + "_" + std::to_string(out_count());
  spec.filter_subject = "out.>";
  spec.max_ack_pending = 100000;
  auto c = bus::ensure_consumer(js->raw(), "OUT", spec);
  REQUIRE_MESSAGE(c.ok(), c.status().text());
  auto sub = bus::PullConsumer::bind(js->raw(), "OUT", spec.durable);
  REQUIRE_MESSAGE(sub.ok(), sub.status().text());
  std::vector<OutMessage> out;
  std::vector<bus::Msg> msgs;
  const auto total = out_count();
  while (out.size() < total) {
    msgs.clear();
    auto st = sub->fetch(1000, 2s, msgs);
    if (!st.ok() && !st.is_timeout()) FAIL(st.text());
    if (msgs.empty()) break;
    for (auto& m : msgs) {
      auto meta = m.metadata();
      out.push_back(
          {m.msg_id(), std::string(m.view()), std::string(m.subject()), meta.ok() ? meta->timestamp_ns : 0});
      (void)m.ack();
    }
  }
  return out;
}

std::string pipeline_flow(const std::string& ack_wait) {
  return R"({
  "version": 1,
  "name": "pipeline",
  "settings": { "ack_wait": ")" +
         ack_wait + R"(" },
  "components": [
    { "id": "src", "type": "nats_input", "config": { "subject": "src.data", "stream": "SRC", "ack_wait": ")" +
         ack_wait + R"(" } },
    { "id": "keep", "type": "json_filter", "inputs": ["src"], "config": { "where": "value % 10 != 3" } },
    { "id": "shape", "type": "json_map", "inputs": ["keep"],
      "config": { "set": { "double": "n * 2", "hot": "value > 50" }, "remove": ["site"] } },
    { "id": "sink", "type": "nats_output", "inputs": ["shape"], "config": { "subject": "out.data" } }
  ]
})";
}

std::string missing_ranges(const std::set<std::int64_t>& seen, std::uint64_t n,
                           const std::function<bool(std::uint64_t)>& expected) {
  auto missing = [&](std::uint64_t i) { return expected(i) && !seen.count(static_cast<std::int64_t>(i)); };
  std::string out;
  std::size_t ranges = 0;
  for (std::uint64_t i = 0; i < n && ranges < 10; ++i) {
    if (!missing(i)) continue;
    auto j = i;
    while (j + 1 < n && (!expected(j + 1) || missing(j + 1))) ++j;
    out += std::to_string(i) + ".." + std::to_string(j) + " ";
    ++ranges;
    i = j;
  }
  return out;
}

bool passes_filter(std::uint64_t n) {
  return (n % 100) % 10 != 3;
}

std::int64_t check_payload(const std::string& data, std::string& why) {
  boost::system::error_code ec;
  auto v = boost::json::parse(data, ec);
  if (ec || !v.is_object()) {
    why = "not a JSON object: " + data;
    return -1;
  }
  const auto& o = v.get_object();
  auto n = o.if_contains("n");
  if (!n || !n->is_int64()) {
    why = "no n: " + data;
    return -1;
  }
  const auto i = n->get_int64();
  const auto value = i % 100;
  const auto* d = o.if_contains("double");
  const auto* hot = o.if_contains("hot");
  const auto* val = o.if_contains("value");
  if (!d || !d->is_int64() || d->get_int64() != 2 * i || !hot || !hot->is_bool() ||
      hot->get_bool() != (value > 50) || !val || val->as_int64() != value || o.contains("site") ||
      o.size() != 4) {
    why = "wrong transform: " + data;
    return -1;
  }
  if (!passes_filter(static_cast<std::uint64_t>(i))) {
    why = "the filter should have dropped it: " + data;
    return -1;
  }
  return i;
}

PacedSource::PacedSource(EngineRig& rig, std::uint64_t per_second, std::uint64_t copy_lag)
    : rig_(rig), per_step_(per_second / 10), copy_lag_(copy_lag) {
  thread_ = std::thread([this] { run(); });
}

PacedSource::~PacedSource() {
  stop();
}

std::uint64_t PacedSource::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return next_;
}

void PacedSource::run() {
  auto due = std::chrono::steady_clock::now();
  while (!stop_) {
    rig_.publish_source(next_, next_ + per_step_);
    if (copy_lag_ > 0 && next_ >= copy_lag_)
      rig_.publish_source(next_ - copy_lag_, next_ - copy_lag_ + per_step_, 0, 2, 1);
    next_ += per_step_;
    due += 100ms;
    std::this_thread::sleep_until(due);
  }
}

std::map<std::pair<std::int64_t, std::string>, int> count_records(const std::string& path,
                                                                  std::size_t& lines) {
  std::map<std::pair<std::int64_t, std::string>, int> seen;
  std::ifstream in(path);
  std::string line;
  lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    const auto* o = !ec && v.is_object() ? &v.get_object() : nullptr;
    if (!o || !o->contains("n") || !o->at("n").is_int64()) {
      FAIL_CHECK("not a record: " << line);
      continue;
    }
    const auto* b = o->if_contains("branch");
    seen[{o->at("n").get_int64(), b && b->is_string() ? std::string(b->get_string()) : ""}]++;
  }
  return seen;
}

std::size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  return static_cast<std::size_t>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
}

std::size_t wait_lines(const std::string& path, std::size_t want, std::chrono::seconds deadline,
                       std::chrono::seconds settle) {
  wait_until([&] { return count_lines(path) >= want; }, deadline, 200ms);
  std::this_thread::sleep_for(settle);
  return count_lines(path);
}

void check_each_once(const std::string& path, std::uint64_t n, const std::vector<std::string>& branches,
                     const std::function<std::string()>& context) {
  std::size_t lines = 0;
  auto seen = count_records(path, lines);
  std::size_t missing = 0, doubled = 0;
  for (std::uint64_t i = 0; i < n; ++i)
    for (const auto& b : branches) {
      auto it = seen.find({static_cast<std::int64_t>(i), b});
      const int c = it == seen.end() ? 0 : it->second;
      if (c == 0 && missing++ < 5) FAIL_CHECK("record " << i << " (" << b << ") is missing");
      if (c > 1 && doubled++ < 5) FAIL_CHECK("record " << i << " (" << b << ") arrived " << c << " times");
    }
  CHECK(missing == 0);
  CHECK(doubled == 0);
  CHECK(lines == n * branches.size());
  if (missing + doubled > 0) MESSAGE(context());
}

void expect_each_once(const std::string& path, std::uint64_t n, const std::vector<std::string>& branches,
                      const std::function<std::string()>& context, std::chrono::seconds deadline,
                      std::chrono::seconds settle) {
  wait_lines(path, n * branches.size(), deadline, settle);
  check_each_once(path, n, branches, context);
}

}  // namespace weir::testing
