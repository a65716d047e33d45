// Filesystem: the FUSE client's state behind libfuse's low-level operations: the core Client,
// the node table and the caching policy. One per mount; the operations run on libfuse's
// worker threads concurrently (Client and NodeTable are thread-safe).
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <memory>

#include "fuse/node_table.h"
#include "fuse/recent_attrs.h"
#include "gkfs/client.h"

namespace gkfs::fuse {

// The largest read or write request the kernel sends (max_write, max_readahead).
constexpr unsigned kMaxRequestBytes = 1u << 20;

struct CacheOptions {
  // Seconds the kernel may keep attributes and names (0: ask gkfs every time).
  double attr_timeout = 0;
  double entry_timeout = 0;
  bool keep_cache = false;     // keep a file's page cache across opens (else dropped at open)
  bool writeback = false;      // the kernel collects writes in its page cache (single writer)
  bool direct_io = false;      // bypass the page cache (no shared writable mmap)
};

struct Filesystem {
  std::unique_ptr<Client> client;
  std::unique_ptr<NodeTable> nodes;
  CacheOptions cache;
  RecentAttrs recent;          // one round trip for a path walk's LOOKUP + GETATTR
  // default_permissions (--cache: the kernel checks with its cached attributes); else
  // gkfs-fuse checks each request (fuse/caller.h), and the kernel asks no GETATTR for it.
  bool kernel_checks_permissions = false;
  uint64_t session = 1;        // the opener id of this mount's opens (Client::OpenFile)
};

// libfuse's operation table; the userdata passed to fuse_session_new is a Filesystem*.
const fuse_lowlevel_ops& Operations();

}  // namespace gkfs::fuse
