"""report.html: the same report as a static page, escaped as data, and checked in a real headless
browser (Debian's chromium): a screenshot of it, and its sortable tables sorted by the page's own
script."""

import json
import re
import shutil
import subprocess
import urllib.parse

import pytest

from harness import html_report
from harness.cli import main

GRID = """\
xent-parity: 1
defaults: {shape: [12, 7], dtype: float64, checks: [forward, grad]}
blocks:
  - grid:
      label: [hard]
      ignore_index: [-100]
      ignore_frac: [0.0, 0.25]
      weight: [none, random]
      reduction: [mean, sum]
"""
MUTANT = "tests.mutant_adapters:MeanOverAllWeighted"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    grid = tmp / "g.yaml"
    grid.write_text(GRID)
    out = tmp / "out"
    assert main(["run", str(grid), "--frameworks", f"numpy,{MUTANT}", "--expectations", "",
                 "--out", str(out)]) == 0
    return out, json.loads((out / "results.json").read_text())


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no headless browser: install Debian's chromium (apt-get install chromium) to "
                "check report.html in one")


def _chromium(browser, *args, timeout=120):
    return subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                           "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                           *args], capture_output=True, text=True, timeout=timeout)


def test_the_page_has_the_report_and_links_the_reproducers(run):
    out, doc = run
    page = (out / "report.html").read_text()
    for table in ("verdicts-table", "causes-table", "matrix-table", "review-table"):
        assert f'id="{table}"' in page
    links = re.findall(r'href="reproducers/([^"]+)"', page)
    assert links and all((out / "reproducers" / urllib.parse.unquote(n)).is_file() for n in links)
    assert 'src="figures/error-vs-bound-forward.png"' in page


def test_values_from_a_results_file_are_escaped_never_markup(run):
    _, doc = run
    doc = json.loads(json.dumps(doc))
    r = next(r for r in doc["results"] if r["verdict"] == "mismatch")
    r["detail"] = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r["framework"] = "<b>evil</b>"
    page = html_report.render_html(doc)
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>evil</b>" not in page
    assert "&lt;script&gt;alert" in page and "&lt;b&gt;evil&lt;/b&gt;" in page


def test_a_headless_browser_renders_it_and_its_script_sorts_the_tables(run, tmp_path):
    browser = _browser()
    out, _ = run
    url = (out / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    res = _chromium(browser, f"--screenshot={shot}", "--window-size=1200,1600", url)
    assert shot.is_file(), res.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    assert pixels.std() > 0.05  # tables and a figure, not a blank page
    dark = (pixels[..., :3].mean(axis=2) < 0.4).mean()
    assert 0.001 < dark < 0.5, dark  # text on a light background
    print(f"screenshot: {shot}")
    first = {}
    for direction in ("asc", "desc"):
        res = _chromium(browser, "--dump-dom", f"{url}#sort=matrix-table:0:{direction}")
        assert res.returncode == 0, res.stderr[-2000:]
        body = res.stdout.split('id="matrix-table"', 1)[1].split("</tbody>", 1)[0]
        first[direction] = re.search(r"<tbody>\s*<tr><td>([^<]+)</td>", body).group(1)
        assert f'aria-sort="{"ascending" if direction == "asc" else "descending"}"' in body
    assert first == {"asc": "mutant-mean-weighted", "desc": "numpy"}
