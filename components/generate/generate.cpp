#include "generate/generate.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "sdk/base/quote.hpp"
#include "sdk/base/suggest.hpp"

namespace weir::components::generate {

namespace json = boost::json;
using namespace std::chrono_literals;

enum class Op { seq, now, now_ms, rand, randf, pick, uuid };

struct Placeholder {
  Op op = Op::seq;
  std::int64_t lo = 0, hi = 0;     // rand
  double flo = 0, fhi = 0;         // randf
  std::vector<std::string> words;  // pick
};

struct Part {
  std::string text;  // used when there is no placeholder
  std::optional<Placeholder> placeholder;
};

struct Node {
  enum class Kind { literal, placeholder, text, object, array };
  Kind kind = Kind::literal;
  json::value literal;
  Placeholder placeholder;
  std::vector<Part> parts;
  std::vector<std::string> keys;  // object: keys[i] names children[i]
  std::vector<Node> children;
};

// What every placeholder of one record shares: its number, one clock reading, the generator.
struct Tick {
  std::uint64_t seq = 0;
  std::chrono::system_clock::time_point now;
  std::mt19937_64& rng;
};

namespace {

std::string rfc3339_ms(std::chrono::system_clock::time_point tp) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(tp);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf;
}

std::string uuid_v4(std::mt19937_64& rng) {
  std::uint64_t hi = rng(), lo = rng();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                         // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[40];
  std::snprintf(
      buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx", static_cast<unsigned long long>(hi >> 32),
      static_cast<unsigned long long>((hi >> 16) & 0xFFFF), static_cast<unsigned long long>(hi & 0xFFFF),
      static_cast<unsigned long long>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

json::value value_of(const Placeholder& p, Tick& t) {
  switch (p.op) {
    case Op::seq:
      return static_cast<std::int64_t>(t.seq);
    case Op::now:
      return json::string(rfc3339_ms(t.now));
    case Op::now_ms:
      return std::chrono::duration_cast<std::chrono::milliseconds>(t.now.time_since_epoch()).count();
    case Op::rand:
      return std::uniform_int_distribution<std::int64_t>(p.lo, p.hi)(t.rng);
    case Op::randf:
      return std::round(std::uniform_real_distribution<double>(p.flo, p.fhi)(t.rng) * 100.0) / 100.0;
    case Op::pick:
      return json::string(p.words[std::uniform_int_distribution<std::size_t>(0, p.words.size() - 1)(t.rng)]);
    case Op::uuid:
      return json::string(uuid_v4(t.rng));
  }
  return nullptr;
}

void append_text(std::string& out, const json::value& v) {
  char buf[32];
  std::to_chars_result r{buf, {}};
  if (v.is_string()) {
    out += v.get_string();
    return;
  }
  if (v.is_int64()) r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
  if (v.is_double()) r = std::to_chars(buf, buf + sizeof buf, v.get_double());
  out.append(buf, r.ptr);
}

json::value render(const Node& n, Tick& t) {
  switch (n.kind) {
    case Node::Kind::literal:
      return n.literal;
    case Node::Kind::placeholder:
      return value_of(n.placeholder, t);
    case Node::Kind::text: {
      std::string s;
      for (const auto& part : n.parts) {
        if (part.placeholder)
          append_text(s, value_of(*part.placeholder, t));
        else
          s += part.text;
      }
      return json::string(s);
    }
    case Node::Kind::object: {
      json::object o;
      o.reserve(n.children.size());
      for (std::size_t i = 0; i < n.children.size(); ++i) o.emplace(n.keys[i], render(n.children[i], t));
      return o;
    }
    case Node::Kind::array: {
      json::array a;
      a.reserve(n.children.size());
      for (const auto& child : n.children) a.push_back(render(child, t));
      return a;
    }
  }
  return nullptr;
}

struct OpInfo {
  const char* name;
  Op op;
  const char* usage;
};
constexpr OpInfo ops_table[] = {{"seq", Op::seq, "{{seq}}"},
                                {"now", Op::now, "{{now}}"},
                                {"now_ms", Op::now_ms, "{{now_ms}}"},
                                {"rand", Op::rand, "{{rand 1 10}}"},
                                {"randf", Op::randf, "{{randf 0 100}}"},
                                {"pick", Op::pick, "{{pick a b c}}"},
                                {"uuid", Op::uuid, "{{uuid}}"}};

template <class N>
bool parse_number(std::string_view s, N& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size() &&
         (!std::is_floating_point_v<N> || std::isfinite(out));
}

// `body` is the text between "{{" and "}}", which starts at `offset` in the string.
bool parse_placeholder(std::string_view body, std::size_t offset, Placeholder& out, sdk::ParseCtx& c) {
  std::vector<std::string_view> words;
  for (std::size_t i = 0; i < body.size();) {
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
    const auto start = i;
    while (i < body.size() && body[i] != ' ' && body[i] != '\t') ++i;
    if (i > start) words.push_back(body.substr(start, i - start));
  }
  auto fail = [&](const std::string& message, std::string hint = {}) {
    c.diags.error(c.pointer, "bad_template",
                  message + " at column " + std::to_string(offset + 1) + " of the string", std::move(hint),
                  static_cast<int>(offset));
    return false;
  };
  if (words.empty()) return fail("empty placeholder {{}}", "use one of {{seq}}, {{now}}, {{rand 1 10}}");
  const OpInfo* info = nullptr;
  std::vector<std::string> names;
  for (const auto& o : ops_table) {
    if (words[0] == o.name) info = &o;
    names.emplace_back(o.name);
  }
  if (!info)
    return fail("unknown placeholder " + sdk::quote(std::string(words[0])),
                sdk::did_you_mean(words[0], names));
  out.op = info->op;
  const std::size_t args = words.size() - 1;
  const std::string usage = std::string("write ") + info->usage;
  switch (info->op) {
    case Op::rand:
      if (args != 2 || !parse_number(words[1], out.lo) || !parse_number(words[2], out.hi))
        return fail("rand takes two integers", usage);
      if (out.lo > out.hi) return fail("rand: the first bound is greater than the second", usage);
      return true;
    case Op::randf:
      if (args != 2 || !parse_number(words[1], out.flo) || !parse_number(words[2], out.fhi))
        return fail("randf takes two numbers", usage);
      if (out.flo > out.fhi) return fail("randf: the first bound is greater than the second", usage);
      return true;
    case Op::pick:
      if (args == 0) return fail("pick needs at least one word", usage);
      for (std::size_t i = 1; i < words.size(); ++i) out.words.emplace_back(words[i]);
      return true;
    default:
      if (args != 0) return fail(std::string(info->name) + " takes no arguments", usage);
      return true;
  }
}

bool compile_string(std::string_view s, Node& out, sdk::ParseCtx& c) {
  std::vector<Part> parts;
  bool any = false;
  for (std::size_t pos = 0; pos < s.size();) {
    const auto open = s.find("{{", pos);
    if (open == std::string_view::npos) {
      parts.push_back({std::string(s.substr(pos)), {}});
      break;
    }
    if (open > pos) parts.push_back({std::string(s.substr(pos, open - pos)), {}});
    const auto close = s.find("}}", open + 2);
    if (close == std::string_view::npos) {
      c.diags.error(
          c.pointer, "bad_template",
          "\"{{\" without a closing \"}}\" at column " + std::to_string(open + 1) + " of the string", {},
          static_cast<int>(open));
      return false;
    }
    Placeholder p;
    if (!parse_placeholder(s.substr(open + 2, close - open - 2), open, p, c)) return false;
    parts.push_back({{}, std::move(p)});
    any = true;
    pos = close + 2;
  }
  if (!any) {
    out.kind = Node::Kind::literal;
    out.literal = json::string(s);
  } else if (parts.size() == 1) {
    out.kind = Node::Kind::placeholder;
    out.placeholder = std::move(*parts[0].placeholder);
  } else {
    out.kind = Node::Kind::text;
    out.parts = std::move(parts);
  }
  return true;
}

// Reports every bad placeholder, each at its own string's pointer. Subtrees without placeholders
// become literals, copied as they are.
bool compile(const json::value& v, Node& out, sdk::ParseCtx& c) {
  bool ok = true;
  bool dynamic = false;
  auto child = [&](const json::value& x, const std::string& pointer) {
    Node n;
    sdk::ParseCtx sub{c.diags, pointer};
    ok = compile(x, n, sub) && ok;
    dynamic = dynamic || n.kind != Node::Kind::literal;
    out.children.push_back(std::move(n));
  };
  if (v.is_string()) return compile_string(v.get_string(), out, c);
  if (v.is_object()) {
    out.kind = Node::Kind::object;
    for (const auto& kv : v.get_object()) {
      out.keys.emplace_back(kv.key());
      child(kv.value(), sdk::pointer_append(c.pointer, kv.key()));
    }
  } else if (v.is_array()) {
    out.kind = Node::Kind::array;
    const auto& a = v.get_array();
    for (std::size_t i = 0; i < a.size(); ++i) child(a[i], sdk::pointer_append(c.pointer, i));
  }
  if (!dynamic) {
    out = Node{};
    out.literal = v;
  }
  return ok;
}

}  // namespace

class CompiledTemplate {
 public:
  explicit CompiledTemplate(Node root) : root_(std::move(root)) {}
  json::value render(Tick& t) const { return generate::render(root_, t); }

 private:
  Node root_;
};

Template default_template() {
  static const Template t = [] {
    sdk::Diagnostics d;
    Template out;
    sdk::ParseCtx c{d, ""};
    sdk::Codec<Template>::parse(json::parse(R"({"seq": "{{seq}}", "sensor": "s-{{rand 1 5}}",
        "site": "{{pick a b c}}", "value": "{{randf 0 100}}", "ts": "{{now}}"})"),
                                out, c, {});
    return out;
  }();
  return t;
}

namespace {

class Generate final : public sdk::Input {
 public:
  Generate(const Config& config, const sdk::Context&)
      : template_(config.record_template.compiled), interval_(config.interval), count_(config.count) {
    std::random_device rd;
    std::seed_seq seeds{rd(), rd(), rd(), rd()};
    rng_.seed(seeds);
  }

  // On the input's own thread. Records are due at start + n * interval, so time spent pushing
  // does not add up; after a stall (backpressure) the schedule restarts rather than bursting.
  void run(sdk::InputSink& sink) override {
    using clock = std::chrono::steady_clock;
    constexpr std::size_t batch_records = 256;
    auto due = clock::now();
    std::size_t batched = 0;
    for (std::uint64_t seq = 0; count_ == 0 || seq < count_; ++seq) {
      if (interval_ > 0ns) {
        const auto now = clock::now();
        if (due > now) {
          if (!sink.sleep_for(due - now)) break;
        } else if (now - due > interval_) {
          due = now;
        }
        due += interval_;
      }
      Tick tick{seq, std::chrono::system_clock::now(), rng_};
      if (!sink.push(sdk::Record{{}, template_->render(tick)})) break;
      if (interval_ > 0ns || ++batched == batch_records) {
        sink.flush();
        batched = 0;
      }
    }
    sink.flush();
  }

 private:
  std::shared_ptr<const CompiledTemplate> template_;
  std::chrono::nanoseconds interval_;
  std::uint64_t count_;
  std::mt19937_64 rng_;
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"generate"}
      .summary("Produces synthetic records from a template, for demos and tests.")
      .description(
          "Each record is a copy of `template` with its placeholders filled in: `{{seq}}` (the record "
          "number, from 0), `{{now}}` (UTC time, RFC 3339 with milliseconds), `{{now_ms}}` (Unix time "
          "in ms), `{{rand a b}}` (integer in [a, b]), `{{randf a b}}` (number in [a, b], 2 decimals), "
          "`{{pick x y z}}` (one of the words), `{{uuid}}` (random UUID v4). A string that is exactly "
          "one placeholder takes its type (`\"{{seq}}\"` gives 7, not \"7\"); otherwise the text is "
          "put into the string. Object keys are copied as they are.")
      .field("template", &Config::record_template,
             field()
                 .doc("JSON value to produce; every string in it may hold placeholders.")
                 .example(json::parse(
                     R"({"id": "{{uuid}}", "temp": "{{randf 15 30}}", "room": "r{{rand 1 9}}"})")))
      .field("interval", &Config::interval,
             field().duration_range(0ns, 24h).doc("Time between records; \"0\" produces them as fast as "
                                                  "downstream takes them."))
      .field("count", &Config::count,
             field().min(0).doc("Records to produce before the input ends; 0 is unlimited."))
      .output("out", "The generated records.")
      .example(json::parse(R"({"id": "sensors", "type": "generate",
                               "config": {"interval": "500ms",
                                          "template": {"sensor": "s-{{rand 1 5}}",
                                                       "value": "{{randf 0 100}}"}}})"))
      .implementation<Generate>();
}

}  // namespace weir::components::generate

namespace weir::sdk {

bool Codec<components::generate::Template>::parse(const boost::json::value& v,
                                                  components::generate::Template& out, ParseCtx& c,
                                                  const FieldOpts&) {
  components::generate::Node root;
  if (!components::generate::compile(v, root, c)) return false;
  out.source = v;
  out.compiled = std::make_shared<const components::generate::CompiledTemplate>(std::move(root));
  return true;
}

}  // namespace weir::sdk
