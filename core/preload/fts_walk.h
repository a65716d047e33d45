// fts(3) walked by this library, for handles that name gkfs paths (hooks_fts.cpp decides).
// glibc's fts reaches the kernel past every interposed symbol; this one is built on the
// library's own entry points (stat, lstat, opendir, readdir64, open, fchdir), which serve
// gkfs paths and hand kernel paths to libc, and follows glibc's io/fts.c in what the caller
// sees: the FTS and FTSENT layout of <fts.h>, fts_info values, paths, levels, accpaths, the
// working directory without FTS_NOCHDIR, and when returned entries are freed.
//
// A handle belongs to one thread at a time, as glibc's. fts64_* use the same functions: on
// 64-bit Linux FTS64 and FTSENT64 have FTS's and FTSENT's layout.
#pragma once

#include <fts.h>

namespace gkfs::preload::fts {

using Compare = int (*)(const FTSENT**, const FTSENT**);

// fts_open: nullptr with errno (EINVAL for unknown options, ENOENT for an empty path,
// ENAMETOOLONG, ENOMEM). REQUIRES: argv holds at least one path.
FTS* Open(char* const* argv, int options, Compare compar);

// fts_read: the next entry, or nullptr (errno 0 at the end of the walk).
FTSENT* Read(FTS* sp);

// fts_children: the entries of the directory fts_read just returned (FTS_NAMEONLY: names
// only), the roots before the first fts_read; nullptr with errno 0 when there are none.
FTSENT* Children(FTS* sp, int instr);

// fts_set: FTS_AGAIN, FTS_FOLLOW, FTS_SKIP or FTS_NOINSTR for p's next visit; 1 with EINVAL.
int Set(FTS* sp, FTSENT* p, int instr);

// fts_close: frees everything; without FTS_NOCHDIR back to the cwd of fts_open.
int Close(FTS* sp);

}  // namespace gkfs::preload::fts
