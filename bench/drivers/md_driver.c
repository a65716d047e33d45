/* md_driver: an mdtest-like metadata driver. Plain libc calls, so it measures whatever
 * file system the directory is on (gkfs through LD_PRELOAD, or tmpfs as the baseline).
 *
 *   md_driver DIR N [PROCS [flat|tree]]
 *
 * PROCS processes (fork) each work in their own directory DIR/p<k>/.
 *   flat: each creates N empty files in DIR/p<k>/ (open O_CREAT|O_EXCL + close), then stats
 *         each, then unlinks each.
 *   tree: like mdtest -z 2 -b 4: each first makes a directory tree of fan-out 4 and depth 2
 *         under DIR/p<k>/ (1 + 4 + 16 = 21 directories, phase "mkdir"), spreads its N files
 *         over all 21 directories, and at the end removes the tree (phase "rmdir").
 * Phases are separated by a barrier (pipes) and timed by the parent from the first "go" to
 * the last "done". Between create and stat, untimed, each process lists its directories
 * (readdir) and checks that exactly its files are there; stat checks S_ISREG and size 0.
 * Prints one JSON object: per-phase seconds and operations per second (all processes).
 * Exit status 1 if any call or check fails (the error names the call and path). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kMkdir, kCreate, kVerify, kStat, kRemove, kRmdir, kPhases };
static const char* const kNames[kPhases] = {"mkdir", "create", "verify", "stat", "remove", "rmdir"};

enum { kFanout = 4, kDepth = 2, kTreeDirs = 1 + kFanout + kFanout * kFanout };

typedef struct {
  char root[4096];  /* DIR/p<k> */
  int tree;         /* 0: flat (one directory), 1: tree of kTreeDirs directories */
  long n;           /* files of this process */
} Work;

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int Dirs(const Work* w) { return w->tree ? kTreeDirs : 1; }

/* Directory d of the tree, in creation order (parents first): 0 is the root, 1..4 its
 * children "d<a>", 5..20 the grandchildren "d<a>/d<b>". */
static void DirPath(const Work* w, int d, char* out, size_t size) {
  if (d == 0) {
    snprintf(out, size, "%s", w->root);
  } else if (d <= kFanout) {
    snprintf(out, size, "%s/d%d", w->root, d - 1);
  } else {
    int k = d - 1 - kFanout;
    snprintf(out, size, "%s/d%d/d%d", w->root, k / kFanout, k % kFanout);
  }
}

/* File i lives in directory i mod Dirs. */
static void FilePath(const Work* w, long i, char* out, size_t size) {
  char dir[4200];
  DirPath(w, (int)(i % Dirs(w)), dir, sizeof(dir));
  snprintf(out, size, "%s/f%ld", dir, i);
}

/* Lists every directory and checks it holds exactly the files (and subdirectories) the
 * create phase made. */
static int Verify(const Work* w) {
  char dir[4200];
  for (int d = 0; d < Dirs(w); ++d) {
    DirPath(w, d, dir, sizeof(dir));
    DIR* h = opendir(dir);
    if (h == NULL) {
      fprintf(stderr, "md_driver: opendir %s: %s\n", dir, strerror(errno));
      return 1;
    }
    long files = 0, subdirs = 0, bad = 0;
    struct dirent* e;
    while ((e = readdir(h)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      if (e->d_name[0] == 'f') {
        long i = atol(e->d_name + 1);
        if (i < 0 || i >= w->n || i % Dirs(w) != d) ++bad;
        ++files;
      } else if (e->d_name[0] == 'd') {
        ++subdirs;
      } else {
        ++bad;
      }
    }
    closedir(h);
    long want_files = w->n / Dirs(w) + (d < w->n % Dirs(w) ? 1 : 0);
    long want_subdirs = w->tree && d <= kFanout ? kFanout : 0;
    if (bad || files != want_files || subdirs != want_subdirs) {
      fprintf(stderr, "md_driver: verify %s: %ld files (want %ld), %ld dirs (want %ld), %ld stray\n",
              dir, files, want_files, subdirs, want_subdirs, bad);
      return 1;
    }
  }
  return 0;
}

static int RunPhase(int phase, const Work* w) {
  char path[4400];
  struct stat st;
  if (phase == kVerify) return Verify(w);
  if (phase == kMkdir || phase == kRmdir) {
    if (!w->tree) return 0;
    for (int k = 1; k < kTreeDirs; ++k) {
      int d = phase == kMkdir ? k : kTreeDirs - k;  /* children before parents on removal */
      DirPath(w, d, path, sizeof(path));
      if ((phase == kMkdir ? mkdir(path, 0755) : rmdir(path)) != 0) goto fail;
    }
    return 0;
  }
  for (long i = 0; i < w->n; ++i) {
    FilePath(w, i, path, sizeof(path));
    if (phase == kCreate) {
      int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd < 0 || close(fd) != 0) goto fail;
    } else if (phase == kStat) {
      if (stat(path, &st) != 0) goto fail;
      if (!S_ISREG(st.st_mode) || st.st_size != 0) {
        fprintf(stderr, "md_driver: stat %s: mode %o size %lld, want an empty regular file\n",
                path, (unsigned)st.st_mode, (long long)st.st_size);
        return 1;
      }
    } else if (unlink(path) != 0) {
      goto fail;
    }
  }
  return 0;
fail:
  fprintf(stderr, "md_driver: %s %s: %s\n", kNames[phase], path, strerror(errno));
  return 1;
}

/* Operations a phase performs over all processes (0: phase not timed or not run). */
static long PhaseOps(int phase, int tree, long n, int procs) {
  if (phase == kMkdir || phase == kRmdir) return tree ? (long)(kTreeDirs - 1) * procs : 0;
  if (phase == kVerify) return 0;
  return n * procs;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: md_driver DIR N [PROCS [flat|tree]]\n");
    return 2;
  }
  const char* root = argv[1];
  long n = atol(argv[2]);
  int procs = argc > 3 ? atoi(argv[3]) : 1;
  const char* mode = argc > 4 ? argv[4] : "flat";
  int tree = strcmp(mode, "tree") == 0;
  if (n <= 0 || procs <= 0 || procs > 64 || (!tree && strcmp(mode, "flat") != 0)) {
    fprintf(stderr, "md_driver: N must be > 0, PROCS in 1..64, mode flat or tree\n");
    return 2;
  }
  int go[64][2], done[64][2];
  for (int p = 0; p < procs; ++p) {
    if (pipe(go[p]) != 0 || pipe(done[p]) != 0) return 1;
    if (fork() == 0) {
      Work w;
      snprintf(w.root, sizeof(w.root), "%s/p%d", root, p);
      w.tree = tree;
      w.n = n;
      int rc = mkdir(w.root, 0755) == 0 || errno == EEXIST ? 0 : 1;
      if (rc) fprintf(stderr, "md_driver: mkdir %s: %s\n", w.root, strerror(errno));
      for (int phase = 0; phase < kPhases; ++phase) {
        char c;
        if (read(go[p][0], &c, 1) != 1) _exit(1);
        if (rc == 0) rc = RunPhase(phase, &w);
        c = (char)rc;
        if (write(done[p][1], &c, 1) != 1) _exit(1);
      }
      if (rc == 0 && rmdir(w.root) != 0) {
        fprintf(stderr, "md_driver: rmdir %s: %s\n", w.root, strerror(errno));
        rc = 1;
      }
      _exit(rc);
    }
  }
  double seconds[kPhases];
  int failed = 0;
  for (int phase = 0; phase < kPhases; ++phase) {
    double t0 = Now();
    for (int p = 0; p < procs; ++p) failed |= write(go[p][1], "g", 1) != 1;
    for (int p = 0; p < procs; ++p) {
      char c = 1;
      failed |= read(done[p][0], &c, 1) != 1 || c != 0;
    }
    seconds[phase] = Now() - t0;
  }
  for (int p = 0; p < procs; ++p) {
    int status;
    wait(&status);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  printf("{\"mode\": \"%s\", \"files_per_proc\": %ld, \"procs\": %d", mode, n, procs);
  if (tree) printf(", \"dirs_per_proc\": %d", kTreeDirs);
  for (int phase = 0; phase < kPhases; ++phase) {
    long ops = PhaseOps(phase, tree, n, procs);
    if (ops == 0) continue;
    printf(", \"%s_s\": %.6f, \"%s_ops\": %.1f", kNames[phase], seconds[phase], kNames[phase],
           ops / seconds[phase]);
  }
  printf(", \"verify_s\": %.6f, \"ok\": %s}\n", seconds[kVerify], failed ? "false" : "true");
  return failed;
}
