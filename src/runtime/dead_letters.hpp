// A flow's dead letters (stream WEIR_DLQ_<FLOW>): list, show and replay them. Shared by
// `weir dlq` and the HTTP API; each call is a few JetStream API round trips per dead letter,
// made on the calling thread (never an Asio thread: they block).
//
// A dead letter is a batch body with headers (see publish_dead_letter in flow_shared.hpp):
// Weir-Error (why), Weir-Component (which component), Weir-Records (record count), Weir-Subject
// (the subject the batch was consumed from; absent on older dead letters and on an input's
// records, which were never consumed) and Weir-Body: errors (each line is an error record that
// wraps the record that failed).
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/connection.hpp"
#include "bus/status.hpp"

namespace weir::runtime::dead_letters {

struct Entry {
  std::uint64_t seq = 0;       // sequence in the dead-letter stream
  std::int64_t time_ms = 0;    // when it was stored, unix milliseconds
  std::string component;       // Weir-Component
  std::string error;           // Weir-Error
  std::string subject;         // Weir-Subject; empty: it cannot be replayed
  std::uint64_t records = 0;   // Weir-Records, else the body's lines
  std::uint64_t bytes = 0;     // body size
  bool error_records = false;  // Weir-Body: errors; a replay sends the wrapped records
};

struct Page {
  std::vector<Entry> entries;    // in sequence order
  std::uint64_t total = 0;       // dead letters the stream holds
  std::uint64_t next_after = 0;  // `after_seq` of the next page; 0 when this one is the last
};

struct Detail {
  Entry entry;
  std::vector<std::pair<std::string, std::string>> headers;  // all of them, as stored
  std::string body;
};

struct ReplayResult {
  std::uint64_t replayed = 0;             // republished, then removed from the dead letters
  std::uint64_t records = 0;              // records in those
  std::uint64_t skipped_no_subject = 0;   // without Weir-Subject: kept
  std::uint64_t skipped_no_consumer = 0;  // no consumer of the flow reads their subject: kept
  std::uint64_t failed = 0;               // kept (or, rarely, republished but not removed)
  std::vector<std::string> errors;        // the first few failures' reasons
};

// Up to `limit` dead letters after sequence `after_seq` (0: from the first). An unknown flow (no
// dead-letter stream) is an error with is_not_found(): "flow X has no dead-letter stream".
bus::Result<Page> list(const bus::Connection& conn, const std::string& flow, std::size_t limit = 100,
                       std::uint64_t after_seq = 0);

// One dead letter with its headers and body; not_found for an unknown flow or sequence.
bus::Result<Detail> show(const bus::Connection& conn, const std::string& flow, std::uint64_t seq);

// Republishes each matching dead letter (of `component` when given; only `seq` when given) to its
// Weir-Subject, with Weir-Records and Nats-Msg-Id "replay/<seq>" (a replay interrupted and run
// again within the flow's duplicate window stores it once), and deletes it from the dead letters
// only after the PubAck. Error records (Weir-Body: errors) are unwrapped: the records that failed
// are sent, with their ids. A dead letter is never lost: without a Weir-Subject, or when no
// consumer of the flow's stream reads its subject (the stream's interest retention would drop it
// at once), it is skipped and kept. Errors: unknown flow, flow not deployed (no stream
// WEIR_<FLOW>), an unknown `seq`. Replaying to a port read by several components delivers the
// batch to all of them again.
bus::Result<ReplayResult> replay(const bus::Connection& conn, const std::string& flow,
                                 const std::optional<std::string>& component = std::nullopt,
                                 std::optional<std::uint64_t> seq = std::nullopt);

// JSON shapes of the HTTP API and `--json`: an entry is {"seq", "time" (unix ms), "component",
// "error", "subject" (null when absent), "records", "bytes", "error_records"}; a page
// {"dead_letters": [...], "total", "next_after"}; a detail the entry plus "headers" (array of
// [key, value]), "body" (text) and "batch" ([{"id", "record"}], null when the body does not decode).
boost::json::value to_json(const Entry& entry);
boost::json::value to_json(const Page& page);
boost::json::value to_json(const Detail& detail);
boost::json::value to_json(const ReplayResult& result);

}  // namespace weir::runtime::dead_letters
