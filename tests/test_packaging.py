"""What the installed package is made of (issue 14): no test or benchmark binaries, a
py.typed marker, tomli declared for Python < 3.11, one version everywhere."""

from __future__ import annotations

import importlib.metadata

TEST_BINARIES = {"gkfs_unit_tests", "gkfs_callprobe", "gkfs_startup_timer", "gkfs_md_driver",
                 "gkfs_io_driver", "gkfs_rpc_driver"}


def installed_files() -> set[str]:
    return {str(f) for f in importlib.metadata.files("gkfs") or []}


def test_the_wheel_ships_no_test_binaries():
    files = installed_files()
    assert "gkfs/libgkfs_intercept.so" in files
    assert not {f for f in files if f.rsplit("/", 1)[-1] in TEST_BINARIES}, sorted(files)


def test_the_package_is_typed():
    assert "gkfs/py.typed" in installed_files()


def test_dependencies_and_extras():
    meta = importlib.metadata.metadata("gkfs")
    requires = importlib.metadata.requires("gkfs") or []
    assert any(r.startswith("tomli") and 'python_version < "3.11"' in r for r in requires)
    assert "fsspec" in meta.get_all("Provides-Extra")
    entry = [e for e in importlib.metadata.entry_points(group="fsspec.specs") if e.name == "gkfs"]
    assert entry and entry[0].value == "gkfs.fsspec_fs:GkfsFileSystem"
