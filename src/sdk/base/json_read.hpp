// Parsing the JSON of records. Boost.JSON 1.81's parser does not round every number correctly: a
// double written in its shortest form ("0.1234567890123456") may read back one unit in the last
// place off, so a record would drift each time it crosses a durable hop. This parser is
// Boost.JSON's with numbers that can be off read again with std::from_chars, which rounds
// correctly.
#pragma once

#include <boost/json/basic_parser.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>
#include <memory>
#include <string>
#include <string_view>

namespace weir::sdk {

// "null", "a boolean", "a number", "a string", "an array" or "an object": for messages.
const char* kind_name(const boost::json::value& v);

namespace detail {

struct JsonHandler {
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  boost::json::value_stack st;
  std::string number;       // the text of a number that arrived in parts
  bool non_finite = false;  // a number too large for a double was read (as an infinity)

  using ec_t = boost::system::error_code;
  using sv = boost::json::string_view;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t n, ec_t&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t n, ec_t&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(sv s, std::size_t, ec_t&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(sv s, std::size_t, ec_t&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(sv s, std::size_t, ec_t&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(sv s, std::size_t, ec_t&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(sv s, ec_t&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, sv, ec_t&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, sv, ec_t&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, sv s, ec_t&);
  bool on_bool(bool b, ec_t&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(ec_t&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
};

}  // namespace detail

// A drop-in for boost::json::parser (one JSON text per write()); keep one and reuse it, its
// buffers stay. Numbers as JSON text has them: the nearest double.
class JsonParser {
 public:
  explicit JsonParser(const boost::json::parse_options& options = {});
  ~JsonParser();
  JsonParser(const JsonParser&) = delete;
  JsonParser& operator=(const JsonParser&) = delete;

  // The values of the next write() allocate from `sp` (default: the heap).
  void reset(boost::json::storage_ptr sp = {});
  // The whole text; extra data after the value is an error. Returns the bytes consumed.
  std::size_t write(std::string_view text, boost::system::error_code& ec);
  // The value of the last successful write().
  boost::json::value release();
  // Whether the last write() read a number out of range of a double (it is an infinity in the
  // value, which JSON cannot write back).
  bool non_finite() const { return p_.handler().non_finite; }

 private:
  boost::json::basic_parser<detail::JsonHandler> p_;
};

// Checks JSON texts without building them (keep one and reuse it). A text passes when it is one
// valid value (UTF-8, nested at most `max_depth` levels) whose numbers are all finite doubles;
// anything else, including a number Boost.JSON reads as infinite, does not: the caller then
// parses it (JsonParser), which tells why.
class JsonChecker {
 public:
  explicit JsonChecker(std::size_t max_depth);
  ~JsonChecker();
  JsonChecker(const JsonChecker&) = delete;
  JsonChecker& operator=(const JsonChecker&) = delete;

  bool passes(std::string_view text);

 private:
  struct Handler;
  std::unique_ptr<boost::json::basic_parser<Handler>> p_;
};

// One JSON text to a value, numbers correctly rounded.
boost::json::value parse_json(std::string_view text, boost::system::error_code& ec,
                              const boost::json::parse_options& options = {});

}  // namespace weir::sdk
