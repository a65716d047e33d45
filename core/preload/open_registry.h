// The regular files this process holds open, as counted by their inodes' homes
// (Client::OpenFile): a file unlinked while open keeps its inode and data until the last of
// its descriptors is closed, as on Linux. Each process is one session, named by its pid and
// start time, so it stays one across exec: a program counts the descriptions it inherited
// over exec (a shell's child opened "cmd > f" before exec'ing cmd) and releases them. A
// forked child is a new session and holds no counted opens: descriptions it shares with its
// parent are the parent's to release (a child outliving its parent may lose an unlinked
// file its parent held). Releases are batched: sent when 64 are pending, with this process's
// removals (those the removed name's daemon is owed ride in its request: a file closed and
// then removed goes at once, and costs no Release), before it renames a name, and at exit,
// which also releases what is still open. While it holds counted opens, a thread of the
// library renews the session's lease at their homes every third of the lease (Client::Renew);
// a process killed outright stops renewing and the daemons drop its counts once the lease
// ran out, reclaiming the orphans only it held (docs/operations.md: orphans). Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "gkfs/status.h"

namespace gkfs::preload::opens {

// This process's session id, never 0.
uint64_t Session();
// A counted open of inode ino succeeded in this process.
void Opened(uint64_t ino);
// One of those opens ended (its description's last descriptor here closed, or the open
// failed after its lookup); the release is queued. path: the internal path it was opened
// by ("" when unknown: any removal sends it). No-op for an inode this process did not open
// (inherited descriptors).
void Closed(uint64_t ino, const std::string& path);
// Sends the queued releases. REQUIRES: not in a vfork child, no ReentryGuard alive.
void Flush();
// unlink(2) of path: the queued releases whose home is path's daemon travel with the
// removal (Client::RemoveReleasing), the others stay queued, unless one of them was closed
// under path (or an unknown one): then they are sent at once (a renamed file or hard link,
// whose inode lives elsewhere), so that the file never lingers as an orphan.
// REQUIRES: as Flush().
Status Remove(const std::string& path);
// At exit: releases every open still counted, then flushes.
void ReleaseAll();
// In a forked child: a new session with nothing counted or queued.
void AtForkChild();

}  // namespace gkfs::preload::opens
