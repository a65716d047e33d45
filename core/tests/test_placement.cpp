// Placement test vectors: the same values are listed in docs/formats.md and checked by
// tests/test_placement.py against the PyPI xxhash package.
#include <catch2/catch.hpp>

#include "common/chunk.h"
#include "common/placement.h"

using namespace gkfs;

TEST_CASE("HashPath matches the documented XXH3-64 vectors") {
  CHECK(HashPath("/") == 0x474292953285562eull);
  CHECK(HashPath("/a") == 0xe292ab48a6b06805ull);
  CHECK(HashPath("/a/b") == 0xaf7e9f583a08b569ull);
  CHECK(HashPath("/dir/file.txt") == 0x5754741f3c046eb1ull);
  CHECK(HashPath("/\xc3\xbcn\xc3\xaf" "code") == 0x1eacd03b3fa36e53ull);
}

TEST_CASE("HashChunk hashes file id and index as little-endian u64") {
  CHECK(HashChunk(1, 0) == 0x26f2a1148cf52011ull);
  CHECK(HashChunk(1, 1) == 0x6ca7f978e15828a6ull);
  CHECK(HashChunk(0x0123456789abcdefull, 7) == 0x6cebe513db1dbf73ull);
  CHECK(HashChunk(~0ull, 1ull << 32) == 0xc28a881cfce06c23ull);
}

TEST_CASE("Placement spreads chunks over every daemon") {
  Placement p(4);
  int seen[4] = {0, 0, 0, 0};
  for (uint64_t i = 0; i < 400; ++i) seen[p.ChunkOwner(42, i)]++;
  for (int n : seen) CHECK(n > 50);
  CHECK(p.MetadataOwner("/a") == HashPath("/a") % 4);
}

TEST_CASE("SplitIntoChunks cuts a range at chunk boundaries") {
  auto pieces = SplitIntoChunks(4000, 10000, 4096);
  REQUIRE(pieces.size() == 4);
  CHECK(pieces[0].chunk_index == 0);
  CHECK(pieces[0].offset == 4000);
  CHECK(pieces[0].length == 96);
  CHECK(pieces[1].chunk_index == 1);
  CHECK(pieces[1].length == 4096);
  CHECK(pieces[1].buffer_offset == 96);
  CHECK(pieces[3].chunk_index == 3);
  CHECK(pieces[3].length == 14000 - 3 * 4096);
  CHECK(SplitIntoChunks(0, 0, 4096).empty());
  CHECK(IsValidChunkSize(524288));
  CHECK_FALSE(IsValidChunkSize(3000));
  CHECK_FALSE(IsValidChunkSize(1000000));
}

#include <cstdio>
#include <unistd.h>

#include "common/hosts_file.h"

TEST_CASE("hosts file: sorted by uri, duplicates once, errors name file and line") {
  char path[] = "/tmp/gkfs-hosts-XXXXXX";
  int fd = mkstemp(path);
  const char text[] = "# comment\n\nb ucx+tcp://127.0.0.1:2\na ucx+tcp://127.0.0.1:1\nb ucx+tcp://127.0.0.1:2\n";
  REQUIRE(write(fd, text, sizeof(text) - 1) == sizeof(text) - 1);
  close(fd);
  std::vector<HostEntry> hosts;
  REQUIRE(ReadHostsFile(path, &hosts).ok());
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].host == "a");
  FILE* f = fopen(path, "a");
  fputs("broken-line-without-uri\n", f);
  fclose(f);
  Status s = ReadHostsFile(path, &hosts);
  CHECK(s.code() == EINVAL);
  CHECK(s.message().find("line 6") != std::string::npos);
  unlink(path);
}

namespace {
std::vector<HostEntry> ReadHosts(const std::string& text, Status* status) {
  char path[] = "/tmp/gkfs-hosts-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  std::vector<HostEntry> hosts;
  *status = ReadHostsFile(path, &hosts);
  unlink(path);
  return hosts;
}
}  // namespace

TEST_CASE("hosts file with daemon ids: ordered by id whatever the ports; a restarted daemon by its last line") {
  Status s;
  auto hosts = ReadHosts("h ucx+tcp://127.0.0.1:9 00000000000000c0\n"
                         "h ucx+tcp://127.0.0.1:1 00000000000000b0\n"
                         "h ucx+tcp://127.0.0.1:5 00000000000000a0\n"
                         "h ucx+tcp://127.0.0.1:7 00000000000000b0\n",  // b0 again, new port
                         &s);
  REQUIRE(s.ok());
  REQUIRE(hosts.size() == 3);
  CHECK(hosts[0].id == "00000000000000a0");
  CHECK(hosts[1].uri == "ucx+tcp://127.0.0.1:7");
  CHECK(hosts[2].uri == "ucx+tcp://127.0.0.1:9");
  // One line without an id (a GekkoFS daemon): the uri order, as GekkoFS files get.
  hosts = ReadHosts("h ucx+tcp://127.0.0.1:9 00000000000000c0\nh ucx+tcp://127.0.0.1:1\n", &s);
  REQUIRE(s.ok());
  CHECK(hosts[0].uri == "ucx+tcp://127.0.0.1:1");
  // A third field that is no id is one of GekkoFS's extra fields: ignored.
  hosts = ReadHosts("h ucx+tcp://127.0.0.1:9 not-an-id\n", &s);
  REQUIRE(s.ok());
  CHECK(hosts[0].id.empty());
}

TEST_CASE("a daemon's identity is made once and kept in its root directory") {
  char dir[] = "/tmp/gkfs-id-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string first, again;
  REQUIRE(DaemonIdentity(dir, &first).ok());
  REQUIRE(DaemonIdentity(dir, &again).ok());
  CHECK(first.size() == 16);
  CHECK(first == again);
  unlink((std::string(dir) + "/identity").c_str());
  rmdir(dir);
}

#include "transport/worker.h"

TEST_CASE("-P protocol names map to UCX transports") {
  std::string tls;
  REQUIRE(transport::ProtocolToTls("ucx+tcp", &tls).ok());
  CHECK(tls == "tcp");
  REQUIRE(transport::ProtocolToTls("ucx+shm", &tls).ok());
  CHECK(tls.find("sm") != std::string::npos);
  REQUIRE(transport::ProtocolToTls("ucx+rc", &tls).ok());
  CHECK(tls.rfind("rc", 0) == 0);
  REQUIRE(transport::ProtocolToTls("ucx+ud", &tls).ok());
  CHECK(tls.rfind("ud", 0) == 0);
  REQUIRE(transport::ProtocolToTls("ucx+dc", &tls).ok());
  CHECK(tls.rfind("dc", 0) == 0);
  REQUIRE(transport::ProtocolToTls("ucx+all", &tls).ok());
  CHECK(tls == "all");
  Status s = transport::ProtocolToTls("ofi+sockets", &tls);
  CHECK(s.code() == EINVAL);
  CHECK(s.message().find("ucx+tcp") != std::string::npos);
}

TEST_CASE("daemon uris parse; malformed ones name the uri") {
  transport::Uri uri;
  REQUIRE(transport::ParseUri("ucx+tcp://10.1.2.3:4000", &uri).ok());
  CHECK(uri.protocol == "ucx+tcp");
  CHECK(uri.address == "10.1.2.3");
  CHECK(uri.port == 4000);
  CHECK(transport::ParseUri("10.1.2.3:4000", &uri).code() == EINVAL);
  CHECK(transport::ParseUri("ucx+tcp://10.1.2.3:99999", &uri).code() == EINVAL);
  CHECK(transport::ParseUri("ucx+tcp://10.1.2.3:x", &uri).code() == EINVAL);
}

TEST_CASE("hosts file: GekkoFS's extra fields are ignored and #FS_INSTANCE_END ends the list") {
  Status s;
  auto hosts = ReadHosts("b ucx+tcp://127.0.0.1:2 na+sm://1/0\n"
                         "a ucx+tcp://127.0.0.1:1 extra more fields\n"
                         "#FS_INSTANCE_END\n"
                         "c ucx+tcp://127.0.0.1:3\n",
                         &s);
  REQUIRE(s.ok());
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].uri == "ucx+tcp://127.0.0.1:1");
  CHECK(hosts[0].id.empty());
  CHECK(hosts[1].host == "b");
}
