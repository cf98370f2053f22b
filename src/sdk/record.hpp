// Records are what components see: a JSON value and a stable id. Batches are a bus concern and
// never reach a component.
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace weir::sdk {

struct Record {
  // Derived from the record's origin (the source's own position, or the id fixed at its first
  // durable publish). A redelivered record carries the same id, which is what lets sinks and
  // JetStream's duplicate window drop replays.
  std::string id;
  boost::json::value value;
};

// A small status for component calls: ok, or an error text that ends up in a log line, a
// header, or a metric label.
class Status {
 public:
  Status() = default;
  static Status ok() { return {}; }
  static Status error(std::string text) {
    Status s;
    s.error_ = text.empty() ? std::string("unknown error") : std::move(text);
    return s;
  }
  bool is_ok() const { return error_.empty(); }
  explicit operator bool() const { return is_ok(); }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

}  // namespace weir::sdk
