// What is generated from specs and checked in must match the specs: the flow JSON Schema and
// each component README's fields section (`ninja -C build update-generated` rewrites both).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "app/docs.hpp"
#include "core/json_source.hpp"
#include "registry/registry.hpp"

namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
  return weir::core::read_file(p, nullptr);
}
fs::path root() {
  const char* r = std::getenv("WEIR_SOURCE_ROOT");
  REQUIRE(r != nullptr);
  return r;
}
}  // namespace

TEST_CASE("config/schema/flow.schema.json is up to date") {
  auto want = weir::app::pretty_json(weir::app::flow_schema(weir::registry::builtins()));
  CHECK_MESSAGE(slurp(root() / "config/schema/flow.schema.json") == want,
                "stale: run `ninja -C build update-generated`");
}

TEST_CASE("every component README has its generated fields section, up to date") {
  for (const auto& info : weir::registry::builtins().all()) {
    CAPTURE(info.type);
    auto text = slurp(root() / "components" / info.type / "README.md");
    auto regenerated = text;
    REQUIRE(weir::app::replace_generated(regenerated, weir::app::fields_markdown(info)));
    CHECK_MESSAGE(text == regenerated, "stale: run `ninja -C build update-generated`");
    CHECK(fs::exists(root() / "components" / info.type / "example.json"));
  }
}

TEST_CASE("the schema keys every component's config by its type") {
  auto schema = weir::app::flow_schema(weir::registry::builtins());
  const auto& defs = schema.at("$defs").as_object();
  const auto& one_of = defs.at("component").at("oneOf").as_array();
  CHECK(one_of.size() == weir::registry::builtins().all().size());
  for (const auto& info : weir::registry::builtins().all()) CHECK(defs.contains("config_" + info.type));
  CHECK(schema.at("$schema").as_string() == "https://json-schema.org/draft/2020-12/schema");
}
