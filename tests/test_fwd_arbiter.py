"""The allocation of gkfs-ctl fwd-arbiter: knapsack over measured and declared curves, jobs
that outnumber the I/O nodes sharing them, and the loop's measurements from stats samples.
(The loop against real I/O nodes: tests/test_forwarding_mode.py and tests/test_fwd_ctl.py.)"""

from __future__ import annotations

import pytest

from gkfs.forwarding.arbiter import Arbiter, allocate_shared
from gkfs.forwarding.jobs import Job, JobsError, read_jobs
from gkfs.forwarding.mapfile import DIRECT, read_map


def job(name, hosts, app_id=None, **curve):
    return Job(name, tuple(hosts), {int(k[1:]): v for k, v in curve.items()}, app_id)


def test_io_nodes_go_to_the_jobs_that_gain_most():
    jobs = [job("flat", ["a1", "a2"], k1=5.0, k2=5.5), job("steep", ["b1", "b2", "b3"],
                                                           k1=2.0, k2=6.0, k3=9.0)]
    got = allocate_shared(jobs, {j.name: j.curve for j in jobs}, 3)
    assert got.counts == {"flat": 1, "steep": 2}
    assert got.mapping == {"a1": 0, "a2": 0, "b1": 1, "b2": 1, "b3": 2}


def test_jobs_that_outnumber_the_io_nodes_share_the_least_loaded():
    jobs = [job(f"j{i}", [f"cn{i}a", f"cn{i}b"]) for i in range(3)]
    got = allocate_shared(jobs, {}, 2)
    assert sorted(got.counts.values()) == [0, 1, 1]
    shared = next(name for name, k in got.counts.items() if k == 0)
    nodes = {got.mapping[h] for h in jobs[int(shared[1])].hosts}
    assert len(nodes) == 1 and nodes <= {0, 1}
    assert set(got.mapping) == {h for j in jobs for h in j.hosts}


def test_measured_bandwidth_overrides_the_declared_curve(tmp_path):
    (tmp_path / "jobs.toml").write_text(
        '[[job]]\nname = "x"\nhosts = "cn[1-2]"\napp_id = 7\nbandwidth = { 1 = 1.0, 2 = 9.0 }\n'
        '[[job]]\nname = "y"\nhosts = "cn[3-4]"\napp_id = 8\n')  # y: nothing declared
    samples = iter([
        {"time": 0.0, "apps": []},
        {"time": 1.0, "apps": [{"app_id": 7, "bytes": 20}, {"app_id": 8, "bytes": 100}]},
    ])
    arbiter = Arbiter(str(tmp_path / "jobs.toml"), str(tmp_path / "map"), 3,
                      lambda: next(samples))
    first = arbiter.step()
    assert first.counts == {"x": 2, "y": 1}  # declared: x gains most from a second node
    assert read_map(str(tmp_path / "map")).entries == {"cn1": 0, "cn2": 1, "cn3": 2, "cn4": 2}
    # measured: x moved 20 B/s with 2 nodes, y 100 B/s with 1 (~141 with 2): y gains more
    second = arbiter.step()
    assert arbiter.measured == {"x": {2: 20.0}, "y": {1: 100.0}}
    assert second.counts == {"x": 1, "y": 2}
    assert read_map(str(tmp_path / "map")).entries == {"cn1": 0, "cn2": 0, "cn3": 1, "cn4": 2}


def test_jobs_that_start_and_stop_are_reallocated_and_the_map_rewritten_only_on_change(tmp_path):
    jobs_path, map_path = tmp_path / "jobs.toml", tmp_path / "map"

    def running(*names):
        jobs_path.write_text("".join(f'[[job]]\nname = "{n}"\nhosts = "{n}[1-2]"\napp_id = {i}\n'
                                     for i, n in enumerate(names, 1)))

    arbiter = Arbiter(str(jobs_path), str(map_path), 2,
                      lambda: {"time": 0.0, "apps": []})
    running("a", "b")
    assert arbiter.step().counts == {"a": 1, "b": 1}
    assert read_map(str(map_path)).entries == {"a1": 0, "a2": 0, "b1": 1, "b2": 1}
    inode = map_path.stat().st_ino
    assert arbiter.step() is None and map_path.stat().st_ino == inode  # nothing changed

    running("a", "b", "c")  # c starts: three jobs on two I/O nodes, one of them shares
    third = arbiter.step()
    assert sorted(third.counts.values()) == [0, 1, 1]
    entries = read_map(str(map_path)).entries
    assert set(entries) == {f"{n}{i}" for n in "abc" for i in (1, 2)}
    assert set(entries.values()) == {0, 1}
    assert map_path.stat().st_ino != inode  # replaced by a rename, never written in place

    running("c")  # a and b stop: c gets both I/O nodes, one per host
    assert arbiter.step().counts == {"c": 2}
    assert read_map(str(map_path)).entries == {"c1": 0, "c2": 1}
    running()  # no job left: reported, and the map stays for clients still finishing
    with pytest.raises(JobsError, match="no \\[\\[job\\]\\] tables"):
        arbiter.step()
    assert read_map(str(map_path)).entries == {"c1": 0, "c2": 1}


def test_a_declared_point_0_values_going_direct():
    # Two I/O nodes, three jobs: "c" declares its direct bandwidth (point 0) and, gaining
    # least from an I/O node, goes direct instead of sharing one.
    jobs = [job("a", ["a1", "a2"], k1=4.0), job("b", ["b1", "b2"], k1=4.0),
            job("c", ["c1", "c2"], k0=3.0, k1=3.5)]
    got = allocate_shared(jobs, {j.name: j.curve for j in jobs}, 2)
    assert got.counts == {"a": 1, "b": 1, "c": 0} and got.direct == {"c"}
    assert got.values["c"] == 3.0
    assert got.mapping == {"a1": 0, "a2": 0, "b1": 1, "b2": 1, "c1": DIRECT, "c2": DIRECT}
    assert got.describe() == "a 1, b 1, c direct"
    # Without the point, c shares (worth nothing to the knapsack) as before.
    jobs[2] = job("c", ["c1", "c2"], k1=3.5)
    shared = allocate_shared(jobs, {j.name: j.curve for j in jobs}, 2)
    assert shared.direct == frozenset() and "shared" in shared.describe()
    # Direct may beat an I/O node outright: then the job gets none even when one is free.
    alone = allocate_shared([job("d", ["d1"], k0=9.0, k1=2.0)], {"d": {0: 9.0, 1: 2.0}}, 2)
    assert alone.counts == {"d": 0} and alone.mapping == {"d1": DIRECT}


def test_jobs_that_start_and_stop_move_between_direct_and_io_nodes(tmp_path):
    jobs_path, map_path = tmp_path / "jobs.toml", tmp_path / "map"

    def running(*names):
        jobs_path.write_text("".join(
            f'[[job]]\nname = "{n}"\nhosts = "{n}[1-2]"\napp_id = {i}\n'
            f'bandwidth = {{ 0 = {1.0 if n == "c" else 0.5}, 1 = 4.0 }}\n'
            for i, n in enumerate(names, 1)))

    arbiter = Arbiter(str(jobs_path), str(map_path), 2, lambda: {"time": 0.0, "apps": []})
    running("c")
    assert arbiter.step().counts == {"c": 2}
    assert read_map(str(map_path)).entries == {"c1": 0, "c2": 1}
    running("a", "b", "c")  # a and b start: c is worth least on an I/O node and goes direct
    assert arbiter.step().describe() == "a 1, b 1, c direct"
    assert read_map(str(map_path)).entries == {"a1": 0, "a2": 0, "b1": 1, "b2": 1,
                                               "c1": DIRECT, "c2": DIRECT}
    assert "c1 direct" in map_path.read_text()
    running("c")  # they stop: c is back on the I/O nodes
    assert arbiter.step().counts == {"c": 2}
    assert read_map(str(map_path)).entries == {"c1": 0, "c2": 1}


@pytest.mark.parametrize("curve,message", [
    ("{ -1 = 2.0 }", "'-1' is not a number of I/O nodes (an integer >= 0; 0: direct)"),
    ("{ x = 2.0 }", "'x' is not a number of I/O nodes"),
])
def test_a_bad_curve_point_names_the_file_and_job(tmp_path, curve, message):
    path = tmp_path / "jobs.toml"
    path.write_text(f'[[job]]\nname = "j"\nhosts = "cn1"\nbandwidth = {curve}\n')
    with pytest.raises(JobsError) as info:
        read_jobs(str(path))
    assert str(path) in str(info.value) and message in str(info.value)
    path.write_text('[[job]]\nname = "j"\nhosts = "cn1"\nbandwidth = { 0 = 2.0 }\n')
    assert read_jobs(str(path))[0].curve == {0: 2.0}
