#include "sdk/base/suggest.hpp"

#include <doctest/doctest.h>

using weir::sdk::closest;
using weir::sdk::did_you_mean;
using weir::sdk::edit_distance;

TEST_CASE("optimal string alignment distance") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("ab", "ba") == 1);  // one transposition
  CHECK(edit_distance("inputs", "inptus") == 1);
  CHECK(edit_distance("ca", "abc") == 3);  // OSA, not full Damerau (which gives 2)
  CHECK(edit_distance("flows_dir", "flows_dir") == 0);
}

TEST_CASE("closest picks the nearest candidate within max(1, len/3)") {
  const std::vector<std::string> keys{"url", "embedded", "creds", "user", "password", "token"};
  CHECK(closest("usr", keys) == "user");
  CHECK(closest("pasword", keys) == "password");
  CHECK(closest("embeded", keys) == "embedded");
  CHECK(closest("tokne", keys) == "token");
  CHECK(closest("credz", keys) == "creds");
  CHECK(closest("url", keys) == "url");
  CHECK(closest("xyz", keys).empty());
  CHECK(closest("passwrd1", keys) == "password");  // 2 edits, 8/3 = 2 allowed
  CHECK(closest("pswd", keys).empty());            // 4 edits from password
  CHECK(closest("a", {"b"}) == "b");               // short words still allow one edit
  CHECK(closest("ab", {"xy"}).empty());
  CHECK(closest("anything", {}).empty());
}

TEST_CASE("ties go to the earliest candidate") {
  CHECK(closest("cat", {"bat", "hat"}) == "bat");
  CHECK(closest("cat", {"hat", "bat"}) == "hat");
  CHECK(closest("cat", {"hat", "cat"}) == "cat");
}

TEST_CASE("did_you_mean formats a hint") {
  CHECK(did_you_mean("levle", {"level", "format"}) == "did you mean \"level\"?");
  CHECK(did_you_mean("zzzzz", {"level", "format"}).empty());
}
