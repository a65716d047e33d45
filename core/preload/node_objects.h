// Kernel objects standing, on this host, for gkfs FIFOs and sockets. A FIFO or socket in
// gkfs is a record (type, mode, owners); its data never passes through the daemons. The
// processes of one host meet at a kernel FIFO or socket file named after the file system and
// the inode, under /dev/shm/gkfs-nodes, so they get the kernel's semantics (a FIFO's open
// blocks until the other end comes, EOF when the writers close; a socket is bound once and
// connected to by path). Processes on different hosts do not meet: as with NFS, a FIFO or
// socket file is a rendezvous of one machine. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "gkfs/metadata.h"

namespace gkfs::preload::nodes {

// The kernel path standing for inode ino of this file system on this host.
std::string KernelPath(uint64_t ino);

// open(2) of the FIFO or device node md with flags: a kernel descriptor, or -1 with errno.
// A FIFO opens its kernel FIFO (made on first use); a device node gives ENXIO, as Linux for a
// device without a driver.
int OpenSpecial(const Metadata& md, int flags);

// Makes the kernel path of socket inode ino free for bind(2) (a stale socket file goes).
void PrepareBind(uint64_t ino);

}  // namespace gkfs::preload::nodes
