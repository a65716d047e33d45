// DirtyChunks: what a sync takes, what it gives back, epochs against later writes, the bound.
#include <catch2/catch.hpp>

#include "daemon/dirty_chunks.h"

namespace gkfs {
namespace {

std::vector<uint64_t> Indices(const DirtyChunks::Batch& b) {
  std::vector<uint64_t> out;
  for (const auto& c : b.chunks) out.push_back(c.first);
  return out;
}

}  // namespace

TEST_CASE("a sync takes the chunks dirtied before its epoch, once", "[sync]") {
  DirtyChunks dirty(100);
  dirty.Add(7, {0, 1, 1, 2}, true, true);
  CHECK(dirty.tracked() == 3);
  uint64_t epoch = dirty.NewEpoch();
  dirty.Add(7, {9}, false, false);  // after the sync began: a later sync's
  dirty.Add(8, {0}, false, false);  // another file
  DirtyChunks::Batch b;
  REQUIRE(dirty.Take(7, epoch, &b));
  CHECK(Indices(b) == std::vector<uint64_t>{0, 1, 2});
  CHECK(b.file_dir_changed);
  CHECK(b.top_dir_changed);
  CHECK(dirty.tracked() == 2);
  DirtyChunks::Batch again;
  REQUIRE(dirty.Take(7, epoch, &again));
  CHECK(again.empty());
  REQUIRE(dirty.Take(7, dirty.NewEpoch(), &again));
  CHECK(Indices(again) == std::vector<uint64_t>{9});
}

TEST_CASE("what a sync gives back keeps its epoch; a rewrite meanwhile does not move it", "[sync]") {
  DirtyChunks dirty(100);
  dirty.Add(7, {0, 1}, false, false);
  uint64_t epoch = dirty.NewEpoch();
  DirtyChunks::Batch b;
  REQUIRE(dirty.Take(7, epoch, &b));
  dirty.Add(7, {1}, false, false);  // written again while the sync ran
  b.chunks.erase(b.chunks.begin());  // chunk 0 synced, chunk 1 not (time ran out)
  dirty.PutBack(7, b);
  CHECK(dirty.tracked() == 1);
  DirtyChunks::Batch rest;
  REQUIRE(dirty.Take(7, epoch, &rest));  // the same sync, asked again
  CHECK(Indices(rest) == std::vector<uint64_t>{1});
}

TEST_CASE("a removed file is forgotten", "[sync]") {
  DirtyChunks dirty(100);
  dirty.Add(7, {0, 1}, true, false);
  dirty.Forget(7);
  CHECK(dirty.tracked() == 0);
  DirtyChunks::Batch b;
  REQUIRE(dirty.Take(7, dirty.NewEpoch(), &b));
  CHECK(b.empty());
}

TEST_CASE("past its capacity it forgets everything until a whole-system sync", "[sync]") {
  DirtyChunks dirty(3);
  dirty.Add(1, {0, 1}, false, false);
  CHECK_FALSE(dirty.overflowed());
  dirty.Add(2, {0, 1}, false, false);
  CHECK(dirty.overflowed());
  CHECK(dirty.tracked() == 0);
  dirty.Add(3, {0}, false, false);  // covered by the whole-system sync to come
  CHECK(dirty.tracked() == 0);
  DirtyChunks::Batch b;
  CHECK_FALSE(dirty.Take(1, dirty.NewEpoch(), &b));
  dirty.Reset();
  CHECK_FALSE(dirty.overflowed());
  dirty.Add(3, {0}, false, false);
  CHECK(dirty.tracked() == 1);
  dirty.SetOverflow();  // e.g. the whole-system sync failed
  CHECK(dirty.overflowed());
  CHECK(dirty.tracked() == 0);
}

}  // namespace gkfs
