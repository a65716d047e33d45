"""The scheduler configuration file: agios.conf keys and libconfig syntax, errors that name
file, line and key, the WFQ weights file, $GKFS_SCHED_CONFIG, and the generated key table."""

from __future__ import annotations

from pathlib import Path

import pytest

from gkfs import settings
from gkfs.forwarding.scheduling import config as sched_config
from gkfs.forwarding.scheduling.config import (ConfigError, SchedulerConfig, load_config,
                                               parse_config)

DOC = Path(__file__).resolve().parent.parent / "docs" / "forwarding.md"

# AGIOS's own agios.conf, as shipped (comments, lines with and without ';').
AGIOS_CONF = """\
library_options:
{
\t#should we generate trace files during execution?
\ttrace = false ;
\ttrace_file_prefix = "/tmp/agios_tracefile"
\ttrace_file_sufix = "out"
\tmax_trace_buffer_size = 32768 ;
\t# waiting time in ns ... quantum in bytes
\twaiting_time = 900000
\taioli_quantum = 65536
\tmlf_quantum = 8192
\tSW_window = 1000 #the paper proposing TW (Song et al. 2013) recommends 1000 for HDD
\ttwins_window = 2000 
\tperformance_values = 5
\tdefault_algorithm = "SJF" ;
\tselect_algorithm_period = 1000
\tselect_algorithm_min_reqnumber=1
\tenable_SW = false ;
\tstarting_algorithm = "SJF" ;
};
"""

# AGIOS's current sample: the WFQ weights file is named although the algorithm is SJF.
AGIOS_SAMPLE_WITH_WFQ = AGIOS_CONF.replace(
    '\tstarting_algorithm = "SJF" ;\n',
    '\tstarting_algorithm = "SJF" ;\n\twfq_conf = "/nonexistent/wfq.conf" ;\n')

# GekkoFWD's agios.conf, written from the keys its AGIOS version reads (library_options and
# a user_info group): most are unknown to gkfs and must be ignored, named once in the log.
GEKKOFWD_CONF = """\
library_options:
{
\ttrace = false ;
\ttrace_predict = false ;
\ttrace_full = false ;
\tpredict_read_traces = false ;
\tpredict_request_aggregation = false ;
\ttrace_file_prefix = "/tmp/agios_tracefile" ;
\ttrace_file_sufix = "out" ;
\tsimple_trace_prefix = "/tmp/agios_simpletracefile" ;
\tdefault_algorithm = "TO" ;
\tprediction_time_error = 10 ;
\tprediction_recalculate_alpha_period = -1 ;
\tpredict_write_simplified_traces = false ;
\taccess_times_func_file = "/tmp/access_times.func" ;
\tselect_algorithm_period = -1 ;
\tselect_algorithm_min_reqnumber = 1 ;
\tstarting_algorithm = "SJF" ;
\tmin_ab_probability = 3 ;
\tvalidity_window = 360000 ;
\tperformance_window = 10 ;
\tproc_algs = 1000 ;
\twaiting_time = 900000 ;
\taioli_quantum = 65536 ;
\tmlf_quantum = 8192 ;
};
user_info:
{
\tstripe_size = 32768 ;
\tmax_trace_buffer_size = 32768 ;
};
"""


def write(tmp_path: Path, text: str, name: str = "sched.conf") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_agios_conf_as_shipped_is_read():
    config = parse_config(AGIOS_CONF, "agios.conf")
    assert config.default_algorithm == "SJF"
    assert (config.waiting_time, config.aioli_quantum, config.mlf_quantum) == \
        (900000, 65536, 8192)
    assert (config.SW_window, config.twins_window) == (1000, 2000)
    assert config.sw_window_s == 1.0 and config.twins_window_s == 0.002
    assert config.waiting_s == pytest.approx(900e-6)


def test_defaults_without_a_file(monkeypatch, tmp_path):
    monkeypatch.delenv("GKFS_SCHED_CONFIG", raising=False)
    monkeypatch.setattr(sched_config, "DEFAULT_FILE", str(tmp_path / "absent.conf"))
    config = load_config()
    assert config == SchedulerConfig()
    assert (config.default_algorithm, config.max_aggregation) == ("SJF", 16)


def test_top_level_keys_and_libconfig_syntax():
    text = """
        /* block
           comment */
        default_algorithm: "TO" "-agg"   // adjacent strings join
        max_aggregation = 0x8L;
        waiting_time = 0,
        library_options = { mlf_quantum = 4096; };
    """
    config = parse_config(text)
    assert config.default_algorithm == "TO-agg"
    assert (config.max_aggregation, config.waiting_time, config.mlf_quantum) == (8, 0, 4096)


def test_environment_variable_and_explicit_path(tmp_path):
    env_file = write(tmp_path, 'default_algorithm = "TO";', "env.conf")
    flag_file = write(tmp_path, 'default_algorithm = "WFQ";', "flag.conf")
    environ = {"GKFS_SCHED_CONFIG": env_file}
    assert load_config(environ=environ).default_algorithm == "TO"
    assert load_config(flag_file, environ=environ).default_algorithm == "WFQ"
    assert load_config(environ=environ).source == env_file


@pytest.mark.parametrize("text,line,message", [
    ("\n\naioli_quantum = 0;", 3, "aioli_quantum: must be >= 1 (got 0)"),
    ("waiting_time = -5;", 1, "waiting_time: must be >= 0"),
    ("mlf_quantum = \"8K\";", 1, "mlf_quantum: must be an integer"),
    ("max_aggregation = true;", 1, "max_aggregation: must be an integer"),
    ("default_algorithm = SJF;", 1, "syntax error"),
    ("default_algorithm = \"FIFO\";", 1, "default_algorithm: unknown scheduler 'FIFO'"),
    ("default_algorithm = \"sjf\";", 1, "unknown scheduler 'sjf'"),
    ("SW_window = 10;\nSW_window = 20;", 2, "SW_window: set twice (first at line 1)"),
    ("library_options: {\n  mlf_quantum = 1.5;\n};", 2, "mlf_quantum: must be an integer"),
    ("waiting_time = 5\n\naioli_quantum 7;", 3, "expected '=' or ':'"),
    ("trace_file_prefix = \"/tmp/x", 1, "syntax error"),
    ("@include \"other.conf\"", 1, "@include is not supported"),
    ("twins_window = 1;\n/* never closed", 2, "syntax error"),
])
def test_errors_name_file_line_and_key(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)


def test_unreadable_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="nope.conf: cannot read"):
        load_config(str(tmp_path / "nope.conf"))


def test_plugin_options_reach_the_scheduler():
    config = parse_config('plugin_options: { depth = 4; name = "x"; };')
    assert config.plugin_options == {"depth": 4, "name": "x"}


def test_wfq_weights_file_positional_and_by_app(tmp_path):
    write(tmp_path, "# AGIOS style, then explicit\n10 20\n30\n1001 = 0x100000\n", "wfq.txt")
    path = write(tmp_path, 'default_algorithm = "WFQ";\nwfq_conf = "wfq.txt";')
    config = load_config(path)
    assert config.wfq_weights == {0: 10, 1: 20, 2: 30, 1001: 1 << 20}
    assert config.wfq_weight(1001) == 1 << 20 and config.wfq_weight(5) == 1 << 20
    assert config.wfq_conf == str(tmp_path / "wfq.txt")


@pytest.mark.parametrize("weights,line,message", [
    ("10\n0\n", 2, "weight must be an integer >= 1"),
    ("7 = x\n", 1, "weight must be an integer"),
    ("\n\n-3 = 5\n", 3, "application id must be an integer >= 0"),
])
def test_wfq_weights_errors_name_the_weights_file(tmp_path, weights, line, message):
    wfq = write(tmp_path, weights, "wfq.txt")
    path = write(tmp_path, 'default_algorithm = "WFQ";\nwfq_conf = "wfq.txt";')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{wfq}:{line}: ") and message in str(info.value)


def test_missing_wfq_file_names_the_config_line(tmp_path):
    path = write(tmp_path, 'default_algorithm = "WFQ";\nwfq_conf = "absent.txt";')
    with pytest.raises(ConfigError, match=r"sched.conf:2: wfq_conf: cannot read .*absent.txt"):
        load_config(path)


def test_key_table_in_docs_is_in_sync():
    assert sched_config.main(["--check-doc", str(DOC)]) == 0, \
        "run: python -m gkfs.forwarding.scheduling --write docs/forwarding.md"


def test_every_key_has_a_default_and_a_help_text():
    for name, key in sched_config.KEYS.items():
        assert key.help.strip(), name
        assert isinstance(key.default, key.type), name
        if key.used:
            assert getattr(SchedulerConfig(), name) == key.default


def test_validate_command(tmp_path, capsys):
    good = write(tmp_path, 'default_algorithm = "TWINS";')
    assert sched_config.main(["--validate", good]) == 0
    assert "TWINS" in capsys.readouterr().out
    bad = write(tmp_path, "mlf_quantum = 0;", "bad.conf")
    assert sched_config.main(["--validate", bad]) == 1
    assert f"{bad}:1: mlf_quantum" in capsys.readouterr().err


def test_daemon_setting_checks_the_file_at_start(tmp_path):
    bad = write(tmp_path, "\naioli_quantum = 0;")
    with pytest.raises(settings.SettingsError) as info:
        settings.load(settings.DaemonSettings, environ={"GKFS_SCHED_CONFIG": bad})
    assert "--sched-config (GKFS_SCHED_CONFIG)" in str(info.value)
    assert f"{bad}:2: aioli_quantum" in str(info.value)
    good = write(tmp_path, 'default_algorithm = "TO";', "good.conf")
    loaded = settings.load(settings.DaemonSettings, environ={}, sched_config=good)
    assert loaded.sched_config == good


def test_gekkofwd_agios_conf_is_read_with_unknown_keys_ignored():
    config = parse_config(GEKKOFWD_CONF, "agios.conf")
    assert config.default_algorithm == "TO"
    assert (config.waiting_time, config.aioli_quantum, config.mlf_quantum) == \
        (900000, 65536, 8192)
    names = [entry.split(": ")[-1] for entry in config.ignored]
    assert "trace_predict" in names and "proc_algs" in names and "user_info" in names
    assert "agios.conf:4: trace_predict" in config.ignored


def test_unknown_keys_are_named_once_in_the_daemon_log(tmp_path, caplog):
    from gkfs.forwarding.io_node import scheduler_for

    path = write(tmp_path, GEKKOFWD_CONF, "agios.conf")
    with caplog.at_level("WARNING", logger="gkfs.forwarding"):
        scheduler_for(path)
    lines = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert len(lines) == 1
    assert path in lines[0] and "trace_predict" in lines[0] and "user_info" in lines[0]


def test_wfq_conf_is_read_only_for_wfq(tmp_path):
    config = parse_config(AGIOS_SAMPLE_WITH_WFQ, str(tmp_path / "agios.conf"))
    assert config.default_algorithm == "SJF" and config.wfq_weights == {}
    wfq = AGIOS_SAMPLE_WITH_WFQ.replace('"SJF" ;\n\tselect', '"WFQ" ;\n\tselect')
    with pytest.raises(ConfigError, match="wfq_conf: cannot read /nonexistent/wfq.conf"):
        parse_config(wfq, str(tmp_path / "agios.conf"))


def test_gekkofwd_default_file_is_read_without_sched_config(tmp_path):
    default = write(tmp_path, 'default_algorithm = "TWINS";', "agios.conf")
    assert load_config(environ={}, default_file=default).default_algorithm == "TWINS"
    assert load_config(environ={}, default_file=default).source == default
    assert load_config(environ={}, default_file=str(tmp_path / "absent")) == SchedulerConfig()
    assert sched_config.DEFAULT_FILE == "/tmp/agios.conf"  # GekkoFWD's


def test_daemon_reads_the_default_file_when_no_sched_config_is_given(tmp_path, monkeypatch):
    from gkfs.forwarding.io_node import scheduler_for

    monkeypatch.setattr(sched_config, "DEFAULT_FILE", write(tmp_path, "\naioli_quantum = 0;"))
    with pytest.raises(settings.SettingsError, match=r"sched.conf:2: aioli_quantum"):
        scheduler_for("")
