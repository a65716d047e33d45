// The checks of application memory the preload library makes before it reads a path or
// writes a result (preload/caller_memory.h), on pages made for the purpose.
#include <catch2/catch.hpp>

#include <linux/limits.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "preload/caller_memory.h"

using namespace gkfs::preload;

namespace {

// Two pages: the first readable and writable, the second with `second` protection (or
// unmapped, for -1). Unmapped when the test ends.
class TwoPages {
 public:
  explicit TwoPages(int second) {
    base_ = static_cast<char*>(
        mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(base_ != MAP_FAILED);
    if (second < 0) {
      munmap(base_ + 4096, 4096);
    } else {
      mprotect(base_ + 4096, 4096, second);
    }
  }
  ~TwoPages() { munmap(base_, 8192); }
  char* first() { return base_; }
  char* second() { return base_ + 4096; }
  // `text` placed so that its last byte (its NUL when with_nul) ends the first page.
  char* AtEnd(const std::string& text, bool with_nul) {
    size_t n = text.size() + (with_nul ? 1 : 0);
    char* at = second() - n;
    std::memcpy(at, text.c_str(), n);
    return at;
  }

 private:
  char* base_;
};

}  // namespace

TEST_CASE("CheckPath measures readable strings") {
  size_t len = 99;
  CHECK(caller::CheckPath("/tmp/x", &len) == 0);
  CHECK(len == 6);
  CHECK(caller::CheckPath("", &len) == 0);
  CHECK(len == 0);
  std::string longest(PATH_MAX - 1, 'a');
  CHECK(caller::CheckPath(longest.c_str(), &len) == 0);
  CHECK(len == PATH_MAX - 1);
  std::string too_long(PATH_MAX, 'a');
  CHECK(caller::CheckPath(too_long.c_str(), &len) == ENAMETOOLONG);
}

TEST_CASE("CheckPath refuses what the kernel cannot read, as EFAULT") {
  size_t len = 0;
  CHECK(caller::CheckPath(nullptr, &len) == EFAULT);
  CHECK(caller::CheckPath(reinterpret_cast<const char*>(8), &len) == EFAULT);
  TwoPages unmapped(-1);
  CHECK(caller::CheckPath(unmapped.second(), &len) == EFAULT);
  CHECK(caller::CheckPath(unmapped.AtEnd("/mnt/gkfs/f", false), &len) == EFAULT);
  CHECK(caller::CheckPath(unmapped.AtEnd("/mnt/gkfs/f", true), &len) == 0);
  CHECK(len == 11);
  CHECK(caller::CheckPath(unmapped.AtEnd("", true), &len) == 0);  // the page's last byte
  TwoPages no_access(PROT_NONE);
  CHECK(caller::CheckPath(no_access.second(), &len) == EFAULT);
  CHECK(caller::CheckPath(no_access.AtEnd("/x", false), &len) == EFAULT);
  int saved = errno = 1234;
  caller::CheckPath(no_access.second(), &len);
  CHECK(errno == saved);
}

TEST_CASE("Readable and WillWrite check every page of a range") {
  TwoPages read_only(PROT_READ);
  CHECK(caller::Readable(read_only.first(), 8192));
  CHECK(caller::Readable(read_only.first(), 0));
  CHECK(caller::WillWrite(read_only.first(), 4096));
  CHECK_FALSE(caller::WillWrite(read_only.second() - 8, 16));
  CHECK_FALSE(caller::WillWrite(read_only.second(), 1));
  TwoPages unmapped(-1);
  CHECK_FALSE(caller::Readable(unmapped.second() - 4, 8));
  CHECK_FALSE(caller::WillWrite(nullptr, 8));
  CHECK(caller::WillWrite(nullptr, 0));
}

TEST_CASE("StringArrayReadable checks the pointers and the strings' first bytes") {
  const char* good[] = {"A=1", "LIBGKFS_CWD=x", nullptr};
  CHECK(caller::StringArrayReadable(good, 12));
  TwoPages unmapped(-1);
  const char* bad_string[] = {"A=1", unmapped.second(), nullptr};
  CHECK_FALSE(caller::StringArrayReadable(bad_string, 12));
  CHECK(caller::StringArrayReadable(bad_string, 0));  // the pointers alone
  // An array running into the unmapped page without its NULL.
  auto** tail = reinterpret_cast<const char**>(unmapped.second()) - 1;
  tail[0] = "A=1";
  CHECK_FALSE(caller::StringArrayReadable(tail, 12));
}
