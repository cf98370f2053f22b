#include "common/keyed/key.hpp"

#include <boost/json.hpp>

#include "sdk/base/json_write.hpp"
#include "sdk/expr/expr.hpp"

namespace weir::components::keyed {

bool make_key(const KeyExprs& key, NoKey none, const boost::json::value& record, std::string& out,
              std::string& err) {
  out.clear();
  if (key.exprs.empty()) {
    if (none == NoKey::whole_record) sdk::write_json(out, record);
    return true;
  }
  if (key.list) out.push_back('[');
  boost::json::value v;
  for (std::size_t i = 0; i < key.exprs.size(); ++i) {
    sdk::expr::EvalError e;
    if (!key.exprs[i].program->eval(record, v, e)) {
      err = "key: " + (key.list ? "[" + std::to_string(i) + "] " : std::string()) + e.message;
      return false;
    }
    if (i > 0) out.push_back(',');
    sdk::write_json(out, v);
  }
  if (key.list) out.push_back(']');
  return true;
}

}  // namespace weir::components::keyed

namespace weir::sdk {

using components::keyed::KeyExprs;

bool Codec<KeyExprs>::parse(const boost::json::value& v, KeyExprs& out, ParseCtx& c, const FieldOpts& o) {
  out = KeyExprs{};
  if (v.is_string()) {
    out.exprs.emplace_back();
    return detail::parse_expression(v, out.exprs.back(), c, o);
  }
  if (!v.is_array()) {
    detail::wrong_type(c, "an expression or a list of expressions", v);
    return false;
  }
  out.list = true;
  if (v.get_array().empty()) {
    c.diags.error(c.pointer, "invalid_value", "must not be empty", "leave `key` out instead");
    return false;
  }
  return Codec<std::vector<Expression>>::parse(v, out.exprs, c, o);
}

boost::json::object Codec<KeyExprs>::schema(const FieldOpts& o) {
  boost::json::object list = Codec<std::vector<Expression>>::schema(o);
  list["minItems"] = 1;
  return {{"oneOf", boost::json::array{Codec<Expression>::schema(o), std::move(list)}}};
}

boost::json::value Codec<KeyExprs>::to_json(const KeyExprs& k) {
  if (!k.list)
    return k.exprs.empty() ? boost::json::value(boost::json::string())
                           : Codec<Expression>::to_json(k.exprs[0]);
  boost::json::array a;
  for (const auto& e : k.exprs) a.push_back(Codec<Expression>::to_json(e));
  return a;
}

}  // namespace weir::sdk
