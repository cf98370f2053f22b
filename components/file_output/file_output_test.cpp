#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/component_testing.hpp"
#include "support/nats_harness.hpp"

using namespace weir;
using testing::parse_config;
using testing::write_ok;
namespace fs = std::filesystem;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(read(path));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string config_for(const std::string& path, const std::string& extra = "") {
  return R"({"path": ")" + path + "\"" + extra + "}";
}

std::vector<sdk::Record> numbered(int from, int to) {
  std::vector<sdk::Record> out;
  for (int i = from; i < to; ++i)
    out.push_back(testing::rec(R"({"n": )" + std::to_string(i) + R"(, "v": 21.5})", std::to_string(i)));
  return out;
}

std::unique_ptr<sdk::Output> started(const std::string& config,
                                     const sdk::Context& ctx = testing::test_context()) {
  return testing::started<sdk::Output>("file_output", config, ctx);
}

}  // namespace

TEST_CASE("file_output: the README example parses") {
  auto p = parse_config("file_output", R"({"path": "archive/readings.ndjson", "fsync": "batch",
                                           "max_size": "16MiB", "max_files": 10})");
  CHECK_MESSAGE(p.diags.empty(), testing::dump(p.diags));
  CHECK(p.config != nullptr);
}

TEST_CASE("file_output: path is required") {
  auto p = parse_config("file_output", "{}");
  CHECK(testing::has_diag(p.diags, "missing_field", "/components/0/config/path"));
  CHECK(testing::has_diag(parse_config("file_output", R"({"path": ""})").diags, "invalid_value",
                          "/components/0/config/path"));
  CHECK(testing::has_diag(parse_config("file_output", R"({"path": "out/"})").diags, "invalid_value",
                          "/components/0/config/path"));
}

TEST_CASE("file_output: unknown field, with a hint") {
  auto p = parse_config("file_output", R"({"path": "x", "max_file": 3})");
  REQUIRE(testing::has_diag(p.diags, "unknown_field", "/components/0/config/max_file"));
  CHECK(p.diags.items()[0].hint == "did you mean \"max_files\"?");
}

TEST_CASE("file_output: out-of-range and invalid values") {
  CHECK(testing::has_diag(parse_config("file_output", R"({"path": "x", "max_files": 0})").diags,
                          "out_of_range", "/components/0/config/max_files"));
  CHECK(testing::has_diag(parse_config("file_output", R"({"path": "x", "fsync": "never"})").diags,
                          "invalid_value", "/components/0/config/fsync"));
  CHECK(testing::has_diag(parse_config("file_output", R"({"path": "x", "max_size": "lots"})").diags,
                          "invalid_value", "/components/0/config/max_size"));
}

TEST_CASE("file_output: one compact JSON line per record, appended across restarts") {
  testing::TempDir dir;
  const auto path = dir.file("out.ndjson");
  {
    auto out = started(config_for(path));
    write_ok(*out, numbered(0, 2));
    write_ok(*out, {testing::rec(R"("text")"), testing::rec("[1, null]")});
    out->stop();
  }
  auto out = started(config_for(path));
  write_ok(*out, numbered(2, 3));
  out->stop();
  CHECK(read(path) ==
        "{\"n\":0,\"v\":21.5}\n{\"n\":1,\"v\":21.5}\n\"text\"\n[1,null]\n{\"n\":2,\"v\":21.5}\n");
}

TEST_CASE("file_output: a relative path is inside the data dir, folders are created") {
  testing::TempDir dir;
  auto ctx = testing::test_context();
  ctx.data_dir = dir.path();
  auto out = started(config_for("a/b/out.ndjson"), ctx);
  write_ok(*out, numbered(0, 1));
  out->stop();
  CHECK(lines(dir.file("a/b/out.ndjson")) == std::vector<std::string>{R"({"n":0,"v":21.5})"});
}

TEST_CASE("file_output: every fsync mode writes the lines") {
  for (const char* mode : {"always", "batch", "interval"}) {
    CAPTURE(mode);
    testing::TempDir dir;
    const auto path = dir.file("out.ndjson");
    auto out =
        started(config_for(path, std::string(R"(, "fsync": ")") + mode + R"(", "fsync_interval": "10ms")"));
    write_ok(*out, numbered(0, 3));
    write_ok(*out, {});
    write_ok(*out, numbered(3, 5));
    out->stop();
    CHECK(lines(path).size() == 5);
  }
}

TEST_CASE("file_output: size rotation keeps max_files old files, oldest deleted") {
  testing::TempDir dir;
  const auto path = dir.file("out.ndjson");
  // Each line is 17 bytes ({"n":N,"v":21.5} and a newline), so 3 lines fit in 60 bytes.
  auto out = started(config_for(path, R"(, "max_size": 60, "max_files": 2)"));
  write_ok(*out, numbered(0, 5));
  write_ok(*out, numbered(5, 10));
  out->stop();
  CHECK_FALSE(fs::exists(path + ".3"));
  std::vector<std::string> all;
  for (const auto& p : {path + ".2", path + ".1", path}) {
    REQUIRE(fs::exists(p));
    CHECK(fs::file_size(p) <= 60);
    for (auto& l : lines(p)) all.push_back(l);
  }
  // The newest records survive, in order; the oldest file went away.
  REQUIRE(all.size() == 7);
  for (int i = 0; i < 7; ++i)
    CHECK(all[static_cast<std::size_t>(i)] == R"({"n":)" + std::to_string(i + 3) + R"(,"v":21.5})");
}

TEST_CASE("file_output: a line longer than max_size gets a file of its own") {
  testing::TempDir dir;
  const auto path = dir.file("out.ndjson");
  auto out = started(config_for(path, R"(, "max_size": 10, "max_files": 5)"));
  write_ok(*out, numbered(0, 3));
  out->stop();
  CHECK(lines(path + ".2") == std::vector<std::string>{R"({"n":0,"v":21.5})"});
  CHECK(lines(path + ".1") == std::vector<std::string>{R"({"n":1,"v":21.5})"});
  CHECK(lines(path) == std::vector<std::string>{R"({"n":2,"v":21.5})"});
}

TEST_CASE("file_output: a line cut short by a crash is left alone, the next starts on its own line") {
  testing::TempDir dir;
  const auto path = dir.file("out.ndjson");
  std::ofstream(path) << "{\"n\":0}\n{\"n\":";
  auto out = started(config_for(path));
  write_ok(*out, {testing::rec(R"({"n": 1})")});
  out->stop();
  CHECK(read(path) == "{\"n\":0}\n{\"n\":\n{\"n\":1}\n");
}

TEST_CASE("file_output: a path that cannot be opened fails start()") {
  testing::TempDir dir;
  std::ofstream(dir.file("plain")) << "not a folder";
  auto out =
      testing::create<sdk::Output>(parse_config("file_output", config_for(dir.file("plain/out.ndjson"))));
  auto st = out->start();
  CHECK_FALSE(st.is_ok());
  CHECK(st.error().find("plain") != std::string::npos);

  auto dir_as_file = testing::create<sdk::Output>(parse_config("file_output", config_for(dir.path())));
  CHECK_FALSE(dir_as_file->start().is_ok());
}
