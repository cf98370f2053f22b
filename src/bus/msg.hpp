#pragma once

// RAII over natsMsg*. A message received from a pull consumer keeps a pointer to its
// subscription: ack, nak or drop it before that consumer is destroyed.

#include "bus/status.hpp"

#include <nats/nats.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::bus {

struct Header {
  std::string_view key;
  std::string_view value;
};

struct MsgMetadata {
  std::string stream;
  std::string consumer;
  std::uint64_t stream_seq = 0;
  std::uint64_t consumer_seq = 0;
  std::uint64_t num_delivered = 0;  // 1 on first delivery
  std::uint64_t num_pending = 0;
  std::int64_t timestamp_ns = 0;  // UTC nanoseconds since the epoch, when the stream stored it
};

inline constexpr const char* msg_id_header = "Nats-Msg-Id";

class Msg {
 public:
  Msg() = default;
  explicit Msg(natsMsg* m) : m_(m) {}
  Msg(Msg&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Msg& operator=(Msg&& o) noexcept;
  Msg(const Msg&) = delete;
  Msg& operator=(const Msg&) = delete;
  ~Msg();

  // A new outgoing message (headers can be set before publishing).
  static Result<Msg> create(std::string_view subject, std::string_view data);

  explicit operator bool() const { return m_ != nullptr; }
  natsMsg* raw() const { return m_; }
  natsMsg* release() { return std::exchange(m_, nullptr); }
  // For nats.c calls that take natsMsg** and clear it when they take ownership.
  natsMsg** raw_ref() { return &m_; }

  std::string_view subject() const;
  std::string_view reply() const;
  const char* data() const;
  std::size_t size() const;
  std::string_view view() const { return {data(), size()}; }

  std::optional<std::string_view> header(const char* key) const;
  Status set_header(const std::string& key, const std::string& value);
  std::string msg_id() const;  // empty when the message has none

  Result<MsgMetadata> metadata() const;

  // Fire-and-forget acknowledgements: each is one publish into the connection's buffer, no
  // round trip. Only valid on messages from a JetStream consumer.
  Status ack();
  Status nak();
  Status in_progress();  // resets the ack_wait timer for slow work
  Status term();         // never redeliver

 private:
  natsMsg* m_ = nullptr;
};

// Acks every message; all are attempted, the first failure is returned.
Status ack_all(std::vector<Msg>& msgs);
Status nak_all(std::vector<Msg>& msgs);

}  // namespace weir::bus
