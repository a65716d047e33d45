// fts_open/fts_read/fts_children/fts_set/fts_close and their fts64_* names. glibc's fts
// calls its internal stat and opendir, past every interposed symbol, so a handle that names
// a gkfs path is walked by fts_walk.h. Which one a handle is: fts_open of paths of which at
// least one is in gkfs gives one of ours, recorded in a registry; every other call on that
// FTS* comes here, every other FTS* goes to libc.
//
// A mix of gkfs and kernel paths is walked by us too: the walk runs on the library's own
// entry points, which hand kernel paths to libc, so the kernel paths come out as glibc would
// show them, and a program that names both (a copy from local disk into gkfs) works. Only
// paths none of which is in gkfs go to glibc.
#include "preload/hooks.h"

#include <fts.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "preload/caller_memory.h"
#include "preload/fts_walk.h"

static_assert(sizeof(FTS) == sizeof(FTS64) && sizeof(FTSENT) == sizeof(FTSENT64) &&
                  sizeof(struct stat) == sizeof(struct stat64),
              "fts64_* share the walk of fts_*");

using namespace gkfs::preload;

namespace {

// The handles fts_open gave out from our walk and fts_close has not closed yet.
class Handles {
 public:
  void Add(const FTS* sp) {
    std::lock_guard<std::mutex> lock(mutex_);
    open_.push_back(sp);
  }
  bool Remove(const FTS* sp) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find(open_.begin(), open_.end(), sp);
    if (it == open_.end()) return false;
    open_.erase(it);
    return true;
  }
  bool Contains(const FTS* sp) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::find(open_.begin(), open_.end(), sp) != open_.end();
  }

 private:
  std::mutex mutex_;
  std::vector<const FTS*> open_;  // GUARDED_BY(mutex_); a program holds few at a time
};

Handles& OurHandles() {
  static Handles* handles = new Handles();  // never destroyed: fts_close may run at exit
  return *handles;
}

// True when one of the paths is in gkfs (an array that cannot be read is glibc's).
bool AnyInGkfs(char* const* argv) {
  if (argv == nullptr || !caller::StringArrayReadable(argv, 1)) return false;
  for (; *argv != nullptr; ++argv) {
    if ((*argv)[0] == '\0') continue;
    PathTarget t;
    ResolveArg(*argv, &t);
    if (t.gkfs()) return true;
  }
  return false;
}

bool Ours(const void* sp) {
  return sp != nullptr && OurHandles().Contains(static_cast<const FTS*>(sp));
}

FTS* AsFts(void* sp) { return static_cast<FTS*>(sp); }

// fts_open and fts64_open (Stream and Entry: FTS/FTSENT or FTS64/FTSENT64, one layout).
template <typename Stream, typename Entry>
Stream* Open(const char* name, char* const* argv, int options,
             int (*compar)(const Entry**, const Entry**)) {
  if (!AnyInGkfs(argv)) {
    using Real = Stream* (*)(char* const*, int, int (*)(const Entry**, const Entry**));
    static const auto real = NextSymbol<Real>(name);  // one name per instantiation
    return real(argv, options, compar);
  }
  FTS* sp = fts::Open(argv, options, reinterpret_cast<fts::Compare>(compar));
  if (sp != nullptr) OurHandles().Add(sp);
  return reinterpret_cast<Stream*>(sp);
}

}  // namespace

extern "C" {

FTS* fts_open(char* const* argv, int options, int (*compar)(const FTSENT**, const FTSENT**)) {
  return Open<FTS, FTSENT>("fts_open", argv, options, compar);
}
FTS64* fts64_open(char* const* argv, int options,
                  int (*compar)(const FTSENT64**, const FTSENT64**)) {
  return Open<FTS64, FTSENT64>("fts64_open", argv, options, compar);
}

FTSENT* fts_read(FTS* sp) {
  static const auto real = NextSymbol<decltype(&::fts_read)>("fts_read");
  return Ours(sp) ? fts::Read(sp) : real(sp);
}
FTSENT64* fts64_read(FTS64* sp) {
  static const auto real = NextSymbol<decltype(&::fts64_read)>("fts64_read");
  return Ours(sp) ? reinterpret_cast<FTSENT64*>(fts::Read(AsFts(sp))) : real(sp);
}

FTSENT* fts_children(FTS* sp, int instr) {
  static const auto real = NextSymbol<decltype(&::fts_children)>("fts_children");
  return Ours(sp) ? fts::Children(sp, instr) : real(sp, instr);
}
FTSENT64* fts64_children(FTS64* sp, int instr) {
  static const auto real = NextSymbol<decltype(&::fts64_children)>("fts64_children");
  return Ours(sp) ? reinterpret_cast<FTSENT64*>(fts::Children(AsFts(sp), instr))
                  : real(sp, instr);
}

int fts_set(FTS* sp, FTSENT* p, int instr) noexcept {
  static const auto real = NextSymbol<decltype(&::fts_set)>("fts_set");
  return Ours(sp) ? fts::Set(sp, p, instr) : real(sp, p, instr);
}
int fts64_set(FTS64* sp, FTSENT64* p, int instr) noexcept {
  static const auto real = NextSymbol<decltype(&::fts64_set)>("fts64_set");
  return Ours(sp) ? fts::Set(AsFts(sp), reinterpret_cast<FTSENT*>(p), instr)
                  : real(sp, p, instr);
}

int fts_close(FTS* sp) {
  static const auto real = NextSymbol<decltype(&::fts_close)>("fts_close");
  return sp != nullptr && OurHandles().Remove(sp) ? fts::Close(sp) : real(sp);
}
int fts64_close(FTS64* sp) {
  static const auto real = NextSymbol<decltype(&::fts64_close)>("fts64_close");
  return sp != nullptr && OurHandles().Remove(AsFts(sp)) ? fts::Close(AsFts(sp)) : real(sp);
}

}  // extern "C"
