#include "file_input/file_input.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "file_input/tail.hpp"
#include "support/component_testing.hpp"
#include "support/nats_harness.hpp"

using namespace weir;
using namespace weir::testing;
using namespace std::chrono_literals;
namespace fi = weir::components::file_input;
namespace fs = std::filesystem;

namespace {

// A sink that behaves as the engine does where file_input relies on it: a record at or below a
// position its source already stored is a replay (dropped, its callback still runs); callbacks
// run in push order once "stored" (at flush(), or at once with `instant`); crash() forgets what
// was pushed and not yet stored, as a SIGKILL does.
struct PositionSink : sdk::InputSink {
  mutable std::mutex mu;
  std::vector<std::string> lines;  // compact JSON of every record stored, in order
  std::vector<std::string> errors;
  std::vector<std::string> ids;
  std::map<std::string, std::uint64_t> high;  // per source: stored through
  std::size_t replays = 0;
  std::atomic<bool> stop{false};
  struct Open {
    std::string json, id, source;
    std::uint64_t pos = 0;
    bool error = false;
    std::function<void()> done;
  };
  std::vector<Open> open;

  bool take(const sdk::Position& at, std::string json, std::string id, bool error,
            std::function<void()> done) {
    std::lock_guard l(mu);
    std::uint64_t top = high[std::string(at.source)];
    for (const auto& o : open)
      if (o.source == at.source) top = std::max(top, o.pos);
    if (at.seq <= top) {
      ++replays;
      open.push_back(Open{{}, {}, {}, 0, false, std::move(done)});
    } else {
      open.push_back(
          Open{std::move(json), std::move(id), std::string(at.source), at.seq, error, std::move(done)});
    }
    return !stop;
  }
  bool push(sdk::Record&& rec, std::function<void()> on_durable) override {
    return take({"", 0}, boost::json::serialize(rec.value), rec.id, false, std::move(on_durable));
  }
  bool push_at(const sdk::Position& at, sdk::Record&& rec, std::function<void()> on_durable) override {
    return take(at, boost::json::serialize(rec.value), rec.id, false, std::move(on_durable));
  }
  bool fail(sdk::Record&& rec, std::string_view reason, std::function<void()> on_durable) override {
    return fail_at({"", 0}, std::move(rec), reason, std::move(on_durable));
  }
  bool fail_at(const sdk::Position& at, sdk::Record&& rec, std::string_view reason,
               std::function<void()> on_durable) override {
    return take(at, std::string(reason) + " | " + boost::json::serialize(rec.value), rec.id, true,
                std::move(on_durable));
  }
  bool push_batch(sdk::Batch&&, std::function<void()>) override { return false; }
  std::vector<std::string> forgotten;
  void forget(std::string_view source) override {
    std::lock_guard l(mu);
    forgotten.emplace_back(source);
    high.erase(std::string(source));
  }
  void flush() override {
    std::vector<Open> done;
    {
      std::lock_guard l(mu);
      done.swap(open);
      for (auto& o : done) {
        if (o.source.empty() && o.json.empty()) continue;
        if (!o.source.empty()) high[o.source] = std::max(high[o.source], o.pos);
        (o.error ? errors : lines).push_back(o.json);
        ids.push_back(o.id);
      }
    }
    for (auto& o : done)
      if (o.done) o.done();
  }
  void crash() {
    std::lock_guard l(mu);
    open.clear();
  }
  bool stopping() const override { return stop; }
  bool sleep_for(std::chrono::nanoseconds d) override {
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(d, 20ms));
    return !stop;
  }
  std::size_t stored() const {
    std::lock_guard l(mu);
    return lines.size();
  }
};

void append(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::app | std::ios::binary);
  f << text;
}

std::string numbered(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += "{\"n\":" + std::to_string(i) + "}\n";
  return s;
}

// One file_input running on its own thread with a PositionSink.
struct Running {
  std::unique_ptr<sdk::Input> input;
  std::thread thread;
  Running(const std::string& config, const fs::path& data_dir, PositionSink& sink) {
    auto p = parse_config("file_input", config);
    auto ctx = test_context("tail");
    ctx.data_dir = data_dir;
    input = create<sdk::Input>(p, ctx);
    auto st = input->start();
    REQUIRE_MESSAGE(st.is_ok(), st.error());
    sink.stop = false;
    thread = std::thread([this, &sink] { input->run(sink); });
  }
  // A clean stop: what was pushed is flushed (stored) first.
  void stop(PositionSink& sink, bool crash = false) {
    if (crash) sink.crash();
    sink.stop = true;
    thread.join();
    if (!crash) sink.flush();
    input->stop();
  }
  ~Running() {
    if (thread.joinable()) thread.join();
  }
};

bool wait_for(const std::function<bool()>& f, std::chrono::seconds deadline = 10s) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

// Every n in [0, count) exactly once among the sink's lines.
void check_each_once(const PositionSink& sink, int count) {
  std::lock_guard l(sink.mu);
  std::map<int, int> seen;
  for (const auto& line : sink.lines) seen[static_cast<int>(boost::json::parse(line).at("n").as_int64())]++;
  int missing = 0, repeated = 0;
  for (int i = 0; i < count; ++i) {
    if (seen[i] == 0) ++missing;
    if (seen[i] > 1) ++repeated;
  }
  CHECK_MESSAGE(missing == 0, missing << " lines missing");
  CHECK_MESSAGE(repeated == 0, repeated << " lines repeated");
  CHECK(sink.lines.size() == static_cast<std::size_t>(count));
}

const char* base_config = R"({"paths": ["logs/app.log*"], "start_at": "beginning", "poll_interval": "20ms",
                              "rotate_wait": "300ms")";

std::string config_with(const std::string& extra = {}) {
  return std::string(base_config) + extra + "}";
}

// A folder with logs/app.log (not made yet) and a sink: what every case below starts from.
struct LogDir {
  TempDir dir;
  std::string log = dir.file("logs/app.log");
  PositionSink sink;
  LogDir() { fs::create_directories(dir.file("logs")); }
  // Runs the component until the sink stored `n` lines, then stops it cleanly.
  void run_until(std::size_t n, const std::string& config = config_with()) {
    Running r(config, dir.path(), sink);
    REQUIRE(wait_for([&] { return sink.stored() == n; }));
    r.stop(sink);
  }
};

}  // namespace

TEST_CASE("state file: written and read back; damage is an error that names the file") {
  fi::State s;
  s.epoch = "00ff";
  s.next = 4;
  s.entries.push_back({3, 2049, 77, 1234, std::string("ab\ncd\0e", 7)});
  s.entries.push_back({1, 2049, 78, 0, ""});
  fi::State back;
  std::string error;
  REQUIRE(fi::decode_state(fi::encode_state(s), back, error));
  CHECK(back.epoch == "00ff");
  CHECK(back.next == 4);
  REQUIRE(back.entries.size() == 2);
  CHECK(back.entries[0].head == s.entries[0].head);
  CHECK(back.entries[0].offset == 1234);
  CHECK(back.entries[1].head.empty());
  CHECK_FALSE(fi::decode_state("weir-file-input 1\nepoch 00\nnext 2\ng 5 1 1 0 -\n", back, error));
  CHECK(error.find("line 4") != std::string::npos);
  CHECK_FALSE(fi::decode_state("something else\n", back, error));

  TempDir dir;
  fs::create_directories(dir.file("file_input"));
  append(dir.file("file_input/test.tail.state"), "garbage\n");
  auto p = parse_config("file_input", config_with());
  auto ctx = test_context("tail");
  ctx.data_dir = dir.path();
  auto input = create<sdk::Input>(p, ctx);
  auto st = input->start();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.error().find("test.tail.state") != std::string::npos);
  CHECK(st.error().find("deleting it starts over") != std::string::npos);
}

TEST_CASE_FIXTURE(LogDir,
                  "lines become records; a partial last line waits for its newline; bad JSON goes to error") {
  append(log, "{\"n\":0}\n{\"n\":1}\r\nnot json\n{\"n\":");
  Running r(config_with(), dir.path(), sink);
  REQUIRE(wait_for([&] { return sink.stored() == 2; }));
  std::this_thread::sleep_for(100ms);
  CHECK(sink.stored() == 2);
  append(log, "2}\n");
  REQUIRE(wait_for([&] { return sink.stored() == 3; }));
  r.stop(sink);
  check_each_once(sink, 3);
  REQUIRE(sink.errors.size() == 1);
  CHECK(sink.errors[0].find("invalid JSON") != std::string::npos);
  CHECK(sink.errors[0].find("not json") != std::string::npos);
  // Ids are the line's place: the same after any restart.
  CHECK(sink.ids[0].rfind("file:", 0) == 0);
  CHECK(sink.ids[0].substr(sink.ids[0].rfind(':')) == ":8");
}

TEST_CASE_FIXTURE(LogDir, "restart: neither skips nor repeats, after a clean stop and after a crash") {
  append(log, numbered(0, 1000));
  run_until(1000);
  append(log, numbered(1000, 2000));
  {
    Running r(config_with(), dir.path(), sink);
    REQUIRE(wait_for([&] { return sink.stored() == 2000; }));
    // More lines that are pushed but never stored: the crash takes them.
    r.stop(sink, true);
  }
  CHECK(sink.replays == 0);  // the clean stop saved where it was
  append(log, numbered(2000, 3000));
  run_until(3000);
  check_each_once(sink, 3000);
}

TEST_CASE_FIXTURE(LogDir,
                  "a crash after lines were stored but before the state file moved: the engine drops them") {
  append(log, numbered(0, 500));
  const auto state = dir.file("file_input/test.tail.state");
  run_until(500);
  // The state as it was before any line was stored, as if the engine died between storing the
  // lines and writing the state file.
  std::ifstream in(state);
  std::string text(std::istreambuf_iterator<char>(in), {});
  fi::State s;
  std::string error;
  REQUIRE(fi::decode_state(text, s, error));
  REQUIRE(s.entries.size() == 1);
  CHECK(s.entries[0].offset == numbered(0, 500).size());
  s.entries[0].offset = 0;
  std::ofstream(state, std::ios::trunc) << fi::encode_state(s);
  append(log, numbered(500, 600));
  run_until(600);
  CHECK(sink.replays >= 500);
  check_each_once(sink, 600);
}

TEST_CASE_FIXTURE(
    LogDir,
    "rotation by rename: lines written to the old file after the rename are read, then the new file") {
  Running r(config_with(), dir.path(), sink);
  append(log, numbered(0, 100));
  REQUIRE(wait_for([&] { return sink.stored() == 100; }));
  {
    // A writer that keeps its file open across the rename (as a logger does until it reopens).
    std::ofstream writer(log, std::ios::app);
    fs::rename(log, dir.file("logs/app.log.1"));
    writer << numbered(100, 200);
    writer.flush();
  }
  append(log, numbered(200, 300));
  REQUIRE(wait_for([&] { return sink.stored() == 300; }));
  // Deleted, the rotated file is read to its end and forgotten after rotate_wait: the engine
  // drops its source's mark.
  fs::remove(dir.file("logs/app.log.1"));
  REQUIRE(wait_for([&] {
    std::lock_guard l(sink.mu);
    return sink.forgotten.size() == 1;
  }));
  r.stop(sink);
  check_each_once(sink, 300);
  CHECK(sink.forgotten[0] == sink.ids[0].substr(0, sink.ids[0].rfind(':')));
}

TEST_CASE_FIXTURE(
    LogDir, "rotation by copy-truncate: what was not read yet is read from the copy, then the new content") {
  Running r(config_with(), dir.path(), sink);
  append(log, numbered(0, 100));
  REQUIRE(wait_for([&] { return sink.stored() == 100; }));
  int next = 100;
  for (int round = 1; round <= 3; ++round) {
    // Written and copied before the component could read all of it, then truncated and written anew.
    append(log, numbered(next, next + 200));
    next += 200;
    fs::copy_file(log, dir.file("logs/app.log." + std::to_string(round)));
    fs::resize_file(log, 0);
    append(log, numbered(next, next + 100));
    next += 100;
  }
  REQUIRE(wait_for([&] { return sink.stored() == static_cast<std::size_t>(next); }));
  std::this_thread::sleep_for(500ms);
  r.stop(sink);
  check_each_once(sink, next);
}

TEST_CASE_FIXTURE(LogDir,
                  "rotation while stopped: by rename and by copy-truncate, nothing skipped or repeated") {
  append(log, numbered(0, 100));
  run_until(100);
  append(log, numbered(100, 200));
  fs::rename(log, dir.file("logs/app.log.1"));
  append(log, numbered(200, 300));
  run_until(300);
  append(log, numbered(300, 400));
  fs::copy_file(log, dir.file("logs/app.log.2"));
  fs::resize_file(log, 0);
  append(log, numbered(400, 500));
  {
    Running r(config_with(), dir.path(), sink);
    REQUIRE(wait_for([&] { return sink.stored() == 500; }));
    std::this_thread::sleep_for(500ms);
    r.stop(sink);
  }
  check_each_once(sink, 500);
}

TEST_CASE_FIXTURE(
    LogDir, "a file deleted and another made in its place (inode reused or not) is read from its start") {
  append(log, numbered(0, 50));
  run_until(50);
  fs::remove(log);
  append(log, "{\"n\":50,\"other\":true}\n" + numbered(51, 60));
  run_until(60);
  check_each_once(sink, 60);
}

TEST_CASE_FIXTURE(LogDir, "start_at end: at the first start only what is written from then on") {
  append(log, numbered(0, 10) + "{\"n\":");  // a line being written when it starts
  Running r(R"({"paths": ["logs/app.log"], "poll_interval": "20ms"})", dir.path(), sink);
  REQUIRE(wait_for([&] { return fs::exists(dir.file("file_input/test.tail.state")); }));
  std::this_thread::sleep_for(100ms);
  append(log, "99}\n" + numbered(10, 20));
  REQUIRE(wait_for([&] { return sink.stored() == 10; }));
  r.stop(sink);
  std::lock_guard l(sink.mu);
  CHECK(boost::json::parse(sink.lines.front()).at("n").as_int64() == 10);
  CHECK(sink.errors.empty());
}

TEST_CASE_FIXTURE(LogDir,
                  "text lines with the path; multi-line records joined by a start pattern, and by timeout") {
  append(log, "2024-05-01 boom\n  at a()\n  at b()\n2024-05-01 fine\n2024-05-01 again\n  at c()\n");
  Running r(config_with(R"(, "format": "text", "path_field": "file", "multiline_start": "\\d{4}-",
                           "multiline_timeout": "200ms")"),
            dir.path(), sink);
  REQUIRE(wait_for([&] { return sink.stored() == 3; }));
  r.stop(sink);
  std::lock_guard l(sink.mu);
  auto first = boost::json::parse(sink.lines[0]);
  CHECK(first.at("line").as_string() == "2024-05-01 boom\n  at a()\n  at b()");
  CHECK(std::string(first.at("file").as_string()).find("logs/app.log") != std::string::npos);
  CHECK(boost::json::parse(sink.lines[1]).at("line").as_string() == "2024-05-01 fine");
  CHECK(boost::json::parse(sink.lines[2]).at("line").as_string() == "2024-05-01 again\n  at c()");
}

TEST_CASE_FIXTURE(
    LogDir, "a line longer than max_line goes to error with its head and length; the next lines go on") {
  const std::string long_line = "{\"n\":\"" + std::string(300000, 'x') + "\"}";
  append(log, numbered(0, 1) + long_line + "\n" + numbered(1, 3));
  Running r(config_with(R"(, "max_line": "100KiB")"), dir.path(), sink);
  REQUIRE(wait_for([&] { return sink.stored() == 3; }));
  r.stop(sink);
  check_each_once(sink, 3);
  REQUIRE(sink.errors.size() == 1);
  const auto bytes = std::to_string(long_line.size());
  CHECK(sink.errors[0].find("line of " + bytes + " bytes, longer than max_line (102400)") !=
        std::string::npos);
  CHECK(sink.errors[0].find("\"line_bytes\":" + bytes) != std::string::npos);
  CHECK(sink.errors[0].find("\"line_head\":\"{\\\"n\\\":\\\"xxx") != std::string::npos);
}

TEST_CASE("config: at least one pattern; multi-line needs text and a valid expression") {
  auto p = parse_config("file_input", R"({"paths": []})");
  CHECK(has_diag(p.diags, "invalid_value", "/components/0/config/paths"));
  p = parse_config("file_input", R"({"paths": ["a"], "multiline_start": "("})");
  CHECK(has_diag(p.diags, "invalid_value", "/components/0/config/multiline_start"));
  p = parse_config("file_input", R"({"paths": ["a"], "format": "text", "multiline_start": "^x"})");
  CHECK(p.diags.items().empty());
}
