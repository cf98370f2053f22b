#pragma once

// Result types of the bus layer. nats.c reports failures as a status code plus a thread-local
// error text; both are captured here, at the boundary, so callers never touch nats.c errors.

#include <nats/nats.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/result.hpp"

namespace weir::bus {

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status success() { return Status{}; }
  // A failure that did not come from nats.c (process management, bad argument).
  static Status error(std::string text) { return Status{NATS_ERR, 0, std::move(text)}; }
  static Status error(natsStatus code, int js_code, std::string text) {
    return Status{code == NATS_OK ? NATS_ERR : code, js_code, std::move(text)};
  }

  bool ok() const { return code_ == NATS_OK; }
  explicit operator bool() const { return ok(); }

  const std::string& text() const { return text_; }
  natsStatus code() const { return code_; }
  // JetStream API error code (jsErrCode, e.g. 10059 stream not found), 0 when none.
  int js_code() const { return js_code_; }

  bool is_timeout() const { return code_ == NATS_TIMEOUT; }
  bool is_not_found() const;

  // Prefixes the text with what was being attempted: "ensure_stream WEIR_A: <text>".
  Status& context(std::string_view what);

 private:
  Status(natsStatus code, int js_code, std::string text)
      : code_(code), js_code_(js_code), text_(std::move(text)) {}

  natsStatus code_ = NATS_OK;
  int js_code_ = 0;
  std::string text_;
};

// Converts a nats.c status right after the failing call, on the same thread: the detailed text
// (nats_GetLastError) is thread-local and overwritten by the next failing call.
Status from_nats(natsStatus s, std::string_view what, jsErrCode js_code = static_cast<jsErrCode>(0));

// Initializes nats.c once per process. Connecting does it implicitly, but some calls
// (natsMsg_Create/Destroy) crash on an uninitialized library; bus entry points call this.
Status init_nats_library();

template <class T>
class [[nodiscard]] Result : public core::BasicResult<T, Status> {
  using Base = core::BasicResult<T, Status>;

 public:
  Result(T value) : Base(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status error)                         // NOLINT: implicit by design
      : Base(typename Base::ErrorTag{},
             error.ok() ? Status::error("Result built from a success Status without a value")
                        : std::move(error)) {}

  const Status& status() const { return this->failure(); }
};

}  // namespace weir::bus
