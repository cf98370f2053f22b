// Golden flow files: every file under tests/flows/invalid/ gives exactly the diagnostics in its
// .expected twin (codes, pointers, positions, messages); every flow under tests/flows/valid/,
// flows/, examples/ and components/*/example.json loads clean, except that a file under
// tests/flows/valid/ with an .expected twin loads with exactly the warnings in it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "core/json_source.hpp"
#include "flow/loader.hpp"
#include "registry/registry.hpp"

namespace fs = std::filesystem;
using namespace weir;

namespace {

fs::path source_root() {
  const char* root = std::getenv("WEIR_SOURCE_ROOT");
  REQUIRE_MESSAGE(root != nullptr, "WEIR_SOURCE_ROOT is not set (run through meson test)");
  return root;
}

std::string slurp(const fs::path& p) {
  return weir::core::read_file(p, nullptr);
}

// A fixed environment, so ${VAR} goldens do not depend on the machine.
const char* test_env(const char* name) {
  std::string n(name);
  if (n == "WEIR_TEST_TOKEN") return "s3cret";
  if (n == "BRIDGE_TOKEN") return "example-token";  // the bridge examples read their token from it
  if (n == "INGEST_TOKEN") return "example-token";  // so does http_input's example
  if (n == "WEIR_TEST_SUBJECT") return "sensors.raw";
  return nullptr;
}

std::vector<fs::path> json_files(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("invalid golden flows give exactly their expected diagnostics") {
  auto files = json_files(source_root() / "tests/flows/invalid");
  REQUIRE(files.size() >= 10);
  for (const auto& f : files) {
    const auto name = f.filename().string();
    CAPTURE(name);
    auto r = flow::load_flow_text(slurp(f), f.filename().string(), registry::builtins(), test_env);
    CHECK_FALSE(r.flow.has_value());
    std::string got;
    for (const auto& d : r.diagnostics.items()) got += sdk::format(d) + "\n";
    auto expected_file = f;
    expected_file.replace_extension(".expected");
    REQUIRE_MESSAGE(fs::exists(expected_file), "missing " << expected_file.filename().string()
                                                          << "; the diagnostics are:\n"
                                                          << got);
    CHECK(got == slurp(expected_file));
  }
}

TEST_CASE("valid flows load without a diagnostic, or with exactly the warnings of their .expected twin") {
  std::vector<fs::path> files = json_files(source_root() / "tests/flows/valid");
  REQUIRE(files.size() >= 3);
  for (const auto& dir : {"flows", "examples"})
    for (const auto& f : json_files(source_root() / dir)) files.push_back(f);
  for (const auto& e : fs::directory_iterator(source_root() / "components"))
    if (fs::exists(e.path() / "example.json")) files.push_back(e.path() / "example.json");
  // The two-site example: each site's flows folder.
  for (const auto* site : {"site-a", "hub"})
    for (const auto& f : json_files(source_root() / "examples/two-sites" / site / "flows"))
      files.push_back(f);
  std::size_t with_warnings = 0;
  for (const auto& f : files) {
    const auto name = f.string();
    CAPTURE(name);
    auto r = flow::load_flow_text(slurp(f), f.filename().string(), registry::builtins(), test_env);
    std::string got;
    for (const auto& d : r.diagnostics.items()) got += sdk::format(d) + "\n";
    CHECK(r.flow.has_value());
    auto expected_file = f;
    expected_file.replace_extension(".expected");
    if (f.parent_path() == source_root() / "tests/flows/valid" && fs::exists(expected_file)) {
      ++with_warnings;
      CHECK_FALSE(r.diagnostics.has_errors());
      CHECK(got == slurp(expected_file));
    } else {
      CHECK_MESSAGE(r.diagnostics.empty(), got);
    }
  }
  CHECK(with_warnings >= 1);
}
