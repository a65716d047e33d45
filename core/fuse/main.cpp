// gkfs-fuse: serves one gkfs file system at a mount directory through the kernel (libfuse3
// low-level API, multi-threaded). Client settings come from the same LIBGKFS_* variables the
// preload library reads (gkfs-ctl mount sets them from the settings model); the flags below
// choose how the mount behaves. Without --foreground it returns once the mount is in place
// (exit 0) or has failed (exit 1, message on stderr, nothing mounted).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fuse/caller.h"
#include "fuse/filesystem.h"

namespace {

using gkfs::Status;
using gkfs::fuse::Filesystem;

struct Flags {
  std::string mountdir;
  bool cache = false;
  bool writeback = false;  // implies cache
  bool direct_io = false;
  bool allow_other = false;
  bool foreground = false;
  bool debug = false;
  unsigned threads = 8;
};

const char kUsage[] =
    "usage: gkfs-fuse [--cache] [--writeback] [--direct-io] [--allow-other] [--threads N] [--foreground]\n"
    "                 [--debug] MOUNTDIR\n"
    "Mounts the gkfs file system named by LIBGKFS_HOSTS_FILE (and LIBGKFS_SECRET_FILE,\n"
    "LIBGKFS_TIMEOUT_MS, LIBGKFS_DOWN_RECHECK_MS, LIBGKFS_RECHECK_TIMEOUT_MS, as `gkfs-ctl env`\n"
    "prints them) at MOUNTDIR. `gkfs-ctl mount` runs it for you.\n"
    "  --cache        one writer per file: the kernel keeps attributes and names for 1 s and\n"
    "                 pages across opens (dropped once it sees the file changed)\n"
    "  --writeback    --cache, and the kernel collects writes (writeback cache); it then keeps\n"
    "                 its own size of a cached file: only for files no other host changes\n"
    "  --direct-io    no kernel page cache at all (no shared writable mmap)\n"
    "  --allow-other  other users may use the mount (non-root: needs user_allow_other in\n"
    "                 /etc/fuse.conf)\n";

int ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--cache") f->cache = true;
    else if (a == "--writeback") f->writeback = f->cache = true;
    else if (a == "--direct-io") f->direct_io = true;
    else if (a == "--allow-other") f->allow_other = true;
    else if (a == "--foreground" || a == "-f") f->foreground = true;
    else if (a == "--debug" || a == "-d") f->debug = f->foreground = true;
    else if (a == "--threads" && i + 1 < argc) f->threads = static_cast<unsigned>(std::atoi(argv[++i]));
    else if (a == "-h" || a == "--help") return std::fputs(kUsage, stdout), 0;
    else if (!a.empty() && a[0] != '-' && f->mountdir.empty()) f->mountdir = a;
    else return std::fprintf(stderr, "gkfs-fuse: unknown argument '%s'\n%s", a.c_str(), kUsage), 2;
  }
  if (f->mountdir.empty()) return std::fprintf(stderr, "gkfs-fuse: no MOUNTDIR given\n%s", kUsage), 2;
  if (f->threads == 0) f->threads = 1;
  return -1;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v ? std::atoi(v) : fallback;
}

gkfs::ClientOptions OptionsFromEnvironment() {
  gkfs::ClientOptions o;
  if (const char* v = std::getenv("LIBGKFS_HOSTS_FILE")) o.hosts_file = v;
  if (o.hosts_file.empty()) o.hosts_file = "gkfs_hosts.txt";
  if (const char* v = std::getenv("LIBGKFS_SECRET_FILE")) o.secret_file = v;
  o.timeout_ms = EnvInt("LIBGKFS_TIMEOUT_MS", o.timeout_ms);
  o.down_recheck_ms = EnvInt("LIBGKFS_DOWN_RECHECK_MS", o.down_recheck_ms);
  o.recheck_timeout_ms = EnvInt("LIBGKFS_RECHECK_TIMEOUT_MS", o.recheck_timeout_ms);
  if (const char* v = std::getenv("LIBGKFS_FORWARDING_MAP_FILE")) o.forwarding_map_file = v;
  if (const char* v = std::getenv("LIBGKFS_HOSTNAME")) o.hostname = v;
  o.app_id = static_cast<uint32_t>(EnvInt("LIBGKFS_APP_ID", 0));
  return o;
}

// The device ("major:minor") of the mount at `dir` (absolute, resolved) from
// /proc/self/mountinfo (fields 3 and 5); empty if nothing is mounted there.
std::string MountDevice(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == dir) return dev;
  }
  return "";
}

bool IsMountPoint(const std::string& dir) { return !MountDevice(dir).empty(); }

// The kernel caps a FUSE mount's readahead at its default (128 KiB) whatever Init asks, so
// a 1 MiB read would reach gkfs as eight 128 KiB requests. The mount's read_ahead_kb in
// sysfs lifts the cap (root only; best effort: an unprivileged mount keeps 128 KiB).
void RaiseReadahead(const std::string& mountdir) {
  std::string dev = MountDevice(mountdir);
  if (dev.empty()) return;
  std::ofstream out("/sys/class/bdi/" + dev + "/read_ahead_kb");
  out << (gkfs::fuse::kMaxRequestBytes >> 10) << "\n";
}

// The checks that need no daemon: a clear message instead of a half-made mount.
Status CheckMountDir(const std::string& given, std::string* resolved) {
  const Status server_gone = Status::Error(
      EBUSY, "mount directory " + given + " is busy: the FUSE mount there no longer answers (its "
             "server ended); unmount it first (gkfs-ctl umount, or fusermount3 -u)");
  char buf[PATH_MAX];
  if (realpath(given.c_str(), buf) == nullptr) {
    if (errno == ENOTCONN) return server_gone;
    return Status::Error(errno, "mount directory " + given + ": " + std::strerror(errno));
  }
  *resolved = buf;
  struct stat st;
  if (stat(buf, &st) != 0) {
    const int err = errno;
    if (err == ENOTCONN) return server_gone;
    return Status::Error(err, "mount directory " + given + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) return Status::Error(ENOTDIR, "mount directory " + given + " is not a directory");
  if (IsMountPoint(*resolved)) {
    return Status::Error(EBUSY, "mount directory " + *resolved + " is busy: something is mounted there "
                                "(gkfs-ctl umount, or fusermount3 -u)");
  }
  // Existence only: an unprivileged mount opens it through fusermount3 (set-user-ID root).
  struct stat dev;
  if (stat("/dev/fuse", &dev) != 0 || !S_ISCHR(dev.st_mode)) {
    return Status::Error(ENODEV, "/dev/fuse is missing (load the fuse module, or give the "
                                 "container the device)");
  }
  return Status::OK();
}

uint64_t NewSession() {
  std::random_device rd;
  uint64_t id = (uint64_t(rd()) << 32) ^ rd() ^ uint64_t(getpid());
  return id == 0 ? 1 : id;
}

gkfs::fuse::CacheOptions CacheFor(const Flags& f) {
  gkfs::fuse::CacheOptions c;
  if (f.cache) {
    c.attr_timeout = c.entry_timeout = 1.0;
    c.keep_cache = true;
  }
  // The kernel's writeback cache trusts its own size and times of a file it keeps (a file
  // another host changed keeps its old size here): an option of its own, not part of --cache.
  c.writeback = f.writeback;
  c.direct_io = f.direct_io;
  return c;
}

// With timeouts 0, default_permissions costs a GETATTR for each permission check the kernel
// makes (every directory of a path walk): gkfs-fuse checks itself instead (fuse/caller.h).
// With --cache those GETATTRs hit the kernel's attribute cache, and the kernel checks.
std::vector<std::string> FuseArgs(const Flags& f) {
  std::string opts = "fsname=gkfs,subtype=gkfs,nosuid,nodev";
  if (f.cache) opts += ",default_permissions";
  if (f.allow_other) opts += ",allow_other";
  std::vector<std::string> args = {"gkfs-fuse", "-o", opts};
  if (f.debug) args.push_back("-d");
  return args;
}

// Connects, mounts and serves until unmounted or signalled. `ready` (may be -1) gets "OK\n"
// once the mount is in place, or the error message.
int Serve(const Flags& flags, int ready) {
  auto fail = [ready](const std::string& msg) {
    std::string line = "gkfs-fuse: " + msg + "\n";
    if (ready >= 0) (void)!write(ready, line.data(), line.size());
    else std::fputs(line.c_str(), stderr);
    return 1;
  };
  std::string mountdir;
  Status s = CheckMountDir(flags.mountdir, &mountdir);
  if (!s.ok()) return fail(s.message());
  Filesystem fs;
  gkfs::ClientOptions options = OptionsFromEnvironment();
  options.credentials = &gkfs::fuse::CallerCredentials();
  s = gkfs::Client::Connect(options, &fs.client);
  if (!s.ok()) return fail("cannot reach the file system of " + options.hosts_file + ": " + s.ToString());
  gkfs::Metadata root;
  s = fs.client->Stat("/", &root);
  if (!s.ok()) return fail("cannot stat the root of " + options.hosts_file + ": " + s.ToString());
  fs.nodes = std::make_unique<gkfs::fuse::NodeTable>(root.file_id);
  fs.cache = CacheFor(flags);
  fs.kernel_checks_permissions = flags.cache;
  fs.session = NewSession();

  std::vector<std::string> strings = FuseArgs(flags);
  std::vector<char*> argv;
  for (auto& a : strings) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_session* se = fuse_session_new(&args, &gkfs::fuse::Operations(), sizeof(fuse_lowlevel_ops), &fs);
  if (se == nullptr) return fail("cannot create the FUSE session (bad mount options?)");
  if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, mountdir.c_str()) != 0) {
    fuse_session_destroy(se);
    return fail("cannot mount at " + mountdir + " (see the message above; unprivileged users need "
                "fusermount3 and, for --allow-other, user_allow_other in /etc/fuse.conf)");
  }
  RaiseReadahead(mountdir);
  if (ready >= 0) {
    (void)!write(ready, "OK\n", 3);
    close(ready);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
    if (null > 2) close(null);
  }
  fuse_loop_config* loop = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(loop, flags.threads);
  fuse_loop_cfg_set_idle_threads(loop, flags.threads);
  int rc = fuse_session_loop_mt(se, loop);
  fuse_loop_cfg_destroy(loop);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  return rc == 0 ? 0 : 1;
}

// Forks before anything starts UCX (not fork-safe): the child serves, the parent waits for
// its word on a pipe and exits 0 once the mount is in place, else prints why and exits 1.
int Background(const Flags& flags) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return std::perror("gkfs-fuse: pipe"), 1;
  pid_t pid = fork();
  if (pid < 0) return std::perror("gkfs-fuse: fork"), 1;
  if (pid == 0) {
    close(pipefd[0]);
    setsid();
    _exit(Serve(flags, pipefd[1]));
  }
  close(pipefd[1]);
  std::string word;
  char buf[512];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof(buf))) > 0) {
    word.append(buf, static_cast<size_t>(n));
    if (word == "OK\n") return 0;
  }
  if (word.empty()) word = "gkfs-fuse: the mount process ended without a word\n";
  std::fputs(word.c_str(), stderr);
  waitpid(pid, nullptr, 0);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  int rc = ParseFlags(argc, argv, &flags);
  if (rc >= 0) return rc;
  signal(SIGPIPE, SIG_IGN);
  return flags.foreground ? Serve(flags, -1) : Background(flags);
}
