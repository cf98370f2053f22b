#include "flowtest/runner.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "flow/loader.hpp"
#include "flowtest/harness.hpp"
#include "flowtest/match.hpp"
#include "sdk/base/quote.hpp"
#include "sdk/diagnostic.hpp"

namespace weir::flowtest {

namespace {

bool run_step(Harness& h, const Step& s, std::string& error) {
  if (!h.move_to(s.at ? *s.at : h.now() + s.after, error)) return false;
  switch (s.kind) {
    case Step::Kind::input:
      h.inject(s.input, s.id, boost::json::value(s.record, {}));
      return true;
    case Step::Kind::advance:
      return h.move_to(h.now() + s.advance, error);
    case Step::Kind::restart:
      return h.restart(error);
  }
  return true;
}

// Runs the steps; false with `error` (naming the step) when the case cannot go on.
bool run_steps(Harness& h, const Case& c, std::string& error) {
  if (!h.start(c.start, error)) return false;
  for (const auto& s : c.steps) {
    if (run_step(h, s, error)) continue;
    error.insert(0, ": ").insert(0, s.pointer);
    return false;
  }
  return true;
}

}  // namespace

CaseResult run_case(const flow::Flow& flow, const Case& c) {
  CaseResult r;
  r.name = c.name;
  const auto started = std::chrono::steady_clock::now();
  {
    Harness h(flow);
    std::string error;
    if (!run_steps(h, c, error)) r.failures.push_back("error: " + error);
    for (const auto& p : h.problems()) r.failures.push_back("error: " + p);
    if (error.empty()) {
      for (const auto& e : c.expect) {
        const auto& actual =
            e.port == Expectation::received ? h.received(e.component) : h.emitted(e.component, e.port);
        auto lines = check(e, actual);
        if (lines.empty()) continue;
        r.failures.push_back("expect " + sdk::quote(e.key) + ":");
        for (auto& l : lines) r.failures.push_back("  " + l);
      }
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  r.passed = r.failures.empty();
  return r;
}

std::string report(const CaseResult& r) {
  std::string out = (r.passed ? "ok   " : "FAIL ") + r.name + "\n";
  for (const auto& l : r.failures) out += "  " + l + "\n";
  return out;
}

int run_command(const std::string& flow_file, const std::string& cases_file, const std::string& junit_file,
                const registry::Registry& registry, std::ostream& out, std::ostream& err) {
  auto src = read_cases_file(cases_file);
  for (const auto& d : src.diagnostics.items()) err << sdk::format(d) << "\n";
  if (!src.ok()) return exit_bad_input;
  const flow::Getenv getenv = [&src](const char* name) -> const char* {
    auto it = src.env.find(name);
    return it != src.env.end() ? it->second.c_str() : std::getenv(name);
  };
  auto loaded = flow::load_flow_file(flow_file, registry, getenv);
  for (const auto& d : loaded.diagnostics.items()) err << sdk::format(d) << "\n";
  if (!loaded.flow) return exit_bad_input;
  sdk::Diagnostics diags;
  auto suite = parse_cases(src, *loaded.flow, diags);
  for (const auto& d : diags.items()) err << sdk::format(d) << "\n";
  if (!suite) return exit_bad_input;

  std::vector<CaseResult> results;
  std::size_t failed = 0;
  for (const auto& c : suite->cases) {
    results.push_back(run_case(*loaded.flow, c));
    failed += results.back().passed ? 0 : 1;
    out << report(results.back()) << std::flush;
  }
  out << results.size() - failed << " passed, " << failed << " failed\n";
  if (!junit_file.empty()) {
    std::ofstream f(junit_file, std::ios::binary | std::ios::trunc);
    f << junit_xml(loaded.flow->name, cases_file, results);
    f.close();
    if (!f) {
      err << "weir test: cannot write " << sdk::quote(junit_file) << "\n";
      return exit_bad_input;
    }
  }
  return failed == 0 ? exit_passed : exit_failed;
}

}  // namespace weir::flowtest
