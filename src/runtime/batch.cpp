#include "runtime/batch.hpp"

#include <boost/json.hpp>

#include "core/hash.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/base/quote.hpp"

namespace weir::runtime {

void BatchWriter::add(const sdk::Record& rec) {
  if (count_ == 0) first_id_ = rec.id;
  last_id_ = rec.id;
  ++count_;
  body_ += rec.id;
  body_ += ' ';
  sdk::write_json(body_, rec.value);
  body_ += '\n';
}

BatchWriter::Added BatchWriter::add(const sdk::Record& rec, std::size_t max_body) {
  const std::size_t before = body_.size();
  body_ += rec.id;
  body_ += ' ';
  sdk::write_json(body_, rec.value);
  body_ += '\n';
  const std::size_t line = body_.size() - before;
  Added result = Added::added;
  if (line > max_body || line - rec.id.size() - 2 > sdk::record_max_bytes)
    result = Added::too_large;
  else if (body_.size() > max_body)
    result = Added::full;
  if (result != Added::added) {
    body_.resize(before);
    return result;
  }
  if (count_ == 0) first_id_ = rec.id;
  last_id_ = rec.id;
  ++count_;
  return result;
}

void BatchWriter::add_raw(std::string_view id, std::string_view json) {
  if (count_ == 0) first_id_ = id;
  last_id_ = id;
  ++count_;
  body_ += id;
  body_ += ' ';
  body_ += json;
  body_ += '\n';
}

BatchWriter::Added BatchWriter::add_raw(std::string_view id, std::string_view json, std::size_t max_body) {
  const std::size_t line = id.size() + json.size() + 2;
  if (line > max_body || json.size() > sdk::record_max_bytes) return Added::too_large;
  if (body_.size() + line > max_body) return Added::full;
  add_raw(id, json);
  return Added::added;
}

sdk::Record error_record(std::string_view flow, std::string_view component, sdk::Record&& rec,
                         std::string_view reason) {
  boost::json::object env;
  env["error"] = reason;
  env["flow"] = flow;
  env["component"] = component;
  env["record"] = std::move(rec.value);
  return {std::move(rec.id), std::move(env)};
}

void BatchWriter::clear() {
  body_.clear();
  count_ = 0;
  first_id_.clear();
  last_id_.clear();
}

bool BatchReader::decode(std::string_view body, std::vector<sdk::Record>& out, std::string& error) {
  // One arena per batch: its records are read, handled and written out within one round, and a
  // value allocates from a monotonic buffer instead of the heap (one free for the whole batch,
  // when its last record goes).
  const auto arena =
      boost::json::make_shared_resource<boost::json::monotonic_resource>(2 * body.size() + 1024);
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    auto line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    auto sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0) {
      error = "not a weir batch: a line without a record id";
      return false;
    }
    boost::json::value value;
    std::string reason;
    if (!parser_.parse(line.substr(sp + 1), value, reason, arena)) {
      error = "not a weir batch: record " + sdk::quote(line.substr(0, sp)) + ": " + reason;
      return false;
    }
    out.push_back({std::string(line.substr(0, sp)), std::move(value)});
  }
  return true;
}

std::string derive_id(std::string_view parent_id, std::string_view component, std::string_view port) {
  auto h = core::fnv1a64(parent_id);
  h = core::fnv1a64("/", h);
  h = core::fnv1a64(component, h);
  h = core::fnv1a64(".", h);
  h = core::fnv1a64(port, h);
  return core::hex64(h);
}

std::string batch_id(std::string_view component, std::string_view port, const BatchWriter& batch) {
  auto h = core::fnv1a64(batch.first_id());
  h = core::fnv1a64("..", h);
  h = core::fnv1a64(batch.last_id(), h);
  h = core::fnv1a64("#" + std::to_string(batch.count()), h);
  return derive_id(core::hex64(h), component, port);
}

}  // namespace weir::runtime
