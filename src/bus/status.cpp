#include "bus/status.hpp"

#include <mutex>
#include <string>

namespace weir::bus {

bool Status::is_not_found() const {
  return code_ == NATS_NOT_FOUND || js_code_ == JSStreamNotFoundErr || js_code_ == JSConsumerNotFoundErr;
}

Status& Status::context(std::string_view what) {
  if (!ok() && !what.empty()) {
    std::string t;
    t.reserve(what.size() + 2 + text_.size());
    t.append(what).append(": ").append(text_);
    text_ = std::move(t);
  }
  return *this;
}

Status from_nats(natsStatus s, std::string_view what, jsErrCode js_code) {
  if (s == NATS_OK) return Status::success();
  std::string text(what);
  if (!text.empty()) text += ": ";
  text += natsStatus_GetText(s);
  // The thread-local last error may belong to an earlier call; use it only when it matches.
  natsStatus last = NATS_OK;
  const char* raw = nats_GetLastError(&last);
  std::string_view detail = raw != nullptr ? std::string_view(raw) : std::string_view();
  // nats.c prefixes its source location: "(conn.c:2088): No server available for connection".
  if (!detail.empty() && detail.front() == '(') {
    const auto end = detail.find("): ");
    if (end != std::string_view::npos) detail.remove_prefix(end + 3);
  }
  if (last == s && !detail.empty() && detail != natsStatus_GetText(s)) {
    text += " (";
    text += detail;
    text += ')';
  }
  if (js_code != 0) {
    text += " [jetstream error ";
    text += std::to_string(static_cast<int>(js_code));
    text += ']';
  }
  return Status::error(s, static_cast<int>(js_code), std::move(text));
}

Status init_nats_library() {
  static std::once_flag once;
  static natsStatus result = NATS_OK;
  // No spinning on nats.c's locks (its default spins 2,000 times before it blocks): on an edge
  // box the engine and its nats-server often share one or two cores, where a spin only burns
  // the time the lock holder needs. Pinned to one core at 2,000 records/s (bench/nodered.sh,
  // durability none) the latency went from p50 0.44-0.45 / p90 0.90-0.95 ms to 0.40-0.42 /
  // 0.68-0.74 ms; the engine benchmark on two cores did not change (0.97, within its noise).
  std::call_once(once, [] { result = nats_Open(0); });
  return from_nats(result, "nats library init");
}

}  // namespace weir::bus
