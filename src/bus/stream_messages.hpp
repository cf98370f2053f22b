#pragma once

// Reading single stored messages back out of a stream by sequence, and deleting them: for
// operator tools (dead letters), never per message on a data path. Every call is a JetStream API
// round trip (STREAM.MSG.GET, which works on any stream, unlike direct get).

#include "bus/status.hpp"

#include <nats/nats.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::bus {

struct StoredMsg {
  std::uint64_t seq = 0;
  std::int64_t time_ns = 0;  // UTC nanoseconds since the epoch, when the stream stored it
  std::string subject;
  std::vector<std::pair<std::string, std::string>> headers;  // in the order stored; keys may repeat
  std::string data;

  // The first value of `key` (header keys compare case-sensitively, as nats.c does).
  std::optional<std::string_view> header(std::string_view key) const;
};

// The message stored at `seq`; a sequence that was deleted or is out of range gives an error
// with is_not_found().
Result<StoredMsg> get_stream_msg(jsCtx* js, const std::string& stream, std::uint64_t seq);

// Direct gets (the stream needs allow_direct): the first message on `subject` at or after
// `from_seq`, or the last message on `subject`. None is not_found. One round trip each: for
// recovery at a stage's start, not per message.
Result<StoredMsg> get_next_msg(jsCtx* js, const std::string& stream, const std::string& subject,
                               std::uint64_t from_seq);
Result<StoredMsg> get_last_msg(jsCtx* js, const std::string& stream, const std::string& subject);

// Removes one message (without overwriting its bytes on disk). A message already gone is
// not_found.
Status delete_stream_msg(jsCtx* js, const std::string& stream, std::uint64_t seq);

// Sequences of the messages the stream holds after `after_seq`, in order, at most `limit` of
// them (0: no limit), from one stream info with its list of deleted sequences, so gaps left by
// deleted messages cost no round trips. `total`, when given, gets the stream's message count.
Result<std::vector<std::uint64_t>> stream_sequences(jsCtx* js, const std::string& stream,
                                                    std::uint64_t after_seq, std::size_t limit,
                                                    std::uint64_t* total = nullptr);

// The filter subject of each consumer of the stream ("" for a consumer without a filter).
Result<std::vector<std::string>> consumer_filters(jsCtx* js, const std::string& stream);

// NATS subject matching: `*` matches one token, a trailing `>` one or more; an empty filter
// matches everything (a consumer without a filter).
bool subject_matches(std::string_view filter, std::string_view subject);

}  // namespace weir::bus
