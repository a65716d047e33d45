/* Walks paths with fts(3) and prints what it sees, one JSON array per line, for
 * tests/test_preload_fts.py (the same walk of a gkfs tree under the preload library and of a
 * local tree with glibc's fts must print the same). Built with -D_FILE_OFFSET_BITS=64 it
 * calls the fts64_* functions.
 *
 *   fts_walk <dir> <ext> <options> <actions> <path>...
 *
 * chdir(dir) first, so relative paths name the same thing in both trees; <ext> (a directory
 * outside the tree) is printed as "EXT", <dir> as ".". <options> is fts_open's, as a number.
 * <actions>, letters:
 *   o / r  compar: names ascending / descending (else readdir order: the test sorts)
 *   i      fts_children before the first fts_read (the roots)
 *   c / n  fts_children (n: FTS_NAMEONLY) of every directory at its pre-order visit, with
 *          FTS_SKIP set on an entry named "skip" and FTS_FOLLOW on one named "ld"
 *   s      fts_set(FTS_SKIP) on a directory named "skip" at its pre-order visit
 *   f      fts_set(FTS_FOLLOW) on links named "ld" and "ext" when read
 *   a      fts_set(FTS_AGAIN) on a file named "top" (once)
 *   u      walk as user and group 65534 (nobody), after the chdir
 *
 * Lines: ["read", path, accpath, name, info, level, errno, parent name, parent level,
 * cycle name or null, file type or -1, size or -1, accpath usable, cwd or null, number],
 * ["children", path, [[name, info, level, accpath], ...], errno], ["end", errno],
 * ["open", errno] when fts_open fails, ["set", instr, result, errno] when fts_set fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <fts.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char* dir_arg;
static const char* ext_arg;
static char dir_real[4096];
static int options;
static const char* actions;

static int has(char action) { return strchr(actions, action) != NULL; }

/* s as a JSON string, with dir and ext replaced by "." and "EXT". */
static void put_path(const char* s) {
  if (s == NULL) {
    fputs("null", stdout);
    return;
  }
  size_t d = strlen(dir_real), e = strlen(ext_arg);
  putchar('"');
  if (strncmp(s, dir_real, d) == 0 && (s[d] == '/' || s[d] == '\0')) {
    putchar('.');
    s += d;
  } else if (strncmp(s, ext_arg, e) == 0 && (s[e] == '/' || s[e] == '\0')) {
    fputs("EXT", stdout);
    s += e;
  }
  for (; *s; ++s) {
    if (*s == '"' || *s == '\\') putchar('\\');
    putchar(*s);
  }
  putchar('"');
}

static int by_name(const FTSENT** a, const FTSENT** b) {
  return strcmp((*a)->fts_name, (*b)->fts_name);
}
static int by_name_reversed(const FTSENT** a, const FTSENT** b) { return -by_name(a, b); }

static int stat_filled(const FTSENT* p) {
  if (options & FTS_NOSTAT) return 0; /* glibc leaves fts_statp unset */
  return p->fts_info != FTS_NS && p->fts_info != FTS_NSOK && p->fts_info != FTS_DNR &&
         p->fts_info != FTS_ERR;
}

static void print_entry(const FTSENT* p) {
  int filled = stat_filled(p);
  int is_file = p->fts_info == FTS_F || p->fts_info == FTS_SL || p->fts_info == FTS_SLNONE;
  struct stat st;
  int usable = p->fts_info == FTS_NSOK || p->fts_info == FTS_NS
                   ? -1
                   : lstat(p->fts_accpath, &st) == 0;
  int with_errno = p->fts_info == FTS_NS || p->fts_info == FTS_DNR || p->fts_info == FTS_ERR;
  fputs("[\"read\", ", stdout);
  put_path(p->fts_path);
  fputs(", ", stdout);
  put_path(p->fts_accpath);
  fputs(", ", stdout);
  put_path(p->fts_name);
  printf(", %d, %d, %d, ", p->fts_info, p->fts_level, with_errno ? p->fts_errno : 0);
  put_path(p->fts_parent->fts_name);
  printf(", %d, ", p->fts_parent->fts_level);
  put_path(p->fts_info == FTS_DC ? p->fts_cycle->fts_name : NULL);
  printf(", %d, %ld, %d, ", filled ? (int)(p->fts_statp->st_mode & S_IFMT) : -1,
         filled && is_file ? (long)p->fts_statp->st_size : -1L, usable);
  char cwd[4096];
  put_path((options & FTS_NOCHDIR) ? NULL : getcwd(cwd, sizeof cwd));
  printf(", %ld]\n", p->fts_number);
}

static void set(FTS* fts, FTSENT* p, int instr) {
  if (fts_set(fts, p, instr) != 0) printf("[\"set\", %d, 1, %d]\n", instr, errno);
}

static void print_children(FTS* fts, const FTSENT* of, FTSENT* list, int error) {
  fputs("[\"children\", ", stdout);
  put_path(of == NULL ? NULL : of->fts_path);
  fputs(", [", stdout);
  for (FTSENT* c = list; c != NULL; c = c->fts_link) {
    fputs(c == list ? "[" : ", [", stdout);
    put_path(c->fts_name);
    printf(", %d, %d, ", c->fts_info, c->fts_level);
    put_path(c->fts_accpath);
    putchar(']');
    if (strcmp(c->fts_name, "skip") == 0) set(fts, c, FTS_SKIP);
    if (strcmp(c->fts_name, "ld") == 0) set(fts, c, FTS_FOLLOW);
  }
  printf("], %d]\n", error);
}

static void visit(FTS* fts, FTSENT* p, int* again_done) {
  print_entry(p);
  const char* name = p->fts_name;
  if (p->fts_info == FTS_D) {
    p->fts_number = 100 + p->fts_level; /* seen again at FTS_DP */
    if (has('s') && strcmp(name, "skip") == 0) set(fts, p, FTS_SKIP);
    if (has('c') || has('n')) {
      FTSENT* list = fts_children(fts, has('n') ? FTS_NAMEONLY : 0);
      print_children(fts, p, list, list == NULL ? errno : 0);
    }
  }
  if (has('f') && p->fts_info == FTS_SL && (!strcmp(name, "ld") || !strcmp(name, "ext"))) {
    set(fts, p, FTS_FOLLOW);
  }
  if (has('a') && p->fts_info == FTS_F && !strcmp(name, "top") && !*again_done) {
    *again_done = 1;
    set(fts, p, FTS_AGAIN);
  }
}

int main(int argc, char** argv) {
  if (argc < 6) return 2;
  dir_arg = argv[1];
  ext_arg = argv[2];
  options = atoi(argv[3]);
  actions = argv[4];
  if (chdir(dir_arg) != 0 || getcwd(dir_real, sizeof dir_real) == NULL) return 3;
  if (has('u') && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
    return 4;
  }
  int (*compar)(const FTSENT**, const FTSENT**) =
      has('o') ? by_name : has('r') ? by_name_reversed : NULL;
  FTS* fts = fts_open(argv + 5, options, compar);
  if (fts == NULL) {
    printf("[\"open\", %d]\n", errno);
    return 0;
  }
  if (has('i')) {
    FTSENT* roots = fts_children(fts, 0);
    print_children(fts, NULL, roots, roots == NULL ? errno : 0);
  }
  int again_done = 0;
  FTSENT* p;
  while ((p = fts_read(fts)) != NULL) visit(fts, p, &again_done);
  printf("[\"end\", %d]\n", errno);
  char cwd[4096];
  int closed = fts_close(fts);
  fputs("[\"closed\", ", stdout);
  printf("%d, ", closed);
  put_path(getcwd(cwd, sizeof cwd));
  puts("]");
  return 0;
}
