"""libgkfs_intercept.so under unmodified programs: coreutils, bash and Python on a file system
of 2 and of 4 daemons (the module-scoped ``fs`` fixture). Every command runs in a subprocess
with LD_PRELOAD set; results are checked from outside (hashes, listings, errno names)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import file_sha256, require_program

REPO = Path(__file__).resolve().parents[1]


def sh(fs, script: str, check: bool = True):
    """Runs a bash script under the preload library; fails the test on a non-zero exit."""
    result = fs.run(["bash", "-c", "set -euo pipefail\n" + script])
    if check:
        assert result.returncode == 0, (f"script failed ({result.returncode}):\n{script}\n"
                                        f"stdout: {result.stdout}\nstderr: {result.stderr}")
    return result


def py(fs, code: str, *args: str):
    """Runs Python code under the preload library; returns what it printed as JSON."""
    result = fs.run([sys.executable, "-c", textwrap.dedent(code), *args])
    assert result.returncode == 0, f"stdout: {result.stdout}\nstderr: {result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture
def d(fs, unique_dir) -> str:
    """A fresh directory inside the mount, as the application sees it."""
    path = fs.mountdir + unique_dir
    sh(fs, f"mkdir '{path}'")
    return path


def test_mkdir_p_ls_stat(fs, d):
    out = sh(fs, f"""
        mkdir -p {d}/a/b/c
        mkdir -p {d}/a/b/c
        ls {d}/a/b
        stat -c '%F' {d}/a/b/c
        stat -c '%F %s' {d}/a
    """).stdout.split("\n")
    assert out[:3] == ["c", "directory", "directory 0"]


def test_cp_cat_ls_l_stat(fs, d, tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("hello gkfs\n" * 1000)
    out = sh(fs, f"""
        cp {src} {d}/f
        cat {d}/f | sha256sum | cut -d' ' -f1
        stat -c '%s %F' {d}/f
        ls -l {d}
    """).stdout.splitlines()
    assert out[0] == file_sha256(src)
    assert out[1] == f"{src.stat().st_size} regular file"
    assert out[2].startswith("total")
    assert out[3].startswith("-rw") and out[3].split()[4] == str(src.stat().st_size)
    assert out[3].endswith(" f")


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory) -> Path:
    """A snapshot of this repository's core/ (others may edit the live tree meanwhile)."""
    snapshot = tmp_path_factory.mktemp("src") / "core"
    shutil.copytree(REPO / "core", snapshot)
    return snapshot


def test_cp_r_source_tree_and_back(fs, d, tmp_path, source_tree):
    back = tmp_path / "back"
    sh(fs, f"""
        cp -r {source_tree} {d}/core
        ls -lR {d}/core > /dev/null
        cp -r {d}/core {back}
        diff -r {source_tree} {back}
    """)
    files = sorted(p for p in source_tree.rglob("*") if p.is_file())
    sums = sh(fs, f"cd {d}/core && sha256sum " +
              " ".join(str(p.relative_to(source_tree)) for p in files)).stdout
    assert [line.split()[0] for line in sums.splitlines()] == [file_sha256(p) for p in files]
    sh(fs, f"rm -r {d}/core; test ! -e {d}/core")


def test_mv_rm_and_rm_r(fs, d):
    out = sh(fs, f"""
        echo one > {d}/f
        mv {d}/f {d}/g
        test ! -e {d}/f
        cat {d}/g
        mkdir -p {d}/t/u && echo x > {d}/t/u/v
        mv {d}/t {d}/t2
        cat {d}/t2/u/v
        rm -r {d}/t2
        rm {d}/g
        ls -A {d} | wc -l
    """).stdout.split()
    assert out == ["one", "x", "0"]


def test_text_tools_tar_and_temp_files(fs, d, tmp_path):
    """sed -i and mktemp create temporary files in the target directory (mkstemp), sort and
    awk write through stdio, tar reads and writes whole trees."""
    out = sh(fs, f"""
        cd {d}
        printf 'c\\nb\\na\\n' > in.txt
        sort in.txt > sorted.txt
        sed -i 's/b/B/' sorted.txt
        awk '{{print $1 "!"}}' sorted.txt
        mktemp {d}/tmp.XXXXXX > /dev/null
        mktemp -d {d}/dir.XXXXXX > /dev/null
        tar cf {tmp_path}/t.tar -C {d} in.txt sorted.txt
        mkdir x && tar xf {tmp_path}/t.tar -C x
        tar cf {d}/t2.tar -C x . && tar tf {d}/t2.tar | sort | tr '\\n' ' '
        echo
        ls | sort | tr '\\n' ' '
    """).stdout.splitlines()
    assert out[:3] == ["a!", "B!", "c!"]
    assert out[3].split() == ["./", "./in.txt", "./sorted.txt"]
    assert sorted(n.split(".")[0] for n in out[4].split()) == \
        ["dir", "in", "sorted", "t2", "tmp", "x"]
    local = Path(fs.mountdir)  # the mount directory may exist on the local disk: it stays empty
    assert not local.exists() or list(local.iterdir()) == []


def test_git_clone_into_the_mount(fs, d):
    """git: lock files (O_EXCL), renames, mmap'd pack files, symlink and mode probes."""
    require_program("git", "git")
    out = sh(fs, f"""
        git clone -q --no-hardlinks {REPO}/.git {d}/repo
        cd {d}/repo
        git status --porcelain | wc -l
        git fsck --no-progress --no-dangling
        git rev-parse HEAD
    """).stdout.split()
    assert out[0] == "0"
    # The source repository may have moved on meanwhile: the clone's HEAD is one of its commits.
    subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", out[-1] + "^{commit}"], check=True)


def test_dd_256mib_round_trip(fs, d, tmp_path):
    src = tmp_path / "random"
    with open(src, "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    out = sh(fs, f"""
        dd if={src} of={d}/big bs=1M count=256 status=none
        stat -c %s {d}/big
        dd if={d}/big bs=1M status=none | sha256sum | cut -d' ' -f1
        sha256sum {d}/big | cut -d' ' -f1
    """).stdout.split()
    assert out == [str(256 << 20), file_sha256(src), file_sha256(src)]


def test_python_open_listdir_copytree(fs, d, source_tree):
    got = py(fs, """
        import json, os, shutil, sys
        d, src = sys.argv[1], sys.argv[2]
        with open(f"{d}/p.txt", "w") as f:
            f.write("from python\\n")
        with open(f"{d}/p.txt", "a") as f:
            f.write("appended\\n")
        shutil.copytree(src, f"{d}/tree")
        same = all(open(os.path.join(src, n), "rb").read() ==
                   open(f"{d}/tree/{n}", "rb").read() for n in os.listdir(src))
        print(json.dumps({"text": open(f"{d}/p.txt").read(),
                          "listing": sorted(os.listdir(d)),
                          "tree": sorted(os.listdir(f"{d}/tree")) == sorted(os.listdir(src)),
                          "same": same,
                          "walk": sum(len(files) for _, _, files in os.walk(d))}))
    """, d, str(source_tree / "include" / "gkfs"))
    assert got["text"] == "from python\nappended\n"
    assert got["listing"] == ["p.txt", "tree"]
    assert got["tree"] and got["same"]
    assert got["walk"] == 1 + len(os.listdir(source_tree / "include" / "gkfs"))


def test_errno_values(fs, d):
    got = py(fs, """
        import errno, json, os, sys
        d = sys.argv[1]
        mnt = os.path.dirname(d)
        open(f"{d}/file", "w").close()
        os.mkdir(f"{d}/dir")
        open(f"{d}/dir/inner", "w").close()

        def err(fn, *args):
            try:
                fn(*args)
            except OSError as e:
                return errno.errorcode[e.errno]
            return "ok"

        rd = os.open(f"{d}/file", os.O_RDONLY)
        wr = os.open(f"{d}/file", os.O_WRONLY)
        print(json.dumps({
            "open_missing": err(os.open, f"{d}/missing", os.O_RDONLY),
            "stat_missing": err(os.stat, f"{d}/missing"),
            "mkdir_no_parent": err(os.mkdir, f"{d}/missing/sub"),
            "unlink_missing": err(os.unlink, f"{d}/missing"),
            "excl_existing": err(os.open, f"{d}/file", os.O_CREAT | os.O_EXCL | os.O_WRONLY),
            "mkdir_existing": err(os.mkdir, f"{d}/dir"),
            "under_file": err(os.open, f"{d}/file/x", os.O_RDONLY),
            "create_under_file": err(os.open, f"{d}/file/x", os.O_CREAT | os.O_WRONLY),
            "listdir_file": err(os.listdir, f"{d}/file"),
            "o_directory_file": err(os.open, f"{d}/file", os.O_RDONLY | os.O_DIRECTORY),
            "rmdir_file": err(os.rmdir, f"{d}/file"),
            "write_dir": err(os.open, f"{d}/dir", os.O_WRONLY),
            "creat_on_dir": err(os.open, f"{d}/dir", os.O_CREAT | os.O_WRONLY),
            "unlink_dir": err(os.unlink, f"{d}/dir"),
            "rmdir_nonempty": err(os.rmdir, f"{d}/dir"),
            "path_max": err(os.open, mnt + ("/" + "d" * 200) * 21, os.O_RDONLY),
            "name_max": err(os.open, f"{d}/" + "n" * 256, os.O_CREAT | os.O_WRONLY),
            "write_rdonly": err(os.write, rd, b"x"),
            "read_wronly": err(os.read, wr, 1),
        }))
    """, d)
    assert got == {
        "open_missing": "ENOENT", "stat_missing": "ENOENT", "mkdir_no_parent": "ENOENT",
        "unlink_missing": "ENOENT",
        "excl_existing": "EEXIST", "mkdir_existing": "EEXIST",
        "under_file": "ENOTDIR", "create_under_file": "ENOTDIR", "listdir_file": "ENOTDIR",
        "o_directory_file": "ENOTDIR", "rmdir_file": "ENOTDIR",
        "write_dir": "EISDIR", "creat_on_dir": "EISDIR", "unlink_dir": "EISDIR",
        "rmdir_nonempty": "ENOTEMPTY",
        "path_max": "ENAMETOOLONG", "name_max": "ENAMETOOLONG",
        "write_rdonly": "EBADF", "read_wronly": "EBADF",
    }


def test_shell_redirections_share_the_file(fs, d):
    """bash redirects with open + dup2 onto 1; builtins write through stdio, children inherit."""
    out = sh(fs, f"""
        echo hi > {d}/f
        cat {d}/f
        echo there >> {d}/f
        /bin/echo external >> {d}/f
        cat {d}/f
        {{ echo first; cat {d}/f; printf 'last\\n'; }} > {d}/out
        cat {d}/out
    """).stdout
    assert out == ("hi\n" + "hi\nthere\nexternal\n" +
                   "first\nhi\nthere\nexternal\nlast\n")


def test_shell_descriptors_chosen_by_hand(fs, d):
    """`exec 3>` dup2()s onto fd 3 after the library connected: its own descriptors must not
    be there. Also stderr, here-documents and `exec >` redirecting the rest of a script."""
    out = sh(fs, f"""
        cat {d}/missing 2> {d}/err || true
        exec 3> {d}/three
        echo to3 >&3
        {{ echo out; echo err >&2; }} > {d}/both 2>&1
        cat > {d}/here <<END
heredoc line
END
        exec 4>&1
        exec > {d}/rest
        echo line1
        /bin/echo line2
        exec >&4 3>&-
        cat {d}/err {d}/three {d}/both {d}/here {d}/rest
    """).stdout.splitlines()
    assert out[0].startswith("cat: ") and "No such file or directory" in out[0]
    assert out[1:] == ["to3", "out", "err", "heredoc line", "line1", "line2"]


def test_fork_shares_the_file_offset(fs, d):
    got = py(fs, """
        import json, os, sys
        path = sys.argv[1] + "/forked"
        fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_RDWR)
        os.write(fd, b"parent1\\n")
        pid = os.fork()
        if pid == 0:
            os.write(fd, b"child\\n")
            os._exit(0)
        os.waitpid(pid, 0)
        os.write(fd, b"parent2\\n")
        os.lseek(fd, 0, os.SEEK_SET)
        pid = os.fork()
        if pid == 0:
            os.read(fd, 8)  # the child consumes "parent1\\n"
            os._exit(0)
        os.waitpid(pid, 0)
        rest = os.read(fd, 100).decode()
        os.close(fd)
        print(json.dumps({"content": open(path).read(), "rest": rest}))
    """, d)
    assert got == {"content": "parent1\nchild\nparent2\n", "rest": "child\nparent2\n"}


def test_cwd_inside_the_mount(fs, d):
    out = sh(fs, f"""
        cd {d}
        pwd
        mkdir sub && cd sub
        echo rel > file
        cat ../sub/file
        ls ..
        cd ..
        bash -c 'pwd; cat sub/file'
        python3 -c 'import os; print(os.getcwd())'
        cd ..
        cd ..
        test "$(pwd)" = "$(dirname {fs.mountdir})"
    """).stdout.split()
    assert out == [d, "rel", "sub", d, "rel", d]


def test_mount_prefix_matches_whole_components(fs, tmp_path):
    sibling = fs.mountdir + "2"
    try:
        sh(fs, f"mkdir {sibling} && echo kernel > {sibling}/f")
        assert (Path(sibling) / "f").read_text() == "kernel\n"  # on the local disk
    finally:
        sh(fs, f"rm -rf {sibling}", check=False)


def test_unrelated_programs_are_untouched(fs, tmp_path):
    (tmp_path / "x").write_text("local\n")
    out = sh(fs, f"cat {tmp_path}/x; ls {tmp_path}; cd {tmp_path} && pwd").stdout
    assert out == f"local\nx\n{tmp_path}\n"
