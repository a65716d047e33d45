// KvReadCache (daemon/kv_read_cache.h) in front of a real store: lookups answer what the
// store holds after every kind of update, a lookup racing updates never keeps an old value,
// and the cache stays within its capacity.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <atomic>
#include <string>
#include <thread>

#include "common/metadata_codec.h"
#include "daemon/kv_read_cache.h"

namespace gkfs {

TEST_CASE("a cached lookup answers what the store holds after each kind of update", "[kv]") {
  KvReadCache store(NewMemoryStore(), 16);
  std::string v;
  CHECK(store.Get("k", &v).code() == ENOENT);
  REQUIRE(store.Put("k", "a").ok());
  REQUIRE(store.Get("k", &v).ok());
  CHECK(v == "a");
  CHECK(store.TEST_cached() == 1);
  REQUIRE(store.Put("k", "b").ok());
  REQUIRE(store.Get("k", &v).ok());
  CHECK(v == "b");
  REQUIRE(store.Write({{"k", "c", KvStore::Update::Op::kPut}, {"j", "x", KvStore::Update::Op::kPut}}).ok());
  REQUIRE(store.Get("k", &v).ok());
  CHECK(v == "c");
  REQUIRE(store.Delete("k").ok());
  CHECK(store.Get("k", &v).code() == ENOENT);
  // Merges: the size operands of an inode, as every write of a file adds one.
  Metadata md;
  md.mode = 0100644;
  REQUIRE(store.Put("#i1", EncodeMetadata(md)).ok());
  REQUIRE(store.Get("#i1", &v).ok());
  REQUIRE(store.Merge("#i1", EncodeGrowOperand(4096, 1)).ok());
  REQUIRE(store.Get("#i1", &v).ok());
  REQUIRE(DecodeMetadata(v, &md).ok());
  CHECK(md.size == 4096);
  REQUIRE(store.Write({{"#i1", EncodeGrowOperand(8192, 2), KvStore::Update::Op::kMerge}}).ok());
  REQUIRE(store.Get("#i1", &v).ok());
  REQUIRE(DecodeMetadata(v, &md).ok());
  CHECK(md.size == 8192);
}

TEST_CASE("the read cache keeps at most its capacity, dropping the least recently used", "[kv]") {
  KvReadCache store(NewMemoryStore(), 4);
  std::string v;
  for (int i = 0; i < 10; ++i) {
    REQUIRE(store.Put("k" + std::to_string(i), std::to_string(i)).ok());
    REQUIRE(store.Get("k" + std::to_string(i), &v).ok());
  }
  CHECK(store.TEST_cached() == 4);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(store.Get("k" + std::to_string(i), &v).ok());
    CHECK(v == std::to_string(i));
  }
}

TEST_CASE("lookups racing updates of the same key end on the last value", "[kv]") {
  char dir[] = "/tmp/gkfs-kvcache-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  {
    std::unique_ptr<KvStore> store;
    REQUIRE(OpenRocksDbStore(dir, &store).ok());  // behind its read cache
    Metadata md;
    md.mode = 0100644;
    REQUIRE(store->Put("#i2", EncodeMetadata(md)).ok());
    std::atomic<bool> done{false};
    std::thread writer([&] {
      for (uint64_t i = 1; i <= 3000; ++i) REQUIRE(store->Merge("#i2", EncodeGrowOperand(i, 1)).ok());
      done = true;
    });
    uint64_t last = 0;
    std::string v;
    while (!done) {  // sizes only grow: a lookup never sees an older one than the last
      REQUIRE(store->Get("#i2", &v).ok());
      REQUIRE(DecodeMetadata(v, &md).ok());
      CHECK(md.size >= last);
      last = md.size;
    }
    writer.join();
    REQUIRE(store->Get("#i2", &v).ok());
    REQUIRE(DecodeMetadata(v, &md).ok());
    CHECK(md.size == 3000);
  }
  CHECK(system((std::string("rm -rf ") + dir).c_str()) == 0);
}

}  // namespace gkfs
