#include "sdk/component.hpp"

#include "sdk/base/record_json.hpp"

namespace weir::sdk {

bool InputSink::push_json(std::string_view json, std::function<void()> on_durable) {
  thread_local RecordParser parser;
  boost::json::value value;
  std::string reason;
  if (parser.parse(json, value, reason)) return push(Record{{}, std::move(value)}, std::move(on_durable));
  return fail(Record{{}, raw_record_value(json, reason)}, reason, std::move(on_durable));
}

}  // namespace weir::sdk
