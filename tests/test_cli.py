"""The command line: list, run against a MODULE:FACTORY trader, report; every bad input one clear line."""
import json
import re
import subprocess
import sys
import textwrap

import pytest

from pytest_stress import library
from pytest_stress.cli import main

TRADERS = textwrap.dedent('''
    from pytest_stress import buy, sell

    class Dip:
        def on_bar(self, ctx):
            if ctx.position() == 0 and ctx.t % 40 == 5:
                return buy(1.0)
            if ctx.position() > 0 and ctx.t % 40 == 25:
                return sell(ctx.position())

    class Broken:
        def on_bar(self, ctx):
            if ctx.t == 50:
                raise RuntimeError("model blew up")

    def cannot_build():
        raise ValueError("missing API key")

    NOT_CALLABLE = 3
''')


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A directory holding the user's trader module, as the current directory."""
    (tmp_path / "my_traders.py").write_text(TRADERS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(tmp_path)
    yield tmp_path
    sys.modules.pop("my_traders", None)


def _error(capsys, argv):
    """Run a command that must fail on its input: exit status 2 and one line naming the problem."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("pytest-stress") and ": error: " in line
    return line


def test_list_shows_names_ids_types_and_figures(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for sc in library.all():
        assert f"{sc.name}  [{library.slug(sc.name)}]  {sc.type.value}" in out
    assert "drop_pct=0.21" in out
    assert "BTCUSDT, 1000 x 1h, seed" in out and "None" not in out   # the timeframe a synthetic market has
    assert main(["list", "-v"]) == 0
    assert "19 May 2021" in capsys.readouterr().out


def test_run_prints_the_table_and_writes_json_and_report(project, capsys):
    (project / "out").mkdir()
    code = main(["run", "BTC Flash Crash 2021", "correlation-breakdown", "--trader", "my_traders:Dip", "--bars", "400",
                 "--seed", "7", "--workers", "1", "--json", "out/r.json", "--report", "out/r.html"])
    out = capsys.readouterr().out
    assert code == 0, out
    head = out.splitlines()[0]
    assert head.startswith("scenario") and "max DD %" in head
    assert "BTC Flash Crash 2021" in out and "Correlation Breakdown" in out and "2 case(s)" in out
    saved = json.loads((project / "out" / "r.json").read_text())
    assert set(saved["results"]) == {"run[btc-flash-crash-2021]", "run[correlation-breakdown]"}
    entry = saved["results"]["run[btc-flash-crash-2021]"]
    assert entry["seed"] == 7 and entry["outcome"] == "passed" and entry["report"]["bars"] == 400
    page = (project / "out" / "r.html").read_text()
    assert page.count("<svg") == 2 and "pytest-stress run" in page
    # the report command draws the same cases from the saved file
    assert main(["report", "out/r.json", "-o", "again.html"]) == 0
    assert "report of 2 case(s) written to again.html" in capsys.readouterr().out
    assert (project / "again.html").read_text().count("<svg") == 2


def test_run_monte_carlo_paths_on_workers(project, capsys):
    """--paths goes through run_paths: each path reduced where it ran, the same on 2 workers as in this process."""
    entries = {}
    for workers in ("2", "1"):
        code = main(["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--bars", "200", "--paths", "6",
                     "--workers", workers, "--json", f"mc{workers}.json"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "BTC Flash Crash 2021 (6 paths: medians; worst seed" in out   # the row's figures are medians
        entries[workers] = json.loads((project / f"mc{workers}.json").read_text())["results"][
            "run[btc-flash-crash-2021][6-paths]"]
    entry = entries["2"]
    assert entry["paths"] == 6 and entry["report"]["kind"] == "paths"
    assert entry["metrics"] == entries["1"]["metrics"] and entry["worst_seed"] == entries["1"]["worst_seed"]


def test_a_failing_run_exits_non_zero(project, capsys):
    code = main(["run", "BTC Flash Crash 2021", "--trader", "my_traders:Broken", "--bars", "100", "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED: RuntimeError: model blew up" in out and "1 failed: BTC Flash Crash 2021" in out


@pytest.mark.parametrize("argv, expected", [
    (["run", "BTC Flash Crash 2021", "--trader", "no_such_module:X"],
     "cannot import module 'no_such_module': ModuleNotFoundError"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dp"], "has no attribute 'Dp'; did you mean 'Dip'?"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:cannot_build"],
     "raised ValueError: missing API key"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:NOT_CALLABLE"], "is a int, not a callable"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders"], "expected MODULE:FACTORY"),
    (["run", "BTC Flash Crsh 2021", "--trader", "my_traders:Dip"],
     "unknown scenario 'BTC Flash Crsh 2021'; did you mean 'BTC Flash Crash 2021'?"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--bars", "-1"],
     "argument --bars: -1: expected at least 2 bars"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--paths", "0"], "argument --paths: 0"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--seed", "x"], "argument --seed: 'x'"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--exchange", "calmm"], "--exchange:"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--breaking-point"],
     "--breaking-point needs at least one --check 'METRIC OP NUMBER'"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--check", "liquidations == 0"],
     "--check: only with --breaking-point"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--breaking-point", "--check", "liquidatons == 0"],
     "unknown metric 'liquidatons'; did you mean 'liquidations'?"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--breaking-point", "--check", "liquidations 0"],
     "expected METRIC OP NUMBER"),
    (["run", "Black Swan Combo", "--trader", "my_traders:Dip", "--breaking-point", "drop_pct", "--check",
      "liquidations == 0"], "'drop_pct' is ambiguous: 'flash_crash_drop_pct' or 'liquidity_drop_pct'"),
    (["demo", "--bars", "-1"], "argument --bars: -1: expected at least 2 bars"),
    (["demo", "--bars", "10"], "argument --bars: 10: the demo applies every stress type's example to one market, "
                               "and the longest stress window needs at least 336 bars"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--json", "/nonexistent/r.json"],
     "--json '/nonexistent/r.json': the folder '/nonexistent' does not exist; create it first"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--report", "."],
     "--report '.': is a directory; give a file path such as 'report.html'"),
    (["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--json", "my_traders.py/r.json"],
     "'my_traders.py' is a file, not a folder"),
    (["report", "missing.json"], "no results file at 'missing.json'"),
    (["report", "my_traders.py"], "is not JSON"),
    (["nonsense"], "invalid choice: 'nonsense'"),
], ids=lambda v: "-".join(v) if isinstance(v, list) else None)
def test_bad_input_is_one_clear_line(project, capsys, argv, expected):
    line = _error(capsys, argv)
    assert expected in line


def test_run_finds_a_breaking_point_and_saves_it(project, capsys):
    code = main(["run", "BTC Flash Crash 2021", "--trader", "traders:LeveredLong2x", "--account", "perpetual:leverage=2",
                 "--exchange", "frictionless", "--bars", "60", "--breaking-point", "drop_pct", "--search-range",
                 "0.05", "0.5", "--precision", "0.02", "--check", "liquidations == 0", "--workers", "1",
                 "--json", "bp.json"])
    out = capsys.readouterr().out
    assert code == 0
    assert "breaks at drop_pct 0." in out and "checked on every path: liquidations == 0" in out
    assert "mildest failing scenario: Scenario('BTC Flash Crash 2021 @ drop_pct=" in out
    saved = json.loads((project / "bp.json").read_text())
    (entry,) = saved["results"].values()
    bp = entry["breaking_point"]
    assert bp["status"] == "found" and bp["parameter"] == "drop_pct"
    assert 0.05 < bp["value"] < 0.5 and bp["bracket"][1] - bp["bracket"][0] <= 0.02
    assert saved["options"]["check"] == "liquidations == 0" and saved["options"]["breaking_point"] == "drop_pct"


def test_unknown_account_is_a_clear_error_when_accounts_exist(project, capsys):
    from pytest_stress import runner
    import inspect

    if "account" not in inspect.signature(runner.run_scenario).parameters:
        pytest.skip("run_scenario has no account= yet")
    line = _error(capsys, ["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--account", "nope-account"])
    assert "--account" in line


def test_types_and_metrics_still_work(capsys):
    assert main(["types"]) == 0
    assert "flash_crash" in capsys.readouterr().out
    assert main(["metrics", "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("| metric |")


def test_module_entry_point_and_help_name_every_command():
    out = subprocess.run([sys.executable, "-m", "pytest_stress", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0
    for command in ("list", "run", "report", "types", "demo", "metrics"):
        assert command in out.stdout
    # plain text (no reStructuredText's ``literals``), pointing at what an installed package has
    assert "``" not in out.stdout and "docs/" not in out.stdout and "README" in out.stdout


def test_an_output_path_is_checked_before_the_run(project, capsys):
    """An unwritable --json fails at once (one line, exit 2), not after the run; no missing folder is made."""
    line = _error(capsys, ["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--workers", "1",
                           "--json", "missing/r.json", "--report", "r.html"])
    assert "--json 'missing/r.json': the folder 'missing' does not exist" in line
    assert not (project / "missing").exists() and not (project / "r.html").exists()


def test_a_write_that_fails_after_the_run_is_one_line_and_the_report_is_still_written(project, capsys, monkeypatch):
    from pytest_stress.errors import StressError
    from pytest_stress.plugin import storage

    def full_disk(*args, **kwargs):
        raise StressError("--json: could not write 'r.json' (OSError: No space left on device); nothing was written")

    monkeypatch.setattr(storage, "save_results", full_disk)
    code = main(["run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip", "--bars", "100", "--workers", "1",
                 "--json", "r.json", "--report", "r.html"])
    captured = capsys.readouterr()
    assert code == 2
    assert "1 case(s) in" in captured.out and "report written to r.html" in captured.out
    assert captured.err.strip().splitlines() == [
        "pytest-stress run: error: --json: could not write 'r.json' (OSError: No space left on device); "
        "nothing was written"]   # one line, no usage text after the results
    assert (project / "r.html").exists()


def _run_on(project, stderr_tty, env_extra=(), args=("--paths", "8")):
    """``pytest-stress run`` in a subprocess, standard error a terminal (a pty) or a pipe: (stdout, stderr)."""
    import os
    import pty

    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(project), *sys.path])), TERM="xterm")
    env.update(dict(env_extra))
    argv = [sys.executable, "-m", "pytest_stress", "run", "BTC Flash Crash 2021", "--trader", "my_traders:Dip",
            "--bars", "200", "--workers", "1", *args]
    if not stderr_tty:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=project)
        return out.stdout, out.stderr
    import fcntl
    import select
    import struct
    import termios

    master, slave = pty.openpty()   # this process keeps the terminal's other end open until the run ends
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))   # 40 rows, 120 columns
    chunks = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, text=True, env=env, cwd=project) as proc:
        while True:
            if select.select([master], [], [], 0.1)[0]:
                chunks.append(os.read(master, 65536))
            elif proc.poll() is not None:
                break
        stdout = proc.stdout.read()
    os.close(slave)
    os.close(master)
    return stdout, b"".join(chunks).decode("utf-8", "replace")


def test_progress_on_a_terminal_and_nothing_on_a_pipe_or_in_ci(project):
    out, err = _run_on(project, stderr_tty=True)
    assert "path/s" in err and "8/8" in err          # tqdm's bar: count, rate and ETA
    assert "passed  BTC Flash Crash 2021: 8 paths, median max drawdown" in err   # the case's verdict
    assert "1 case(s) in" in out and "path/s" not in out and "passed  " not in out   # stdout: the table alone
    for tty, env in ((False, ()), (True, (("CI", "true"),)), (True, (("TERM", "dumb"),))):
        out, err = _run_on(project, stderr_tty=tty, env_extra=env)
        assert err.strip() == "", (tty, env, err)
        assert "1 case(s) in" in out and "passed  " not in out


def test_progress_callbacks_count_every_case_and_path_and_change_no_result():
    from pytest_stress.runner import run_batch, run_paths
    from traders import SmaCross

    seen = []
    plain = run_paths("BTC Flash Crash 2021", SmaCross, 6, "calm", workers=1)
    counted = run_paths("BTC Flash Crash 2021", SmaCross, 6, "calm", workers=1, progress=seen.append)
    assert sum(seen) == 6 and len(seen) > 1          # in this process too, chunk by chunk
    for metric in ("max_drawdown", "total_return_pct", "final_equity"):
        assert list(counted.values(metric)) == list(plain.values(metric))
    seen.clear()
    run_paths("BTC Flash Crash 2021", SmaCross, 8, "calm", workers=2, progress=seen.append)
    assert sum(seen) == 8
    finished = []
    batch = run_batch([library.get(n, bars=100) for n in ("BTC Flash Crash 2021", "Black Swan Combo")], SmaCross,
                      max_workers=2, progress=finished.append)
    assert sorted(r.scenario_name for r in finished) == sorted(r.scenario_name for r in batch.results)


def test_a_breaking_point_search_shows_each_level_on_a_terminal(project):
    out, err = _run_on(project, stderr_tty=True, args=(
        "--trader", "traders:LeveredLong2x", "--bars", "60", "--account", "perpetual:leverage=2", "--exchange",
        "frictionless", "--breaking-point", "drop_pct", "--search-range", "0.05", "0.5", "--precision", "0.05",
        "--check", "liquidations == 0"))
    assert "level/s" in err and re.search(r"drop_pct 0\.\d+: (pass|fail) \(\d+ of \d+ paths failed\)", err), err
    assert "breaks at drop_pct" in out and "level/s" not in out
    seen = []
    from pytest_stress.breaking import find_breaking_point
    from traders import LeveredLong2x

    bp = find_breaking_point(library.get("BTC Flash Crash 2021", bars=60), LeveredLong2x, lambda r: r.liquidations == 0,
                             parameter="drop_pct", low=0.05, high=0.5, precision=0.05, exchange="frictionless",
                             account="perpetual:leverage=2", workers=1, on_level=seen.append)
    assert tuple(seen) == bp.levels
