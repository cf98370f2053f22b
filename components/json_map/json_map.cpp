#include "json_map/json_map.hpp"

#include <boost/json.hpp>

#include <optional>

#include "sdk/base/json_read.hpp"

namespace weir::components::json_map {

namespace json = boost::json;

namespace {

struct Assignment {
  std::string key;
  sdk::expr::Path path;
  std::shared_ptr<const sdk::expr::Program> program;
};

struct Move {
  std::string from_text, to_text;
  sdk::expr::Path from, to;
};

class JsonMap final : public sdk::Processor {
 public:
  JsonMap(const Config& config, const sdk::Context& ctx) : out_(ctx.output("out")) {
    for (const auto& [key, e] : config.set.entries) set_.push_back({key.text, key.path, e.program});
    for (const auto& [from, to] : config.rename.entries)
      rename_.push_back({from.text, to.text, from.path, to.path});
    for (const auto& p : config.remove) remove_.push_back(p.path);
  }

  // Called from several threads at once: everything here is read-only after construction.
  void process(sdk::Record&& rec, sdk::Emitter& out) override {
    if (!rec.value.is_object()) {
      std::string reason = std::string("json_map needs an object, got ") + sdk::kind_name(rec.value);
      out.fail(std::move(rec), reason);
      return;
    }
    std::string reason;
    if (!apply_set(rec.value, reason) || !apply_rename(rec.value, reason)) {
      out.fail(std::move(rec), reason);
      return;
    }
    for (const auto& p : remove_) sdk::expr::remove_path(rec.value, p);
    out.emit(out_, std::move(rec));
  }

 private:
  // Every expression sees the record as it came in; nothing changes until all evaluated.
  bool apply_set(json::value& record, std::string& reason) const {
    if (set_.empty()) return true;
    std::vector<json::value> values(set_.size());
    sdk::expr::EvalError err;
    for (std::size_t i = 0; i < set_.size(); ++i) {
      if (!set_[i].program->eval(record, values[i], err)) {
        reason = "set " + set_[i].key + ": " + err.message;
        return false;
      }
    }
    for (std::size_t i = 0; i < set_.size(); ++i) {
      if (!sdk::expr::set_path(record, set_[i].path, std::move(values[i]), err)) {
        reason = "set " + set_[i].key + ": " + err.message;
        return false;
      }
    }
    return true;
  }

  // All sources are read before any is removed, and all removed before any target is written,
  // so the result does not depend on the order of the entries ({"a": "b", "b": "a"} swaps).
  bool apply_rename(json::value& record, std::string& reason) const {
    if (rename_.empty()) return true;
    std::vector<std::optional<json::value>> values(rename_.size());
    for (std::size_t i = 0; i < rename_.size(); ++i) {
      if (const auto* v = sdk::expr::find_path(record, rename_[i].from)) values[i] = *v;
    }
    for (std::size_t i = 0; i < rename_.size(); ++i) {
      if (values[i]) sdk::expr::remove_path(record, rename_[i].from);
    }
    sdk::expr::EvalError err;
    for (std::size_t i = 0; i < rename_.size(); ++i) {
      if (values[i] && !sdk::expr::set_path(record, rename_[i].to, std::move(*values[i]), err)) {
        reason = "rename " + rename_[i].from_text + " to " + rename_[i].to_text + ": " + err.message;
        return false;
      }
    }
    return true;
  }

  std::vector<Assignment> set_;
  std::vector<Move> rename_;
  std::vector<sdk::expr::Path> remove_;
  sdk::Port out_;
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"json_map"}
      .summary("Sets, renames and removes fields of JSON records.")
      .description(
          "Applies, in this order: `set` (every expression is evaluated on the record as it came "
          "in, then the results are written, creating missing objects along the way), `rename` "
          "(all sources are read, then removed, then written to their targets, so entries do not "
          "depend on each other and {\"a\": \"b\", \"b\": \"a\"} swaps), then `remove` (one path "
          "after another, in the order written). A missing field is neither an error for rename "
          "nor for remove. Records that are not JSON objects, whose expressions fail, or where a "
          "value cannot be placed (a number in the way of a key) go to `error` with the reason.")
      .stateless()
      .field("set", &Config::set,
             field()
                 .doc("Field path → expression whose value is stored there (null included). "
                      "`$` replaces the whole record.")
                 .example(json::parse(R"({"f": "value * 9 / 5 + 32", "meta.alert": "value > 50"})")))
      .field("rename", &Config::rename,
             field()
                 .doc("Field path → new field path. A missing source does nothing.")
                 .example(json::parse(R"({"ts": "time", "data.temp": "temp"})")))
      .field("remove", &Config::remove,
             field()
                 .doc("Field paths to delete. With array indexes, list the higher index first: "
                      "each removal sees the record as the previous one left it.")
                 .example(json::parse(R"(["debug", "meta.raw"])")))
      .lint([](const Config& c, sdk::Lint& l) {
        if (c.set.entries.empty() && c.rename.entries.empty() && c.remove.empty())
          l.error("", "invalid_value", "json_map does nothing without set, rename or remove",
                  "add at least one of set, rename, remove");
      })
      .output("out", "The changed records.")
      .example(json::parse(R"({"id": "shape", "type": "json_map", "inputs": ["hot"],
                               "config": {"set": {"f": "value * 9 / 5 + 32", "alert": "true"},
                                          "rename": {"ts": "time"}, "remove": ["debug"]}})"))
      .implementation<JsonMap>();
}

}  // namespace weir::components::json_map
