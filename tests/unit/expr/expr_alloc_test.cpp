// Proves that evaluating the common filter shapes allocates nothing. It replaces the global
// operator new, so it is an executable of its own.
#include "sdk/expr/expr.hpp"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::size_t> allocations{0};

void* counted_alloc(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void* counted_aligned_alloc(std::size_t size, std::align_val_t align) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(align);
  const std::size_t rounded = (size + a - 1) / a * a;
  if (void* p = std::aligned_alloc(a, rounded == 0 ? a : rounded)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) {
  return counted_alloc(size);
}
void* operator new[](std::size_t size) {
  return counted_alloc(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void* operator new(std::size_t size, std::align_val_t align) {
  return counted_aligned_alloc(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return counted_aligned_alloc(size, align);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace {

using weir::sdk::expr::CompileError;
using weir::sdk::expr::EvalError;
using weir::sdk::expr::Program;

const char* const record_text = R"({
  "value": 72, "ratio": 0.5, "site": "a", "level": "warn", "tags": ["x", "q"],
  "meta": {"id": "m-1", "n": null}, "items": [{"name": "first"}], "topic": "sensors/t1"
})";

Program must_compile(const char* src) {
  CompileError err;
  auto p = Program::compile(src, err);
  INFO(src, ": ", err.message);
  REQUIRE(p.has_value());
  return *p;
}

struct Counted {
  std::size_t allocations;
  bool ok;
  bool result;
};

Counted count_test(const Program& p, const boost::json::value& record) {
  bool result = false;
  EvalError err;
  const std::size_t before = allocations.load();
  bool ok = true;
  for (int i = 0; i < 100 && ok; ++i) ok = p.test(record, result, err);
  return {allocations.load() - before, ok, result};
}

}  // namespace

TEST_CASE("the counter sees allocations") {
  const Program p = must_compile("site + level == 'awarn'");
  const boost::json::value record = boost::json::parse(record_text);
  const Counted c = count_test(p, record);
  REQUIRE(c.ok);
  CHECK(c.result);
  CHECK(c.allocations > 0);  // concatenation builds a string
}

TEST_CASE("common filters evaluate without allocating") {
  const boost::json::value record = boost::json::parse(record_text);
  for (const char* src : {
           R"(value > 50 && site == "a" && tags[0] in ["x", "y"] && has(meta.id))",
           R"(value > 50 && site == "b" || !has(meta.missing) && meta.n == null)",
           "ratio * 100 >= value - 30 && value % 2 == 0 && -value < 0",
           "level in ['info', 'warn', 'error'] && !(site in ['b', 'c'])",
           "site in [level, 'a', meta.id]",
           "'q' in tags && items[0].name == 'first' && items[-1].name != 'x'",
           "missing.deep[3] == null && !missing && missing + 1 == null",
           "starts_with(topic, 'sensors/') && contains(meta.id, '-') && ends_with(topic, 't1')",
           "lower(site) == 'a' && len(tags) == 2 && len(topic) > 3",
           "now() > 0",
       }) {
    CAPTURE(src);
    const Program p = must_compile(src);
    const Counted c = count_test(p, record);
    REQUIRE(c.ok);
    CHECK(c.result);
    CHECK(c.allocations == 0);
  }
}

TEST_CASE("numeric eval results do not allocate either") {
  const boost::json::value record = boost::json::parse(record_text);
  const Program p = must_compile("value * 2 + ratio");
  boost::json::value out;
  EvalError err;
  const std::size_t before = allocations.load();
  const bool ok = p.eval(record, out, err);
  const std::size_t used = allocations.load() - before;
  REQUIRE(ok);
  CHECK(out == 144.5);
  CHECK(used == 0);
}
