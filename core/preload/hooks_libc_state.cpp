// libc state the application owns and the library's own work must not disturb. strtok(3)
// keeps its place in a hidden static: UCX's configuration parser (libucs) calls strtok while
// this library starts the client, which happens inside whatever call first reaches gkfs, e.g.
// in the middle of the application's own strtok loop (io500 walks its data directory so).
// Calls made by the library's own work (a ReentryGuard is alive on the thread) get a place
// of their own; the application's keep glibc's semantics (one place per process).
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "preload/libc.h"
#include "preload/open_registry.h"
#include "preload/preload.h"

using namespace gkfs::preload;

namespace {
char* g_application_place = nullptr;                // strtok's place for the application
thread_local char* t_library_place = nullptr;       // and for the library's own calls
}  // namespace

extern "C" {

char* strtok(char* s, const char* delim) {
  return strtok_r(s, delim, ReentryGuard::active() ? &t_library_place : &g_application_place);
}

// _exit skips the library's destructor, which releases the process's open files on the
// daemons (open_registry.h): a shell (dash) ends so. Not in a vfork child: the releases it
// would see are its parent's.
void _exit(int status) {
  static const auto real = NextSymbol<void (*)(int)>("_exit");
  if (!InVforkChild() && !ReentryGuard::active()) opens::ReleaseAll();
  real(status);
  __builtin_unreachable();
}

void _Exit(int status) {
  static const auto real = NextSymbol<void (*)(int)>("_Exit");
  if (!InVforkChild() && !ReentryGuard::active()) opens::ReleaseAll();
  real(status);
  __builtin_unreachable();
}

}  // extern "C"
