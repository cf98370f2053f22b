// ComponentSpec: one declaration gives parsing, defaults, diagnostics, docs and the schema.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "sdk/spec.hpp"

using namespace weir;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

enum class Mode { fast, safe };

struct Tls {
  std::string cert;
  bool verify = true;
  static sdk::ObjectSpec<Tls> object_spec() {
    return sdk::ObjectSpec<Tls>{}
        .field("cert", &Tls::cert, sdk::field().required().doc("PEM file."))
        .field("verify", &Tls::verify);
  }
};

struct Config {
  std::string name;
  int batch = 100;
  double ratio = 0.5;
  bool enabled = true;
  std::chrono::milliseconds timeout = 5s;
  sdk::ByteSize limit{64 * 1024 * 1024};
  Mode mode = Mode::safe;
  std::vector<std::string> tags;
  std::map<std::string, int> weights;
  Tls tls;
  std::string token;
  sdk::Expression where;
};

class Noop final : public sdk::Processor {
 public:
  Noop(const Config&, const sdk::Context&) {}
  void process(sdk::Record&&, sdk::Emitter&) override {}
};

sdk::ComponentInfo info() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"test_thing"}
      .summary("A test component.")
      .field("name", &Config::name, field().required().not_empty().doc("The name."))
      .field("batch", &Config::batch, field().range(1, 4096))
      .field("ratio", &Config::ratio, field().range(0, 1))
      .field("enabled", &Config::enabled)
      .field("timeout", &Config::timeout, field().duration_range(1ms, 1h))
      .field("limit", &Config::limit, field().size_range(1024, 1ull << 30))
      .field("mode", &Config::mode,
             field().option("fast", Mode::fast, "Quick.").option("safe", Mode::safe, "Careful."))
      .field("tags", &Config::tags)
      .field("weights", &Config::weights, field().range(0, 10))
      .field("tls", &Config::tls, field().advanced())
      .field("token", &Config::token, field().secret())
      .field("where", &Config::where)
      .lint([](const Config& c, sdk::Lint& l) {
        if (c.mode == Mode::fast && c.batch < 10)
          l.error("batch", "invalid_value", "fast mode needs a batch of at least 10");
      })
      .output("out", "Results.")
      .implementation<Noop>()
      .info();
}

struct Parsed {
  sdk::Diagnostics diags;
  std::shared_ptr<const Config> config;
};

Parsed parse(const std::string& text) {
  static const auto i = info();
  Parsed p;
  auto v = json::parse(text);
  p.config = std::static_pointer_cast<const Config>(i.parse(&v, p.diags, "/c"));
  return p;
}

bool has(const Parsed& p, const std::string& code, const std::string& pointer) {
  for (const auto& d : p.diags.items())
    if (d.code == code && d.pointer == pointer) return true;
  return false;
}

}  // namespace

TEST_CASE("every field kind parses, defaults stay where absent") {
  auto p = parse(R"({"name": "x", "batch": 7, "ratio": 0.25, "enabled": false, "timeout": "250ms",
    "limit": "2MiB", "mode": "fast", "tags": ["a", "b"], "weights": {"k": 3},
    "tls": {"cert": "c.pem"}, "token": "s", "where": "batch > 1"})");
  REQUIRE(p.diags.empty() == false);  // the lint: fast mode with batch 7
  CHECK(has(p, "invalid_value", "/c/batch"));

  p = parse(R"({"name": "x", "batch": 70, "ratio": 0.25, "enabled": false, "timeout": "250ms",
    "limit": 2048, "mode": "fast", "tags": ["a", "b"], "weights": {"k": 3},
    "tls": {"cert": "c.pem"}, "where": "batch > 1"})");
  REQUIRE(p.diags.empty());
  const auto& c = *p.config;
  CHECK(c.batch == 70);
  CHECK(c.ratio == 0.25);
  CHECK_FALSE(c.enabled);
  CHECK(c.timeout == 250ms);
  CHECK(c.limit.bytes == 2048);
  CHECK(c.mode == Mode::fast);
  CHECK(c.tags == std::vector<std::string>{"a", "b"});
  CHECK(c.weights.at("k") == 3);
  CHECK(c.tls.cert == "c.pem");
  CHECK(c.tls.verify);
  CHECK(c.where.program != nullptr);

  auto d = parse(R"({"name": "y"})");
  REQUIRE(d.diags.empty());
  CHECK(d.config->batch == 100);
  CHECK(d.config->timeout == 5s);
  CHECK(d.config->limit.bytes == 64u * 1024 * 1024);
  CHECK(d.config->mode == Mode::safe);
}

TEST_CASE("every problem is collected with its pointer") {
  auto p = parse(R"({"batch": 0, "ratio": "x", "enabled": 1, "timeout": "5 parsecs", "limit": "1B",
    "mode": "fats", "tags": [1], "weights": {"k": 11}, "tls": {"verify": true, "extra": 1},
    "where": "a >", "nmae": "x"})");
  CHECK(has(p, "missing_field", "/c/name"));
  CHECK(has(p, "out_of_range", "/c/batch"));
  CHECK(has(p, "wrong_type", "/c/ratio"));
  CHECK(has(p, "wrong_type", "/c/enabled"));
  CHECK(has(p, "invalid_value", "/c/timeout"));
  CHECK(has(p, "out_of_range", "/c/limit"));
  CHECK(has(p, "invalid_value", "/c/mode"));
  CHECK(has(p, "wrong_type", "/c/tags/0"));
  CHECK(has(p, "out_of_range", "/c/weights/k"));
  CHECK(has(p, "missing_field", "/c/tls/cert"));
  CHECK(has(p, "unknown_field", "/c/tls/extra"));
  CHECK(has(p, "bad_expression", "/c/where"));
  CHECK(has(p, "unknown_field", "/c/nmae"));
  CHECK(p.config == nullptr);
  for (const auto& d : p.diags.items())
    if (d.pointer == "/c/mode") CHECK(d.hint == "did you mean \"fast\"?");
  CHECK(parse(R"({"name": ""})").diags.items().at(0).code == "invalid_value");
}

TEST_CASE("docs, schema, ports and redaction come from the same declaration") {
  auto i = info();
  CHECK(i.outputs.size() == 2);
  CHECK(i.outputs.back().name == "error");
  CHECK(i.output_index("out") == 0);
  REQUIRE(i.fields.size() == 12);
  CHECK(i.fields[0].opts.required_);
  CHECK(i.fields[4].type == "duration");
  CHECK(json::serialize(i.fields[4].default_value) == "\"5s\"");
  CHECK(i.fields[5].type == "byte size");
  CHECK(json::serialize(i.fields[5].default_value) == "\"64MiB\"");
  CHECK(i.fields[6].default_value.as_string() == "safe");
  CHECK(i.fields[7].type == "list of string");
  CHECK(i.fields[9].fields.size() == 2);  // nested object
  const auto& props = i.schema.at("properties").as_object();
  CHECK(i.schema.at("additionalProperties").as_bool() == false);
  CHECK(i.schema.at("required").as_array().size() == 1);
  CHECK(props.at("batch").at("minimum").as_int64() == 1);
  CHECK(props.at("batch").at("maximum").as_int64() == 4096);
  CHECK(props.at("mode").at("enum").as_array().size() == 2);
  CHECK(props.at("tls").at("properties").as_object().contains("cert"));
  CHECK(props.at("token").at("writeOnly").as_bool());
  auto red = i.redacted(json::parse(R"({"name": "n", "token": "secret"})"));
  CHECK(red.at("token").as_string() == "***");
  CHECK(red.at("name").as_string() == "n");
}

namespace {

struct PortsConfig {
  std::string port = "out";
};

// Asks its Context for the port its config names.
class PortUser final : public sdk::Processor {
 public:
  PortUser(const PortsConfig& c, const sdk::Context& ctx) : port(ctx.output(c.port)) {}
  void process(sdk::Record&& rec, sdk::Emitter& out) override { out.emit(port, std::move(rec)); }
  sdk::Port port;
};

sdk::ComponentInfo ports_info() {
  return sdk::ComponentSpec<PortsConfig>{"port_user"}
      .field("port", &PortsConfig::port)
      .output("out", "Results.")
      .output("rejected", "The rest.")
      .implementation<PortUser>()
      .info();
}

std::unique_ptr<sdk::Component> create_port_user(const std::string& port) {
  static const auto info = ports_info();
  sdk::Diagnostics d;
  auto v = json::value(json::object{{"port", port}});
  auto cfg = info.parse(&v, d, "/c");
  REQUIRE(cfg != nullptr);
  sdk::Context ctx{"f", "user", sdk::Log("f", "user"), nullptr, {}};
  return info.create(cfg.get(), ctx);
}

}  // namespace

TEST_CASE("ports are handles by name: the spec's order, error last; an unknown name stops the component") {
  const std::vector<std::pair<std::string, std::size_t>> ports{{"out", 0}, {"rejected", 1}, {"error", 2}};
  for (const auto& port : ports) {
    CAPTURE(port.first);
    auto c = create_port_user(port.first);
    CHECK(dynamic_cast<PortUser&>(*c).port.index() == port.second);
  }
  try {
    (void)create_port_user("rejectd");
    FAIL("an unknown port name must throw");
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()) ==
          "component user has no output port \"rejectd\" (its ports: out, rejected, error)");
  }
  CHECK(ports_info().kind == sdk::Kind::processor);
  CHECK(ports_info().inputs.size() == 1);
}

namespace {

struct NamedPortsConfig {
  std::vector<std::string> extra;
  std::string port = "out";
};

// A PortUser whose config also names ports of its own (as a route's cases do).
class NamedPortUser final : public sdk::Processor {
 public:
  NamedPortUser(const NamedPortsConfig& c, const sdk::Context& ctx) : port(ctx.output(c.port)) {}
  void process(sdk::Record&& rec, sdk::Emitter& out) override { out.emit(port, std::move(rec)); }
  sdk::Port port;
};

sdk::ComponentInfo named_ports_info() {
  return sdk::ComponentSpec<NamedPortsConfig>{"named"}
      .field("extra", &NamedPortsConfig::extra)
      .field("port", &NamedPortsConfig::port)
      .output("out", "Results.")
      .ports_from_config("The ports in `extra`.",
                         [](const NamedPortsConfig& c) {
                           std::vector<sdk::PortInfo> out;
                           for (const auto& e : c.extra) out.push_back({e, "Named by the config."});
                           return out;
                         })
      .implementation<NamedPortUser>()
      .info();
}

}  // namespace

TEST_CASE(
    "ports from a config: an instance's own info lists them before error, and its component knows them") {
  const auto info = named_ports_info();
  sdk::Diagnostics d;
  auto v = json::parse(R"({"extra": ["hot", "cold"], "port": "cold"})");
  auto cfg = info.parse(&v, d, "/c");
  REQUIRE(cfg != nullptr);
  auto own = info.for_config(cfg.get());
  REQUIRE(own != nullptr);
  std::vector<std::string> names;
  for (const auto& p : own->outputs) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"out", "hot", "cold", "error"});
  CHECK(info.outputs.size() == 2);  // the type's own: out, error
  sdk::Context ctx{"f", "named", sdk::Log("f", "named"), nullptr, {}};
  auto c = own->create(cfg.get(), ctx);
  CHECK(dynamic_cast<NamedPortUser&>(*c).port.index() == 2);
  // The type's info does not know them: the component fails to start, naming its ports.
  CHECK_THROWS_AS((void)info.create(cfg.get(), ctx), std::logic_error);
  // A name the info has already is a programming error (a component's lint rejects it first).
  CHECK_THROWS_AS((void)info.with_outputs({{"out", ""}}), std::logic_error);
  CHECK_THROWS_AS((void)info.with_outputs({{"error", ""}}), std::logic_error);
  // A component whose ports are all in its spec has no instance info.
  auto plain = ports_info();
  auto pv = json::parse(R"({"port": "out"})");
  auto pcfg = plain.parse(&pv, d, "/c");
  CHECK(plain.for_config(pcfg.get()) == nullptr);
}
