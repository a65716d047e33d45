"""errno conformance: every call of issue 3, one call per run of ``gkfs_callprobe`` (a helper
built with the core, printing the call's return value, errno and what it saw as JSON), once
under the preload library in gkfs, once through the FUSE mount of the same file system (no
preload) and once in a local directory (on /tmp, no preload); the three outputs must be
identical, and the local one must be what the row expects (so a change
on both sides cannot go unnoticed). Each row works in its own copy of a small tree.

Rows marked ``differs`` are the documented limits of gkfs (core/preload/README.md): there the
test checks that gkfs still gives the documented result, and that it does differ."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from dataclasses import dataclass
from typing import Optional

import pytest

from conftest import require_fuse, start_fs, stop_fs

NOBODY = "65534:65534"
LONG_NAME = "n" * 256
TOO_DEEP = "/".join(["d" * 200] * 21)
# A directory 3014 bytes below the row's tree (made for rows whose id starts with "deep"),
# and relative paths from it that the caller passes: Linux limits their length (< PATH_MAX),
# not the absolute path they make with the working directory or a directory descriptor.
DEEP = "/".join(["d" * 200] * 15)
UP = "../" * 15


def padded(tail: str, length: int) -> str:
    """tail, preceded by "./" (and "/") up to `length` bytes."""
    pad = length - len(tail)
    return "./" * (pad // 2) + "/" * (pad % 2) + tail


@dataclass
class Row:
    id: str
    argv: str               # the call and its arguments; {b} is the row's tree, {out} a path
                            # on another file system (/dev/shm)
    expect: str             # "ok" or the errno name the local call gives
    as_nobody: bool = False
    differs: Optional[str] = None  # gkfs's documented result where it differs from Linux
    cwd: Optional[str] = None      # the working directory of the call ({b} as in argv)
    warm: bool = True              # as_nobody: the library connects before the switch
    xfail: Optional[str] = None    # a known bug, reproduced here until it is fixed
    fuse_differs: Optional[str] = None  # the FUSE mount's documented result (docs/fuse.md)


def R(id, argv, expect, as_nobody=False, differs=None, cwd=None, warm=True, xfail=None, fuse_differs=None):
    return Row(id, argv, expect, as_nobody, differs, cwd, warm, xfail, fuse_differs)




ROWS = [
    # open, openat, creat
    R("open-missing", "open {b}/missing O_RDONLY", "ENOENT"),
    R("open-file", "open {b}/file O_RDONLY", "ok"),
    R("open-excl-existing", "open {b}/file O_CREAT|O_EXCL|O_WRONLY", "EEXIST"),
    R("open-create", "open {b}/new O_CREAT|O_WRONLY 0640", "ok"),
    R("open-dir-write", "open {b}/dir O_WRONLY", "EISDIR"),
    R("open-dir-read", "open {b}/dir O_RDONLY", "ok"),
    R("open-dir-create", "open {b}/dir O_CREAT|O_RDONLY", "EISDIR"),
    R("open-file-as-directory", "open {b}/file O_RDONLY|O_DIRECTORY", "ENOTDIR"),
    R("open-under-file", "open {b}/file/x O_RDONLY", "ENOTDIR"),
    R("open-create-under-file", "open {b}/file/x O_CREAT|O_WRONLY", "ENOTDIR"),
    R("open-create-no-parent", "open {b}/missing/x O_CREAT|O_WRONLY", "ENOENT"),
    R("open-trailing-slash", "open {b}/file/ O_RDONLY", "ENOTDIR"),
    R("open-name-max", "open {b}/%s O_CREAT|O_WRONLY" % LONG_NAME, "ENAMETOOLONG"),
    R("open-path-max", "open {b}/%s O_RDONLY" % TOO_DEEP, "ENAMETOOLONG"),
    R("open-null", "open NULL O_RDONLY", "EFAULT"),
    R("open-nofollow-link", "open {b}/lf O_RDONLY|O_NOFOLLOW", "ELOOP"),
    R("open-loop", "open {b}/loop O_RDONLY", "ELOOP"),
    R("open-dangling", "open {b}/dang O_RDONLY", "ENOENT"),
    R("open-create-dangling", "open {b}/dang O_CREAT|O_WRONLY", "ok"),
    R("open-through-link", "open {b}/ld/inner O_RDONLY", "ok"),
    R("open-truncate", "open {b}/file O_RDWR|O_TRUNC", "ok"),
    R("open-bad-access-mode", "open {b}/file O_WRONLY|O_RDWR", "ok"),
    R("open-ro-for-write", "open {b}/ro O_WRONLY", "EACCES", as_nobody=True),
    R("open-private", "open {b}/priv O_RDONLY", "EACCES", as_nobody=True),
    R("open-private-truncate", "open {b}/priv O_RDONLY|O_TRUNC", "EACCES", as_nobody=True),
    R("open-readable", "open {b}/file O_RDONLY", "ok", as_nobody=True),
    R("open-in-unsearchable-dir", "open {b}/nox/f O_RDONLY", "EACCES", as_nobody=True),
    # Search permission on every directory above, not the parent alone.
    R("open-below-unsearchable-ancestor", "open {b}/rnox/deep/f O_RDONLY", "EACCES", as_nobody=True),
    R("stat-below-unsearchable-ancestor", "stat {b}/rnox/deep/f", "EACCES", as_nobody=True),
    R("create-below-unsearchable-ancestor", "open {b}/rnox/deep/new O_CREAT|O_WRONLY", "EACCES",
      as_nobody=True),
    R("missing-below-unsearchable-ancestor", "stat {b}/rnox/deep/missing", "EACCES", as_nobody=True),
    R("stat-below-searchable-ancestors", "stat {b}/dir/sub/../inner", "ok", as_nobody=True),
    R("create-in-unwritable-dir", "open {b}/dir/new O_CREAT|O_WRONLY", "EACCES", as_nobody=True),
    R("create-in-unsearchable-dir", "open {b}/nox/new O_CREAT|O_WRONLY", "EACCES",
      as_nobody=True),
    R("create-existing-in-unwritable-dir", "open {b}/dir/inner O_CREAT|O_RDONLY", "ok",
      as_nobody=True),
    R("create-excl-existing-in-unwritable-dir", "open {b}/dir/inner O_CREAT|O_EXCL|O_WRONLY",
      "EEXIST", as_nobody=True),
    R("create-in-writable-dir", "open {b}/wdir/new O_CREAT|O_WRONLY 0640", "ok",
      as_nobody=True),
    R("open-tmpfile", "open {b}/dir O_TMPFILE|O_RDWR", "ok", differs="EOPNOTSUPP"),
    R("openat-dirfd", "openat {b}/dir inner O_RDONLY", "ok"),
    R("openat-file-dirfd", "openat {b}/file x O_RDONLY", "ENOTDIR"),
    R("openat-bad-dirfd", "openat bad x O_RDONLY", "EBADF"),
    R("openat-absolute-ignores-dirfd", "openat bad {b}/file O_RDONLY", "ok"),
    R("creat-truncates", "creat {b}/file 0600", "ok"),
    # stat family
    R("stat-missing", "stat {b}/missing", "ENOENT"),
    R("stat-file", "stat {b}/file", "ok"),
    R("stat-dir", "stat {b}/dir/", "ok"),
    R("stat-under-file", "stat {b}/file/x", "ENOTDIR"),
    R("stat-file-slash", "stat {b}/file/", "ENOTDIR"),
    R("stat-link", "stat {b}/lf", "ok"),
    R("lstat-link", "lstat {b}/lf", "ok"),
    R("lstat-dir-link-slash", "lstat {b}/ld/", "ok"),
    R("stat-dangling", "stat {b}/dang", "ENOENT"),
    R("lstat-dangling", "lstat {b}/dang", "ok"),
    R("stat-loop", "stat {b}/loop", "ELOOP"),
    R("stat-empty", "stat ''", "ENOENT"),
    R("stat-null", "stat NULL", "EFAULT"),
    R("stat-name-max", "stat {b}/%s" % LONG_NAME, "ENAMETOOLONG"),
    R("stat-dotdot-through-link", "stat {b}/ld/../file", "ok"),
    R("stat-dotdot-missing", "stat {b}/missing/../file", "ENOENT"),
    R("fstat-bad", "fstat bad", "EBADF"),
    R("fstat-dir", "fstat {b}/dir", "ok"),
    R("fstatat-dirfd", "fstatat {b}/dir inner 0", "ok"),
    R("fstatat-empty-path", "fstatat {b}/dir '' AT_EMPTY_PATH", "ok"),
    R("fstatat-empty-no-flag", "fstatat {b}/dir '' 0", "ENOENT"),
    R("fstatat-nofollow", "fstatat cwd {b}/lf AT_SYMLINK_NOFOLLOW", "ok"),
    R("fstatat-file-dirfd", "fstatat {b}/file x 0", "ENOTDIR"),
    R("statx-nofollow", "statx cwd {b}/ld AT_SYMLINK_NOFOLLOW", "ok"),
    R("statx-missing", "statx cwd {b}/missing 0", "ENOENT"),
    # access
    R("access-missing", "access {b}/missing F_OK", "ENOENT"),
    R("access-rw", "access {b}/file R_OK|W_OK", "ok"),
    R("access-exec", "access {b}/exe X_OK", "ok"),
    R("access-exec-no-bits", "access {b}/file X_OK", "EACCES"),
    R("access-bad-mode", "access {b}/file 8", "EINVAL"),
    R("access-private", "access {b}/priv R_OK", "EACCES", as_nobody=True),
    R("access-ro-write", "access {b}/ro W_OK", "EACCES", as_nobody=True),
    R("access-readable", "access {b}/file R_OK", "ok", as_nobody=True),
    R("access-dir-search", "access {b}/dir X_OK", "ok", as_nobody=True),
    R("faccessat-dirfd", "faccessat {b}/dir inner R_OK 0", "ok"),
    R("faccessat-eaccess", "faccessat cwd {b}/priv R_OK AT_EACCESS", "EACCES", as_nobody=True),
    R("faccessat-dangling-nofollow", "faccessat cwd {b}/dang F_OK AT_SYMLINK_NOFOLLOW", "ok"),
    # mkdir, rmdir, unlink
    R("mkdir-existing", "mkdir {b}/dir 0755", "EEXIST"),
    R("mkdir-new", "mkdir {b}/newdir 0750", "ok"),
    R("mkdir-no-parent", "mkdir {b}/missing/x 0755", "ENOENT"),
    R("mkdir-under-file", "mkdir {b}/file/x 0755", "ENOTDIR"),
    R("mkdir-on-link", "mkdir {b}/ld 0755", "EEXIST"),
    R("mkdir-on-dangling", "mkdir {b}/dang 0755", "EEXIST"),
    R("mkdir-through-link", "mkdir {b}/ld/new 0755", "ok"),
    R("mkdir-name-max", "mkdir {b}/%s 0755" % LONG_NAME, "ENAMETOOLONG"),
    R("mkdirat-dirfd", "mkdirat {b}/dir new 0755", "ok"),
    R("mkdir-in-unwritable-dir", "mkdir {b}/dir/new 0755", "EACCES", as_nobody=True),
    R("mkdir-in-unsearchable-dir", "mkdir {b}/nox/new 0755", "EACCES", as_nobody=True),
    R("mkdir-existing-in-unwritable-dir", "mkdir {b}/dir/sub 0755", "EEXIST", as_nobody=True),
    R("mkdir-in-writable-dir", "mkdir {b}/wdir/new 0755", "ok", as_nobody=True),
    R("rmdir-in-unwritable-dir", "rmdir {b}/dir/sub", "EACCES", as_nobody=True),
    R("rmdir-in-unsearchable-dir", "rmdir {b}/nox/missing", "EACCES", as_nobody=True),
    R("rmdir-sticky-not-owner", "rmdir {b}/sticky/rdir", "EPERM", as_nobody=True),
    R("rmdir-empty", "rmdir {b}/empty", "ok"),
    R("rmdir-nonempty", "rmdir {b}/dir", "ENOTEMPTY"),
    R("rmdir-file", "rmdir {b}/file", "ENOTDIR"),
    R("rmdir-missing", "rmdir {b}/missing", "ENOENT"),
    R("rmdir-link-to-dir", "rmdir {b}/ld", "ENOTDIR"),
    R("rmdir-dot", "rmdir {b}/empty/.", "EINVAL"),
    R("rmdir-dotdot", "rmdir {b}/dir/sub/..", "ENOTEMPTY"),
    R("rmdir-dot-missing-parent", "rmdir {b}/missing/.", "ENOENT"),
    R("rmdir-dotdot-under-file", "rmdir {b}/file/..", "ENOTDIR"),
    R("rmdir-dot-through-dirfd", "unlinkat {b}/empty . AT_REMOVEDIR", "EINVAL"),
    R("rmdir-dotdot-through-dirfd", "unlinkat {b}/dir/sub .. AT_REMOVEDIR", "ENOTEMPTY"),
    R("unlink-dot", "unlink {b}/dir/.", "EISDIR"),
    R("unlink-dotdot", "unlink {b}/dir/sub/..", "EISDIR"),
    R("unlink-dot-missing-parent", "unlink {b}/missing/.", "ENOENT"),
    R("unlinkat-dot-through-dirfd", "unlinkat {b}/dir . 0", "EISDIR"),
    R("mkdir-dot", "mkdir {b}/dir/. 0755", "EEXIST"),
    R("mkdir-dotdot-slash", "mkdir {b}/dir/sub/../ 0755", "EEXIST"),
    R("mkdir-dotdot-missing-parent", "mkdir {b}/missing/.. 0755", "ENOENT"),
    R("mkdir-dot-under-file", "mkdir {b}/file/. 0755", "ENOTDIR"),
    R("mkdirat-dotdot-through-dirfd", "mkdirat {b}/dir/sub .. 0755", "EEXIST"),
    R("mkdir-dot-dangling-link", "mkdir {b}/dang/. 0755", "ENOENT"),
    R("rmdir-dot-through-link", "rmdir {b}/ld/.", "EINVAL"),
    R("unlink-dot-link-to-file", "unlink {b}/lf/.", "ENOTDIR"),
    R("rename-dotdot-through-link", "rename {b}/ld/sub/.. {b}/moved", "EBUSY"),
    R("rmdir-dot-in-cwd", "rmdir .", "EINVAL", cwd="{b}/empty"),
    R("rename-dotdot-in-cwd", "rename .. moved", "EBUSY", cwd="{b}/dir/sub"),
    R("mkdir-dotdot-in-cwd", "mkdir .. 0755", "EEXIST", cwd="{b}/dir"),
    R("symlink-on-dot", "symlink x {b}/dir/.", "EEXIST"),
    R("mknod-on-dotdot", "mknod {b}/dir/sub/.. S_IFREG|0644", "EEXIST"),
    R("link-to-dot", "link {b}/file {b}/dir/.", "EEXIST"),
    R("open-create-dot", "open {b}/dir/. O_CREAT|O_WRONLY", "EISDIR"),
    R("open-create-excl-dotdot", "open {b}/dir/sub/.. O_CREAT|O_EXCL|O_WRONLY", "EEXIST"),
    R("open-create-dot-missing-parent", "open {b}/missing/. O_CREAT|O_WRONLY", "ENOENT"),
    R("open-create-dot-under-file", "open {b}/file/. O_CREAT|O_RDONLY", "ENOTDIR"),
    R("unlink-file", "unlink {b}/file", "ok"),
    R("unlink-dir", "unlink {b}/dir", "EISDIR"),
    R("unlink-missing", "unlink {b}/missing", "ENOENT"),
    R("unlink-file-slash", "unlink {b}/file/", "ENOTDIR"),
    R("unlink-link", "unlink {b}/ld", "ok"),
    R("unlinkat-removedir", "unlinkat {b}/dir sub AT_REMOVEDIR", "ok"),
    R("unlinkat-file-removedir", "unlinkat cwd {b}/file AT_REMOVEDIR", "ENOTDIR"),
    R("unlinkat-bad-flag", "unlinkat cwd {b}/file 1", "EINVAL"),
    R("unlink-in-unwritable-dir", "unlink {b}/dir/inner", "EACCES", as_nobody=True),
    R("unlink-in-unsearchable-dir", "unlink {b}/nox/f", "EACCES", as_nobody=True),
    R("unlink-missing-in-unwritable-dir", "unlink {b}/dir/missing", "ENOENT", as_nobody=True),
    R("unlink-in-writable-dir", "unlink {b}/wdir/rootf", "ok", as_nobody=True),
    R("unlink-sticky-not-owner", "unlink {b}/sticky/rootf", "EPERM", as_nobody=True),
    R("unlink-sticky-owner", "unlink {b}/sticky/mine", "ok", as_nobody=True),
    # rename
    R("rename-file", "rename {b}/file {b}/renamed", "ok"),
    R("rename-missing", "rename {b}/missing {b}/x", "ENOENT"),
    R("rename-file-over-dir", "rename {b}/file {b}/empty", "EISDIR"),
    R("rename-dir-over-file", "rename {b}/dir {b}/file", "ENOTDIR"),
    R("rename-dir", "rename {b}/dir {b}/dir2", "ok"),
    R("rename-dir-over-empty-dir", "rename {b}/dir {b}/empty", "ok"),
    R("rename-dir-over-nonempty-dir", "rename {b}/empty {b}/dir", "ENOTEMPTY"),
    R("rename-dir-into-itself", "rename {b}/dir {b}/dir/sub/x", "EINVAL"),
    R("rename-onto-itself", "rename {b}/file {b}/file", "ok"),
    R("rename-no-target-parent", "rename {b}/file {b}/missing/x", "ENOENT"),
    R("rename-under-file", "rename {b}/file {b}/ro/x", "ENOTDIR"),
    R("rename-replace-file", "rename {b}/ro {b}/file", "ok"),
    R("rename-link", "rename {b}/ld {b}/ld2", "ok"),
    R("rename-through-link", "rename {b}/ld/inner {b}/moved", "ok"),
    R("rename-file-slash", "rename {b}/file/ {b}/x", "ENOTDIR"),
    R("rename-out-of-mount", "rename {b}/file {out}", "EXDEV"),
    R("rename-dotdot", "rename {b}/dir/sub/.. {b}/moved", "EBUSY"),
    R("rename-dot", "rename {b}/dir/sub/. {b}/moved", "EBUSY"),
    R("rename-dotdot-slash", "rename {b}/dir/sub/../ {b}/moved", "EBUSY"),
    R("rename-dotdot-twice", "rename {b}/dir/sub/../.. {b}/moved", "EBUSY"),
    R("rename-onto-dot", "rename {b}/empty {b}/dir/.", "EBUSY"),
    R("rename-onto-dotdot", "rename {b}/empty {b}/dir/sub/..", "EBUSY"),
    R("rename-missing-onto-dot", "rename {b}/missing {b}/dir/.", "EBUSY"),
    R("rename-dotdot-missing-parent", "rename {b}/missing/.. {b}/moved", "ENOENT"),
    R("rename-dot-under-file", "rename {b}/file/. {b}/moved", "ENOTDIR"),
    R("rename-dotdot-to-missing-parent", "rename {b}/dir/sub/.. {b}/missing/x", "ENOENT"),
    R("rename-missing-parent-onto-dot", "rename {b}/missing/x {b}/dir/.", "ENOENT"),
    R("rename-dotdot-out-of-mount", "rename {b}/dir/sub/.. {out}", "EXDEV"),
    R("renameat-dotdot-through-dirfd", "renameat2 {b}/dir/sub .. cwd {b}/moved 0", "EBUSY"),
    R("renameat-dot-through-dirfd", "renameat2 {b}/dir . {b} moved 0", "EBUSY"),
    R("renameat-onto-dot-through-dirfd", "renameat2 cwd {b}/empty {b}/dir . 0", "EBUSY"),
    R("renameat2-noreplace-onto-dot", "renameat2 cwd {b}/empty cwd {b}/dir/. RENAME_NOREPLACE",
      "EEXIST"),
    R("renameat2-noreplace-dotdot", "renameat2 cwd {b}/dir/sub/.. cwd {b}/x RENAME_NOREPLACE",
      "EBUSY"),
    R("renameat2-exchange-dot", "renameat2 cwd {b}/empty cwd {b}/dir/. RENAME_EXCHANGE",
      "EBUSY"),
    R("rename-from-unwritable-dir", "rename {b}/dir/inner {b}/wdir/x", "EACCES",
      as_nobody=True),
    R("rename-into-unwritable-dir", "rename {b}/wdir/rootf {b}/dir/x", "EACCES",
      as_nobody=True),
    R("rename-in-writable-dir", "rename {b}/wdir/rootf {b}/wdir/moved", "ok", as_nobody=True),
    R("rename-sticky-not-owner", "rename {b}/sticky/rootf {b}/sticky/x", "EPERM",
      as_nobody=True),
    R("symlink-in-unwritable-dir", "symlink x {b}/dir/newlink", "EACCES", as_nobody=True),
    R("renameat2-noreplace", "renameat2 cwd {b}/file cwd {b}/ro RENAME_NOREPLACE", "EEXIST"),
    R("renameat2-exchange", "renameat2 cwd {b}/file cwd {b}/ro RENAME_EXCHANGE", "ok"),
    R("renameat2-exchange-dirs", "renameat2 cwd {b}/dir cwd {b}/wdir RENAME_EXCHANGE", "ok"),
    R("renameat2-exchange-dir-file", "renameat2 cwd {b}/dir cwd {b}/file RENAME_EXCHANGE", "ok"),
    R("renameat2-exchange-missing", "renameat2 cwd {b}/file cwd {b}/missing RENAME_EXCHANGE",
      "ENOENT"),
    R("renameat2-exchange-into-subtree", "renameat2 cwd {b}/dir cwd {b}/dir/sub RENAME_EXCHANGE",
      "EINVAL"),
    R("renameat2-exchange-noreplace", "renameat2 cwd {b}/file cwd {b}/ro RENAME_EXCHANGE|RENAME_NOREPLACE",
      "EINVAL"),
    # links
    R("symlink-new", "symlink file {b}/newlink", "ok"),
    R("symlink-existing", "symlink x {b}/file", "EEXIST"),
    R("symlink-empty-target", "symlink '' {b}/newlink", "ENOENT"),
    R("symlink-no-parent", "symlink x {b}/missing/newlink", "ENOENT"),
    R("symlink-under-file", "symlink x {b}/file/newlink", "ENOTDIR"),
    R("symlinkat-dirfd", "symlinkat inner {b}/dir newlink", "ok"),
    R("readlink-link", "readlink {b}/lf", "ok"),
    R("readlink-truncated", "readlink {b}/lf 2", "ok"),
    R("readlink-file", "readlink {b}/file", "EINVAL"),
    R("readlink-missing", "readlink {b}/missing", "ENOENT"),
    R("readlink-size-zero", "readlink {b}/lf 0", "EINVAL"),
    R("readlinkat-dirfd", "readlinkat {b} lf", "ok"),
    R("link-hard", "link {b}/file {b}/hard", "ok"),
    R("link-out-of-mount", "link {b}/file {out}", "EXDEV"),
    R("link-missing", "link {b}/missing {b}/hard", "ENOENT"),
    R("link-existing", "link {b}/file {b}/lf", "EEXIST"),
    R("link-dir", "link {b}/dir {b}/hard", "EPERM"),
    R("link-no-target-parent", "link {b}/file {b}/missing/hard", "ENOENT"),
    R("link-under-file", "link {b}/file {b}/file/hard", "ENOTDIR"),
    R("link-symlink-itself", "link {b}/lf {b}/hard", "ok"),
    R("link-in-unwritable-dir", "link {b}/sticky/mine {b}/dir/hard", "EACCES", as_nobody=True),
    R("link-protected-not-owner", "link {b}/file {b}/wdir/hard", "EPERM", as_nobody=True),
    R("link-own-file", "link {b}/sticky/mine {b}/wdir/hard", "ok", as_nobody=True),
    # attributes
    R("chmod-file", "chmod {b}/file 0600", "ok"),
    R("chmod-missing", "chmod {b}/missing 0600", "ENOENT"),
    R("chmod-not-owner", "chmod {b}/file 0777", "EPERM", as_nobody=True),
    R("chmod-through-link", "chmod {b}/lf 0600", "ok"),
    R("fchmodat-link-nofollow", "fchmodat cwd {b}/lf 0600 AT_SYMLINK_NOFOLLOW", "EOPNOTSUPP"),
    R("fchmod-bad", "fchmod bad 0600", "EBADF"),
    R("fchmod-fd", "fchmod {b}/file 0600", "ok"),
    R("chown-same", "chown {b}/file 0 0", "ok"),
    R("chown-root-gives-away", "chown {b}/file 65534 65534", "ok"),
    R("chgrp-root", "chown {b}/file -1 65534", "ok"),
    R("chown-clears-set-id-bits", "chown {b}/suid 0 0", "ok"),
    R("chown-keeps-sgid-without-group-exec", "chown {b}/sgid -1 65534", "ok"),
    R("chown-dir-keeps-bits", "chown {b}/sgdir 65534 -1", "ok"),
    R("lchown-changes-the-link", "lchown {b}/lf 65534 65534", "ok"),
    R("chown-through-link", "chown {b}/lf 65534 65534", "ok"),
    R("fchown-fd", "fchown {b}/file 65534 0", "ok"),
    R("chown-not-owner", "chown {b}/file 65534 65534", "EPERM", as_nobody=True),
    R("chgrp-not-owner", "chown {b}/file -1 0", "EPERM", as_nobody=True),
    R("chown-keep-all-not-owner", "chown {b}/file -1 -1", "ok", as_nobody=True),
    R("chgrp-owner-own-group", "chown {b}/mine -1 65534", "ok", as_nobody=True),
    R("chgrp-owner-foreign-group", "chown {b}/mine -1 0", "EPERM", as_nobody=True),
    R("chown-owner-gives-away", "chown {b}/mine 0 -1", "EPERM", as_nobody=True),
    R("chown-owner-keeps-uid", "chown {b}/mine 65534 -1", "ok", as_nobody=True),
    R("chown-missing", "chown {b}/missing 0 0", "ENOENT"),
    R("lchown-link", "lchown {b}/lf 0 0", "ok"),
    R("fchown-bad", "fchown bad 0 0", "EBADF"),
    R("truncate-file", "truncate {b}/file 3", "ok"),
    R("truncate-dir", "truncate {b}/dir 0", "EISDIR"),
    R("truncate-missing", "truncate {b}/missing 0", "ENOENT"),
    R("truncate-negative", "truncate {b}/file -1", "EINVAL"),
    R("truncate-through-link", "truncate {b}/lf 2", "ok"),
    R("truncate-readonly", "truncate {b}/ro 0", "EACCES", as_nobody=True),
    R("ftruncate-rdonly", "ftruncate {b}/file 0", "EINVAL"),
    R("ftruncate-bad", "ftruncate bad 0", "EBADF"),
    R("utimensat-now", "utimensat cwd {b}/file now now 0", "ok"),
    R("utimensat-missing", "utimensat cwd {b}/missing now now 0", "ENOENT"),
    R("utimensat-explicit-not-owner", "utimensat cwd {b}/file 5 5 0", "EPERM", as_nobody=True),
    R("utimensat-now-no-write", "utimensat cwd {b}/file null null 0", "EACCES",
      as_nobody=True),
    R("utimensat-link-nofollow", "utimensat cwd {b}/lf 5 5 AT_SYMLINK_NOFOLLOW", "ok"),
    R("utimensat-explicit", "utimensat cwd {b}/file 1 1000000000 0", "ok"),
    R("utimes-file", "utimes {b}/file", "ok"),
    R("futimens-fd", "futimens {b}/file omit 7", "ok"),
    # working directory and directories
    R("chdir-dir", "chdir {b}/dir", "ok"),
    R("chdir-file", "chdir {b}/file", "ENOTDIR"),
    R("chdir-missing", "chdir {b}/missing", "ENOENT"),
    R("chdir-link", "chdir {b}/ld", "ok"),
    R("chdir-no-search", "chdir {b}/rnox", "EACCES", as_nobody=True),
    R("chdir-searchable", "chdir {b}/dir", "ok", as_nobody=True),
    R("fchdir-no-search", "fchdir {b}/rnox", "EACCES", as_nobody=True),
    R("fchdir-file", "fchdir {b}/file", "ENOTDIR"),
    R("fchdir-dir", "fchdir {b}/dir", "ok"),
    R("opendir-dir", "opendir {b}/dir", "ok"),
    R("opendir-link", "opendir {b}/ld", "ok"),
    R("opendir-file", "opendir {b}/file", "ENOTDIR"),
    R("opendir-missing", "opendir {b}/missing", "ENOENT"),
    R("opendir-no-read", "opendir {b}/nox", "EACCES", as_nobody=True),
    R("opendir-read-no-search", "opendir {b}/rnox", "ok", as_nobody=True),
    R("getdents-file", "getdents64 {b}/file", "ENOTDIR"),
    R("getdents-bad", "getdents64 bad", "EBADF"),
    # descriptors and data
    R("read-file", "read {b}/file", "ok"),
    R("read-wronly", "read {b}/file@O_WRONLY", "EBADF"),
    R("read-dir", "read {b}/dir", "EISDIR"),
    R("read-bad", "read bad", "EBADF"),
    R("pread-offset", "pread {b}/file 3 2", "ok"),
    R("pread-negative", "pread {b}/file 3 -1", "EINVAL"),
    R("write-rdonly", "write {b}/file abc", "EBADF"),
    R("write-append", "write {b}/file@O_WRONLY|O_APPEND abc", "ok"),
    R("pwrite-negative", "pwrite {b}/file@O_WRONLY abc -1", "EINVAL"),
    R("lseek-negative", "lseek {b}/file -1 SEEK_SET", "EINVAL"),
    R("lseek-end", "lseek {b}/file 0 SEEK_END", "ok"),
    R("lseek-bad-whence", "lseek {b}/file 0 17", "EINVAL"),
    R("lseek-data-past-end", "lseek {b}/file 100 SEEK_DATA", "ENXIO"),
    R("close-bad", "close bad", "EBADF"),
    R("dup2-bad", "dup2 bad 50", "EBADF"),
    R("fcntl-getfl", "fcntl {b}/file@O_RDWR|O_APPEND F_GETFL", "ok"),
    R("fcntl-bad", "fcntl bad F_GETFL", "EBADF"),
    R("fcntl-dupfd", "fcntl {b}/file F_DUPFD 10", "ok"),
    R("flock-exclusive", "flock {b}/file LOCK_EX|LOCK_NB", "ok"),
    R("fsync-file", "fsync {b}/file", "ok"),
    R("fsync-directory", "fsync {b}/dir", "ok"),
    R("fsync-bad", "fsync bad", "EBADF"),
    R("fdatasync-file", "fdatasync {b}/file", "ok"),
    R("sync-file-range", "sync_file_range {b}/file@O_WRONLY 0 0 "
      "SYNC_FILE_RANGE_WAIT_BEFORE|SYNC_FILE_RANGE_WRITE|SYNC_FILE_RANGE_WAIT_AFTER", "ok"),
    R("sync-file-range-bad-flags", "sync_file_range {b}/file 0 0 8", "EINVAL"),
    R("sync-file-range-negative", "sync_file_range {b}/file -1 0 SYNC_FILE_RANGE_WRITE", "EINVAL"),
    R("syncfs-file", "syncfs {b}/file", "ok"),
    R("fallocate-grow", "fallocate {b}/file@O_RDWR 0 0 100", "ok"),
    R("fallocate-rdonly", "fallocate {b}/file 0 0 100", "EBADF"),
    R("fallocate-punch-without-keep", "fallocate {b}/file@O_RDWR FALLOC_FL_PUNCH_HOLE 0 1",
      "EOPNOTSUPP"),
    R("fallocate-bad-length", "fallocate {b}/file@O_RDWR 0 0 0", "EINVAL"),
    R("posix-fallocate", "posix_fallocate {b}/file@O_RDWR 0 10", "ok"),
    R("sendfile-into-file", "sendfile {b}/new@O_WRONLY|O_CREAT {b}/file 100", "ok"),
    R("copy-file-range", "copy_file_range {b}/file {b}/new@O_WRONLY|O_CREAT 100", "ok"),
    R("mmap-private", "mmap {b}/file PROT_READ MAP_PRIVATE 6", "ok"),
    R("mmap-wronly", "mmap {b}/file@O_WRONLY PROT_READ MAP_PRIVATE 6", "EACCES"),
    R("mmap-shared-writable", "mmap {b}/file@O_RDWR PROT_READ|PROT_WRITE MAP_SHARED 6", "ok",
      differs="ENODEV"),
    # stdio
    R("fopen-read", "fopen {b}/file r", "ok"),
    R("fopen-missing", "fopen {b}/missing r", "ENOENT"),
    R("fopen-dir-write", "fopen {b}/dir w", "EISDIR"),
    R("fopen-under-file", "fopen {b}/file/x r", "ENOTDIR"),
    R("fopen-create", "fopen {b}/new w", "ok"),
    R("fopen-bad-mode", "fopen {b}/file z", "EINVAL"),
    R("fopen-exclusive", "fopen {b}/file wx", "EEXIST"),
    # names that are not files, and file-system information
    R("mknod-fifo", "mknod {b}/fifo S_IFIFO|0644", "ok"),
    R("mkfifo", "mkfifo {b}/fifo 0644", "ok"),
    R("mkfifo-existing", "mkfifo {b}/file 0644", "EEXIST"),
    R("mkfifo-no-parent", "mkfifo {b}/missing/fifo 0644", "ENOENT"),
    R("mkfifo-under-file", "mkfifo {b}/file/fifo 0644", "ENOTDIR"),
    R("mkfifo-in-unwritable-dir", "mkfifo {b}/dir/fifo 0644", "EACCES", as_nobody=True),
    R("mknod-socket", "mknod {b}/sock S_IFSOCK|0644", "ok"),
    # Through FUSE the kernel refuses a device node to an unprivileged caller before it asks
    # gkfs-fuse, which checks the directory (no default_permissions).
    R("mknod-blk-unwritable-dir", "mknod {b}/dev S_IFBLK|0644", "EACCES", as_nobody=True, fuse_differs="EPERM"),
    R("mknod-blk-unprivileged", "mknod {b}/wdir/dev S_IFBLK|0644", "EPERM", as_nobody=True),
    R("mknod-whiteout-unprivileged", "mknod {b}/wdir/wh S_IFCHR|0644", "ok", as_nobody=True),
    R("mknod-regular", "mknod {b}/node S_IFREG|0644", "ok"),
    R("mknod-existing", "mknod {b}/file S_IFREG|0644", "EEXIST"),
    R("statvfs-dir", "statvfs {b}/dir", "ok"),
    R("statvfs-missing", "statvfs {b}/missing", "ENOENT"),
    R("realpath-through-link", "realpath {b}/ld/inner", "ok"),
    R("realpath-missing", "realpath {b}/missing", "ENOENT"),
    R("realpath-loop", "realpath {b}/loop", "ELOOP"),
    R("realpath-under-file", "realpath {b}/file/x", "ENOTDIR"),
    R("getxattr-none", "getxattr {b}/file user.none", "ENODATA", differs="EOPNOTSUPP"),
    R("getxattr-missing", "getxattr {b}/missing user.none", "ENOENT"),
    R("listxattr-file", "listxattr {b}/file", "ok"),
    # exec: programs stored in the file system (exe: a "#!/bin/sh" script, elf: a copy of
    # /bin/echo, noshebang: executable text without "#!", badinterp: "#!/nonexistent")
    R("execve-elf", "execve {b}/elf hi there", "ok"),
    R("execve-script", "execve {b}/exe a b", "ok"),
    R("execve-through-link", "execve {b}/lexe", "ok"),
    R("execve-no-x", "execve {b}/file", "EACCES"),
    R("execve-missing", "execve {b}/missing", "ENOENT"),
    R("execve-dir", "execve {b}/dir", "EACCES"),
    R("execve-under-file", "execve {b}/file/x", "ENOTDIR"),
    R("execve-no-interpreter-line", "execve {b}/noshebang", "ENOEXEC"),
    R("execve-missing-interpreter", "execve {b}/badinterp", "ENOENT"),
    R("vfork-execve-elf", "vfork_execve {b}/elf x", "ok"),
    R("vfork-execve-script", "vfork_execve {b}/exe y", "ok"),
    R("vfork-execve-no-x", "vfork_execve {b}/file", "EACCES"),
    R("vfork-execve-missing", "vfork_execve {b}/missing", "ENOENT"),
    R("vfork-execve-dir", "vfork_execve {b}/dir", "EACCES"),
    R("execvp-search", "execvp exe {b}/dir:{b}:/bin a", "ok"),
    R("execvp-shell-fallback", "execvp noshebang {b}", "ok"),
    R("execvp-no-x", "execvp file {b}:{b}/dir", "EACCES"),
    R("execvp-missing", "execvp missing {b}:{b}/dir", "ENOENT"),
    R("posix-spawn-elf", "posix_spawn {b}/elf hi", "ok"),
    R("posix-spawn-script", "posix_spawn {b}/exe x", "ok"),
    R("posix-spawn-no-x", "posix_spawn {b}/file", "EACCES"),
    R("posix-spawn-dir", "posix_spawn {b}/dir", "EACCES"),
    R("posix-spawn-noexec", "posix_spawn {b}/noshebang", "ENOEXEC"),
    R("posix-spawnp-search", "posix_spawnp elf {b}/dir:{b} z", "ok"),
    R("posix-spawnp-missing", "posix_spawnp missing {b}", "ENOENT"),
    R("fexecve-elf", "fexecve {b}/elf hi", "ok"),
    # bad pointers: the path itself ("BAD": an unmapped page; "NONE": a page without access;
    # "EDGE:": no NUL before an unmapped page), a result or argument buffer ("BADBUF",
    # "bad"), both; on gkfs paths and on paths outside the mount ({out}, /tmp)
    R("open-bad-path", "open BAD O_RDONLY", "EFAULT"),
    R("open-inaccessible-path", "open NONE O_RDONLY", "EFAULT"),
    R("open-path-runs-off-the-mapping", "open EDGE:{b}/file O_RDONLY", "EFAULT"),
    R("open-path-ends-with-the-mapping", "open TIGHT:{b}/file O_RDONLY", "ok"),
    R("open-outside-path-runs-off", "open EDGE:/tmp O_RDONLY", "EFAULT"),
    R("openat-bad-path", "openat {b}/dir BAD O_RDONLY", "EFAULT"),
    R("creat-bad-path", "creat BAD 0644", "EFAULT"),
    R("stat-bad-path", "stat BAD", "EFAULT"),
    R("stat-bad-buffer", "stat {b}/file BADBUF", "EFAULT"),
    R("stat-missing-bad-buffer", "stat {b}/missing BADBUF", "ENOENT"),
    R("stat-outside-bad-buffer", "stat /tmp BADBUF", "EFAULT"),
    R("stat-bad-path-and-buffer", "stat BAD BADBUF", "EFAULT"),
    R("lstat-bad-buffer", "lstat {b}/lf BADBUF", "EFAULT"),
    R("fstatat-bad-path", "fstatat {b}/dir BAD 0", "EFAULT"),
    R("fstatat-empty-path-flag-bad-path", "fstatat {b}/dir BAD AT_EMPTY_PATH", "EFAULT"),
    R("fstatat-bad-buffer", "fstatat {b}/dir inner 0 BADBUF", "EFAULT"),
    R("statx-bad-path", "statx cwd BAD 0", "EFAULT"),
    R("statx-empty-path-flag-bad-path", "statx {b}/dir BAD AT_EMPTY_PATH", "EFAULT"),
    R("statx-bad-buffer", "statx cwd {b}/file 0 BADBUF", "EFAULT"),
    R("access-bad-path", "access BAD F_OK", "EFAULT"),
    R("faccessat-bad-path", "faccessat {b}/dir BAD R_OK 0", "EFAULT"),
    R("mkdir-bad-path", "mkdir BAD 0755", "EFAULT"),
    R("mkdirat-bad-path", "mkdirat {b}/dir BAD 0755", "EFAULT"),
    R("rmdir-bad-path", "rmdir BAD", "EFAULT"),
    R("unlink-bad-path", "unlink BAD", "EFAULT"),
    R("unlinkat-bad-path", "unlinkat {b}/dir BAD AT_REMOVEDIR", "EFAULT"),
    R("rename-bad-source", "rename BAD {b}/x", "EFAULT"),
    R("rename-bad-target", "rename {b}/file BAD", "EFAULT"),
    R("rename-outside-bad-target", "rename {out} BAD", "EFAULT"),
    R("rename-both-bad", "rename BAD BAD", "EFAULT"),
    R("renameat2-bad-target", "renameat2 cwd {b}/file {b}/dir BAD 0", "EFAULT"),
    R("link-bad-target", "link {b}/file BAD", "EFAULT"),
    R("symlink-bad-link-text", "symlink BAD {b}/newlink", "EFAULT"),
    R("symlink-bad-path", "symlink x BAD", "EFAULT"),
    R("symlink-outside-bad-link-text", "symlink BAD {out}", "EFAULT"),
    R("readlink-bad-path", "readlink BAD", "EFAULT"),
    R("readlink-bad-buffer", "readlink {b}/lf 100 BADBUF", "EFAULT"),
    R("readlink-outside-bad-buffer", "readlink /proc/self/cwd 100 BADBUF", "EFAULT"),
    R("readlinkat-bad-path", "readlinkat {b} BAD", "EFAULT"),
    R("chdir-bad-path", "chdir BAD", "EFAULT"),
    R("chdir-path-runs-off-the-mapping", "chdir EDGE:{b}/dir", "EFAULT"),
    R("truncate-bad-path", "truncate BAD 0", "EFAULT"),
    R("utimensat-bad-path", "utimensat cwd BAD now now 0", "EFAULT"),
    R("utimensat-bad-times", "utimensat cwd {b}/file bad bad 0", "EFAULT"),
    R("utimensat-missing-bad-times", "utimensat cwd {b}/missing bad bad 0", "EFAULT"),
    R("utimensat-outside-bad-times", "utimensat cwd {out} bad bad 0", "EFAULT"),
    R("chmod-bad-path", "chmod BAD 0644", "EFAULT"),
    R("chown-bad-path", "chown BAD 0 0", "EFAULT"),
    R("mknod-bad-path", "mknod BAD S_IFREG|0644", "EFAULT"),
    R("statvfs-bad-path", "statvfs BAD", "EFAULT"),
    R("getxattr-bad-path", "getxattr BAD user.x", "EFAULT"),
    R("fopen-bad-path", "fopen BAD r", "EFAULT"),
    R("execve-bad-path", "execve BAD", "EFAULT"),
    R("vfork-execve-bad-path", "vfork_execve BAD", "EFAULT"),
    R("execve-bad-environment", "execve_bad_env /bin/true", "EFAULT"),
    R("execve-gkfs-program-bad-environment", "execve_bad_env {b}/elf", "EFAULT"),
    R("posix-spawn-bad-path", "posix_spawn BAD", "EFAULT"),
    # glibc reads these paths itself and dies; the library answers EFAULT instead
    R("opendir-bad-path", "opendir BAD", "SIGSEGV", differs="EFAULT"),
    R("realpath-bad-path", "realpath BAD", "SIGSEGV", differs="EFAULT"),
    # relative paths of up to PATH_MAX - 1 bytes, from a deep working directory and through
    # a directory descriptor
    R("deep-relative-path", "stat " + padded(UP + "file", 4095), "ok", cwd="{b}/" + DEEP),
    R("deep-relative-path-too-long", "stat " + padded(UP + "file", 4096), "ENAMETOOLONG",
      cwd="{b}/" + DEEP),
    R("deep-relative-create", "open " + padded(UP + "dir/new", 4095) + " O_CREAT|O_WRONLY",
      "ok", cwd="{b}/" + DEEP),
    R("deep-relative-mkdir", "mkdir " + padded("newdir", 4095) + " 0755", "ok",
      cwd="{b}/" + DEEP),
    R("deep-relative-rename", "rename " + padded(UP + "file", 4095) + " moved", "ok",
      cwd="{b}/" + DEEP),
    R("deep-openat-dirfd", "openat {b}/" + DEEP + " " + padded(UP + "file", 4095) + " O_RDONLY",
      "ok"),
    R("deep-fstatat-dirfd", "fstatat {b}/" + DEEP + " " + padded(UP + "dir", 4095) + " 0", "ok"),
    R("deep-mkdirat-dirfd", "mkdirat {b}/" + DEEP + " " + padded("newdir", 4095) + " 0755",
      "ok"),
    R("deep-openat-dirfd-too-long", "openat {b}/" + DEEP + " " + padded(UP + "file", 4096)
      + " O_RDONLY", "ENAMETOOLONG"),
    R("deep-relative-execve", "execve " + padded(UP + "exe", 4095) + " a", "ok",
      cwd="{b}/" + DEEP),
    R("deep-relative-vfork-execve", "vfork_execve " + padded(UP + "exe", 4095), "ok",
      cwd="{b}/" + DEEP),
    R("deep-relative-past-the-gkfs-limit", "stat " + "/".join(["e" * 200] * 6), "ENOENT",
      cwd="{b}/" + DEEP, differs="ENAMETOOLONG"),
    # a process that switches to nobody before its first call (the library must have kept
    # the instance secret it can no longer read), checked against its new identity
    R("create-in-writable-dir-cold", "open {b}/wdir/new O_CREAT|O_WRONLY 0640", "ok",
      as_nobody=True, warm=False),
    R("open-readable-cold", "open {b}/file O_RDONLY", "ok", as_nobody=True, warm=False),
    R("open-private-cold", "open {b}/priv O_RDONLY", "EACCES", as_nobody=True, warm=False),
    R("mkdir-in-unwritable-dir-cold", "mkdir {b}/dir/new 0755", "EACCES", as_nobody=True,
      warm=False),
    R("unlink-sticky-not-owner-cold", "unlink {b}/sticky/rootf", "EPERM", as_nobody=True,
      warm=False),
    R("rename-in-writable-dir-cold", "rename {b}/wdir/rootf {b}/wdir/moved", "ok",
      as_nobody=True, warm=False),
]



# Each row's tree: made by this script under the preload (gkfs) and without it (local).
TREE = r"""
import os, shutil, sys
base = sys.argv[1]
os.umask(0o022)
os.makedirs(base, exist_ok=True)
for row in sys.argv[2:]:
    b = os.path.join(base, row)
    os.mkdir(b)
    for name, text, mode in [("file", "hello\n", 0o644), ("ro", "ro\n", 0o444),
                             ("priv", "priv\n", 0o600),
                             ("exe", '#!/bin/sh\necho "$0" "$@"\nexit 3\n', 0o755),
                             ("noshebang", "echo plain\n", 0o755),
                             ("badinterp", "#!/nonexistent/sh\n", 0o755)]:
        with open(os.path.join(b, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(b, name), mode)
    for d in ("dir", "dir/sub", "empty", "nox", "rnox", "rnox/deep", "wdir", "sticky",
              "sticky/rdir", "sgdir"):
        os.mkdir(os.path.join(b, d))
    for name in ("dir/inner", "nox/f", "rnox/f", "rnox/deep/f", "wdir/rootf", "sticky/rootf",
                 "sticky/mine", "mine", "suid", "sgid"):
        open(os.path.join(b, name), "w").write(name + "\n")
    for name in ("sticky/mine", "mine"):
        os.chown(os.path.join(b, name), 65534, 65534)
    for name, mode in [("nox", 0o700), ("rnox", 0o744), ("wdir", 0o777), ("sticky", 0o1777),
                       ("suid", 0o6755), ("sgid", 0o2745), ("sgdir", 0o2755)]:
        os.chmod(os.path.join(b, name), mode)
    for name, target in [("lf", "file"), ("ld", "dir"), ("dang", "missing"), ("loop", "loop"),
                         ("lexe", "exe")]:
        os.symlink(target, os.path.join(b, name))
    if row.startswith(("exec", "vfork-exec", "posix-spawn", "fexecve")):
        shutil.copy("/bin/echo", os.path.join(b, "elf"))
    if row.startswith("deep"):
        os.chdir(b)  # the deep directory is longer than an absolute path may be
        for part in DEEP.split("/"):
            os.mkdir(part)
            os.chdir(part)
        os.chdir("/")
"""


def probe_path() -> str:
    from build_tree import built_binary

    return built_binary("gkfs_callprobe")


@pytest.fixture(scope="module")
def fs():
    """One file system of 3 daemons (the table needs one, not two), its mount directory also
    mounted with the FUSE client (--allow-other: rows run as nobody)."""
    require_fuse()
    started = start_fs(3, args=["--fuse", "--allow-other"])
    yield started
    stop_fs(started)


@pytest.fixture(scope="module")
def trees(fs):
    """(gkfs base, local base, other-file-system path, FUSE base): one tree per row in each
    base; the FUSE base is made through the mount, without the preload."""
    gkfs_base = f"{fs.mountdir}/conformance-{uuid.uuid4().hex[:8]}"
    fuse_base = f"{fs.mountdir}/conformance-fuse-{uuid.uuid4().hex[:8]}"
    local_base = tempfile.mkdtemp(prefix="gkfs-conformance-", dir="/tmp")
    os.chmod(local_base, 0o755)  # nobody must reach it, as it reaches the gkfs base
    # nobody connects itself in the cold rows: it reads the hosts file (the secret is root's)
    os.chmod(os.path.dirname(fs.hosts_file), 0o755)
    plain = {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}
    rows = [row.id for row in ROWS]
    for base, env in ((gkfs_base, fs.env), (local_base, plain), (fuse_base, plain)):
        tree = f"DEEP = {DEEP!r}\n" + textwrap.dedent(TREE)
        result = subprocess.run([sys.executable, "-c", tree, base, *rows],
                                env=env, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr
    yield gkfs_base, local_base, f"/dev/shm/gkfs-conformance-{uuid.uuid4().hex[:8]}", fuse_base
    shutil.rmtree(local_base, ignore_errors=True)


def run_probe(fs, row: Row, base: str, out: str, in_gkfs: bool, preload: bool = True) -> dict:
    """The row's call in base: in gkfs through the preload (in_gkfs), through the FUSE mount
    (in_gkfs, not preload), or locally."""
    args = row.argv.replace("{b}", f"{base}/{row.id}").replace("{out}", out).split(" ")
    args = ["" if a == "''" else a for a in args]
    argv = [probe_path(), "--umask", "022"]
    if row.as_nobody:
        if in_gkfs and preload and row.warm:
            argv += ["--warm", fs.mountdir]  # connect while root
        argv += ["--as", NOBODY]
    if row.cwd:
        argv += ["--cwd", row.cwd.replace("{b}", f"{base}/{row.id}")]
    env = fs.env if in_gkfs and preload else {k: v for k, v in fs.env.items()
                                              if k != "LD_PRELOAD"}
    result = subprocess.run(argv + args, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{argv + args}: {result.stderr}"
    return json.loads(result.stdout.replace(base, "BASE"))


def outcome(result: dict) -> str:
    if "signal" in result:
        return result["signal"]
    return "ok" if result.get("errno") is None and "setup" not in result else result["errno"]


def param(row: Row):
    marks = [pytest.mark.xfail(strict=True, reason=row.xfail)] if row.xfail else []
    return pytest.param(row, marks=marks, id=row.id)


@pytest.mark.parametrize("row", [param(row) for row in ROWS])
def test_call(fs, trees, row):
    gkfs_base, local_base, out, fuse_base = trees
    local = run_probe(fs, row, local_base, out, in_gkfs=False)
    assert outcome(local) == row.expect, f"the local call gave {local}"
    got = run_probe(fs, row, gkfs_base, out, in_gkfs=True)
    fuse = run_probe(fs, row, fuse_base, out, in_gkfs=True, preload=False)
    if row.fuse_differs is not None:
        assert outcome(fuse) == row.fuse_differs, f"documented FUSE difference changed: FUSE gave {fuse}"
        fuse = local
    if row.differs is None:
        assert got == local
        assert fuse == local, f"FUSE gave {fuse}, local {local}"
    else:
        assert outcome(got) == row.differs and got != local, \
            f"documented difference changed: gkfs gave {got}, local {local}"
        # A limit of the core shows through FUSE too; a limit of interposition (bad
        # pointers, the preload's path length) does not: the kernel answers as locally.
        assert fuse == local or outcome(fuse) == row.differs, \
            f"FUSE gave {fuse}, the preload {got}, local {local}"


def test_table_covers_the_calls_of_issue_3():
    calls = {row.argv.split(" ")[0] for row in ROWS}
    expected = {"open", "openat", "creat", "stat", "lstat", "fstat", "fstatat", "statx",
                "access", "faccessat", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
                "rename", "renameat2", "link", "symlink", "symlinkat", "readlink",
                "readlinkat", "chmod", "fchmod", "fchmodat", "chown", "lchown", "fchown",
                "truncate", "ftruncate", "utimensat", "utimes", "futimens", "chdir", "fchdir",
                "opendir", "getdents64", "read", "pread", "write", "pwrite", "lseek", "close",
                "dup2", "fcntl", "flock", "fsync", "fdatasync", "sync_file_range",
                "syncfs", "fallocate", "posix_fallocate", "sendfile",
                "copy_file_range", "mmap", "fopen", "mknod", "mkfifo", "statvfs", "realpath",
                "getxattr", "listxattr", "execve", "vfork_execve", "execvp", "posix_spawn",
                "posix_spawnp", "fexecve"}
    assert expected <= calls, expected - calls
    errnos = {row.expect for row in ROWS}
    assert {"ENOENT", "EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EBADF", "EINVAL",
            "ENAMETOOLONG", "EACCES", "ELOOP", "EXDEV", "EPERM", "EFAULT", "ENOEXEC"} <= errnos
