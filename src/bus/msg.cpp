#include "bus/msg.hpp"

#include <memory>

namespace weir::bus {

Msg& Msg::operator=(Msg&& o) noexcept {
  if (this != &o) {
    natsMsg_Destroy(m_);
    m_ = std::exchange(o.m_, nullptr);
  }
  return *this;
}

Msg::~Msg() {
  natsMsg_Destroy(m_);
}

Result<Msg> Msg::create(std::string_view subject, std::string_view data) {
  if (Status init = init_nats_library(); !init) return init;
  const std::string subj(subject);
  natsMsg* m = nullptr;
  const natsStatus s = natsMsg_Create(&m, subj.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  if (s != NATS_OK) return from_nats(s, "create message on " + subj);
  return Msg(m);
}

std::string_view Msg::subject() const {
  const char* s = m_ != nullptr ? natsMsg_GetSubject(m_) : nullptr;
  return s != nullptr ? std::string_view(s) : std::string_view();
}

std::string_view Msg::reply() const {
  const char* s = m_ != nullptr ? natsMsg_GetReply(m_) : nullptr;
  return s != nullptr ? std::string_view(s) : std::string_view();
}

const char* Msg::data() const {
  return m_ != nullptr ? natsMsg_GetData(m_) : nullptr;
}

std::size_t Msg::size() const {
  return m_ != nullptr ? static_cast<std::size_t>(natsMsg_GetDataLength(m_)) : 0;
}

std::optional<std::string_view> Msg::header(const char* key) const {
  const char* value = nullptr;
  if (m_ == nullptr || natsMsgHeader_Get(m_, key, &value) != NATS_OK || value == nullptr) return std::nullopt;
  return std::string_view(value);
}

Status Msg::set_header(const std::string& key, const std::string& value) {
  if (m_ == nullptr) return Status::error("set_header on an empty message");
  return from_nats(natsMsgHeader_Set(m_, key.c_str(), value.c_str()), "set header " + key);
}

std::string Msg::msg_id() const {
  const auto id = header(msg_id_header);
  return id ? std::string(*id) : std::string();
}

Result<MsgMetadata> Msg::metadata() const {
  if (m_ == nullptr) return Status::error("metadata of an empty message");
  jsMsgMetaData* raw = nullptr;
  const natsStatus s = natsMsg_GetMetaData(&raw, m_);
  if (s != NATS_OK) return from_nats(s, "message metadata");
  std::unique_ptr<jsMsgMetaData, void (*)(jsMsgMetaData*)> meta(raw, jsMsgMetaData_Destroy);
  MsgMetadata md;
  md.stream = meta->Stream != nullptr ? meta->Stream : "";
  md.consumer = meta->Consumer != nullptr ? meta->Consumer : "";
  md.stream_seq = meta->Sequence.Stream;
  md.consumer_seq = meta->Sequence.Consumer;
  md.num_delivered = meta->NumDelivered;
  md.num_pending = meta->NumPending;
  md.timestamp_ns = meta->Timestamp;
  return md;
}

Status Msg::ack() {
  return from_nats(natsMsg_Ack(m_, nullptr), "ack");
}
Status Msg::nak() {
  return from_nats(natsMsg_Nak(m_, nullptr), "nak");
}
Status Msg::in_progress() {
  return from_nats(natsMsg_InProgress(m_, nullptr), "in-progress ack");
}
Status Msg::term() {
  return from_nats(natsMsg_Term(m_, nullptr), "term");
}

Status ack_all(std::vector<Msg>& msgs) {
  Status first;
  for (auto& m : msgs) {
    Status s = m.ack();
    if (!s.ok() && first.ok()) first = std::move(s);
  }
  return first;
}

Status nak_all(std::vector<Msg>& msgs) {
  Status first;
  for (auto& m : msgs) {
    Status s = m.nak();
    if (!s.ok() && first.ok()) first = std::move(s);
  }
  return first;
}

}  // namespace weir::bus
