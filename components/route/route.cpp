#include "route/route.hpp"

#include <boost/json.hpp>

#include "sdk/base/quote.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::components::route {

namespace {

// A port name becomes a token of the flow's NATS subjects: letters, digits, _ and -.
bool is_port_name(std::string_view s) {
  if (s.empty() || s.size() > max_port_name) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void check_port_name(const std::string& name, sdk::Lint& l, std::string_view field) {
  if (name == "error")
    l.error(field, "invalid_value", "the port \"error\" is the route's own (records that failed)",
            "choose another name");
  else if (!is_port_name(name))
    l.error(field, "invalid_value", "invalid port name " + sdk::quote(name),
            "use letters, digits, _ and -, at most " + std::to_string(max_port_name));
}

class Route final : public sdk::Processor {
 public:
  Route(const Config& config, const sdk::Context& ctx)
      : all_(config.mode == Mode::all), default_(ctx.output(config.default_port)) {
    for (const auto& c : config.cases) cases_.push_back({c.when.program, ctx.output(c.port), c.port});
  }

  // Called from several threads at once: evaluation only reads the compiled programs.
  void process(sdk::Record&& rec, sdk::Emitter& out) override {
    if (!all_) {
      for (const auto& c : cases_) {
        bool hit = false;
        if (!test(c, rec, hit, out)) return;
        if (hit) {
          out.emit(c.port, std::move(rec));
          return;
        }
      }
      out.emit(default_, std::move(rec));
      return;
    }
    // Every case is evaluated before any copy leaves: a failing one sends the record to `error`
    // alone, never after some of its copies went out.
    std::vector<const Case*> hits;
    for (const auto& c : cases_) {
      bool hit = false;
      if (!test(c, rec, hit, out)) return;
      if (hit) hits.push_back(&c);
    }
    if (hits.empty()) {
      out.emit(default_, std::move(rec));
      return;
    }
    for (std::size_t i = 0; i + 1 < hits.size(); ++i) out.emit(hits[i]->port, sdk::Record(rec));
    out.emit(hits.back()->port, std::move(rec));
  }

 private:
  struct Case {
    std::shared_ptr<const sdk::expr::Program> when;
    sdk::Port port;
    std::string name;
  };

  // False when the record went to `error`.
  static bool test(const Case& c, sdk::Record& rec, bool& hit, sdk::Emitter& out) {
    sdk::expr::EvalError err;
    if (c.when->test(rec.value, hit, err)) return true;
    out.fail(std::move(rec), "case " + c.name + ": when: " + err.message);
    return false;
  }

  bool all_;
  std::vector<Case> cases_;
  sdk::Port default_;
};

}  // namespace

sdk::ObjectSpec<Case> Case::object_spec() {
  using sdk::field;
  sdk::ObjectSpec<Case> s;
  s.field("port", &Case::port,
          field()
              .required()
              .doc("The port the records go to: letters, digits, _ and -; not `error`.")
              .example("hot"))
      .field("when", &Case::when,
             field()
                 .required()
                 .doc("Expression over the record; true sends it to `port`.")
                 .example("value > 50"));
  s.lint([](const Case& c, sdk::Lint& l) { check_port_name(c.port, l, "port"); });
  return s;
}

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"route"}
      .summary("Sends each record to the port of the first case whose expression is true.")
      .description(
          "Each case names a port and an expression. With mode `first`, a record goes to the port "
          "of the first case whose `when` is true (later cases are not evaluated); with mode `all`, "
          "every case is evaluated and each one that is true gets a copy. A record no case takes "
          "goes to the `default` port. A `when` that cannot be evaluated on a record (a "
          "non-boolean result, arithmetic on a string) sends it to `error` with the reason, and no "
          "copy of it anywhere else. Read a port with \"inputs\": [\"<route id>.<port>\"]; a port "
          "nothing reads drops its records.")
      .stateless()
      .field("cases", &Config::cases,
             field()
                 .required()
                 .not_empty()
                 .doc("The cases in order: {\"port\": name, \"when\": expression}. Port names are "
                      "unique and differ from `default`.")
                 .example(boost::json::parse(R"([{"port": "hot", "when": "value > 50"}])")))
      .field("default", &Config::default_port,
             field().doc("The port of the records no case takes.").example("rest"))
      .field("mode", &Config::mode,
             field()
                 .doc("Which true cases get the record.")
                 .option("first", Mode::first, "The first true case only.")
                 .option("all", Mode::all, "Every true case, a copy each."))
      .lint([](const Config& c, sdk::Lint& l) {
        check_port_name(c.default_port, l, "default");
        auto cases = l.at("cases");
        for (std::size_t i = 0; i < c.cases.size(); ++i) {
          const auto& name = c.cases[i].port;
          if (name == c.default_port)
            cases.at(i).error(
                "port", "duplicate_port", "port " + sdk::quote(name) + " is also the default port",
                "a record no case takes goes to the default port; name this case's port otherwise");
          for (std::size_t j = 0; j < i; ++j)
            if (c.cases[j].port == name)
              cases.at(i).error(
                  "port", "duplicate_port",
                  "port " + sdk::quote(name) + " is named by case " + std::to_string(j) + " already",
                  "each case has a port of its own; join the expressions with ||");
        }
      })
      .ports_from_config("The port of each case, in order, then the `default` port.",
                         [](const Config& c) {
                           std::vector<sdk::PortInfo> ports;
                           for (const auto& k : c.cases)
                             ports.push_back({k.port, "Records for which `" + k.when.source + "` is true."});
                           ports.push_back({c.default_port, "Records no case takes."});
                           return ports;
                         })
      .example(boost::json::parse(R"({"id": "by_level", "type": "route", "inputs": ["sensors"],
                                      "config": {"cases": [{"port": "hot", "when": "value > 50"},
                                                           {"port": "cold", "when": "value < 5"}]}})"))
      .implementation<Route>();
}

}  // namespace weir::components::route
