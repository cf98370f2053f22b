#include "core/hash.hpp"

#include <doctest/doctest.h>

using weir::core::fnv1a64;
using weir::core::hex64;

TEST_CASE("fnv1a64 matches the published FNV-1a test vectors") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("fnv1a64 chains through the seed and hashes bytes, not chars") {
  CHECK(fnv1a64("bar", fnv1a64("foo")) == fnv1a64("foobar"));
  CHECK(fnv1a64("\xff") != fnv1a64("\x7f"));
  CHECK(fnv1a64(std::string_view("a\0b", 3)) != fnv1a64("ab"));
}

TEST_CASE("hex64 is 16 lower-case digits") {
  CHECK(hex64(0) == "0000000000000000");
  CHECK(hex64(1) == "0000000000000001");
  CHECK(hex64(0xcbf29ce484222325ull) == "cbf29ce484222325");
  CHECK(hex64(~0ull) == "ffffffffffffffff");
  // A fixed id: if this changes, message ids change across an upgrade and dedupe breaks.
  CHECK(hex64(fnv1a64("site-a/hot/out/0")) == hex64(fnv1a64("/out/0", fnv1a64("site-a/hot"))));
  CHECK(hex64(fnv1a64("weir")) == "3d57fef619cab8f6");  // cross-checked with a Python FNV-1a
}
