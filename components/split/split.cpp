#include "split/split.hpp"

#include <boost/json.hpp>

#include <atomic>

#include "sdk/base/json_read.hpp"

namespace weir::components::split {

namespace {

namespace json = boost::json;

class Split final : public sdk::Processor {
 public:
  Split(const Config& config, const sdk::Context& ctx)
      : field_(config.field),
        keep_parent_(config.keep_parent),
        as_(config.as.text.empty() ? config.field.path : config.as.path),
        index_(config.index_field),
        max_(static_cast<std::size_t>(config.max_elements)),
        out_(ctx.output("out")) {}

  // Called from several threads at once: only the counter changes, atomically.
  void process(sdk::Record&& rec, sdk::Emitter& out) override {
    if (!rec.value.is_object()) {
      std::string reason =
          std::string("split: the record is ") + sdk::kind_name(rec.value) + ", not an object";
      out.fail(std::move(rec), reason);
      return;
    }
    auto* found = sdk::expr::find_path(rec.value, field_.path);
    if (!found || !found->is_array()) {
      std::string reason = "split: field " + field_.text + " is " +
                           (found ? std::string("not an array but ") + sdk::kind_name(*found) : "missing");
      out.fail(std::move(rec), reason);
      return;
    }
    if (found->get_array().size() > max_) {
      std::string reason = "split: field " + field_.text + " holds " +
                           std::to_string(found->get_array().size()) + " elements, more than max_elements (" +
                           std::to_string(max_) + ")";
      out.fail(std::move(rec), reason);
      return;
    }
    if (found->get_array().empty()) {
      empty_arrays_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // The record is ours and find_path() only reads: take the array out of it, not a copy.
    json::array elements = std::move(const_cast<json::value*>(found)->get_array());
    if (keep_parent_) sdk::expr::remove_path(rec.value, field_.path);
    for (std::size_t i = 0; i < elements.size(); ++i) {
      sdk::Record r{rec.id, {}};
      std::string reason;
      if (!make(rec.value, std::move(elements[i]), i, r.value, reason)) {
        out.fail(std::move(r), reason);
        continue;
      }
      out.emit(out_, std::move(r));
    }
  }

  void metrics(std::vector<sdk::Metric>& out) const override {
    out.push_back({"empty_arrays", static_cast<double>(empty_arrays_.load(std::memory_order_relaxed)), false,
                   "Records whose array was empty: nothing was emitted for them."});
  }

 private:
  // The record of element i into `result`; false with `reason` when it cannot be made (then
  // `result` holds what the error record carries: the element, or the parent with it).
  bool make(const json::value& parent, json::value element, std::size_t i, json::value& result,
            std::string& reason) const {
    sdk::expr::EvalError err;
    const std::string which = "split: element " + std::to_string(i) + " of " + field_.text;
    if (keep_parent_) {
      result = parent;
      if (!sdk::expr::set_path(result, as_, std::move(element), err)) {
        reason = which + ": " + err.message;
        return false;
      }
    } else {
      if (!element.is_object()) {
        reason = which + " is " + sdk::kind_name(element) + ", not an object (set keep_parent to keep it)";
        result = std::move(element);
        return false;
      }
      result = std::move(element);
    }
    if (!index_.text.empty() && !sdk::expr::set_path(result, index_.path, json::value(i), err)) {
      reason = which + ": index_field " + index_.text + ": " + err.message;
      return false;
    }
    return true;
  }

  sdk::FieldPath field_;
  bool keep_parent_;
  sdk::expr::Path as_;
  sdk::FieldPath index_;
  std::size_t max_;
  sdk::Port out_;
  std::atomic<std::uint64_t> empty_arrays_{0};
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"split"}
      .summary("Turns a record holding an array into one record per element.")
      .description(
          "Each element of the array at `field` becomes a record of its own, in the array's order: "
          "the element itself (it must be an object), or with `keep_parent` a copy of the record "
          "without the array and the element at `as`. `index_field` writes each element's index. "
          "A record whose `field` is missing, not an array or longer than `max_elements` goes to "
          "`error` whole, with the reason; an element that cannot be made a record goes to "
          "`error` alone. An empty array emits nothing (metric `empty_arrays`). The records' ids "
          "derive from the input record's id and the element's place, so a redelivery repeats them.")
      .stateless()
      .field("field", &Config::field,
             field().required().doc("Field path of the array to split.").example("readings"))
      .field("keep_parent", &Config::keep_parent,
             field().doc("Keep the record's other fields and put the element at `as`; otherwise the element "
                         "is the record."))
      .field("as", &Config::as,
             field().doc("With keep_parent: where the element goes (default: `field`).").example("reading"))
      .field("index_field", &Config::index_field,
             field().doc("Field path where the element's index (from 0) is written.").example("index"))
      .field("max_elements", &Config::max_elements,
             field().range(1, 1000000).doc("A longer array sends the record to `error` whole."))
      .lint([](const Config& c, sdk::Lint& l) {
        if (!c.as.text.empty() && !c.keep_parent)
          l.warning("as", "unused", "`as` is used with keep_parent only: each element is the record",
                    "set \"keep_parent\": true, or remove `as`");
      })
      .output("out", "One record per element.")
      .example(json::parse(R"({"id": "each", "type": "split", "inputs": ["batches"],
                               "config": {"field": "readings", "index_field": "i"}})"))
      .implementation<Split>();
}

}  // namespace weir::components::split
