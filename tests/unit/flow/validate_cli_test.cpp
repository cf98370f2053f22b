// `weir validate` against the real binary: warnings are printed but a flow with only warnings is
// valid (exit 0); one error makes it invalid (exit 1).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

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

TEST_CASE("validate: hostile values are quoted escaped and cut; NULs kept; an oversized file is refused") {
  weir::testing::TempDir tmp{"weir-validate-hostile"};
  const auto file = fs::path(tmp.path()) / "hostile.json";
  {
    // An id with an escaped NUL, ESC, CR and BEL; a type of 500,000 characters.
    std::ofstream out(file);
    out << R"({"name": "hostile", "components": [)"
        << R"({"id": "a\u0000b\u001b[31m\r\u0007", "type": "generate"},)"
        << R"({"id": "c", "type": ")" << std::string(500000, 'x') << R"(", "inputs": ["a"]}]})";
  }
  auto r = validate(file.string());
  CHECK(r.code == 1);
  CHECK_MESSAGE(r.out.find(R"(invalid component id "a\u0000b\u001b[31m\r\u0007")") != std::string::npos,
                r.out);
  CHECK(r.out.find('\x1b') == std::string::npos);
  CHECK(r.out.find('\r') == std::string::npos);
  CHECK(r.out.find("\xE2\x80\xA6\" (500000 bytes)") != std::string::npos);
  CHECK(r.out.size() < 2000);

  const auto big = fs::path(tmp.path()) / "big.json";
  { std::ofstream(big) << R"({"name": "big"})"; }
  fs::resize_file(big, 50u << 20);  // sparse: no disk used
  auto b = validate(big.string());
  CHECK(b.code == 1);
  CHECK_MESSAGE(
      b.out.find("big.json:0:0: error[file_too_large] /: cannot read " + big.string() +
                 ": 52428800 bytes, more than the limit of 1048576 bytes (1 MiB) for a flow file") !=
          std::string::npos,
      b.out);
}
