// rpc_driver: round-trip latency and bandwidth of the gkfs transport, measured from C++ so
// that no Python sits in the loop. Connects a gkfs::Client (hosts file) and runs each spec:
//
//   gkfs_rpc_driver HOSTS_FILE [-d DAEMON] [-n ITERS] [-w WARMUP] SPEC...
//   SPEC := ping:SEND:REPLY     Ping carrying SEND bytes, REPLY bytes back (K/M suffixes)
//         | stat                Stat("/"): one metadata round trip to "/"'s owner
//         | create              Create of a new file in a fresh directory: the create and the
//                               parent check travel together (what open(O_CREAT) costs)
//         | remove              Remove of the files `create` made (metadata + chunk owners)
//
// Prints one JSON object per spec on its own line: iterations, round-trip percentiles in
// microseconds (each call timed alone), calls per second and GB/s (10^9 bytes, send + reply)
// over the whole timed loop. Every call must succeed (a failed one ends the run, exit 1).
// Files and the directory `create` made are removed before exit (untimed).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gkfs/client.h"

namespace {

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

size_t ParseSize(const std::string& text) {
  char* end = nullptr;
  size_t v = strtoull(text.c_str(), &end, 10);
  if (*end == 'K' || *end == 'k') v <<= 10;
  if (*end == 'M' || *end == 'm') v <<= 20;
  return v;
}

enum class Op { kPing, kStat, kCreate, kRemove };

struct Spec {
  Op op = Op::kPing;
  size_t send = 0;
  size_t reply = 0;
  std::string text;
};

bool ParseSpec(const std::string& text, Spec* spec) {
  spec->text = text;
  if (text == "stat" || text == "create" || text == "remove") {
    spec->op = text == "stat" ? Op::kStat : text == "create" ? Op::kCreate : Op::kRemove;
    return true;
  }
  size_t a = text.find(':');
  size_t b = text.rfind(':');
  if (text.compare(0, a, "ping") != 0 || a == std::string::npos || a == b) return false;
  spec->send = ParseSize(text.substr(a + 1, b - a - 1));
  spec->reply = ParseSize(text.substr(b + 1));
  return true;
}

double Percentile(const std::vector<double>& sorted, double q) {
  size_t i = static_cast<size_t>(q * (sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

// The files `create` specs made (and `remove` specs have not removed yet), oldest first.
struct Files {
  std::string dir;
  long created = 0;
  long removed = 0;
  std::string Path(long i) const { return dir + "/f" + std::to_string(i); }
};

const char* OpName(Op op) {
  switch (op) {
    case Op::kStat: return "stat";
    case Op::kCreate: return "create";
    case Op::kRemove: return "remove";
    default: return "ping";
  }
}

int Run(gkfs::Client& client, uint32_t daemon, const Spec& spec, long iters, long warmup,
        Files* files) {
  std::vector<char> send(std::max<size_t>(spec.send, 1), 'g');
  std::vector<char> reply(std::max<size_t>(spec.reply, 1));
  gkfs::Metadata md;
  if (spec.op == Op::kRemove && files->created - files->removed < iters + warmup) {
    fprintf(stderr, "rpc_driver: remove needs %ld files made by create specs before it\n",
            iters + warmup);
    return 1;
  }
  auto once = [&]() {
    switch (spec.op) {
      case Op::kStat: return client.Stat("/", &md);
      case Op::kCreate: return client.Create(files->Path(files->created++), 0644, true, &md, nullptr);
      case Op::kRemove: return client.Remove(files->Path(files->removed++));
      default: return client.Ping(daemon, send.data(), spec.send, reply.data(), spec.reply);
    }
  };
  std::vector<double> rtt(static_cast<size_t>(iters));
  double t0 = 0;
  for (long i = -warmup; i < iters; ++i) {
    if (i == 0) t0 = Now();
    double start = Now();
    gkfs::Status s = once();
    if (!s.ok()) {
      fprintf(stderr, "rpc_driver: %s failed: %s\n", spec.text.c_str(), s.ToString().c_str());
      return 1;
    }
    if (i >= 0) rtt[static_cast<size_t>(i)] = (Now() - start) * 1e6;
    if ((spec.op == Op::kStat && !md.is_dir()) || (spec.op == Op::kCreate && !md.is_regular())) {
      fprintf(stderr, "rpc_driver: %s returned the wrong kind of file\n", spec.text.c_str());
      return 1;
    }
  }
  double total = Now() - t0;
  std::sort(rtt.begin(), rtt.end());
  double mean = 0;
  for (double v : rtt) mean += v / rtt.size();
  double bytes = static_cast<double>(spec.send + spec.reply) * iters;
  printf("{\"spec\": \"%s\", \"op\": \"%s\", \"daemon\": %u, \"send\": %zu, \"reply\": %zu, "
         "\"iters\": %ld, \"rtt_us_median\": %.3f, \"rtt_us_p10\": %.3f, \"rtt_us_p90\": %.3f, "
         "\"rtt_us_p99\": %.3f, \"rtt_us_mean\": %.3f, \"calls_per_s\": %.1f, \"gbs\": %.4f, "
         "\"ok\": true}\n",
         spec.text.c_str(), OpName(spec.op), daemon, spec.send, spec.reply, iters,
         Percentile(rtt, 0.5), Percentile(rtt, 0.1), Percentile(rtt, 0.9), Percentile(rtt, 0.99),
         mean, iters / total, bytes / total / 1e9);
  fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: gkfs_rpc_driver HOSTS_FILE [-d DAEMON] [-n ITERS] [-w WARMUP] "
                    "ping:SEND:REPLY|stat|create|remove ...\n");
    return 2;
  }
  gkfs::ClientOptions options;
  options.hosts_file = argv[1];
  uint32_t daemon = 0;
  long iters = 10000, warmup = 200;
  std::vector<Spec> specs;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "-d" || arg == "-n" || arg == "-w") && i + 1 < argc) {
      long v = atol(argv[++i]);
      if (arg == "-d") daemon = static_cast<uint32_t>(v);
      if (arg == "-n") iters = v;
      if (arg == "-w") warmup = v;
      continue;
    }
    Spec spec;
    if (!ParseSpec(arg, &spec)) {
      fprintf(stderr, "rpc_driver: bad spec '%s' (ping:SEND:REPLY, stat, create, remove)\n",
              argv[i]);
      return 2;
    }
    specs.push_back(spec);
  }
  if (iters <= 0 || warmup < 0 || specs.empty()) {
    fprintf(stderr, "rpc_driver: need ITERS > 0 and at least one spec\n");
    return 2;
  }
  std::unique_ptr<gkfs::Client> client;
  gkfs::Status s = gkfs::Client::Connect(options, &client);
  if (!s.ok()) {
    fprintf(stderr, "rpc_driver: connect: %s\n", s.ToString().c_str());
    return 1;
  }
  Files files;
  files.dir = "/rpc_driver." + std::to_string(getpid());
  bool need_dir = false;
  for (const Spec& spec : specs) need_dir |= spec.op == Op::kCreate;
  if (need_dir && !(s = client->Mkdir(files.dir, 0755)).ok()) {
    fprintf(stderr, "rpc_driver: mkdir %s: %s\n", files.dir.c_str(), s.ToString().c_str());
    return 1;
  }
  int rc = 0;
  for (const Spec& spec : specs) {
    if ((rc = Run(*client, daemon, spec, iters, warmup, &files)) != 0) break;
  }
  while (files.removed < files.created) {
    s = client->Remove(files.Path(files.removed++));
    if (!s.ok()) {
      fprintf(stderr, "rpc_driver: cleanup: %s\n", s.ToString().c_str());
      rc = 1;
    }
  }
  if (need_dir && !(s = client->Rmdir(files.dir)).ok()) {
    fprintf(stderr, "rpc_driver: rmdir %s: %s\n", files.dir.c_str(), s.ToString().c_str());
    rc = 1;
  }
  return rc;
}
