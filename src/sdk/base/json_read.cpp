#include "sdk/base/json_read.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <cmath>

namespace weir::sdk {

const char* kind_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "a number";
    case boost::json::kind::string:
      return "a string";
    case boost::json::kind::array:
      return "an array";
    case boost::json::kind::object:
      return "an object";
  }
  return "a value";
}

namespace detail {

bool JsonHandler::on_double(double d, sv s, ec_t&) {
  std::string_view text(s.data(), s.size());
  if (!number.empty()) {
    number.append(s.data(), s.size());
    text = number;
  }
  // libstdc++'s from_chars is fast_float: cheaper than telling apart the numbers Boost.JSON gets
  // right. Out of range, it leaves `exact` alone and Boost.JSON's infinity or 0 stays.
  double exact = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), exact);
  if (r.ec == std::errc{} && r.ptr == text.data() + text.size()) d = exact;
  number.clear();
  if (!std::isfinite(d)) non_finite = true;
  st.push_double(d);
  return true;
}

}  // namespace detail

// Builds nothing; remembers a number that is not a finite double.
struct JsonChecker::Handler {
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();
  bool non_finite = false;

  using ec_t = boost::system::error_code;
  using sv = boost::json::string_view;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t, ec_t&) { return true; }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t, ec_t&) { return true; }
  bool on_key_part(sv, std::size_t, ec_t&) { return true; }
  bool on_key(sv, std::size_t, ec_t&) { return true; }
  bool on_string_part(sv, std::size_t, ec_t&) { return true; }
  bool on_string(sv, std::size_t, ec_t&) { return true; }
  bool on_number_part(sv, ec_t&) { return true; }
  bool on_int64(std::int64_t, sv, ec_t&) { return true; }
  bool on_uint64(std::uint64_t, sv, ec_t&) { return true; }
  bool on_double(double d, sv, ec_t&) {
    if (!std::isfinite(d)) non_finite = true;
    return true;
  }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
};

JsonChecker::JsonChecker(std::size_t max_depth) {
  boost::json::parse_options o;
  o.max_depth = max_depth;
  p_ = std::make_unique<boost::json::basic_parser<Handler>>(o);
}

JsonChecker::~JsonChecker() = default;

bool JsonChecker::passes(std::string_view text) {
  p_->reset();
  p_->handler().non_finite = false;
  boost::system::error_code ec;
  const std::size_t n = p_->write_some(false, text.data(), text.size(), ec);
  return !ec && n == text.size() && !p_->handler().non_finite;
}

// Out of line: Boost.JSON's parser implementation stays in this translation unit.
JsonParser::JsonParser(const boost::json::parse_options& options) : p_(options) {
  reset();
}

JsonParser::~JsonParser() = default;

void JsonParser::reset(boost::json::storage_ptr sp) {
  p_.reset();
  p_.handler().st.reset(std::move(sp));
  p_.handler().number.clear();
  p_.handler().non_finite = false;
}

boost::json::value JsonParser::release() {
  return p_.handler().st.release();
}

std::size_t JsonParser::write(std::string_view text, boost::system::error_code& ec) {
  const std::size_t n = p_.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = boost::json::error::extra_data;
  if (!ec && !p_.done()) ec = boost::json::error::incomplete;
  return n;
}

boost::json::value parse_json(std::string_view text, boost::system::error_code& ec,
                              const boost::json::parse_options& options) {
  JsonParser p(options);
  p.write(text, ec);
  if (ec) return nullptr;
  return p.release();
}

}  // namespace weir::sdk
