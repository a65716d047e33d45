"""The program matrix: unmodified programs run once under the preload library in gkfs and once
without it in a local directory (on /tmp); exit status, stdout and stderr must be the same,
with the working directory's path replaced by W. Each script starts in its working directory
($W); $SRC is a local snapshot of this repository's core/ (read-only input). Times are set
with touch -d where output shows them; what legitimately differs between file systems
(directory sizes and link counts, allocated blocks, the device) is filtered out."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import HANG_GUARD_S, require_fuse, require_program, start_fs, stop_fs

REPO = Path(__file__).resolve().parents[1]

# ls -l without what differs between file systems: the "total" block count, link counts and
# directory sizes (columns: mode, links, owner, group, size, empty time, name...).
LS_FILTER = (r"""awk '/^total /{next} """
             r"""NF>=6 {s=$5; if (substr($1,1,1)=="d") s="-"; $2=""; $5=s} {print}'""")


@pytest.fixture(scope="module")
def fs():
    """One file system of 3 daemons (the matrix needs one, not two), its mount directory also
    mounted with the FUSE client: preloaded processes take the preload's path, the others the
    kernel's."""
    require_fuse()
    started = start_fs(3, args=["--fuse", "--allow-other"])
    os.chmod(Path(started.mountdir).parent, 0o755)  # other users reach the mount point
    yield started
    stop_fs(started)


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory) -> Path:
    """A snapshot of core/ (others may edit the live tree meanwhile), with fixed times."""
    snapshot = tmp_path_factory.mktemp("src") / "core"
    shutil.copytree(REPO / "core", snapshot, ignore=shutil.ignore_patterns("*.o", "__pycache__"))
    for p in [snapshot, *snapshot.rglob("*")]:
        os.utime(p, (1_000_000_000, 1_000_000_000), follow_symlinks=False)
    return snapshot


def run_both(fs, script: str, tmp_path: Path, source: Path | None = None,
             timeout: float = HANG_GUARD_S) -> str:
    """Runs script in gkfs (preloaded), in gkfs through the FUSE mount (not preloaded) and
    locally; asserts the same outcome; returns stdout."""
    results = []
    for where in ("gkfs", "fuse", "local"):
        if where == "gkfs":
            work = f"{fs.mountdir}/p-{uuid.uuid4().hex[:10]}"
            env = dict(fs.env)
        elif where == "fuse":
            work = f"{fs.mountdir}/f-{uuid.uuid4().hex[:10]}"
            env = {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}
        else:
            work = str(tmp_path / "local")
            env = {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}
        env.update(W=work, SRC=str(source or ""), LC_ALL="C", TZ="UTC")
        prologue = 'set -eo pipefail\nmkdir -p "$W"\ncd "$W"\n'
        result = subprocess.run(["bash", "-c", prologue + script], env=env, capture_output=True,
                                text=True, timeout=timeout)
        results.append((result.returncode, result.stdout.replace(work, "W"),
                        result.stderr.replace(work, "W")))
    gkfs, fuse, local = results
    assert local[0] == 0, f"the script fails locally too:\n{local[2]}"
    assert gkfs == local, f"gkfs:\n{gkfs[1]}\n{gkfs[2]}\n--- local:\n{local[1]}\n{local[2]}"
    assert fuse == local, f"fuse:\n{fuse[1]}\n{fuse[2]}\n--- local:\n{local[1]}\n{local[2]}"
    return gkfs[1]


def test_bash_redirections(fs, tmp_path):
    out = run_both(fs, r"""
        echo one > f
        echo two >> f
        cat < f
        ls missing 2> err || true
        { echo a; cat f; } > grouped
        ls f missing > both 2>&1 || true
        ls missing 2>&1 > stdout_only | sed 's/^/pipe: /' || true
        exec 3> three
        echo to3 >&3
        echo more >&3
        exec 3>&-
        exec 4< f
        read -r first <&4
        echo "read: $first"
        exec 4<&-
        cat > here <<END
        heredoc $first
END
        cat <<< "herestring" > hs
        echo clobber >| f2
        set -o noclobber
        echo no > f2 || echo "noclobber refused"
        set +o noclobber
        ( echo sub1; echo sub2 ) | tee tee_out > /dev/null
        echo "both" &> amp
        printf 'x\ny\n' | while read -r l; do echo "$l$l"; done >> loop_out
        exec 5<> rw
        echo rw >&5
        exec 5>&-
        for f in f err grouped both stdout_only three here hs f2 tee_out amp loop_out rw; do
            echo "== $f"; cat "$f"
        done
    """, tmp_path)
    assert "read: one" in out and "noclobber refused" in out


def test_coreutils(fs, tmp_path):
    run_both(fs, r"""
        mkdir -p a/b/c a/d
        printf 'hello\n' > a/f.txt
        printf 'b\nc\na\nb\n' > a/b/list
        head -c 5000 /dev/zero | tr '\0' x > a/d/big.c
        ln -s f.txt a/link
        ln -s b a/dirlink
        chmod 640 a/f.txt
        chmod u+x,g-r a/b/list
        chmod -R o-rwx a/d
        install -m 755 -D a/f.txt a/inst/sub/tool
        install -d -m 700 a/inst/private
        touch -d '2001-02-03 04:05:06' a/f.txt a/b/list a/d/big.c a/inst/sub/tool
        touch -d '2002-01-01 00:00:00' a/ref
        touch -h -d '2003-01-01 00:00:00' a/link a/dirlink
        ls -laR --time-style=+ a | """ + LS_FILTER + r"""
        stat -c '%A %s %F %N %Y' a/f.txt a/link a/dirlink a/b/list a/inst/sub/tool a/ref
        wc a/b/list a/d/big.c
        sort -o a/b/list a/b/list; cat a/b/list
        sort -u a/b/list -o a/sorted; cat a/sorted
        truncate -s 1M a/sparse; truncate -s -1000 a/sparse; stat -c '%s' a/sparse
        truncate -s 10 a/d/big.c; wc -c < a/d/big.c
        du -b a/sparse a/f.txt
        du -s a > /dev/null && echo "du ok"
        df a > /dev/null && echo "df ok"
        readlink a/link; readlink -f a/dirlink/c; readlink -f a/link
        find a -newer a/ref | sort
        find a -size +100k | sort
        find a -name '*.c' -o -name '*.txt' | sort
        find a -type d | sort; find a -type l | sort; find a -type f | sort
        cp -a a copy
        ls -laR --time-style=+ copy | """ + LS_FILTER + r"""
        find copy ! -type d ! -newer a/ref -printf '%M %s %TY-%Tm-%Td %p %l\n' | sort
        cp -r a/b plain_copy && ls plain_copy
        mv a/f.txt a/moved.txt; mv a/b a/b2; mv a/b2 renamed_dir; ls a renamed_dir
        mv copy/d a/d_again && ls a
        cat a/link || echo "dangling after mv"
        rm -rf copy renamed_dir; ls
        rm -r a; ls
    """, tmp_path)


def test_ownership_and_directory_times(fs, tmp_path):
    """chown/chgrp as root, set-id bits cleared by chown; directories' mtime follows their
    entries (ls -t order, find -newer); reads update atime as relatime does."""
    out = run_both(fs, r"""
        touch f; ln -s f lnk; mkdir -p d e/sub
        chown 65534:65534 f && stat -c '%u %g %A' f
        chgrp 0 f && stat -c '%u %g %A' f
        chmod 6755 f && chown 0 f && stat -c '%u %g %A' f
        chown -h 123:456 lnk && stat -c '%u %g' lnk f
        chown -R 65534 e && stat -c '%u %g %n' e e/sub
        touch -d '2001-01-01 00:00:00' d e
        touch -d '2002-01-01 00:00:00' ref
        ls -1td d e ref
        touch d/x
        ls -1td d e ref
        find . -newer ref | sort
        touch -d '2001-01-01 00:00:00' d e
        mv d/x e/y
        find . -newer ref -type d | sort
        touch -d '2001-01-01 00:00:00' d e
        rm e/y
        find . -newer ref -type d | sort
        touch -d '2001-01-01 00:00:00' d e
        rmdir e/sub
        find . -newer ref -type d | sort
        echo data > r; touch -a -d '2001-01-01 00:00:00' r
        cat r > /dev/null
        [ "$(stat -c %X r)" -ge "$(stat -c %Y r)" ] && echo "atime updated by a read"
        touch -a -d '2099-01-01 00:00:00' r  # after mtime and ctime, not a day old: kept
        cat r > /dev/null
        stat -c '%x' r | cut -c1-10
    """, tmp_path)
    assert "atime updated by a read" in out and "./e\n" in out


def test_umask_changes_between_creates(fs, tmp_path):
    """The library keeps a copy of the umask; every change (bash's umask builtin, Python's
    os.umask, a child's own umask) must reach the next create."""
    out = run_both(fs, r"""
        umask 022; touch a; mkdir da
        umask 077; touch b; mkdir db
        (umask 000; touch c; mkdir dc)
        touch d
        bash -c 'umask 027; touch e'
        touch f
        python3 -c 'import os; os.umask(0o002); open("g", "w").close(); os.mkdir("dg")'
        stat -c '%n %a' a b c d e f g da db dc dg
    """, tmp_path)
    assert "c 666" in out and "d 600" in out and "g 664" in out


@pytest.mark.slow
def test_tar_and_gzip_of_a_source_tree(fs, tmp_path, source_tree):
    out = run_both(fs, r"""
        tar cf src.tar -C "$SRC" .
        sha256sum src.tar | cut -d' ' -f1
        tar tf src.tar | sort | sha256sum | cut -d' ' -f1
        mkdir x && tar xf src.tar -C x
        diff -r "$SRC" x && echo "extracted tree identical"
        find x -newer src.tar | wc -l
        tar czf x.tgz -C x .
        mkdir y && tar xzf x.tgz -C y && diff -r x y && echo "tgz round trip"
        tar cf - -C x . | tar xf - -C y
        cp src.tar s && gzip -9 s && gzip -t s.gz && ls s*
        gunzip -c s.gz | cmp - src.tar && echo "gunzip -c ok"
        gzip -d s.gz && cmp s src.tar && echo "gzip -d ok"
        gzip -k s && gunzip -f s.gz && cmp s src.tar && ls s*
    """, tmp_path, source_tree)
    assert "extracted tree identical" in out and "gzip -d ok" in out


PYTHON_SCRIPT = r"""
import os, pathlib, shutil, tempfile
w = os.getcwd()
for mode in ("w", "a", "x"):
    with open(f"m_{mode}", mode) as f:
        f.write(mode * 3)
with open("m_w", "r+") as f:
    f.seek(1); f.write("R")
with open("m_a", "a+") as f:
    f.write("+"); f.seek(0); print("a+", f.read())
with open("m_w", "w+b") as f:
    f.write(b"bytes"); f.seek(0); print("w+b", f.read())
with open("m_w", "rb") as f:
    print("rb", f.read(2), f.tell())
try:
    open("m_x", "x")
except FileExistsError as e:
    print("x again:", e.errno)
with open("lines", "w") as f:
    f.writelines(f"{i}\n" for i in range(5))
with open("lines") as f:
    print("readline", f.readline().strip(), [l.strip() for l in f])
os.makedirs("tree/a/b")
for p in ("tree/1", "tree/a/2", "tree/a/b/3"):
    pathlib.Path(p).write_text(p)
for root, dirs, files in os.walk("tree"):
    dirs.sort()
    print("walk", root, sorted(files))
print("scandir", sorted((e.name, e.is_dir(), e.is_file()) for e in os.scandir("tree")))
shutil.copytree("tree", "tree2")
shutil.copytree(os.environ["SRC"], "srccopy")
print("copytree", sum(len(f) for _, _, f in os.walk("srccopy")))
shutil.move("tree2", "tree3")
shutil.move("m_a", "tree3/m_a")
print("moved", sorted(os.listdir("tree3")))
shutil.rmtree("tree3")
shutil.rmtree("srccopy")
with tempfile.TemporaryDirectory(dir=w) as t:
    with tempfile.NamedTemporaryFile(dir=t, delete=False) as f:
        f.write(b"temp")
    fd, name = tempfile.mkstemp(dir=t, suffix=".x")
    os.write(fd, b"mk"); os.close(fd)
    print("tempfiles", len(os.listdir(t)), os.path.dirname(name) == t)
print("tempdir gone", [n for n in os.listdir(w) if n.startswith("tmp")])
p = pathlib.Path("pl")
(p / "deep/er").mkdir(parents=True)
(p / "deep/er/f.txt").write_bytes(b"pathlib")
(p / "g.txt").touch()
print("glob", sorted(str(q) for q in p.rglob("*.txt")))
print("iterdir", sorted(q.name for q in p.iterdir()), (p / "deep/er/f.txt").read_text())
(p / "g.txt").rename(p / "h.txt")
print("stat", (p / "h.txt").stat().st_size, (p / "deep").is_dir(), (p / "nope").exists())
(p / "h.txt").unlink()
print("resolve", str((p / "deep/er/../er/f.txt").resolve()).replace(w, "W"))
"""


def test_python(fs, tmp_path, source_tree):
    script = tmp_path / "script.py"  # the script itself lives on the local disk
    script.write_text(PYTHON_SCRIPT)
    run_both(fs, f"python3 {script}", tmp_path, source_tree)


@pytest.mark.slow
def test_sqlite(fs, tmp_path):
    require_program("sqlite3", "sqlite3")
    out = run_both(fs, r"""
        sqlite3 db.sqlite <<'SQL'
CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v REAL);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO t (name, v) SELECT 'row' || i, i * 0.5 FROM n;
COMMIT;
CREATE INDEX t_name ON t(name);
UPDATE t SET v = v * 2 WHERE id % 3 = 0;
DELETE FROM t WHERE id % 7 = 0;
SQL
        sqlite3 db.sqlite 'SELECT count(*), sum(v), max(name) FROM t;' 'PRAGMA integrity_check;'
        sqlite3 db.sqlite 'VACUUM;' 'SELECT count(*) FROM t WHERE name LIKE "row1%";'
        ls
    """, tmp_path)
    assert "ok" in out.splitlines()


def test_hard_links_with_ln_cp_and_tar(fs, tmp_path):
    """ln, cp -al, tar (links archived as links and restored as links)."""
    run_both(fs, r"""
        mkdir -p a/sub && echo one > a/f && echo two > a/sub/g
        ln a/f a/f2 && ln a/sub/g a/g2 && ln -s f a/lnk
        stat -c '%h %n' a/f a/f2 a/sub/g a/g2
        cp -al a b
        stat -c '%h %n' a/f b/f2
        [ "$(stat -c %i a/f)" = "$(stat -c %i b/f)" ] && echo cp-al-same-inode
        tar cf t.tar a && mkdir x && tar xf t.tar -C x
        [ "$(stat -c %i x/a/f)" = "$(stat -c %i x/a/f2)" ] && echo tar-restored-the-link
        stat -c '%h %n' x/a/f x/a/sub/g
        tar tvf t.tar | grep -c ' link to '  # which name is the link follows readdir order
        rm a/f && cat a/f2 && stat -c '%h %n' a/f2
    """, tmp_path)


def test_rsync_link_dest_snapshots(fs, tmp_path):
    """rsync --link-dest: unchanged files of a new snapshot are links into the previous one.
    rsync walks each destination path from "/" with openat(dirfd, name, O_PATH): a path
    relative to a kernel directory descriptor enters the mount (failed before)."""
    require_program("rsync", "rsync")
    run_both(fs, r"""
        mkdir -p a/sub && echo one > a/f && echo two > a/sub/g && ln a/f a/f2 && ln a/sub/g a/g2
        rsync -a a/ snap1/
        echo new > a/sub/h && echo changed > a/g2
        rsync -a --link-dest="$W/snap1" a/ snap2/
        [ "$(stat -c %i snap1/f)" = "$(stat -c %i snap2/f)" ] && echo rsync-linked-unchanged
        [ "$(stat -c %i snap1/g2)" != "$(stat -c %i snap2/g2)" ] && echo rsync-copied-changed
        cat snap2/f2 snap2/g2 snap2/sub/h
    """, tmp_path)


def test_fifo_reader_and_writer(fs, tmp_path):
    run_both(fs, r"""
        mkfifo p && stat -c '%F %a' p
        cat p > out & reader=$!
        sleep 0.3
        printf 'one\ntwo\n' > p
        wait $reader && cat out && stat -c '%s' p
        { sleep 0.3; echo late > p; } & cat p; wait
    """, tmp_path)


@pytest.mark.slow
def test_git(fs, tmp_path):
    require_program("git", "git")
    run_both(fs, r"""
        export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t
        export GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE='2001-01-01T00:00:00Z'
        export GIT_COMMITTER_DATE='2001-01-01T00:00:00Z' HOME="$W"
        git init -q -b main repo && cd repo
        for i in 1 2 3; do echo "line $i" > "f$i"; done
        mkdir sub && echo nested > sub/n && ln -s f1 link
        git add -A && git commit -q -m first
        echo change >> f2 && git rm -q f3 && git mv f1 sub/f1
        git commit -q -am second
        git log --format='%H %s' --stat
        git status --porcelain
        git gc -q && git fsck --no-progress && git count-objects | cut -d, -f1
        git checkout -q HEAD~1 -- f3 && cat f3
    """, tmp_path)


@pytest.mark.slow
def test_make_builds_a_c_program(fs, tmp_path):
    run_both(fs, r"""
        mkdir -p src
        printf '#include "greet.h"\nint main(void) { return greet(); }\n' > src/main.c
        printf 'int greet(void);\n' > src/greet.h
        printf '#include <stdio.h>\n#include "greet.h"\n' > src/greet.c
        printf 'int greet(void) { puts("hi from make"); return 0; }\n' >> src/greet.c
        printf 'CFLAGS = -O1\nhello: main.o greet.o\n\t$(CC) -o $@ $^\n' > Makefile
        printf '%%.o: src/%%.c src/greet.h\n\t$(CC) $(CFLAGS) -c -o $@ $<\n' >> Makefile
        printf 'clean:\n\trm -f hello *.o\n' >> Makefile
        printf 'run: hello\n\t./hello\n' >> Makefile
        make
        make
        touch src/greet.c && make && ./hello
        make run
        make clean && ls
    """, tmp_path)


PROGRAMS_IN_GKFS = r"""
    printf '#include <stdio.h>\nint main(int c, char** v) {\n' > p.c
    printf '  printf("%%d %%s\\n", c, c > 1 ? v[1] : "-"); return 3;\n}\n' >> p.c
    cc -o prog p.c
    ./prog arg || echo "exit $?"
    printf '#!/bin/sh\necho "script $0 $# $1"\nexit 4\n' > s.sh
    printf '#!/usr/bin/env python3\nimport sys\nprint("py", sys.argv[1:])\n' > s.py
    printf 'echo "no interpreter line: $0 $1"\n' > plain
    chmod +x s.sh s.py plain
    ./s.sh one || echo "exit $?"
    ./s.py a b
    ./plain x
    mkdir bin && cp prog s.sh plain bin/
    PATH="$W/bin:$PATH" prog found || echo "exit $?"
    PATH="$W/bin:$PATH" s.sh found || echo "exit $?"
    PATH="$W/bin:$PATH" env plain found
    env ./prog via-env || echo "exit $?"
    find bin -name prog -exec {} from-find \; || echo "exit $?"
    cd bin && { ./prog in-subdir || echo "exit $?"; } && cd ..
    python3 - <<'PY'
import os, subprocess
for argv in (["./prog", "py"], ["./s.sh", "py"], ["bin/prog"], ["./missing"], ["bin"],
             ["./p.c"], ["./plain"]):
    try:
        r = subprocess.run(argv, capture_output=True, text=True)
        print(argv, r.returncode, r.stdout.strip())
    except OSError as e:
        print(argv, type(e).__name__, e.errno)
r = subprocess.run(["prog", "searched"], env=dict(os.environ, PATH=os.getcwd() + "/bin"))
print("searched", r.returncode)
PY
    chmod -x s.sh
    ./s.sh || echo "exit $?"
    ./missing || echo "exit $?"
    ./bin || echo "exit $?"
"""


@pytest.mark.slow
def test_programs_stored_in_the_file_system(fs, tmp_path):
    """A C program built there, #! scripts, a script without #!, PATH search, exec from
    env/find/python's subprocess (vfork), and the errors (no x bit, missing, a directory)."""
    out = run_both(fs, PROGRAMS_IN_GKFS, tmp_path)
    assert "2 arg" in out and "script ./s.sh 1 one" in out and "no interpreter line" in out


@pytest.mark.slow
def test_fio_psync_verify(fs, tmp_path):
    require_program("fio", "fio")
    out = run_both(fs, r"""
        for rw in write randwrite; do
            errors=$(fio --name=v-$rw --directory="$W" --ioengine=psync --rw=$rw --bs=4k \
                --size=2m --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=1 \
                --output-format=terse --terse-version=3 | cut -d';' -f5)
            echo "$rw: status $? errors $errors"
        done
        ls -l --time-style=+ | """ + LS_FILTER + r"""
    """, tmp_path)
    assert "write: status 0 errors 0" in out
