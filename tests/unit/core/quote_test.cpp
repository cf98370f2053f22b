// Values from outside quoted in diagnostics and log lines: nothing a terminal acts on, no NUL that
// stops a C string, and a bounded length.
#include <doctest/doctest.h>

#include <string>

#include "sdk/base/quote.hpp"

using weir::sdk::escape_controls;
using weir::sdk::needs_escaping;
using weir::sdk::quote;

TEST_CASE("quote: control characters are escaped, NUL kept visible, quotes escaped") {
  CHECK(quote("abc") == "\"abc\"");
  CHECK(quote(std::string("a\x1b[31mb\rc\x07", 10)) == R"("a\u001b[31mb\rc\u0007")");
  CHECK(quote(std::string("id\0tail", 7)) == R"("id\u0000tail")");
  CHECK(quote("say \"hi\" \\ bye") == R"("say \"hi\" \\ bye")");
  CHECK(quote("tab\there\nnext") == R"("tab\there\nnext")");
  CHECK(quote("\x7f") == R"("\u007f")");
}

TEST_CASE("quote: UTF-8 is kept, C1 controls, bidi overrides and bytes that are not UTF-8 are not") {
  CHECK(quote("température °C") == "\"température °C\"");
  CHECK(quote("\xC2\x9B"
              "31m") == R"("\u009b31m")");  // C1 CSI
  CHECK(quote("a\xE2\x80\xAE"
              "b") == R"("a\u202eb")");                         // right-to-left override
  CHECK(quote("\xFF\xFE ok \xC3") == R"("\xff\xfe ok \xc3")");  // stray and truncated bytes
}

TEST_CASE("quote: a long value is cut after 80 characters, with an ellipsis and its full length") {
  const std::string big(50u << 20, 'x');
  const auto q = quote(big);
  CHECK(q == "\"" + std::string(80, 'x') + "\xE2\x80\xA6\" (52428800 bytes)");
  CHECK(quote(std::string(80, 'y')) == "\"" + std::string(80, 'y') + "\"");
  // Characters, not bytes: 81 two-byte characters are cut after the 80th.
  std::string accents;
  for (int i = 0; i < 81; ++i) accents += "\xC3\xA9";
  CHECK(quote(accents).find("\xE2\x80\xA6\" (162 bytes)") != std::string::npos);
  CHECK(quote("abcdef", 3) == "\"abc\xE2\x80\xA6\" (6 bytes)");
}

TEST_CASE("escape_controls and needs_escaping: whole text, quotes left alone") {
  CHECK_FALSE(needs_escaping("plain \"text\" with UTF-8 é"));
  CHECK(needs_escaping(std::string("a\0b", 3)));
  CHECK(needs_escaping("\x1b[2J"));
  CHECK(needs_escaping("\xFF"));
  CHECK(escape_controls("x \"y\"\x1b") == "x \"y\"\\u001b");
  CHECK(escape_controls(std::string(2000, 'z')).size() == 2000);
}
