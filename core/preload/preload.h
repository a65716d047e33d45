// The process-wide state of libgkfs_intercept.so: configuration read from the environment at
// load time, logging, the lazily connected Client and the re-entrancy guard.
//
// Nothing here has a non-trivial destructor: objects live on the heap and are never freed,
// because stdio streams are flushed by exit() after every library destructor has run.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>

#include "gkfs/client.h"

namespace gkfs::preload {

enum class LogLevel : int { kNone = 0, kErrors = 1, kInfo = 2, kDebug = 3 };

struct Config {
  std::string mountdir;    // normalised absolute path, no trailing slash (LIBGKFS_MOUNTDIR)
  std::string hosts_file;  // absolute (LIBGKFS_HOSTS_FILE, relative to the start-up cwd)
  int timeout_ms = 0;      // 0: the Client's default (LIBGKFS_TIMEOUT_MS)
  int down_recheck_ms = 0;     // 0: the Client's default (LIBGKFS_DOWN_RECHECK_MS)
  int recheck_timeout_ms = 0;  // 0: the Client's default (LIBGKFS_RECHECK_TIMEOUT_MS)
  std::string secret_file;  // absolute (LIBGKFS_SECRET_FILE); empty: <hosts file>.secret
  // Forwarding mode: the map file (absolute, LIBGKFS_FORWARDING_MAP_FILE; empty: off), the
  // name this host has in it (LIBGKFS_HOSTNAME; empty: gethostname) and the application id
  // sent with every request (LIBGKFS_APP_ID, else SLURM_JOB_ID, else 0).
  std::string forwarding_map_file;
  std::string hostname;
  uint32_t app_id = 0;
  LogLevel log_level = LogLevel::kErrors;
  // Bytes a sequential small read fetches ahead (LIBGKFS_READ_AHEAD; 0: off). read_ahead.h
  // says what it trades.
  size_t read_ahead = 0;
};

// The configuration; initialises it on first use (a hook may run before our constructor).
const Config& config();

void Log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Calls made while a guard is alive on this thread (the library's own calls into the client,
// UCX or libc) go straight to libc.
class ReentryGuard {
 public:
  ReentryGuard() { ++depth_; }
  ~ReentryGuard() { --depth_; }
  ReentryGuard(const ReentryGuard&) = delete;
  ReentryGuard& operator=(const ReentryGuard&) = delete;
  static bool active() { return depth_ > 0; }

 private:
  static thread_local int depth_ __attribute__((tls_model("initial-exec")));
};

// Held around every use of the Client (shared: operations run concurrently). fork() takes it
// exclusively, waits for operations in flight, and closes the Client: a child forked from a
// process with a live UCX context cannot start UCX again (UCX's async thread exists only in
// the parent), so parent and child both reconnect on their next access instead.
class ClientUse {
 public:
  ClientUse();
  ~ClientUse();
  ClientUse(const ClientUse&) = delete;
  ClientUse& operator=(const ClientUse&) = delete;
};

// The connected Client, connecting on first use. On failure returns nullptr and sets *status
// (EHOSTDOWN or EIO; the cause is logged). REQUIRES: a ReentryGuard and a ClientUse are alive.
Client* AcquireClient(Status* status);

// True in the child of a vfork() (e.g. Python's subprocess) before it execs: it shares our
// memory but not our descriptor table, so hooks there must change the kernel's state only,
// never this library's. Costs a getpid() system call.
bool InVforkChild();

// Descriptors the library creates for itself live at or above this number, away from the
// ones programs choose by hand (hooks_internal.cpp). RelocateInternalFd moves fd there and
// returns the new number (or fd, if it cannot).
int InternalFdFloor();
int RelocateInternalFd(int fd);

// The file system's chunk size (st_blksize), known once a Client has connected; else 4096.
uint64_t ChunkSize();

// Sets errno from a failed Status and returns -1. Codes that are not errno values become EIO.
int FailWith(const Status& status);
inline int FailWith(int error) {
  errno = error;
  return -1;
}

// Hides a pointer's provenance from the optimiser: libc declares hooked parameters nonnull,
// which would otherwise let the compiler delete our NULL checks.
template <typename T>
inline T* Launder(T* p) {
  asm volatile("" : "+r"(p));
  return p;
}

}  // namespace gkfs::preload
