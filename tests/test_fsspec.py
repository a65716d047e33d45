"""The gkfs:// protocol of fsspec (issue 14), found through the installed entry point, with
pandas and pyarrow reading and writing through it, against a real running file system."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import HANG_GUARD_S, module_fs

# The fsspec extra, which scripts/setup.sh installs: a missing one fails, never skips.
import fsspec  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow  # noqa: E402,F401

fs = module_fs(2)


@pytest.fixture(scope="module")
def opts(fs):
    yield {"hosts_file": fs.hosts_file}
    # fsspec keeps its instances (and their clients) for the life of the process: close them
    # while the daemons run, not at interpreter exit after this file system has stopped
    # (a client destroyed then aborted pytest inside UCX's worker clean-up).
    from gkfs.fsspec_fs import GkfsFileSystem

    for instance in list(GkfsFileSystem._cache.values()):
        instance.client.close()
    GkfsFileSystem.clear_instance_cache()


def test_protocol_is_registered_by_the_entry_point():
    from gkfs.fsspec_fs import GkfsFileSystem

    assert fsspec.get_filesystem_class("gkfs") is GkfsFileSystem


def test_open_write_and_read_text(fs, opts, unique_dir):
    with fsspec.open(f"gkfs://{unique_dir}/f.csv", "w", auto_mkdir=True, **opts) as f:
        f.write("a,b\n1,2\n3,4\n")
    with fsspec.open(f"gkfs://{unique_dir}/f.csv", "r", **opts) as f:
        assert f.read() == "a,b\n1,2\n3,4\n"
    with fs.client() as c:
        assert c.read_bytes(f"{unique_dir}/f.csv") == b"a,b\n1,2\n3,4\n"


def test_pandas_csv_and_parquet(opts, unique_dir):
    df = pd.DataFrame({"x": range(1000), "y": [f"row {i}" for i in range(1000)]})
    gfs = fsspec.filesystem("gkfs", **opts)
    gfs.makedirs(unique_dir)
    df.to_csv(f"gkfs://{unique_dir}/d.csv", index=False, storage_options=opts)
    pd.testing.assert_frame_equal(
        pd.read_csv(f"gkfs://{unique_dir}/d.csv", storage_options=opts), df)
    df.to_parquet(f"gkfs://{unique_dir}/out.parquet", storage_options=opts)
    back = pd.read_parquet(f"gkfs://{unique_dir}/out.parquet", storage_options=opts)
    pd.testing.assert_frame_equal(back, df)
    assert gfs.info(f"{unique_dir}/out.parquet")["size"] > 0


def test_find_glob_ls_mv_rm(opts, unique_dir):
    gfs = fsspec.filesystem("gkfs", **opts)
    for path in ("a/1.txt", "a/b/2.txt", "c.csv"):
        gfs.makedirs(f"{unique_dir}/{os.path.dirname(path)}", exist_ok=True)
        gfs.pipe_file(f"{unique_dir}/{path}", path.encode())
    assert gfs.find(unique_dir) == [f"{unique_dir}/a/1.txt", f"{unique_dir}/a/b/2.txt",
                                    f"{unique_dir}/c.csv"]
    assert gfs.glob(f"gkfs://{unique_dir}/**/*.txt") == [f"{unique_dir}/a/1.txt",
                                                         f"{unique_dir}/a/b/2.txt"]
    listing = {e["name"]: e for e in gfs.ls(unique_dir)}
    assert listing[f"{unique_dir}/a"]["type"] == "directory"
    assert listing[f"{unique_dir}/c.csv"]["size"] == len(b"c.csv")
    assert gfs.ls(unique_dir, detail=False) == [f"{unique_dir}/a", f"{unique_dir}/c.csv"]
    gfs.mv(f"{unique_dir}/a", f"{unique_dir}/moved")
    assert gfs.cat(f"{unique_dir}/moved/b/2.txt") == b"a/b/2.txt"
    gfs.cp_file(f"{unique_dir}/c.csv", f"{unique_dir}/copy.csv")
    assert gfs.cat(f"{unique_dir}/copy.csv") == b"c.csv"
    gfs.rm(f"{unique_dir}/moved", recursive=True)
    gfs.rm(f"{unique_dir}/c.csv")
    assert gfs.ls(unique_dir, detail=False) == [f"{unique_dir}/copy.csv"]
    with pytest.raises(FileNotFoundError):
        gfs.info(f"{unique_dir}/c.csv")


def test_hosts_file_from_the_environment(fs, unique_dir):
    """A fresh process with only LIBGKFS_HOSTS_FILE (then GKFS_HOSTS_FILE) set."""
    code = ("import pandas as pd, sys\n"
            "pd.DataFrame({'v': [1, 2]}).to_csv(sys.argv[1], index=False)\n"
            "print(pd.read_csv(sys.argv[1])['v'].sum())\n")
    for variable in ("LIBGKFS_HOSTS_FILE", "GKFS_HOSTS_FILE"):
        env = {k: v for k, v in os.environ.items()
               if k not in ("LIBGKFS_HOSTS_FILE", "GKFS_HOSTS_FILE")}
        env[variable] = fs.hosts_file
        url = f"gkfs://{unique_dir}-{variable}.csv"
        result = subprocess.run([sys.executable, "-c", code, url], env=env,
                                capture_output=True, text=True, timeout=HANG_GUARD_S)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "3"
