// The body of a JetStream message on an internal edge: a batch of records, one per line,
// "<record id> <compact JSON>\n". JSON text never holds a raw newline, and ids never hold a
// space, so a line split is all decoding needs before the JSON parse.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sdk/base/record_json.hpp"
#include "sdk/record.hpp"

namespace weir::runtime {

// What one message body may hold when the server's max_payload is `max_payload`: the rest is
// room for the headers weir and NATS add (ids, positions, a dead letter's reason).
constexpr std::size_t max_body_bytes(std::size_t max_payload) {
  constexpr std::size_t header_room = 4096;
  return max_payload > 2 * header_room ? max_payload - header_room : max_payload / 2;
}

class BatchWriter {
 public:
  void add(const sdk::Record& rec);
  // add(), held to a message body of `max_body` bytes: `full` when the batch would outgrow it
  // (publish the batch, then add again), `too_large` when the record alone would (or it is over
  // the record limit every reader holds it to). Both leave the batch as it was.
  enum class Added { added, full, too_large };
  Added add(const sdk::Record& rec, std::size_t max_body);
  // `json` must be one valid JSON text without newlines (sdk::RecordParser::passes_as_line).
  void add_raw(std::string_view id, std::string_view json);
  // add_raw(), held to `max_body` as add() is.
  Added add_raw(std::string_view id, std::string_view json, std::size_t max_body);
  void clear();
  bool empty() const { return count_ == 0; }
  std::size_t count() const { return count_; }
  std::size_t bytes() const { return body_.size(); }
  const std::string& body() const { return body_; }
  const std::string& first_id() const { return first_id_; }
  const std::string& last_id() const { return last_id_; }

 private:
  std::string body_;
  std::size_t count_ = 0;
  std::string first_id_, last_id_;
};

// Decodes with a parser the caller keeps (its buffers are reused batch after batch). Each record
// is held to the limits of every record (sdk::RecordParser): a line over them is no weir batch.
class BatchReader {
 public:
  // Appends the records to `out`. False with `error` set when the body is not a batch. The
  // records' values allocate from one arena, freed when the last of them goes: a component that
  // keeps a record past the round copies it to the heap (boost::json::value(v, {})).
  bool decode(std::string_view body, std::vector<sdk::Record>& out, std::string& error);

 private:
  sdk::RecordParser parser_;
};

// Ids of what a stage publishes derive from what it consumed, so a redelivery after a crash
// reproduces them and JetStream's duplicate window drops the replay.
std::string derive_id(std::string_view parent_id, std::string_view component, std::string_view port);
// The record an error port carries: the original record plus why it failed, with the flow and
// the component that sent it there. Its id is the record's.
sdk::Record error_record(std::string_view flow, std::string_view component, sdk::Record&& rec,
                         std::string_view reason);
// A batch formed at an input: its id derives from its records' ids.
std::string batch_id(std::string_view component, std::string_view port, const BatchWriter& batch);

}  // namespace weir::runtime
