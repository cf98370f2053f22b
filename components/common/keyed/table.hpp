// A table of per-key state with a bound: entries in the order they were last used (the oldest
// first), so that at the bound the least recently used key goes, and what is saved and loaded
// back keeps that order (a replay evicts the same keys). Lookups hash the key, but nothing is
// ever listed in hash order: output never depends on it.
//
// V has `std::size_t heap_bytes() const`: what it holds outside itself, for the state's size.
#pragma once

#include <algorithm>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sdk/state.hpp"

namespace weir::components::keyed {

// What a heap block of n bytes takes with the allocator's header and rounding (glibc: 8 bytes
// of header, 16-byte steps, 32 at least); 0 for none.
constexpr std::size_t heap_block(std::size_t n) {
  return n == 0 ? 0 : std::max<std::size_t>(32, (n + 8 + 15) & ~std::size_t{15});
}

// A string's heap block (none while it fits in its own buffer).
inline std::size_t heap_block(const std::string& s) {
  return s.capacity() > std::string().capacity() ? heap_block(s.capacity() + 1) : 0;
}

template <class V>
class KeyedTable {
 public:
  struct Entry {
    std::string key;
    V value;
  };
  using List = std::list<Entry>;
  using iterator = typename List::iterator;

  explicit KeyedTable(std::size_t max_keys) : max_(max_keys == 0 ? 1 : max_keys) {}

  iterator begin() { return list_.begin(); }
  iterator end() { return list_.end(); }
  const List& entries() const { return list_; }
  std::size_t size() const { return list_.size(); }
  std::size_t max_keys() const { return max_; }

  iterator find(std::string_view key) {
    auto it = index_.find(key);
    return it == index_.end() ? list_.end() : it->second;
  }
  // Makes `it` the most recently used.
  void touch(iterator it) { list_.splice(list_.end(), list_, it); }

  // Adds a key that is not there, as the most recently used; at the bound the least recently
  // used one goes first (counted by evicted()).
  iterator insert(std::string key, V value) {
    while (list_.size() >= max_) {
      erase(list_.begin());
      ++evicted_;
    }
    list_.push_back(Entry{std::move(key), std::move(value)});
    auto it = std::prev(list_.end());
    index_.emplace(std::string_view(it->key), it);
    bytes_ += entry_bytes(*it);
    return it;
  }
  void erase(iterator it) {
    bytes_ -= entry_bytes(*it);
    index_.erase(std::string_view(it->key));
    list_.erase(it);
  }
  // Changes an entry's value, keeping the byte count right.
  template <class F>
  void update(iterator it, F&& f) {
    bytes_ -= it->value.heap_bytes();
    f(it->value);
    bytes_ += it->value.heap_bytes();
  }
  void clear() {
    index_.clear();
    list_.clear();
    bytes_ = 0;
  }

  std::uint64_t evicted() const { return evicted_; }
  sdk::StateSize state_size() const { return {list_.size(), bytes_}; }

  // The memory one entry takes besides its key's and value's own heap: the list node (two
  // links), the hash index's node (next link, key view, iterator, cached hash) and its bucket.
  static constexpr std::size_t entry_overhead =
      heap_block(sizeof(Entry) + 2 * sizeof(void*)) +
      heap_block(sizeof(void*) + sizeof(std::string_view) + sizeof(iterator) + sizeof(std::size_t)) +
      sizeof(void*);

 private:
  static std::size_t entry_bytes(const Entry& e) {
    return entry_overhead + heap_block(e.key) + e.value.heap_bytes();
  }

  std::size_t max_;
  List list_;
  std::unordered_map<std::string_view, iterator> index_;
  std::uint64_t bytes_ = 0;
  std::uint64_t evicted_ = 0;
};

}  // namespace weir::components::keyed
