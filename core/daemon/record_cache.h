// RecordCache: decoded copies of store values one daemon reads over and over (the parent
// entry and parent directory inode every create and remove re-reads, the entry of a file just
// created), so that those reads cost no RocksDB Get. Exact, not a hint, under one rule:
//   * every change of a cached key in the store is followed by Put (the new value) or Erase;
//   * Fill and Put are given the Generation() taken before the store read or write they
//     follow, and keep the value only if no Put or Erase of the shard came in between (a Put
//     that loses drops the key): a reader racing a writer, or a locked writer racing an
//     unlocked merge (which cannot know the merged value and erases), never leaves an older
//     value behind.
// Bounded: a full shard drops an arbitrary resident to make room. Thread-safe (a mutex per
// shard); holds no store and no lock of its caller.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace gkfs {

template <typename Key, typename Value>
class RecordCache {
 public:
  explicit RecordCache(size_t capacity) : per_shard_(capacity / kShards + 1) {}

  bool Find(const Key& key, Value* value) {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> l(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    *value = it->second;
    return true;
  }
  uint64_t Generation(const Key& key) {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> l(s.mu);
    return s.generation;
  }
  void Fill(const Key& key, const Value& value, uint64_t generation) {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> l(s.mu);
    if (s.generation == generation) Insert(&s, key, value);
  }
  void Put(const Key& key, const Value& value, uint64_t generation) {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> l(s.mu);
    if (s.generation++ == generation) {
      Insert(&s, key, value);
    } else {
      s.map.erase(key);
    }
  }
  void Erase(const Key& key) {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> l(s.mu);
    ++s.generation;
    s.map.erase(key);
  }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mu;
    uint64_t generation = 0;                  // GUARDED_BY(mu): Puts and Erases so far
    std::unordered_map<Key, Value> map;       // GUARDED_BY(mu)
  };
  Shard& ShardOf(const Key& key) { return shards_[std::hash<Key>{}(key) % kShards]; }
  void Insert(Shard* s, const Key& key, const Value& value) {  // REQUIRES: s->mu held
    auto it = s->map.find(key);
    if (it != s->map.end()) {
      it->second = value;
      return;
    }
    if (s->map.size() >= per_shard_) s->map.erase(s->map.begin());
    s->map.emplace(key, value);
  }

  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace gkfs
