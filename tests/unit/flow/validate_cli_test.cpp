// `weir validate` against the real binary: warnings are printed but a flow with only warnings is
// valid (exit 0); one error makes it invalid (exit 1).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "core/json_source.hpp"
#include "support/nats_harness.hpp"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code = -1;
  std::string out;
};

Run validate(const std::string& files) {
  const char* bin = std::getenv("WEIR_BIN");
  const char* root = std::getenv("WEIR_SOURCE_ROOT");
  REQUIRE_MESSAGE((bin != nullptr && root != nullptr),
                  "WEIR_BIN or WEIR_SOURCE_ROOT is not set (meson sets them)");
  weir::testing::TempDir tmp{"weir-validate"};
  const auto out = fs::path(tmp.path()) / "out.txt";
  const std::string cmd = "cd " + std::string(root) + "/tests/flows && " + bin + " validate " + files + " >" +
                          out.string() + " 2>/dev/null";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), weir::core::read_file(out, nullptr)};
}

}  // namespace

TEST_CASE("validate: warnings are printed and keep the flow valid; an error does not") {
  auto warned = validate("valid/short_duplicate_window.json");
  CHECK(warned.code == 0);
  CHECK(warned.out.find("warning[short_duplicate_window] /settings/duplicate_window") != std::string::npos);

  auto refused = validate("invalid/inconsistent_settings.json");
  CHECK(refused.code == 1);
  CHECK(refused.out.find("error[inconsistent_settings] /settings/max_age") != std::string::npos);

  CHECK(validate("valid/short_duplicate_window.json invalid/inconsistent_settings.json").code == 1);
}
