// Memory the application passes by pointer (paths, structs, result buffers) is checked
// before the library reads or writes it: a bad pointer gives EFAULT, as the kernel gives,
// instead of a crash inside the library. The library must often read a path to decide
// whether a call is gkfs's or the kernel's, so even calls on kernel paths are checked here;
// the kernel then checks again.
//
// Memory is checked by page (4096 bytes, the smallest page Linux uses), one system call per
// page: rt_sigprocmask(<invalid how>, page, NULL, 8) copies 8 bytes of the page in before it
// looks at `how`, so it answers EFAULT for memory the process cannot read (unmapped, or
// PROT_NONE) and EINVAL, changing nothing, for memory it can. A path within one page costs
// one such call (~0.1 µs). Safe in a vfork child; errno is kept.
#pragma once

#include <cstddef>

namespace gkfs::preload::caller {

// 0 when `path` is a readable NUL-terminated string shorter than PATH_MAX, its length in
// *len; EFAULT when a byte up to its NUL cannot be read (NULL included); ENAMETOOLONG when
// the first PATH_MAX bytes hold no NUL. The kernel's getname() answers the same.
int CheckPath(const char* path, size_t* len);

// True when the n bytes at p can be read (n == 0: always).
bool Readable(const void* p, size_t n);

// True when the n bytes at p can be written. Checks by writing one byte (random) into each
// page: REQUIRES that the caller writes all n bytes next, and only calls this once the call
// is known to succeed otherwise (the kernel too copies results out last).
bool WillWrite(void* p, size_t n);

// Checks an array of pointers ending with NULL (argv, envp) and the first `prefix` bytes of
// each string in it (or up to its NUL): false if any of that memory cannot be read.
bool StringArrayReadable(const char* const* array, size_t prefix);

}  // namespace gkfs::preload::caller
