// stdio over gkfs descriptors.
//
// glibc's FILE streams call the kernel through internal entry points that symbol
// interposition never sees, so a FILE on a gkfs descriptor is a fopencookie() stream whose
// read/write/seek/close go through our hooks. This covers fopen/fdopen on gkfs paths and,
// because shells redirect with open + dup2, the standard streams: while descriptor 0, 1 or 2 is
// a gkfs file, stdin/stdout/stderr point to a cookie stream on that descriptor, and back to
// glibc's own stream when it is not (so `echo hi > $MNT/f` in bash, or `/bin/echo` exec'd with
// a gkfs stdout, write to gkfs).
//
// Thread-safe.
#pragma once

#include <cstdio>

namespace gkfs::preload::streams {

// A stream over `fd` (a gkfs descriptor) that closes fd when closed. nullptr and errno on
// failure.
FILE* Open(int fd, const char* mode);
// If `stream` is one of ours, stores its descriptor in *fd.
bool Fileno(FILE* stream, int* fd);

// Call before a standard descriptor (0-2) is closed or replaced, and after, respectively.
void BeforeStdFdChange(int fd);
void AfterStdFdChange(int fd);

// Start-up: standard descriptors inherited as gkfs files.
void AttachInherited();
// Library shutdown: flushes every cookie stream while the client still works.
void FlushAll();

void LockForFork();
void UnlockAfterFork();

}  // namespace gkfs::preload::streams
