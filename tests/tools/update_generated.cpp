// Rewrites what is generated from the component specs and checked in: the flow JSON Schema
// (config/schema/flow.schema.json) and the "## Fields" section of every component README.
// Run with `ninja -C build update-generated`; tests/unit/sdk/generated_test.cpp fails when stale.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/docs.hpp"
#include "registry/registry.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: update_generated SOURCE_ROOT\n");
    return 2;
  }
  const fs::path root = argv[1];
  const auto& reg = weir::registry::builtins();
  std::ofstream(root / "config/schema/flow.schema.json")
      << weir::app::pretty_json(weir::app::flow_schema(reg));
  int rc = 0;
  for (const auto& info : reg.all()) {
    const auto readme = root / "components" / info.type / "README.md";
    std::ifstream in(readme);
    std::stringstream ss;
    ss << in.rdbuf();
    auto text = ss.str();
    if (!weir::app::replace_generated(text, weir::app::fields_markdown(info))) {
      std::fprintf(stderr, "%s: no generated fields markers\n", readme.c_str());
      rc = 1;
      continue;
    }
    std::ofstream(readme) << text;
  }
  return rc;
}
