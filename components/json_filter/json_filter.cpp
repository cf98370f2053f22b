#include "json_filter/json_filter.hpp"

#include <boost/json.hpp>

#include "sdk/expr/expr.hpp"

namespace weir::components::json_filter {

namespace {

class JsonFilter final : public sdk::Processor {
 public:
  JsonFilter(const Config& config, const sdk::Context& ctx)
      : where_(config.where.program), out_(ctx.output("out")), rejected_(ctx.output("rejected")) {}

  // Called from several threads at once: evaluation only reads the compiled program.
  void process(sdk::Record&& rec, sdk::Emitter& out) override {
    bool pass = false;
    sdk::expr::EvalError err;
    if (!where_->test(rec.value, pass, err)) {
      out.fail(std::move(rec), "where: " + err.message);
      return;
    }
    out.emit(pass ? out_ : rejected_, std::move(rec));
  }

 private:
  std::shared_ptr<const sdk::expr::Program> where_;
  sdk::Port out_, rejected_;
};

}  // namespace

sdk::ComponentSpec<Config> spec() {
  using sdk::field;
  return sdk::ComponentSpec<Config>{"json_filter"}
      .summary("Passes on the records for which an expression is true.")
      .description(
          "Records where `where` is true go to `out`; false or null sends them to `rejected`, which "
          "drops them unless a component reads that port (that is the filter). "
          "A record the expression cannot be evaluated on (a non-boolean result, arithmetic on a "
          "string) goes to `error` with the reason.")
      .stateless()
      .field("where", &Config::where,
             field()
                 .required()
                 .doc("Expression over the record; see the expression language.")
                 .example("value > 50 && site == \"a\""))
      .output("out", "Records for which `where` is true.")
      .output("rejected",
              "Records for which `where` is false or null; dropped unless something reads this port.")
      .example(boost::json::parse(R"({"id": "hot", "type": "json_filter", "inputs": ["sensors"],
                                      "config": {"where": "value > 50 && site == \"a\""}})"))
      .implementation<JsonFilter>();
}

}  // namespace weir::components::json_filter
