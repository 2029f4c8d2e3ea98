"""gnuradio-companion opens every example without errors, on a virtual X server (Xvfb).

Each example is opened with ``gnuradio-companion <file>`` as a user would, with the block paths
that ``make setup`` wrote to ``~/.gnuradio/config.conf`` (copied, with GRC's block cache, into a
private HOME so that the user's GRC settings are not touched). A launch counts as clean when:

- GRC's window for the file appears and the process is still alive after loading;
- its console output has no error line: GRC prints ``Error``/``[ERROR]``/``>>> Failure`` and a
  traceback for a file that does not parse and for a block description that does not load;
- GRC's own view of the loaded flowgraph has no missing block (an unknown block id becomes a
  grey "Missing Block" stand-in and prints nothing) and no error message (a red block, e.g. a
  parameter that does not evaluate, also prints nothing). tests/grc/grc_probe/sitecustomize.py reads
  these from inside the running GRC and writes them to a JSON report when the GTK main loop is
  idle after loading, which is also how the test knows GRC has finished loading;
- no block overlaps another on GRC's canvas. The probe reports each block's rectangle as GRC
  itself sized and placed it (``Block.get_extents()`` once the canvas is realised: the body
  sized from the rendered title and visible parameters, the ports sticking out of it, and the
  comment below the block when there is one), and no two rectangles of different blocks may
  intersect.

Negative checks make sure that the detection works: a flowgraph with an unknown block id, one
with a parameter that does not evaluate, one with a block moved onto another, a file that is
not YAML, and a block folder holding a malformed block description must each be reported as
failed.

The only skip is for a machine where no X server can run (no Xvfb binary, or Xvfb does not come
up).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.grc"))
PROBE_DIR = Path(__file__).resolve().parent / "grc_probe"

LOAD_TIMEOUT_S = 40.0  # per launch, on a loaded 2-core machine GRC needs 2-5 s
WINDOW_WAIT_S = 5.0  # for the window title once GRC reported the load
SETTLE_S = 0.5  # alive check after the load report
PARALLEL = 2
# GRC's console: load failures ('Error: ...', '>>> Failure'), block library errors ('[ERROR] Error
# while loading ...'), exceptions, GTK criticals
ERROR_LINE = re.compile(r"error|traceback|failure|failed|exception|critical", re.IGNORECASE)


@dataclass
class Launch:
    """What one ``gnuradio-companion <file>`` run showed."""

    path: Path
    output: str = ""
    report: dict | None = None
    window: bool = False
    alive_after_load: bool = False
    returncode: int | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def display() -> str:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("no X server can run here: Xvfb is not installed (make setup installs xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 15
    os.set_blocking(read_fd, False)
    while time.monotonic() < deadline and not number.endswith(b"\n"):
        try:
            number += os.read(read_fd, 16)
        except BlockingIOError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    os.close(read_fd)
    if not number.strip().isdigit():
        proc.kill()
        _, err = proc.communicate()
        pytest.skip(f"no X server can run here: Xvfb did not start ({err.decode()[-300:]!r})")
    yield f":{number.decode().strip()}"
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _private_home(base: Path) -> Path:
    """A HOME with the user's GNU Radio config (block paths from make setup) and block cache."""
    home = base / "home"
    real = Path.home()
    if (real / ".gnuradio").is_dir():
        shutil.copytree(real / ".gnuradio", home / ".gnuradio", ignore=_skip_grc_conf)
    (home / ".gnuradio").mkdir(parents=True, exist_ok=True)
    cache = real / ".cache" / "grc_gnuradio"
    if cache.is_dir():
        shutil.copytree(cache, home / ".cache" / "grc_gnuradio")
    return home


def _real_user_base() -> str:
    res = subprocess.run(
        ["/usr/bin/python3", "-c", "import site; print(site.getuserbase())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return res.stdout.strip()


def _skip_grc_conf(_dir: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "grc.conf"]


def _window_shown(path: Path, env: dict[str, str]) -> bool:
    """GRC's main window titled '<file name> - <folder>' (MainWindow.update) exists."""
    title = re.compile(
        rf"^\*?{re.escape(path.name)}(\(read only\))? - {re.escape(str(path.parent))}$"
    )
    if shutil.which("xdotool"):
        res = subprocess.run(
            ["xdotool", "search", "--name", title.pattern],
            capture_output=True,
            text=True,
            env=env,
        )
        return res.returncode == 0 and bool(res.stdout.strip())
    res = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True, env=env)
    return any(title.search(m) for m in re.findall(r'"([^"]*)"', res.stdout))


def launch(path: Path, display: str, workdir: Path, extra_env: dict[str, str] | None = None):
    """:func:`launch_once`, again once if GRC itself crashed (killed by a signal before it
    finished loading, with nothing on its console): GRC 3.10 under Xvfb now and then segfaults
    while it starts, whatever the file. A load error is never retried (GRC reports those and
    stays open), and a crash that happens twice is reported."""
    r = launch_once(path, display, workdir / "1", extra_env)
    crashed = r.returncode is not None and r.returncode < 0 and r.report is None
    if crashed and not any(ERROR_LINE.search(ln) for ln in r.output.splitlines()):
        first = r.returncode
        r = launch_once(path, display, workdir / "2", extra_env)
        r.output = f"[first launch crashed with rc {first}; launched again]\n" + r.output
    return r


def launch_once(
    path: Path, display: str, workdir: Path, extra_env: dict[str, str] | None = None
) -> Launch:
    """Open ``path`` in gnuradio-companion on ``display``; return what it showed, then kill it."""
    grc = shutil.which("gnuradio-companion")
    assert grc is not None, "gnuradio-companion not found (make setup installs gnuradio)"
    workdir.mkdir(parents=True, exist_ok=True)
    home = _private_home(workdir)
    report_file = workdir / "report.json"
    log_file = workdir / "grc.log"
    env = {
        k: v for k, v in os.environ.items() if k not in ("GRC_BLOCKS_PATH", "GR_DONT_LOAD_PREFS")
    }
    env.update(
        DISPLAY=display,
        HOME=str(home),
        # the user site of the real HOME: make setup's .pth for the system python3 lives there
        PYTHONUSERBASE=env.get("PYTHONUSERBASE") or _real_user_base(),
        GRC_PREFS_PATH=str(home / ".gnuradio" / "grc.conf"),
        PYTHONPATH=os.pathsep.join(p for p in (str(PROBE_DIR), env.get("PYTHONPATH")) if p),
        SEMDACOM_GRC_PROBE=str(report_file),
        NO_AT_BRIDGE="1",
    )
    env.update(extra_env or {})
    result = Launch(path=path)
    t0 = time.monotonic()
    with open(log_file, "w") as log:
        proc = subprocess.Popen(
            [grc, str(path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
            start_new_session=True,
        )
        try:
            # loaded: the probe's report is written once GTK is idle after the file loaded
            deadline = t0 + LOAD_TIMEOUT_S
            while time.monotonic() < deadline and proc.poll() is None:
                if report_file.exists():
                    break
                time.sleep(0.1)
            # the window title is set on the first redraw; a file that failed leaves 'untitled'
            deadline = min(deadline, time.monotonic() + WINDOW_WAIT_S)
            while True:
                result.window = _window_shown(path, env)
                if result.window or time.monotonic() > deadline or proc.poll() is not None:
                    break
                time.sleep(0.1)
            if report_file.exists():
                result.report = json.loads(report_file.read_text())
            time.sleep(SETTLE_S)
            result.alive_after_load = proc.poll() is None
            result.seconds = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            result.returncode = proc.wait(timeout=10)
    result.output = log_file.read_text(errors="replace")
    result.problems = _problems(result)
    return result


def _boxes(rect: dict) -> list[tuple[float, float, float, float]]:
    """The block's rectangles on GRC's canvas: body with ports, and its comment if shown."""
    return [tuple(rect["extent"])] + ([tuple(rect["comment"])] if "comment" in rect else [])


def overlaps(page: dict) -> list[str]:
    """Pairs of blocks whose rectangles on GRC's canvas intersect (touching edges is fine)."""
    out = []
    rects = page["rects"]
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            hit = any(
                ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1
                for ax0, ay0, ax1, ay1 in _boxes(a)
                for bx0, by0, bx1, by1 in _boxes(b)
            )
            if hit:
                out.append(f"{a['name']} {a['extent']} / {b['name']} {b['extent']}")
    return out


def _problems(r: Launch) -> list[str]:
    out = []
    if not r.alive_after_load:
        out.append(f"gnuradio-companion exited (rc {r.returncode}) instead of staying open")
    if not r.window:
        out.append(f"no GRC window titled '{r.path.name} - {r.path.parent}'")
    lines = [ln for ln in r.output.splitlines() if ERROR_LINE.search(ln)]
    if lines:
        out.append("error lines on GRC's console: " + " | ".join(lines[:8]))
    if r.report is None:
        out.append("GRC did not finish loading (no load report)")
    else:
        pages = [p for p in r.report["pages"] if Path(p["file"] or "/") == r.path]
        if not pages:
            out.append("the file is not open in GRC (it failed to load)")
        for p in pages:
            if p["missing"]:
                out.append(f"blocks GRC does not know: {sorted(set(p['missing']))}")
            if p["errors"]:
                out.append("flowgraph errors in GRC: " + " | ".join(p["errors"][:8]))
            if p["blocks"] < 2:
                out.append("GRC shows an empty flowgraph")
            if not p["sized"]:
                out.append("GRC did not size the blocks (no canvas drawn)")
            elif p["blocks"] != len(p["rects"]):
                out.append(f"{len(p['rects'])} block rectangles for {p['blocks']} blocks")
            hits = overlaps(p)
            if hits:
                out.append("blocks overlap on GRC's canvas: " + " | ".join(hits[:8]))
    return out


def _negative_files(base: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    base.mkdir(parents=True, exist_ok=True)
    good = (ROOT / "examples" / "phy_loopback.grc").read_text()
    files: dict[str, tuple[Path, dict[str, str]]] = {}

    missing = base / "missing_block.grc"
    assert "id: semdacom_phy_probe" in good
    missing.write_text(good.replace("id: semdacom_phy_probe", "id: semdacom_no_such_block", 1))
    files["missing_block"] = (missing, {})

    bad_param = base / "bad_param.grc"
    assert "value: '1.0'" in good
    bad_param.write_text(good.replace("value: '1.0'", "value: 'undefined_name_xyz'", 1))
    files["bad_param"] = (bad_param, {})

    overlap = base / "overlap.grc"
    flowgraph = yaml.safe_load(good)
    by_name = {b["name"]: b for b in flowgraph["blocks"]}
    # the second block of the chain on top of the first, shifted by a few pixels
    x, y = by_name["src_0"]["states"]["coordinate"]
    by_name["head_0"]["states"]["coordinate"] = [x + 24, y + 8]
    overlap.write_text(yaml.safe_dump(flowgraph, sort_keys=False))
    files["overlap"] = (overlap, {})

    not_yaml = base / "not_yaml.grc"
    not_yaml.write_text("options: [this is: not: yaml\n")
    files["not_yaml"] = (not_yaml, {})

    blocks = base / "broken_blocks"
    blocks.mkdir()
    (blocks / "semdacom_broken.block.yml").write_text("id: [unclosed\n")
    library_copy = base / "with_broken_library.grc"
    library_copy.write_text(good)
    files["broken_block_yml"] = (library_copy, {"GRC_BLOCKS_PATH": str(blocks)})
    return files


@pytest.fixture(scope="module")
def launches(display: str, tmp_path_factory) -> dict[str, Launch]:
    base = tmp_path_factory.mktemp("grc_launch")
    jobs: dict[str, tuple[Path, dict[str, str]]] = {p.name: (p, {}) for p in EXAMPLES}
    negatives = _negative_files(base / "negative")
    jobs.update({f"negative:{k}": v for k, v in negatives.items()})
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {
            key: pool.submit(launch, path, display, base / re.sub(r"\W", "_", key), env)
            for key, (path, env) in jobs.items()
        }
        results = {key: f.result() for key, f in futures.items()}
    total = time.monotonic() - t0
    print(f"\n{len(results)} GRC launches in {total:.1f} s")
    for key, r in results.items():
        print(f"  {key}: {r.seconds:.1f} s, {len(r.problems)} problem(s)")
    return results


def test_there_are_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("grc", EXAMPLES, ids=lambda p: p.name)
def test_example_opens_in_gnuradio_companion(grc: Path, launches) -> None:
    r = launches[grc.name]
    assert not r.problems, (
        f"{grc.name} in gnuradio-companion:\n- "
        + "\n- ".join(r.problems)
        + (f"\n--- GRC output ---\n{r.output[-3000:]}")
    )
    assert "Loading: " in r.output and ">>> Done" in r.output, r.output


@pytest.mark.parametrize("grc", EXAMPLES, ids=lambda p: p.name)
def test_no_block_overlaps_another(grc: Path, launches) -> None:
    """Every example is laid out so that GRC draws no block over another (the rectangles come
    from GRC's own canvas, see tests/grc/grc_probe/sitecustomize.py)."""
    r = launches[grc.name]
    assert r.report is not None, r.problems
    pages = [p for p in r.report["pages"] if Path(p["file"] or "/") == r.path]
    assert pages, r.problems
    for page in pages:
        assert page["sized"], "GRC did not size the blocks"
        assert len(page["rects"]) == page["blocks"] >= 2
        hits = overlaps(page)
        assert not hits, f"{grc.name}: blocks overlap in GRC:\n" + "\n".join(hits)


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("missing_block", "blocks GRC does not know: ['semdacom_no_such_block']"),
        ("bad_param", "flowgraph errors in GRC"),
        ("overlap", "blocks overlap on GRC's canvas: src_0 "),
        ("not_yaml", "error lines on GRC's console"),
        ("broken_block_yml", "semdacom_broken.block.yml"),
    ],
)
def test_broken_input_is_detected(case: str, expect: str, launches) -> None:
    """The checks above can fail: each broken input is reported, with the reason expected."""
    r = launches[f"negative:{case}"]
    assert r.problems, f"{case}: a broken flowgraph passed the launch check\n{r.output}"
    assert any(expect in p for p in r.problems), r.problems
