// sdk::write_json against the parser weir reads records with (sdk::parse_json): any JSON text,
// parsed, written and parsed again, gives the same value, and writing that value again gives the
// same text.
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sdk/base/json_read.hpp"
#include "sdk/base/json_write.hpp"

namespace {

namespace json = boost::json;

// Equality in which a NaN or infinity (written as null) matches null. Boost.JSON's parser reads
// overflowing numbers ("1e999") as infinity.
bool same(const json::value& a, const json::value& b) {
  if (a.is_double() && !std::isfinite(a.get_double())) return b.is_null();
  if (a.is_array() && b.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object() && b.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      auto* other = y.if_contains(kv.key());
      if (!other || !same(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  boost::system::error_code ec;
  const json::value first = weir::sdk::parse_json(text, ec);
  if (ec) return 0;
  const std::string written = weir::sdk::to_json(first);
  const json::value second = weir::sdk::parse_json(written, ec);
  if (ec || !same(first, second)) std::abort();
  if (weir::sdk::to_json(second) != written) std::abort();
  return 0;
}
