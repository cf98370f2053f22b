#include "sdk/component.hpp"

#include <stdexcept>

#include "sdk/base/record_json.hpp"

namespace weir::sdk {

Port Context::output(std::string_view name) const {
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i] == name) return Port(i);
  std::string known;
  for (const auto& o : outputs) known += (known.empty() ? "" : ", ") + o;
  throw std::logic_error("component " + component + " has no output port \"" + std::string(name) +
                         "\" (its ports: " + (known.empty() ? "none" : known) + ")");
}

bool InputSink::push_json(std::string_view json, std::function<void()> on_durable) {
  thread_local RecordParser parser;
  boost::json::value value;
  std::string reason;
  if (parser.parse(json, value, reason)) return push(Record{{}, std::move(value)}, std::move(on_durable));
  return fail(Record{{}, raw_record_value(json, reason)}, reason, std::move(on_durable));
}

bool InputSink::push_json_at(const Position& at, std::string_view json, std::function<void()> on_durable) {
  thread_local RecordParser parser;
  boost::json::value value;
  std::string reason;
  std::string id = std::string(at.source) + ":" + std::to_string(at.seq);
  if (parser.parse(json, value, reason))
    return push_at(at, Record{std::move(id), std::move(value)}, std::move(on_durable));
  return fail_at(at, Record{std::move(id), raw_record_value(json, reason)}, reason, std::move(on_durable));
}

}  // namespace weir::sdk
