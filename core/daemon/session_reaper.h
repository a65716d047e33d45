// SessionReaper: ends the counted opens of client sessions that stopped renewing their
// lease (a process killed outright, a node that went away) and of orphans a previous run
// left. It releases them as the session would have, through a Client of its own connected
// by the hosts file, so an orphan no live session holds goes with its chunks on every
// daemon exactly as after a last close. Owns one thread, which wakes every quarter lease.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "daemon/metadata_provider.h"
#include "gkfs/client.h"

namespace gkfs {

class SessionReaper {
 public:
  // REQUIRES: metadata outlives this; options.hosts_file names this daemon's file system.
  SessionReaper(MetadataProvider* metadata, ClientOptions options);
  // Stops the thread (waits for a release in flight) and closes the client.
  ~SessionReaper();
  // One pass: releases every expired session's opens. Connects on first need.
  Status ReapOnce();

 private:
  void Loop();

  MetadataProvider* const metadata_;
  const ClientOptions options_;
  std::unique_ptr<Client> client_;  // only the reaper thread uses it
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace gkfs
