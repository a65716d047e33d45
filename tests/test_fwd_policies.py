"""Allocation policies and `gkfs-ctl fwd-map`: static blocks, round-robin, arbitration
(knapsack optimality against brute force), host lists, jobs files, plug-in policies."""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import pytest

from conftest import gkfs_ctl
from gkfs import cli
from gkfs.forwarding import hostlist, jobs, policies
from gkfs.forwarding.jobs import Job, JobsError
from gkfs.forwarding.mapfile import DIRECT
from gkfs.forwarding.mapfile import read_map
from gkfs.forwarding.policies import AllocationRequest, PolicyError, knapsack


def request(hosts, io_nodes, job_list=()):
    return policies.request_from(hosts, io_nodes, job_list)


# --- host lists --------------------------------------------------------------------------------

@pytest.mark.parametrize("text,hosts", [
    ("cn1,cn2", ["cn1", "cn2"]),
    ("cn[01-03,07]", ["cn01", "cn02", "cn03", "cn07"]),
    ("r[1-2]n[8-10]", ["r1n8", "r1n9", "r1n10", "r2n8", "r2n9", "r2n10"]),
    ("io1 io2,\tgpu[9-10]", ["io1", "io2", "gpu9", "gpu10"]),
    ("n[007]", ["n007"]),
])
def test_hostlist_expansion(text, hosts):
    assert hostlist.expand(text) == hosts


@pytest.mark.parametrize("text", ["cn[1-", "cn]1[", "cn[a-b]", "cn[3-1]", "cn[[1]]"])
def test_hostlist_errors(text):
    with pytest.raises(hostlist.HostlistError):
        hostlist.expand(text)


def test_hostlist_from_file(tmp_path):
    (tmp_path / "hosts").write_text("# compute\ncn[1-2]\ncn9  # spare\n")
    assert hostlist.expand(f"@{tmp_path / 'hosts'}") == ["cn1", "cn2", "cn9"]


# --- static and round-robin --------------------------------------------------------------------

def sizes(mapping):
    return [list(mapping.values()).count(i) for i in sorted(set(mapping.values()))]


@pytest.mark.parametrize("hosts,io_nodes", [(8, 2), (7, 3), (10, 4), (5, 5), (3, 8), (64, 7)])
def test_static_blocks_are_contiguous_and_balanced(hosts, io_nodes):
    names = [f"cn{i:02d}" for i in range(hosts)]
    mapping = policies.allocate(policies.StaticBlocks(), request(names, io_nodes))
    values = list(mapping.values())
    assert values == sorted(values)                       # contiguous blocks, in order
    assert set(values) == set(range(min(hosts, io_nodes)))
    assert max(sizes(mapping)) - min(sizes(mapping)) <= 1
    assert sizes(mapping) == sorted(sizes(mapping), reverse=True)


def test_static_example():
    mapping = policies.allocate(policies.StaticBlocks(), request(hostlist.expand("cn[1-8]"), 2))
    assert list(mapping.values()) == [0, 0, 0, 0, 1, 1, 1, 1]


def test_round_robin():
    mapping = policies.allocate(policies.RoundRobin(), request(["a", "b", "c", "d", "e"], 2))
    assert mapping == {"a": 0, "b": 1, "c": 0, "d": 1, "e": 0}


# --- arbitration -------------------------------------------------------------------------------

def brute_force(options, capacity):
    best = None
    for choice in itertools.product(*[sorted(o) for o in options]):
        if sum(choice) <= capacity:
            value = sum(o[k] for o, k in zip(options, choice))
            if best is None or value > best + 1e-9:
                best = value
    return best


@pytest.mark.parametrize("seed", range(60))
def test_knapsack_is_optimal_against_brute_force(seed):
    rng = random.Random(seed)
    jobs_count = rng.randint(1, 4)
    options = []
    for _ in range(jobs_count):
        counts = rng.sample(range(1, 7), rng.randint(1, 4))
        options.append({k: round(rng.uniform(0, 10), 3) for k in counts})
    capacity = rng.randint(sum(min(o) for o in options), 14)
    value, choice = knapsack(options, capacity)
    assert sum(choice) <= capacity
    assert all(k in o for k, o in zip(choice, options))
    assert value == pytest.approx(sum(o[k] for o, k in zip(options, choice)))
    assert value == pytest.approx(brute_force(options, capacity))


def test_knapsack_prefers_fewer_io_nodes_among_optima():
    assert knapsack([{1: 5.0, 2: 5.0}, {1: 1.0, 3: 1.0}], 5) == (6.0, [1, 1])


def test_knapsack_infeasible():
    with pytest.raises(PolicyError, match="need at least 3 I/O nodes, only 2"):
        knapsack([{1: 1.0}, {2: 1.0}], 2)


def two_jobs():
    return [Job("sim", tuple(hostlist.expand("cn[1-4]")), {1: 1.0, 2: 1.9, 3: 2.5, 4: 2.6}),
            Job("ml", ("cn5", "cn6"), {1: 1.5, 2: 1.6})]


def test_arbitration_gives_nodes_to_the_jobs_that_gain_most():
    policy = policies.Arbitration()
    req = request([], 4, two_jobs())
    assert policy.choose(req) == (pytest.approx(4.0), [3, 1])
    mapping = policies.allocate(policy, req)
    assert mapping == {"cn1": 0, "cn2": 0, "cn3": 1, "cn4": 2, "cn5": 3, "cn6": 3}
    assert policy.comments(req, mapping)[-1] == "total bandwidth 4 on 4 of 4 I/O nodes"


def test_arbitration_ignores_counts_beyond_a_jobs_hosts():
    job = Job("tiny", ("cn1",), {1: 1.0, 8: 99.0})
    assert policies.Arbitration().choose(request([], 8, [job])) == (1.0, [1])


def test_arbitration_maps_a_job_direct_where_its_declared_point_0_is_worth_more():
    jobs = (Job("big", ("cn1", "cn2"), {1: 3.0, 2: 5.0}),
            Job("small", ("cn3", "cn4"), {0: 1.5, 1: 2.0}))
    policy = policies.Arbitration()
    req = request([], 2, jobs)
    assert policy.choose(req) == (pytest.approx(6.5), [2, 0])
    mapping = policies.allocate(policy, req)
    assert mapping == {"cn1": 0, "cn2": 1, "cn3": DIRECT, "cn4": DIRECT}
    assert policy.comments(req, mapping)[1] == "job small: direct, bandwidth 1.5"
    # without the point the small job needs an I/O node of its own, as before
    no_point = (jobs[0], Job("small", ("cn3", "cn4"), {1: 2.0}))
    assert policy.choose(request([], 2, no_point)) == (pytest.approx(5.0), [1, 1])


def test_arbitration_needs_jobs_and_enough_io_nodes():
    with pytest.raises(PolicyError, match="needs a jobs file"):
        policies.allocate(policies.Arbitration(), request(["cn1"], 1))
    with pytest.raises(PolicyError, match="at least 2 I/O nodes, only 1"):
        policies.allocate(policies.Arbitration(), request([], 1, two_jobs()))


def test_hosts_and_jobs_must_agree():
    with pytest.raises(PolicyError, match="disagree"):
        request(["cn1", "cn2"], 2, two_jobs())
    with pytest.raises(PolicyError, match="cn1 is listed twice"):
        request(["cn1", "cn1"], 2)


# --- jobs file ---------------------------------------------------------------------------------

def test_jobs_file_declared_and_measured(tmp_path):
    (tmp_path / "ml.csv").write_text("io_nodes,bandwidth\n1,1.0\n1,2.0\n2,3.0\n# more\n")
    (tmp_path / "jobs.toml").write_text(
        '[[job]]\nname = "sim"\nhosts = "cn[1-4]"\nbandwidth = { 1 = 1.0, 2 = 1.5 }\n'
        '[[job]]\nhosts = ["cn5", "cn[6-7]"]\nbandwidth_file = "ml.csv"\n')
    sim, ml = jobs.read_jobs(str(tmp_path / "jobs.toml"))
    assert sim == Job("sim", ("cn1", "cn2", "cn3", "cn4"), {1: 1.0, 2: 1.5})
    assert ml.name == "job2" and ml.hosts == ("cn5", "cn6", "cn7")
    assert ml.curve == {1: 1.5, 2: 3.0}


@pytest.mark.parametrize("text,message", [
    ('[[job]]\nname = "a"\nhost = "cn1"\n', "job 'a' (#1): unknown key(s) ['host']"),
    ('[[job]]\nhosts = 3\n', "job 'job1' (#1): hosts must be"),
    ('[[job]]\nhosts = "cn[1-"\n', "hosts: unbalanced"),
    ('[[job]]\nhosts = "a"\nbandwidth = { -2 = 1.0 }\n', "'-2' is not a number of I/O nodes"),
    ('[[job]]\nhosts = "a"\nbandwidth = { x = 1.0 }\n', "'x' is not a number of I/O nodes"),
    ('[[job]]\nhosts = "a"\nbandwidth = { 1 = "fast" }\n', "bandwidth.1: bandwidth must be"),
    ('[[job]]\nhosts = "a"\nbandwidth_file = "none.csv"\n', "bandwidth_file: cannot read"),
    ('[[job]]\nname = "a"\nhosts = "x"\n[[job]]\nname = "a"\nhosts = "y"\n', "used twice"),
    ('jobs = 1\n', "unknown top-level key"),
    ('[[job]\n', "jobs.toml: "),
])
def test_jobs_file_errors_name_the_job_and_key(tmp_path, text, message):
    (tmp_path / "jobs.toml").write_text(text)
    with pytest.raises(JobsError) as info:
        jobs.read_jobs(str(tmp_path / "jobs.toml"))
    assert str(info.value).startswith(str(tmp_path / "jobs.toml"))
    assert message in str(info.value)


def test_measured_file_errors_name_the_line(tmp_path):
    (tmp_path / "m.csv").write_text("1,2.0\n2;3.0\n")
    with pytest.raises(JobsError, match=r"m.csv:2: expected 'io_nodes,bandwidth'"):
        jobs.read_bandwidth_file(str(tmp_path / "m.csv"))


# --- plug-ins ----------------------------------------------------------------------------------

class Reversed:
    """A user policy: the last host on I/O node 0."""

    def allocate(self, request: AllocationRequest):
        return {h: (len(request.hosts) - 1 - i) % request.io_nodes
                for i, h in enumerate(request.hosts)}


class Sloppy:
    def allocate(self, request):
        return {request.hosts[0]: request.io_nodes}


def test_plugin_policy_by_module_and_class():
    policy = policies.load_policy("test_fwd_policies:Reversed")
    assert policies.allocate(policy, request(["a", "b", "c"], 2)) == {"a": 0, "b": 1, "c": 0}


def test_plugin_output_is_checked():
    with pytest.raises(PolicyError, match="missing"):
        policies.allocate(Sloppy(), request(["a", "b"], 2))
    with pytest.raises(PolicyError, match="I/O node 2; valid: 0..1"):
        policies.allocate(Sloppy(), request(["a"], 2))


@pytest.mark.parametrize("name", ["nope", "no_module:X", "test_fwd_policies:Missing"])
def test_unknown_policy(name):
    with pytest.raises(PolicyError):
        policies.load_policy(name)


# --- gkfs-ctl fwd-map --------------------------------------------------------------------------

def test_fwd_map_static(tmp_path, capsys):
    out = tmp_path / "map.txt"
    assert cli.main(["fwd-map", "--hosts", "cn[1-4]", "--io-nodes", "2", "-o", str(out)]) == 0
    assert "4 hosts on 2 of 2 I/O nodes (policy static)" in capsys.readouterr().out
    assert dict(read_map(str(out)).entries) == {"cn1": 0, "cn2": 0, "cn3": 1, "cn4": 1}


def test_fwd_map_arbitration_writes_its_choice_as_comments(tmp_path):
    (tmp_path / "jobs.toml").write_text(
        '[[job]]\nname = "sim"\nhosts = "cn[1-4]"\nbandwidth = { 1 = 1.0, 2 = 1.9, 4 = 2.6 }\n'
        '[[job]]\nname = "ml"\nhosts = "cn[5-6]"\nbandwidth = { 1 = 1.5, 2 = 1.6 }\n')
    out = tmp_path / "map.txt"
    assert cli.main(["fwd-map", "--policy", "arbitration", "--jobs",
                     str(tmp_path / "jobs.toml"), "--io-nodes", "3", "--out", str(out)]) == 0
    text = out.read_text()
    assert "# job sim: 2 I/O node(s), bandwidth 1.9\n" in text
    assert "# job ml: 1 I/O node(s), bandwidth 1.5\n" in text
    assert dict(read_map(str(out)).entries) == {"cn1": 0, "cn2": 0, "cn3": 1, "cn4": 1,
                                                "cn5": 2, "cn6": 2}


def test_fwd_map_errors_leave_the_old_map(tmp_path, capsys):
    out = tmp_path / "map.txt"
    out.write_text("old 0\n")
    assert cli.main(["fwd-map", "--policy", "arbitration", "--hosts", "cn1", "--io-nodes", "1",
                     "--out", str(out)]) == 1
    assert "needs a jobs file" in capsys.readouterr().err
    assert out.read_text() == "old 0\n"
    with pytest.raises(SystemExit) as info:
        cli.main(["fwd-map", "--hosts", "cn1", "--out", str(out)])
    assert info.value.code == 2
    assert "--io-nodes (GKFS_FWD_IO_NODES) must be > 0" in capsys.readouterr().err


def test_fwd_map_through_the_installed_entry_point(tmp_path):
    out = tmp_path / "map.txt"
    done = gkfs_ctl("fwd-map", "--policy", "round-robin", "--hosts", "a,b,c", "--io-nodes", "2",
                    "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert Path(out).read_text().splitlines()[1:] == ["a 0", "b 1", "c 0"]
    env_run = gkfs_ctl("fwd-map", env=dict(os.environ, GKFS_FWD_HOSTS="x", GKFS_FWD_IO_NODES="1",
                                           GKFS_FWD_MAP_FILE=str(out)))
    assert env_run.returncode == 0, env_run.stderr
    assert Path(out).read_text().splitlines()[1:] == ["x 0"]
