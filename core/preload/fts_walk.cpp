// The walk behind fts_walk.h. Its shape is glibc's (io/fts.c), because programs depend on
// its details: sp->fts_cur is the entry last returned; its fts_link is the next sibling and
// its fts_parent the directory above (an entry of level -1 above the roots). A sibling is
// freed when the walk moves past it, a directory after its post-order visit. sp->fts_path
// is one buffer into which every entry's fts_path points, holding the path of the entry last
// returned (each entry keeps its own length); it is allocated once at the largest size an
// FTSENT can describe, so it never moves. Calls go through the library's own entry points.
#include "preload/hooks.h"

#include "preload/fts_walk.h"

#include <dirent.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace gkfs::preload::fts {
namespace {

constexpr int kPathBuffer = USHRT_MAX;  // an FTSENT's fts_pathlen is an unsigned short

enum class Build { kRead, kChildren, kNames };  // fts_read, fts_children, FTS_NAMEONLY

bool IsSet(const FTS* sp, int option) { return (sp->fts_options & option) != 0; }

bool IsDot(const char* n) {
  return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

// Where "/name" of an entry below p goes in the path buffer (no "//" after a root "a/").
int AppendAt(const FTSENT* p) {
  return p->fts_path[p->fts_pathlen - 1] == '/' ? p->fts_pathlen - 1 : p->fts_pathlen;
}

// One allocation: the entry, its name and an aligned stat buffer, all zeroed.
FTSENT* NewEntry(FTS* sp, const char* name, size_t len) {
  const size_t name_end = offsetof(FTSENT, fts_name) + len + 1;
  const size_t stat_at = (name_end + alignof(struct stat) - 1) & ~(alignof(struct stat) - 1);
  char* raw = static_cast<char*>(calloc(1, stat_at + sizeof(struct stat)));
  if (raw == nullptr) return nullptr;
  auto* p = reinterpret_cast<FTSENT*>(raw);
  std::memcpy(raw + offsetof(FTSENT, fts_name), name, len);
  p->fts_namelen = static_cast<unsigned short>(len);
  p->fts_statp = reinterpret_cast<struct stat*>(raw + stat_at);
  p->fts_path = sp->fts_path;
  p->fts_instr = FTS_NOINSTR;
  return p;
}

void FreeList(FTSENT* head) {
  while (FTSENT* p = head) {
    head = p->fts_link;
    free(p);
  }
}

// fts_info from stat (logical walk or follow) or lstat of p->fts_accpath; a directory also
// gets fts_dev, fts_ino, fts_nlink and is FTS_DC when an ancestor is the same directory.
unsigned short StatEntry(const FTS* sp, FTSENT* p, bool follow) {
  struct stat* st = p->fts_statp;
  if (IsSet(sp, FTS_LOGICAL) || follow) {
    if (stat(p->fts_accpath, st) != 0) {
      int error = errno;
      if (lstat(p->fts_accpath, st) == 0) return errno = 0, FTS_SLNONE;
      p->fts_errno = error;
      std::memset(st, 0, sizeof(*st));
      return FTS_NS;
    }
  } else if (lstat(p->fts_accpath, st) != 0) {
    p->fts_errno = errno;
    std::memset(st, 0, sizeof(*st));
    return FTS_NS;
  }
  if (S_ISDIR(st->st_mode)) {
    p->fts_dev = st->st_dev;
    p->fts_ino = st->st_ino;
    p->fts_nlink = st->st_nlink;
    if (IsDot(p->fts_name)) return FTS_DOT;
    for (FTSENT* t = p->fts_parent; t->fts_level >= FTS_ROOTLEVEL; t = t->fts_parent) {
      if (t->fts_ino == p->fts_ino && t->fts_dev == p->fts_dev) {
        p->fts_cycle = t;
        return FTS_DC;
      }
    }
    return FTS_D;
  }
  if (S_ISLNK(st->st_mode)) return FTS_SL;
  return S_ISREG(st->st_mode) ? FTS_F : FTS_DEFAULT;
}

// The list ordered by fts_compar (qsort, as glibc); unchanged when out of memory.
FTSENT* Sort(FTS* sp, FTSENT* head, int n) {
  if (n > sp->fts_nitems) {
    void* grown = realloc(sp->fts_array, sizeof(FTSENT*) * static_cast<size_t>(n + 40));
    if (grown == nullptr) return head;
    sp->fts_array = static_cast<FTSENT**>(grown);
    sp->fts_nitems = n + 40;
  }
  FTSENT** a = sp->fts_array;
  for (FTSENT* p = head; p != nullptr; p = p->fts_link) *a++ = p;
  a = sp->fts_array;
  qsort(a, static_cast<size_t>(n), sizeof(FTSENT*), sp->fts_compar);
  for (int i = 0; i + 1 < n; ++i) a[i]->fts_link = a[i + 1];
  a[n - 1]->fts_link = nullptr;
  return a[0];
}

// chdir into the directory p describes, through fd or else path, refusing one that is not
// p any more (ENOENT, as glibc). Nothing to do with FTS_NOCHDIR.
int ChangeDir(const FTS* sp, const FTSENT* p, int fd, const char* path) {
  if (IsSet(sp, FTS_NOCHDIR)) return 0;
  int dir = fd >= 0 ? fd : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -1;
  struct stat st {};
  int result = fstat(dir, &st);
  if (result == 0 && (st.st_dev != p->fts_dev || st.st_ino != p->fts_ino)) {
    errno = ENOENT;
    result = -1;
  }
  if (result == 0) result = fchdir(dir);
  int saved = errno;
  if (fd < 0) close(dir);
  errno = saved;
  return result;
}

// Back to the cwd of fts_open (FTS_NOCHDIR: nothing to do).
int ChangeToStart(const FTS* sp) {
  return IsSet(sp, FTS_NOCHDIR) ? 0 : fchdir(sp->fts_rfd);
}

// Stops the walk for good: fts_read and fts_children return nullptr from now on.
FTSENT* Stop(FTS* sp) {
  sp->fts_options |= FTS_STOP;
  return nullptr;
}

// An entry read from a directory: fts_info without a stat when none is wanted (names only,
// or FTS_NOSTAT in a physical walk for what readdir says is no directory).
void Classify(FTS* sp, FTSENT* p, Build type, unsigned char d_type, char* name_slot) {
  bool nostat = IsSet(sp, FTS_NOSTAT) && IsSet(sp, FTS_PHYSICAL);
  bool no_dir = d_type != DT_DIR && d_type != DT_UNKNOWN;
  p->fts_accpath = IsSet(sp, FTS_NOCHDIR) ? p->fts_path : p->fts_name;
  if (type == Build::kNames || (nostat && no_dir)) {
    p->fts_info = FTS_NSOK;
    return;
  }
  if (IsSet(sp, FTS_NOCHDIR)) std::memcpy(name_slot, p->fts_name, p->fts_namelen + 1u);
  p->fts_info = StatEntry(sp, p, false);
}

// The entries of `dir` as a list (nullptr when empty), *count of them; -1 when the walk
// must stop (errno set).
int ReadEntries(FTS* sp, DIR* dir, Build type, FTSENT** head, int* count) {
  FTSENT* cur = sp->fts_cur;
  const int at = AppendAt(cur) + 1;  // the names' offset in the path buffer
  if (IsSet(sp, FTS_NOCHDIR)) sp->fts_path[at - 1] = '/';
  FTSENT* tail = nullptr;
  while (struct dirent64* d = readdir64(dir)) {
    if (!IsSet(sp, FTS_SEEDOT) && IsDot(d->d_name)) continue;
    size_t len = std::strlen(d->d_name);
    FTSENT* p = at + len < kPathBuffer ? NewEntry(sp, d->d_name, len) : nullptr;
    if (p == nullptr) {
      if (at + len >= kPathBuffer) errno = ENAMETOOLONG;
      return -1;
    }
    p->fts_level = static_cast<short>(cur->fts_level + 1);
    p->fts_parent = cur;
    p->fts_pathlen = static_cast<unsigned short>(at + len);
    Classify(sp, p, type, d->d_type, sp->fts_path + at);
    (tail == nullptr ? *head : tail->fts_link) = p;
    tail = p;
    ++*count;
  }
  // As glibc: the buffer keeps the directory's path, with its '/' when entries were read.
  if (IsSet(sp, FTS_NOCHDIR)) sp->fts_path[*count == 0 ? at - 1 : at] = '\0';
  return 0;
}

// fts_build: reads the directory sp->fts_cur (chdir'ing into it when fts_read will descend),
// returns its entries sorted, or nullptr: unreadable (FTS_DNR for fts_read), empty (FTS_DP
// for fts_read), or an error that stops the walk (FTS_STOP set).
FTSENT* BuildList(FTS* sp, Build type) {
  FTSENT* cur = sp->fts_cur;
  DIR* dir = opendir(cur->fts_accpath);
  if (dir == nullptr) {
    if (type == Build::kRead) cur->fts_info = FTS_DNR, cur->fts_errno = errno;
    return nullptr;
  }
  bool inside = false;  // the cwd is now the directory
  if (type != Build::kNames) {
    if (ChangeDir(sp, cur, dirfd(dir), nullptr) != 0) {
      if (type == Build::kRead) cur->fts_errno = errno;
      cur->fts_flags |= FTS_DONTCHDIR;
      closedir(dir);
      dir = nullptr;
    } else {
      inside = true;
    }
  }
  const bool listed = dir != nullptr;
  FTSENT* head = nullptr;
  int count = 0;
  int read = dir == nullptr ? 0 : ReadEntries(sp, dir, type, &head, &count);
  if (dir != nullptr) {
    int saved = errno;
    closedir(dir);
    errno = saved;
  }
  if (read != 0) {
    FreeList(head);
    cur->fts_info = FTS_ERR;
    return Stop(sp);
  }
  bool back = inside && (type == Build::kChildren || count == 0);
  if (back && (cur->fts_level == FTS_ROOTLEVEL ? ChangeToStart(sp)
                                              : ChangeDir(sp, cur->fts_parent, -1, "..")) != 0) {
    FreeList(head);
    cur->fts_info = FTS_ERR;
    return Stop(sp);
  }
  if (count == 0) {
    if (type == Build::kRead) cur->fts_info = FTS_DP;
    if (listed) errno = 0;  // fts_children: an empty directory, no error
    return nullptr;
  }
  return sp->fts_compar != nullptr && count > 1 ? Sort(sp, head, count) : head;
}

// fts_load: a root about to be returned; its path goes into the buffer, its name becomes
// the last component (a root "a/" gets the name "" as in glibc, "/" stays "/").
void LoadRoot(FTS* sp, FTSENT* p) {
  std::memmove(sp->fts_path, p->fts_name, p->fts_namelen + 1u);
  p->fts_pathlen = p->fts_namelen;
  char* slash = std::strrchr(p->fts_name, '/');
  if (slash != nullptr && (slash != p->fts_name || slash[1] != '\0')) {
    size_t len = std::strlen(slash + 1);
    std::memmove(p->fts_name, slash + 1, len + 1);
    p->fts_namelen = static_cast<unsigned short>(len);
  }
  p->fts_accpath = p->fts_path = sp->fts_path;
  sp->fts_dev = p->fts_dev;
}

// Follows the link p (FTS_FOLLOW); without FTS_NOCHDIR a directory reached so keeps a
// descriptor of the cwd to come back through.
void Follow(FTS* sp, FTSENT* p) {
  p->fts_info = StatEntry(sp, p, true);
  if (p->fts_info != FTS_D || IsSet(sp, FTS_NOCHDIR)) return;
  p->fts_symfd = open(".", O_RDONLY | O_CLOEXEC);
  if (p->fts_symfd < 0) {
    p->fts_errno = errno;
    p->fts_info = FTS_ERR;
  } else {
    p->fts_flags |= FTS_SYMFOLLOW;
  }
}

// p, below its parent, with its path written into the buffer.
FTSENT* WithPath(FTS* sp, FTSENT* p) {
  char* at = sp->fts_path + AppendAt(p->fts_parent);
  *at++ = '/';
  std::memcpy(at, p->fts_name, p->fts_namelen + 1u);
  return p;
}

// A directory visited in pre-order is left: into its entries, or back as FTS_DP when
// skipped, on another device (FTS_XDEV), or empty; FTS_DNR when unreadable.
FTSENT* Descend(FTS* sp, FTSENT* p, int instr) {
  if (instr == FTS_SKIP || (IsSet(sp, FTS_XDEV) && p->fts_dev != sp->fts_dev)) {
    if ((p->fts_flags & FTS_SYMFOLLOW) != 0) close(p->fts_symfd);
    FreeList(sp->fts_child);
    sp->fts_child = nullptr;
    p->fts_info = FTS_DP;
    return p;
  }
  if (sp->fts_child != nullptr && IsSet(sp, FTS_NAMEONLY)) {  // names only: read again
    sp->fts_options &= ~FTS_NAMEONLY;
    FreeList(sp->fts_child);
    sp->fts_child = nullptr;
  }
  if (sp->fts_child != nullptr) {  // listed by fts_children: only the chdir is left
    if (ChangeDir(sp, p, -1, p->fts_accpath) != 0) {
      p->fts_errno = errno;
      p->fts_flags |= FTS_DONTCHDIR;
      for (FTSENT* c = sp->fts_child; c != nullptr; c = c->fts_link) {
        c->fts_accpath = c->fts_parent->fts_accpath;
      }
    }
  } else if ((sp->fts_child = BuildList(sp, Build::kRead)) == nullptr) {
    return IsSet(sp, FTS_STOP) ? nullptr : p;
  }
  FTSENT* first = sp->fts_child;
  sp->fts_child = nullptr;
  sp->fts_cur = first;
  return WithPath(sp, first);
}

// All entries of a directory were visited: back up to it, for its post-order visit.
FTSENT* Ascend(FTS* sp, FTSENT* last) {
  FTSENT* p = last->fts_parent;
  sp->fts_cur = p;
  free(last);
  if (p->fts_level == FTS_ROOTPARENTLEVEL) {  // the end
    free(p);
    sp->fts_cur = nullptr;
    errno = 0;
    return nullptr;
  }
  sp->fts_path[p->fts_pathlen] = '\0';
  if (p->fts_level == FTS_ROOTLEVEL) {
    if (ChangeToStart(sp) != 0) return Stop(sp);
  } else if ((p->fts_flags & FTS_SYMFOLLOW) != 0) {
    int failed = IsSet(sp, FTS_NOCHDIR) ? 0 : fchdir(p->fts_symfd);
    int saved = errno;
    close(p->fts_symfd);
    errno = saved;
    if (failed != 0) return Stop(sp);
  } else if ((p->fts_flags & FTS_DONTCHDIR) == 0 &&
             ChangeDir(sp, p->fts_parent, -1, "..") != 0) {
    return Stop(sp);
  }
  p->fts_info = p->fts_errno != 0 ? FTS_ERR : FTS_DP;
  return p;
}

// The entry after p: its next sibling (skipping FTS_SKIP, following FTS_FOLLOW), the next
// root, or the directory above.
FTSENT* Next(FTS* sp, FTSENT* p) {
  for (FTSENT* next = p->fts_link; next != nullptr; next = p->fts_link) {
    sp->fts_cur = next;
    free(p);
    p = next;
    if (p->fts_level == FTS_ROOTLEVEL) {
      if (ChangeToStart(sp) != 0) return Stop(sp);
      LoadRoot(sp, p);
      return p;
    }
    if (p->fts_instr == FTS_SKIP) continue;
    if (p->fts_instr == FTS_FOLLOW) {
      Follow(sp, p);
      p->fts_instr = FTS_NOINSTR;
    }
    return WithPath(sp, p);
  }
  return Ascend(sp, p);
}

// A stream without entries: its path buffer, options (FTS_LOGICAL implies FTS_NOCHDIR).
FTS* NewStream(int options, Compare compar) {
  auto* sp = static_cast<FTS*>(calloc(1, sizeof(FTS)));
  char* path = static_cast<char*>(malloc(kPathBuffer + 1));
  if (sp == nullptr || path == nullptr) {
    free(sp);
    free(path);
    return nullptr;
  }
  sp->fts_path = path;
  sp->fts_pathlen = kPathBuffer + 1;
  sp->fts_compar = reinterpret_cast<int (*)(const void*, const void*)>(compar);
  sp->fts_options = options | ((options & FTS_LOGICAL) != 0 ? FTS_NOCHDIR : 0);
  return sp;
}

// fts_open failing: frees what it built, nullptr with errno.
FTS* Discard(FTS* sp, FTSENT* roots, FTSENT* parent, int error) {
  FreeList(roots);
  free(parent);
  free(sp->fts_cur);
  free(sp->fts_path);
  free(sp);
  errno = error;
  return nullptr;
}

}  // namespace

FTS* Open(char* const* argv, int options, Compare compar) {
  if ((options & ~FTS_OPTIONMASK) != 0) return errno = EINVAL, nullptr;
  FTS* sp = NewStream(options, compar);
  if (sp == nullptr) return errno = ENOMEM, nullptr;
  FTSENT* parent = NewEntry(sp, "", 0);
  sp->fts_cur = NewEntry(sp, "", 0);  // before the first root: fts_read starts from it
  if (parent == nullptr || sp->fts_cur == nullptr) return Discard(sp, nullptr, parent, ENOMEM);
  parent->fts_level = FTS_ROOTPARENTLEVEL;
  FTSENT *roots = nullptr, *tail = nullptr;
  int count = 0;
  for (; *argv != nullptr; ++argv, ++count) {
    size_t len = std::strlen(*argv);
    if (len == 0) return Discard(sp, roots, parent, ENOENT);
    if (len >= kPathBuffer) return Discard(sp, roots, parent, ENAMETOOLONG);
    FTSENT* p = NewEntry(sp, *argv, len);
    if (p == nullptr) return Discard(sp, roots, parent, ENOMEM);
    p->fts_level = FTS_ROOTLEVEL;
    p->fts_parent = parent;
    p->fts_accpath = p->fts_name;
    p->fts_info = StatEntry(sp, p, IsSet(sp, FTS_COMFOLLOW));
    if (p->fts_info == FTS_DOT) p->fts_info = FTS_D;  // "." and ".." named as roots
    (tail == nullptr ? roots : tail->fts_link) = p;
    tail = p;
  }
  if (compar != nullptr && count > 1) roots = Sort(sp, roots, count);
  sp->fts_cur->fts_link = roots;
  sp->fts_cur->fts_info = FTS_INIT;
  if (!IsSet(sp, FTS_NOCHDIR) && (sp->fts_rfd = open(".", O_RDONLY | O_CLOEXEC)) < 0) {
    sp->fts_options |= FTS_NOCHDIR;  // as glibc: walk without chdir rather than fail
  }
  return sp;
}

FTSENT* Read(FTS* sp) {
  if (sp->fts_cur == nullptr || IsSet(sp, FTS_STOP)) return nullptr;
  FTSENT* p = sp->fts_cur;
  int instr = p->fts_instr;
  p->fts_instr = FTS_NOINSTR;
  if (instr == FTS_AGAIN) {
    p->fts_info = StatEntry(sp, p, false);
    return p;
  }
  if (instr == FTS_FOLLOW && (p->fts_info == FTS_SL || p->fts_info == FTS_SLNONE)) {
    Follow(sp, p);
    return p;
  }
  if (p->fts_info == FTS_D) return Descend(sp, p, instr);
  return Next(sp, p);
}

FTSENT* Children(FTS* sp, int instr) {
  if (instr != 0 && instr != FTS_NAMEONLY) return errno = EINVAL, nullptr;
  FTSENT* p = sp->fts_cur;
  errno = 0;
  if (IsSet(sp, FTS_STOP) || p == nullptr) return nullptr;
  if (p->fts_info == FTS_INIT) return p->fts_link;
  if (p->fts_info != FTS_D) return nullptr;
  FreeList(sp->fts_child);
  sp->fts_child = nullptr;
  Build type = Build::kChildren;
  if (instr == FTS_NAMEONLY) {
    sp->fts_options |= FTS_NAMEONLY;
    type = Build::kNames;
  }
  if (p->fts_level != FTS_ROOTLEVEL || p->fts_accpath[0] == '/' || IsSet(sp, FTS_NOCHDIR)) {
    return sp->fts_child = BuildList(sp, type);
  }
  // A relative root not yet entered: come back to the cwd fts_read expects.
  int here = open(".", O_RDONLY | O_CLOEXEC);
  if (here < 0) return nullptr;
  sp->fts_child = BuildList(sp, type);
  int failed = fchdir(here);
  int saved = errno;
  close(here);
  errno = failed != 0 ? saved : 0;
  return failed != 0 ? nullptr : sp->fts_child;
}

int Set(FTS* /*sp*/, FTSENT* p, int instr) {
  if (instr != 0 && instr != FTS_AGAIN && instr != FTS_FOLLOW && instr != FTS_NOINSTR &&
      instr != FTS_SKIP) {
    errno = EINVAL;
    return 1;
  }
  p->fts_instr = static_cast<unsigned short>(instr);
  return 0;
}

int Close(FTS* sp) {
  if (FTSENT* p = sp->fts_cur) {  // the rest of each level up to the roots' parent
    while (p->fts_level >= FTS_ROOTLEVEL) {
      FTSENT* done = p;
      p = p->fts_link != nullptr ? p->fts_link : p->fts_parent;
      free(done);
    }
    free(p);
  }
  FreeList(sp->fts_child);
  free(sp->fts_array);
  free(sp->fts_path);
  int error = 0;
  if (!IsSet(sp, FTS_NOCHDIR)) {
    error = fchdir(sp->fts_rfd) != 0 ? errno : 0;
    close(sp->fts_rfd);
  }
  free(sp);
  if (error != 0) errno = error;
  return error != 0 ? -1 : 0;
}

}  // namespace gkfs::preload::fts
