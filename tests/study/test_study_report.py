"""`memplan report`: the HTML page from a study database, rendered in headless Chromium.

Chromium comes from Debian (`make test` installs it when missing and run as root). Without
it the rendering test fails and says how to install it: it is never skipped silently."""
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from memplan.study.html import fit_figure, load_study, render, series, share
from memplan.study.db import StudyDB
from memplan.study.grid import Grid, GridSettings, expand_devices, expand_models
from memplan.study.run import PoolBackend, run_grid

from helpers import branch_model, chain_model, save

INSTALL = "install it with `apt-get update && apt-get install -y chromium` (as root `make test` does it)"


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    models = [save(chain_model(), tmp / "a.onnx"), save(branch_model(), tmp / "b.onnx"),
              save(branch_model(large=128, hw=16), tmp / "c.onnx"), str(tmp / "missing.onnx")]
    grid = Grid(tuple(expand_models(models)), tuple(expand_devices(["n64", "cortex-m7"])), ("fp32",),
                ("naive", "best", "order", "int8"), (16 * 1024, 64 * 1024), GridSettings(algorithm="greedy_by_size"))
    path = str(tmp / "study.sqlite")
    db = StudyDB(path)
    run_grid(grid, db, PoolBackend(1))
    db.close()
    return path


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail(f"the report test renders HTML in headless Chromium, which is not installed: {INSTALL}")


def headless(url: str, tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", *args, url],
                          capture_output=True, text=True, timeout=120)


def test_fit_curve_shares(study_db):
    data = load_study(StudyDB(study_db, readonly=True))
    lines = series(data.cells)
    assert list(lines) == ["naive", "best", "order", "int8"] and all(len(v) == 3 for v in lines.values())
    assert share(lines["naive"], 16 * 1024) <= share(lines["order"], 16 * 1024) <= share(lines["int8"], 16 * 1024)
    assert share(lines["int8"], max(lines["naive"])) == 1.0
    fig = fit_figure(data.cells, data.budgets)
    assert len(fig.axes[0].get_lines()) == 4 + 2  # a step line per stage, a dashed line per budget


def test_report_renders_in_chromium(study_db, tmp_path):
    out = tmp_path / "report.html"
    r = subprocess.run([sys.executable, "-m", "memplan.cli", "report", study_db, "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert "http://" not in page and "https://" not in page  # self-contained: nothing to fetch
    images = page.count("<img ")
    assert images == 1 + 3  # the fit curve and one memory picture per model that planned
    dom = headless(out.as_uri(), tmp_path, "--virtual-time-budget=5000", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert f'data-images="{images}"' in dom.stdout  # every picture decoded
    models = re.search(r'<table id="models".*?</table>', dom.stdout, re.S).group(0)
    assert 'data-sorted="3 desc"' in models  # the script ran: sorted by the 'order' arena, largest first
    rows = re.findall(r"<tr><td>([^<]*)</td>(.*?)</tr>", models.split("<tbody>")[1], re.S)
    assert len(rows) == 4
    order = [float(re.findall(r'data-v="([-0-9.]+)"', cells)[2]) for _, cells in rows]
    assert order == sorted(order, reverse=True) and rows[-1][0].endswith("missing.onnx")
    assert 'id="placements"' in dom.stdout and 'id="failures"' in dom.stdout
    shot = tmp_path / "shot.png"
    r = headless(out.as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1200,1400", "--hide-scrollbars")
    assert shot.exists(), r.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))[..., :3]
    assert pixels.shape[:2] == (1400, 1200)
    inked = (pixels < 0.9).any(axis=2)
    assert inked.mean() > 0.03  # text, tables and the plot, not a blank page
    plot = pixels[150:700]  # the fit curve sits under the title and summary
    colours = {tuple(c) for c in (plot.reshape(-1, 3) * 16).astype(int)}
    assert len(colours) > 20 and np.std(plot) > 0.05  # coloured lines, not an empty frame


def test_report_of_a_bad_path_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "memplan.cli", "report", str(tmp_path / "none.sqlite"), "-o",
                        str(tmp_path / "r.html")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no such study database" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_an_empty_database_renders(tmp_path):
    path = str(tmp_path / "e.sqlite")
    StudyDB(path).close()
    assert "holds no cells" in render(load_study(StudyDB(path, readonly=True)))
