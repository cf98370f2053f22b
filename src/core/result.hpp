// A value or the error that stands in its place: the shape behind bus::Result (a NATS Status) and
// store::Result (a one-line text). Each names its error accessor itself (status(), error()).
#pragma once

#include <optional>
#include <utility>

namespace weir::core {

template <class T, class E>
class [[nodiscard]] BasicResult {
 public:
  BasicResult(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 protected:
  struct ErrorTag {};
  BasicResult(ErrorTag, E error) : error_(std::move(error)) {}
  const E& failure() const { return error_; }

 private:
  std::optional<T> value_;
  E error_{};
};

}  // namespace weir::core
