/* A parallel-file-system stand-in for bench_forwarding.py: a FUSE passthrough of a backing
 * directory where every data operation costs a fixed latency on the PFS server (OST) that
 * holds its first byte, and each server serves one operation at a time.
 *
 *   pfs_standin MOUNTPOINT -o backing=DIR[,latency_us=1000][,servers=4][,stripe=1048576]
 *               [,mb_per_s=1000] [-f] [-o max_threads=N]
 *
 * Placement: block i (stripe bytes) of a file is on server (H(path) + i) % servers, round
 * robin from a per-file start, as Lustre and GPFS stripe files. A read or write of len bytes
 * holds its server for latency_us + len / mb_per_s (the data is moved meanwhile), so small
 * writes from many clients to one stripe queue behind each other as they do on a PFS server
 * (one extent lock, one disk queue), while one large write pays the latency once. Namespace
 * operations that reach a PFS's metadata server (create, open, mkdir, unlink, rmdir, rename,
 * link, symlink, truncate) cost latency_us on one metadata-server lock; attributes are cached
 * by the kernel (FUSE's attr_timeout), as a PFS client caches them under its locks.
 * Directories, links and permissions are the backing directory's (run as root). */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static struct {
  char* backing;
  long latency_us, servers, stripe, mb_per_s;
} cfg = {NULL, 1000, 4, 1 << 20, 1000};

static const struct fuse_opt options[] = {
    {"backing=%s", offsetof(__typeof__(cfg), backing), 0},
    {"latency_us=%ld", offsetof(__typeof__(cfg), latency_us), 0},
    {"servers=%ld", offsetof(__typeof__(cfg), servers), 0},
    {"stripe=%ld", offsetof(__typeof__(cfg), stripe), 0},
    {"mb_per_s=%ld", offsetof(__typeof__(cfg), mb_per_s), 0},
    FUSE_OPT_END};

static pthread_mutex_t* server_locks;
static pthread_mutex_t metadata_lock = PTHREAD_MUTEX_INITIALIZER;

static void busy_for(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static uint64_t hash_path(const char* path) {  // FNV-1a: any fixed spread will do
  uint64_t h = 1469598103934665603ull;
  for (; *path; path++) h = (h ^ (unsigned char)*path) * 1099511628211ull;
  return h;
}

static pthread_mutex_t* server_of(const char* path, off_t offset) {
  return &server_locks[(hash_path(path) + (uint64_t)offset / (uint64_t)cfg.stripe) %
                       (uint64_t)cfg.servers];
}

static void metadata_op(void) {
  pthread_mutex_lock(&metadata_lock);
  busy_for(cfg.latency_us);
  pthread_mutex_unlock(&metadata_lock);
}

static void real(const char* path, char* out) { snprintf(out, PATH_MAX, "%s%s", cfg.backing, path); }

#define REAL(p) \
  char p##_real[PATH_MAX]; \
  real(p, p##_real)
#define ERR(x) ((x) < 0 ? -errno : 0)

static void* sf_init(struct fuse_conn_info* conn, struct fuse_config* fc) {
  (void)conn;
  fc->use_ino = 1;
  fc->attr_timeout = 1.0;
  fc->entry_timeout = 1.0;
  fc->direct_io = 1;  // every write reaches us as the caller issued it (no page cache)
  return NULL;
}

static int sf_getattr(const char* path, struct stat* st, struct fuse_file_info* fi) {
  if (fi) return ERR(fstat((int)fi->fh, st));
  REAL(path);
  return ERR(lstat(path_real, st));
}

static int sf_readlink(const char* path, char* buf, size_t size) {
  REAL(path);
  ssize_t n = readlink(path_real, buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

static int sf_mknod(const char* path, mode_t mode, dev_t rdev) {
  REAL(path);
  metadata_op();
  return ERR(mknod(path_real, mode, rdev));
}

static int sf_mkdir(const char* path, mode_t mode) {
  REAL(path);
  metadata_op();
  return ERR(mkdir(path_real, mode));
}

static int sf_unlink(const char* path) {
  REAL(path);
  metadata_op();
  return ERR(unlink(path_real));
}

static int sf_rmdir(const char* path) {
  REAL(path);
  metadata_op();
  return ERR(rmdir(path_real));
}

static int sf_symlink(const char* target, const char* path) {
  REAL(path);
  metadata_op();
  return ERR(symlink(target, path_real));
}

static int sf_rename(const char* from, const char* to, unsigned int flags) {
  REAL(from);
  REAL(to);
  metadata_op();
  return ERR(renameat2(AT_FDCWD, from_real, AT_FDCWD, to_real, flags));
}

static int sf_link(const char* from, const char* to) {
  REAL(from);
  REAL(to);
  metadata_op();
  return ERR(link(from_real, to_real));
}

static int sf_chmod(const char* path, mode_t mode, struct fuse_file_info* fi) {
  if (fi) return ERR(fchmod((int)fi->fh, mode));
  REAL(path);
  return ERR(chmod(path_real, mode));
}

static int sf_chown(const char* path, uid_t uid, gid_t gid, struct fuse_file_info* fi) {
  if (fi) return ERR(fchown((int)fi->fh, uid, gid));
  REAL(path);
  return ERR(lchown(path_real, uid, gid));
}

static int sf_truncate(const char* path, off_t size, struct fuse_file_info* fi) {
  metadata_op();
  if (fi) return ERR(ftruncate((int)fi->fh, size));
  REAL(path);
  return ERR(truncate(path_real, size));
}

static int sf_utimens(const char* path, const struct timespec tv[2], struct fuse_file_info* fi) {
  if (fi) return ERR(futimens((int)fi->fh, tv));
  REAL(path);
  return ERR(utimensat(AT_FDCWD, path_real, tv, AT_SYMLINK_NOFOLLOW));
}

static int sf_create(const char* path, mode_t mode, struct fuse_file_info* fi) {
  REAL(path);
  metadata_op();
  int fd = open(path_real, fi->flags, mode);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  return 0;
}

static int sf_open(const char* path, struct fuse_file_info* fi) {
  REAL(path);
  metadata_op();
  int fd = open(path_real, fi->flags);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  return 0;
}

static long transfer_us(size_t len) { return cfg.latency_us + (long)(len / (size_t)cfg.mb_per_s); }

// One read or write, done while it holds its server.
static int transfer(const char* path, char* buf, size_t size, off_t offset, int fd, int writing) {
  pthread_mutex_t* server = server_of(path, offset);
  pthread_mutex_lock(server);
  ssize_t n = writing ? pwrite(fd, buf, size, offset) : pread(fd, buf, size, offset);
  int saved = errno;
  busy_for(transfer_us(size));
  pthread_mutex_unlock(server);
  return n < 0 ? -saved : (int)n;
}

static int sf_read(const char* path, char* buf, size_t size, off_t offset,
                   struct fuse_file_info* fi) {
  return transfer(path, buf, size, offset, (int)fi->fh, 0);
}

static int sf_write(const char* path, const char* buf, size_t size, off_t offset,
                    struct fuse_file_info* fi) {
  return transfer(path, (char*)buf, size, offset, (int)fi->fh, 1);
}

static int sf_statfs(const char* path, struct statvfs* st) {
  (void)path;
  return ERR(statvfs(cfg.backing, st));
}

static int sf_release(const char* path, struct fuse_file_info* fi) {
  (void)path;
  close((int)fi->fh);
  return 0;
}

static int sf_fsync(const char* path, int datasync, struct fuse_file_info* fi) {
  (void)path;
  return ERR(datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh));
}

static int sf_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t offset,
                      struct fuse_file_info* fi, enum fuse_readdir_flags flags) {
  (void)offset, (void)fi, (void)flags;
  REAL(path);
  DIR* dir = opendir(path_real);
  if (!dir) return -errno;
  for (struct dirent* e; (e = readdir(dir)) != NULL;) {
    struct stat st = {.st_ino = e->d_ino, .st_mode = (mode_t)DTTOIF(e->d_type)};
    if (fill(buf, e->d_name, &st, 0, 0)) break;
  }
  closedir(dir);
  return 0;
}

static const struct fuse_operations operations = {
    .init = sf_init,         .getattr = sf_getattr, .readlink = sf_readlink,
    .mknod = sf_mknod,       .mkdir = sf_mkdir,     .unlink = sf_unlink,
    .rmdir = sf_rmdir,       .symlink = sf_symlink, .rename = sf_rename,
    .link = sf_link,         .chmod = sf_chmod,     .chown = sf_chown,
    .truncate = sf_truncate, .open = sf_open,       .read = sf_read,
    .write = sf_write,       .statfs = sf_statfs,   .release = sf_release,
    .fsync = sf_fsync,       .readdir = sf_readdir, .create = sf_create,
    .utimens = sf_utimens,
};

int main(int argc, char** argv) {
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  if (fuse_opt_parse(&args, &cfg, options, NULL) != 0) return 2;
  if (!cfg.backing || cfg.latency_us < 0 || cfg.servers < 1 || cfg.stripe < 1 ||
      cfg.mb_per_s < 1) {
    fprintf(stderr, "pfs_standin: give -o backing=DIR; latency_us >= 0, servers, stripe and "
                    "mb_per_s >= 1\n");
    return 2;
  }
  server_locks = calloc((size_t)cfg.servers, sizeof *server_locks);
  for (long i = 0; i < cfg.servers; i++) pthread_mutex_init(&server_locks[i], NULL);
  int rc = fuse_main(args.argc, args.argv, &operations, NULL);
  fuse_opt_free_args(&args);
  return rc;
}
