// The FUSE client's node table: kernel node ids stay mapped to the right paths across
// rename (with everything under a directory), unlink, a name reused by another inode, and
// the kernel's forgets.
#include <catch2/catch.hpp>

#include "fuse/node_table.h"

using gkfs::fuse::ChildPath;
using gkfs::fuse::NodeTable;

namespace {
std::string PathOf(const NodeTable& t, uint64_t node) {
  std::string path;
  uint64_t ino = 0;
  return t.Get(node, &path, &ino) ? path : "<unknown>";
}
}  // namespace

TEST_CASE("a lookup of the same name and inode counts on one node", "[fuse]") {
  NodeTable t(100);
  uint64_t a = t.Remember("/a", 7);
  REQUIRE(t.Remember("/a", 7) == a);
  t.Forget(a, 1);
  REQUIRE(PathOf(t, a) == "/a");
  t.Forget(a, 1);
  REQUIRE(PathOf(t, a) == "<unknown>");
  REQUIRE(PathOf(t, NodeTable::kRoot) == "/");
}

TEST_CASE("renaming a directory moves every node under it", "[fuse]") {
  NodeTable t(100);
  uint64_t d = t.Remember("/d", 1), f = t.Remember("/d/f", 2), g = t.Remember("/d/sub/g", 3);
  uint64_t other = t.Remember("/dx", 4);  // a sibling sharing the prefix stays
  t.Renamed("/d", "/e");
  REQUIRE(PathOf(t, d) == "/e");
  REQUIRE(PathOf(t, f) == "/e/f");
  REQUIRE(PathOf(t, g) == "/e/sub/g");
  REQUIRE(PathOf(t, other) == "/dx");
  REQUIRE(t.Remember("/e/f", 2) == f);
}

TEST_CASE("an exchange swaps the nodes of both subtrees", "[fuse]") {
  NodeTable t(100);
  uint64_t a = t.Remember("/a", 1), ax = t.Remember("/a/x", 2), b = t.Remember("/p/b", 3);
  uint64_t by = t.Remember("/p/b/y", 4), both = t.Remember("/a/z", 5), z = t.Remember("/p/b/z", 6);
  t.Exchanged("/a", "/p/b");
  REQUIRE(PathOf(t, a) == "/p/b");
  REQUIRE(PathOf(t, ax) == "/p/b/x");
  REQUIRE(PathOf(t, both) == "/p/b/z");  // a name both sides had: each keeps its node
  REQUIRE(PathOf(t, b) == "/a");
  REQUIRE(PathOf(t, by) == "/a/y");
  REQUIRE(PathOf(t, z) == "/a/z");
  REQUIRE(t.Remember("/a/z", 6) == z);
}

TEST_CASE("a rename over a name and an unlink leave the old node without a path", "[fuse]") {
  NodeTable t(100);
  uint64_t a = t.Remember("/a", 1), b = t.Remember("/b", 2);
  t.Renamed("/a", "/b");
  REQUIRE(PathOf(t, a) == "/b");
  REQUIRE(PathOf(t, b).empty());  // still open maybe: addressed by its inode
  t.Unlinked("/b");
  REQUIRE(PathOf(t, a).empty());
  uint64_t c = t.Remember("/b", 3);  // the name again, another inode: a new node
  REQUIRE(c != a);
  REQUIRE(PathOf(t, c) == "/b");
}

TEST_CASE("a name that now names another inode gets a new node", "[fuse]") {
  NodeTable t(100);
  uint64_t a = t.Remember("/a", 1);
  uint64_t a2 = t.Remember("/a", 9);  // replaced behind our back (another client)
  REQUIRE(a2 != a);
  REQUIRE(PathOf(t, a).empty());
  REQUIRE(PathOf(t, a2) == "/a");
  REQUIRE(ChildPath("/", "x") == "/x");
  REQUIRE(ChildPath("/a", "x") == "/a/x");
}
