// The one parser of log levels, shared by the daemon (GKFS_LOG, GKFS_DAEMON_LOG_LEVEL) and
// the preload library (LIBGKFS_LOG), so a value means the same everywhere; gkfs.settings
// accepts the same grammar (python/gkfs/settings.py, parse_log_level). Header-only and free
// of libc state (no locale, no strtok): the preload runs it inside applications.
//
//   levels := item ("," item)*            the most verbose item wins
//   item   := number | name
//   number := GekkoFS's daemon levels (spdlog): 0 off, 1 critical, 2 error, 3 warning
//             -> none | errors ; 4 -> info ; 5 (debug) and above -> debug
//   name   := none | off -> none
//           | errors | error | err | critical | warnings | warning | warn -> errors
//           | info | mercury -> info
//           | debug | trace | most | all | syscalls | syscalls_at_entry | trace_reads -> debug
//
// gkfs logs at three levels (errors, info, debug): GekkoFS's warnings and critical messages
// are errors here, and its client's per-module names (LIBGKFS_LOG=syscalls,errors) choose
// the level that shows that module's messages.
#pragma once

namespace gkfs {

// 0 none, 1 errors, 2 info, 3 debug; -1 if text is not a level (callers then keep errors
// and say so). REQUIRES: text is not null.
inline int ParseLogLevelText(const char* text) {
  struct Name {
    const char* name;
    int level;
  };
  static const Name kNames[] = {
      {"none", 0},     {"off", 0},         {"errors", 1},   {"error", 1},  {"err", 1},
      {"critical", 1}, {"warnings", 1},    {"warning", 1},  {"warn", 1},   {"info", 2},
      {"mercury", 2},  {"debug", 3},       {"trace", 3},    {"most", 3},   {"all", 3},
      {"syscalls", 3}, {"syscalls_at_entry", 3},             {"trace_reads", 3},
  };
  int result = -1;
  const char* p = text;
  for (;;) {
    const char* end = p;
    while (*end != '\0' && *end != ',') ++end;
    if (end == p) return -1;  // empty item
    int level = -1;
    bool digits = true;
    unsigned long number = 0;
    for (const char* c = p; c < end; ++c) {
      if (*c < '0' || *c > '9') digits = false;
      else if (number < 1000) number = number * 10 + static_cast<unsigned long>(*c - '0');
    }
    if (digits) {
      level = number == 0 ? 0 : number <= 3 ? 1 : number == 4 ? 2 : 3;
    } else {
      for (const Name& n : kNames) {
        const char* a = n.name;
        const char* b = p;
        while (*a != '\0' && b < end && *a == *b) ++a, ++b;
        if (*a == '\0' && b == end) level = n.level;
      }
    }
    if (level < 0) return -1;
    if (level > result) result = level;
    if (*end == '\0') return result;
    p = end + 1;
  }
}

}  // namespace gkfs
