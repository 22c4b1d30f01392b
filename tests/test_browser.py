"""The course in a real browser: `make lab` as README says, driven by Playwright.

One lab server and one headless chromium serve the whole module (tests marked
`browser`, kept on one xdist worker). They check what a student sees:

- the student lab: Validate is there; Formgrader, Create Assignment, the
  course and assignment lists and Jupyter's news pop-up are not;
- every chapter's SOURCE notebook runs all (`runmenu:run-all`) without an
  error or stderr output, every matplotlib figure is an image, every widget
  is a live view that redraws when a slider moves;
- in chapter 1's RELEASE notebook a flipped-kernel `corr2d` makes its test say
  "flipped" within the first lines, and Validate names the failed tests;
- the release notebook opens unchanged (no "unsaved" mark).

The checks on what the page shows are plain functions of a captured state
(`render_problems`, `first_lines`, ...), tested without a browser at the end
of this file, and once in the browser on a throwaway notebook that is broken
on purpose, so each of them is seen to fail.

Nothing in the checkout is written: JupyterLab gets its own settings folder
(autosave off) and workspace folder, and a notebook the test edits or
validates (Validate saves it) is a copy under test-artifacts/. Screenshots,
the lab's log and the captured state of a failure go to $BROWSER_ARTIFACTS
(default test-artifacts/browser/). Chromium is Debian's (/usr/bin/chromium,
or $CHROMIUM); `scripts/ensure-system` installs it, CI runs it.
"""
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from course import ROOT, available_chapters, release_notebook, source_notebook

CHAPTERS = available_chapters()
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or ROOT / "test-artifacts" / "browser")
# Notebooks the test edits are copied here: inside the lab's root, git-ignored.
SCRATCH_PARENT = ROOT / "test-artifacts" / "browser-notebooks"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
SERVER_START_S = 180      # `make lab` until the server answers (ensure-env may run first)
NOTEBOOK_RUN_S = 300      # one notebook's run-all, on 2 shared cores
VALIDATE_S = 300          # nbgrader validate runs the whole notebook on the server
WIDGET_REDRAW_S = 30

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
FIGURE_TEXT = re.compile(r"<Figure size \d+(\.\d+)?x\d+(\.\d+)? with \d+ Axes>")
TRACEBACK_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b.*Traceback", re.M)

# The wrong answer of tests/wrong_answers/01_convolution.py: a true convolution.
FLIPPED_CORR2D = '''import torch


def corr2d(X, K):
    kh, kw = K.shape
    K = K.flip(0, 1)
    Y = torch.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1), dtype=X.dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y
'''

# ---------------------------------------------------------------------------
# Checks on a captured state: plain functions, tested without a browser below.
# ---------------------------------------------------------------------------


def _short(text, n=160):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n] + "..."


def render_problems(cells):
    """What is wrong with a run notebook as the page shows it; [] when all is well.

    `cells` is what `SNAPSHOT_JS` captures, one dict per code cell:
    {"index", "source", "outputs": [nbformat outputs from the notebook model],
     "dom": [per output area child: {"text", "stderr", "images", "widget", "widget_error"}]}.
    """
    problems = []
    for cell in cells:
        where = f"cell {cell['index']} ({_short(cell['source'].splitlines()[0] if cell['source'] else '', 50)})"
        outputs, dom = cell.get("outputs", []), cell.get("dom", [])
        for out in outputs:
            if out.get("output_type") == "error":
                problems.append(f"{where} raised {out.get('ename')}: {_short(out.get('evalue'))}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"{where} wrote to stderr: {_short(out.get('text'))}")
        if len(outputs) != len(dom):
            problems.append(f"{where} has {len(outputs)} outputs but the page shows {len(dom)}")
        for out, shown in zip(outputs, dom):
            data = out.get("data", {})
            text = shown.get("text", "")
            if shown.get("stderr") and out.get("output_type") not in ("error", "stream"):
                problems.append(f"{where} shows an error or stderr inside an output: {_short(text)}")
            if TRACEBACK_TEXT.search(text) and out.get("output_type") != "error":
                problems.append(f"{where} shows a traceback: {_short(text)}")
            if WIDGET_MIME in data:
                if not shown.get("widget") or shown.get("widget_error"):
                    problems.append(f"{where}: a widget is not rendered live ({_short(text) or 'no view'})")
            elif "image/png" in data or "image/svg+xml" in data:
                if not shown.get("images"):
                    problems.append(f"{where}: an image output is not rendered as an image")
            if FIGURE_TEXT.search(text) and not shown.get("images") and not shown.get("widget"):
                problems.append(f"{where}: a matplotlib figure is shown as text, not as an image: {_short(text)}")
    return problems


def first_lines(text, n=5):
    """The first n non-blank lines of an output as the page shows it."""
    return [line for line in text.splitlines() if line.strip()][:n]


def likely_cause_problems(text, cause, n=5):
    """[] when `cause` appears in the first n non-blank lines of a test's visible output."""
    head = first_lines(text, n)
    if any(cause.lower() in line.lower() for line in head):
        return []
    return [f"'{cause}' is not in the first {n} lines of the test's output: {head}"]


SCREEN_LINES = 40


def validate_dialog_problems(text, failed_tests):
    """The Validate dialog says the notebook failed and names every failed test.

    `failed_tests` maps a test's grade_id to the first line of its source, which
    nbgrader's dialog quotes for each failed cell.
    """
    problems = []
    if "failed" not in text.lower():
        problems.append(f"the Validate dialog does not report a failure: {_short(text, 300)}")
    missing = [gid for gid, first in failed_tests.items() if first.strip() not in text]
    if missing:
        problems.append(f"the Validate dialog does not name the failed tests {missing}")
    # One screen per failure: the quoted test cell and its message, not a traceback.
    lines = len(text.splitlines())
    if failed_tests and lines > SCREEN_LINES * len(failed_tests):
        problems.append(f"the Validate dialog holds {lines} lines for {len(failed_tests)} failed "
                        f"tests (more than {SCREEN_LINES} per failure)")
    return problems


def slider_problems(before, after):
    """A slider change must change the widget's output area (both are its HTML)."""
    if before is None:
        return ["the widget has no output area to watch"]
    if after == before:
        return ["moving the slider did not change the widget's output"]
    return []


# ---------------------------------------------------------------------------
# The browser side.
# ---------------------------------------------------------------------------

# Captures the current notebook: model outputs and what the page shows for each.
SNAPSHOT_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== 'code') return;
    const children = [...cell.outputArea.node.children].filter(
        n => n.classList.contains('jp-OutputArea-child'));
    cells.push({
      index,
      source: cell.model.sharedModel.getSource(),
      outputs: cell.model.outputs.toJSON(),
      dom: children.map(n => {
        const view = n.querySelector('.jupyter-widgets, .widget-container, .widget-inline-hbox, .widget-box');
        const text = n.innerText || '';
        return {
          text: text.slice(0, 2000),
          stderr: !!n.querySelector('[data-mime-type="application/vnd.jupyter.stderr"]'),
          images: n.querySelectorAll('img, svg.main-svg, .jp-RenderedSVG svg').length,
          widget: !!view,
          widget_error: /Error displaying widget|model not found|Loading widget\\.\\.\\./.test(text),
        };
      }),
    });
  });
  return cells;
}"""

KERNEL_SETTLED_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.sessionContext.session) return false;
  const kernel = panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const prompts = [...panel.node.querySelectorAll('.jp-InputPrompt')].map(p => p.textContent);
  if (prompts.some(t => t.includes('*'))) return false;
  const status = document.querySelector('#jp-main-statusbar');
  return !!status && status.innerText.includes('| Idle');
}"""

RUN_ALL_DONE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  const failed = code.some(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
  return failed || code.every(c => c.model.executionCount !== null);
}"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium_missing_reason():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make env installs the [dev] pins)"
    if not os.access(CHROMIUM, os.X_OK):
        return (f"no chromium at {CHROMIUM}: run scripts/ensure-system as root "
                "(CI does), or set CHROMIUM to a chromium binary")
    return None


class Lab:
    """`make lab` on a free loopback port, and one chromium page on it."""

    def __init__(self, tmp):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        settings = tmp / "user-settings"
        (settings / "@jupyterlab" / "docmanager-extension").mkdir(parents=True)
        # Never write a notebook of the checkout: no autosave.
        (settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(
            json.dumps({"autosave": False}))
        self.lab_args = " ".join([
            "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        ])
        self.scratch = SCRATCH_PARENT / f"run-{os.getpid()}"
        self.times = {}
        self.console = []
        self.proc = self.playwright = self.browser = self.page = None

    def start_server(self):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log = open(ARTIFACTS / "lab.log", "w")
        env = dict(os.environ)
        if sys.prefix != sys.base_prefix:            # the venv this test runs in
            env.setdefault("COURSE_VENV", sys.prefix)
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={self.lab_args}"],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"`make lab` exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=5):
                    self.times["server_up_s"] = time.perf_counter() - self.t0
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"`make lab` did not answer within {SERVER_START_S} s:\n{self.log_tail()}")

    def log_tail(self, n=40):
        self.log.flush()
        return "\n".join((ARTIFACTS / "lab.log").read_text(errors="replace").splitlines()[-n:])

    def start_browser(self):
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def stop(self):
        for closer in (lambda: self.browser and self.browser.close(),
                       lambda: self.playwright and self.playwright.stop()):
            with contextlib.suppress(Exception):
                closer()
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        shutil.rmtree(self.scratch, ignore_errors=True)
        with contextlib.suppress(OSError):
            SCRATCH_PARENT.rmdir()
        (ARTIFACTS / "console.log").write_text("\n".join(self.console))
        (ARTIFACTS / "times.json").write_text(json.dumps(self.times, indent=1))
        self.log.close()

    # -- driving the lab ----------------------------------------------------

    def goto(self, url_path):
        self.page.goto(f"{self.base}{url_path}?token={self.token}", timeout=120_000)
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=120_000)
        self.page.evaluate("async () => { await window.jupyterapp.restored; }")

    def wait_notebook_ready(self, timeout_s=120):
        self.page.wait_for_function(
            "() => { const p = window.jupyterapp.shell.currentWidget;"
            " return p && p.content && p.content.widgets && p.content.widgets.length > 0"
            " && p.context && p.context.isReady; }", timeout=timeout_s * 1000)
        self.page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.sessionContext.isReady", timeout=timeout_s * 1000)
        self.page.wait_for_function(KERNEL_SETTLED_JS, timeout=timeout_s * 1000)

    def open(self, path):
        """Open a notebook (a path relative to the course root) and wait for its idle kernel."""
        # Fire the command and poll for its result: an awaited in-page promise can be
        # garbage collected before it settles ("Resulting promise was garbage collected").
        self.page.evaluate(
            "(path) => { window.jupyterapp.commands.execute('docmanager:open',"
            " {path, factory: 'Notebook'}).then(w => window.jupyterapp.shell.activateById(w.id)); }",
            str(path))
        self.page.wait_for_function(
            "(path) => { const p = window.jupyterapp.shell.currentWidget;"
            " return !!(p && p.context && p.context.path === path); }", arg=str(path), timeout=120_000)
        self.wait_notebook_ready()

    def close_current(self):
        """Shut the notebook's kernel down and close it without saving."""
        self.page.evaluate(
            "async () => { const p = window.jupyterapp.shell.currentWidget; if (!p) return;"
            " try { await p.sessionContext.shutdown(); } catch (e) {}"
            " p.context.model.dirty = false; p.dispose(); }")

    def run_all(self, timeout_s=NOTEBOOK_RUN_S):
        self.page.evaluate("() => { window.jupyterapp.commands.execute('runmenu:run-all'); }")
        self.page.wait_for_function(RUN_ALL_DONE_JS, timeout=timeout_s * 1000)
        self.page.wait_for_function(KERNEL_SETTLED_JS, timeout=timeout_s * 1000)

    def run_cell(self, index, timeout_s=120):
        self.page.evaluate(
            "async (i) => { const p = window.jupyterapp.shell.currentWidget;"
            " p.content.activeCellIndex = i; p.content.deselectAll();"
            " await window.jupyterapp.commands.execute('notebook:run-cell'); }", index)
        self.page.wait_for_function(KERNEL_SETTLED_JS, timeout=timeout_s * 1000)

    def set_source(self, index, text):
        self.page.evaluate(
            "([i, text]) => window.jupyterapp.shell.currentWidget.content.widgets[i]"
            ".model.sharedModel.setSource(text)", [index, text])

    def snapshot(self):
        return self.page.evaluate(SNAPSHOT_JS)

    def output_text(self, index):
        return self.page.evaluate(
            "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].outputArea.node.innerText", index)

    def current_is_dirty(self):
        return self.page.evaluate(
            "() => { const p = window.jupyterapp.shell.currentWidget;"
            " return p.context.model.dirty || p.title.className.includes('jp-mod-dirty'); }")

    def screenshot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        with contextlib.suppress(Exception):
            (ARTIFACTS / f"{name}.json").write_text(json.dumps(self.snapshot(), indent=1))

    @contextlib.contextmanager
    def shots_on_failure(self, name):
        try:
            yield
        except BaseException:
            self.screenshot(re.sub(r"[^\w.-]+", "_", name))
            raise

    def widget_slider_problems(self, widget_outputs, redraw_s=WIDGET_REDRAW_S):
        """Move one slider of every widget view in the current notebook; returns problems.

        `widget_outputs`: how many widget outputs the notebook has; each must show a slider.
        """
        problems = []
        views = self.page.locator(".jp-Notebook .jp-OutputArea-child:has(.widget-slider)")
        if views.count() < widget_outputs:
            problems.append(f"{widget_outputs} widget outputs but {views.count()} views with a slider")
        for k in range(views.count()):
            view = views.nth(k)
            view.scroll_into_view_if_needed()
            handle = view.locator(".widget-slider .noUi-handle").first
            watched = view.locator(".widget-output")
            before = watched.first.inner_html() if watched.count() else None
            if before is None:
                problems.append(f"widget view {k}: no output area to watch")
                continue
            now, top = (float(handle.get_attribute(a) or 0) for a in ("aria-valuenow", "aria-valuemax"))
            handle.focus()
            handle.press("ArrowLeft" if now >= top else "ArrowRight")
            try:
                self.page.wait_for_function(
                    "([el, before]) => el.innerHTML !== before && !el.querySelector('.jp-mod-pending')",
                    arg=[watched.first.element_handle(), before], timeout=redraw_s * 1000)
            except Exception:
                pass
            self.page.wait_for_function(KERNEL_SETTLED_JS, timeout=60_000)
            after = watched.first.inner_html()
            problems += [f"widget view {k}: {p}" for p in slider_problems(before, after)]
            if 'data-mime-type="application/vnd.jupyter.stderr"' in after:
                problems.append(f"widget view {k}: the redraw shows an error: {_short(watched.first.inner_text())}")
        return problems


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = _chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    lab = Lab(tmp_path_factory.mktemp("lab"))
    try:
        lab.start_server()
        lab.start_browser()
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def first_page(lab):
    """The page README's `make lab` opens (chapter 1's release), timed to a usable first cell."""
    with lab.shots_on_failure("first-page"):
        lab.goto("/")                     # default_url: release/01_convolution/01_convolution.ipynb
        lab.wait_notebook_ready()
        lab.times["notebook_idle_s"] = time.perf_counter() - lab.t0
        state = {"dirty_after_kernel_start": lab.current_is_dirty()}
        first_code = lab.page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.content.widgets.findIndex(c => c.model.type === 'code')")
        lab.run_cell(first_code)
        lab.times["first_cell_run_s"] = time.perf_counter() - lab.t0
        state["first_cell"] = lab.snapshot()[0]
        state["path"] = lab.page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
        state["plugins"] = lab.page.evaluate(
            "() => Object.fromEntries(['formgrader', 'create-assignment', 'course-list', 'assignment-list',"
            " 'menu', 'validate-assignment'].map(n => ['@jupyter/nbgrader:' + n,"
            " window.jupyterapp.hasPlugin('@jupyter/nbgrader:' + n)]).concat([["
            "'@jupyterlab/apputils-extension:announcements',"
            " window.jupyterapp.hasPlugin('@jupyterlab/apputils-extension:announcements')]]))")
        state["validate_buttons"] = lab.page.locator(".jp-NotebookPanel-toolbar .validate-button").count()
        state["notifications"] = lab.page.evaluate(
            "async () => { await new Promise(r => setTimeout(r, 1500));"
            " return [...document.querySelectorAll('.jp-Notification-Toast, .Toastify__toast, .jp-Dialog')]"
            ".map(n => n.innerText); }")
        state["menu"] = lab.page.locator("#jp-menu-panel, .lm-MenuBar").first.inner_text()
        lab.close_current()
    print(f"make lab: server answers after {lab.times['server_up_s']:.1f} s, notebook idle after "
          f"{lab.times['notebook_idle_s']:.1f} s, first cell run after {lab.times['first_cell_run_s']:.1f} s")
    return state


pytestmark = pytest.mark.xdist_group("browser")


@pytest.mark.browser
def test_make_lab_opens_chapter_one_with_a_usable_first_cell(first_page):
    assert first_page["path"] == "release/01_convolution/01_convolution.ipynb"
    assert render_problems([first_page["first_cell"]]) == []
    assert first_page["first_cell"]["outputs"] is not None


@pytest.mark.browser
def test_student_lab_has_validate_but_no_instructor_tools_or_popups(first_page):
    plugins = first_page["plugins"]
    assert plugins.pop("@jupyter/nbgrader:validate-assignment"), "Validate is switched off"
    assert first_page["validate_buttons"] == 1
    assert not any(plugins.values()), f"plugins that students should not have: {plugins}"
    assert "Nbgrader" not in first_page["menu"]
    noisy = [n for n in first_page["notifications"]
             if re.search(r"courses|exchange|news|update|error", n, re.I)]
    assert not noisy, f"pop-ups in the student lab: {noisy}"


@pytest.mark.browser
def test_release_notebook_opens_unchanged(first_page):
    """A notebook whose stored metadata lacks what the kernel reports opens marked 'unsaved'."""
    assert not first_page["dirty_after_kernel_start"], (
        "release/01_convolution opens marked as changed once the kernel starts: "
        "its stored language_info or kernelspec differ from the kernel's (python -m course release)")


@pytest.mark.browser
def test_a_notebook_as_course_release_writes_it_opens_unchanged(lab, first_page):
    """The fix itself: chapter 1's release with the metadata course.release stores."""
    import nbformat

    from course.release import set_kernel_metadata

    chapter = CHAPTERS[0]
    copy = lab.scratch / "metadata" / f"{chapter}.ipynb"
    copy.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(release_notebook(chapter), as_version=4)
    set_kernel_metadata(nb)
    nbformat.write(nb, copy)
    with lab.shots_on_failure("release-metadata-copy"):
        lab.open(copy.relative_to(ROOT))
        dirty = lab.current_is_dirty()
        lab.close_current()
    assert not dirty, "a notebook with the kernel's language_info and kernelspec opens as changed"


@pytest.mark.browser
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_source_notebook_runs_all_cleanly_with_live_widgets(lab, first_page, chapter):
    path = source_notebook(chapter).relative_to(ROOT)
    with lab.shots_on_failure(f"source-{chapter}"):
        start = time.perf_counter()
        lab.open(path)
        lab.run_all()
        lab.times[f"run_all_{chapter}_s"] = time.perf_counter() - start
        cells = lab.snapshot()
        problems = render_problems(cells)
        widget_outputs = sum(WIDGET_MIME in o.get("data", {}) for c in cells for o in c["outputs"])
        lab.times[f"widgets_{chapter}"] = widget_outputs
        if not problems:
            problems = lab.widget_slider_problems(widget_outputs)
        if problems:
            lab.screenshot(f"source-{chapter}")
        lab.close_current()
        assert not problems, f"{path}:\n" + "\n".join(problems)


@pytest.mark.browser
def test_a_flipped_kernel_is_named_first_and_validate_names_the_failed_tests(lab, first_page):
    import nbformat
    from nbgrader.utils import is_grade, is_solution

    chapter = "01_convolution"
    if chapter not in CHAPTERS:
        pytest.skip("no chapter 1")
    copy = lab.scratch / chapter / f"{chapter}.ipynb"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(release_notebook(chapter), copy)      # Validate saves the notebook: never the checkout's
    nb = nbformat.read(copy, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    answer, test = ids.index("corr2d"), ids.index("test_corr2d")
    tests = {c.metadata.nbgrader.grade_id: c.source.splitlines()[0]
             for c in nb.cells if c.cell_type == "code" and is_grade(c) and not is_solution(c)}
    with lab.shots_on_failure("release-01-flipped"):
        lab.open(copy.relative_to(ROOT))
        lab.set_source(answer, FLIPPED_CORR2D)
        lab.run_cell(answer)
        lab.run_cell(test)
        feedback = lab.output_text(test)
        (ARTIFACTS / "flipped-corr2d-feedback.txt").write_text(feedback)
        cause = likely_cause_problems(feedback, "flipped")

        lab.page.locator(".jp-NotebookPanel-toolbar .validate-button").first.click()
        dialog = lab.page.locator(".jp-Dialog", has_text="Validation Results")
        dialog.wait_for(timeout=VALIDATE_S * 1000)
        text = dialog.inner_text()
        (ARTIFACTS / "validate-dialog.txt").write_text(text)
        print(f"flipped corr2d: the student sees {len(feedback.splitlines())} lines; Validate dialog: "
              f"{len(text)} characters, {len(text.splitlines())} lines for {len(tests)} failed tests")
        # Every test fails: corr2d is wrong, the other exercises are not done.
        dialog_problems = validate_dialog_problems(text, tests)
        if cause or dialog_problems:
            lab.screenshot("release-01-flipped")
        lab.page.keyboard.press("Escape")
        lab.close_current()
    assert not cause + dialog_problems, "\n".join(cause + dialog_problems)


BROKEN_NOTEBOOK = [
    "import sys\nimport matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
    "from IPython.display import display",
    # A figure printed as text (no inline backend: plt.gcf() has no PNG repr here).
    "fig = plt.figure()\nprint(repr(fig))",
    # A widget view pointing at a model that does not exist.
    "display({'application/vnd.jupyter.widget-view+json': {'model_id': 'deadbeef', 'version_major': 2,"
    " 'version_minor': 0}, 'text/plain': 'a widget'}, raw=True)",
    "print('careful', file=sys.stderr)",
    # A live widget whose output ignores its slider.
    "import ipywidgets as W\nout = W.Output()\nwith out:\n    print('never redrawn')\n"
    "W.VBox([W.IntSlider(value=3, min=0, max=10, continuous_update=False), out])",
]


@pytest.mark.browser
def test_the_render_check_fails_on_a_broken_notebook(lab, first_page):
    """The same checks, in the same browser, on a throwaway notebook broken on purpose."""
    import nbformat

    path = lab.scratch / "broken" / "broken.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in BROKEN_NOTEBOOK])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, path)
    with lab.shots_on_failure("broken-notebook"):
        lab.open(path.relative_to(ROOT))
        lab.run_all()
        problems = render_problems(lab.snapshot())
        problems += lab.widget_slider_problems(widget_outputs=2, redraw_s=5)
        lab.close_current()
    joined = "\n".join(problems)
    assert "matplotlib figure is shown as text" in joined, joined
    assert "widget is not rendered live" in joined, joined
    assert "wrote to stderr" in joined, joined
    assert "moving the slider did not change the widget's output" in joined, joined
    assert "2 widget outputs but 1 views with a slider" in joined, joined


# ---------------------------------------------------------------------------
# The checks themselves, without a browser: each one can fail.
# ---------------------------------------------------------------------------

def _cell(outputs, dom, index=3, source="plot.something()"):
    return {"index": index, "source": source, "outputs": outputs, "dom": dom}


GOOD_FIGURE = _cell([{"output_type": "display_data",
                      "data": {"image/png": "iVBOR", "text/plain": "<Figure size 640x480 with 1 Axes>"}}],
                    [{"text": "", "stderr": False, "images": 1, "widget": False, "widget_error": False}])
GOOD_WIDGET = _cell([{"output_type": "display_data",
                      "data": {WIDGET_MIME: {"model_id": "abc"}, "text/plain": "VBox(...)"}}],
                    [{"text": "input n 7", "stderr": False, "images": 1, "widget": True, "widget_error": False}])


def test_render_check_passes_a_good_notebook():
    assert render_problems([GOOD_FIGURE, GOOD_WIDGET]) == []


def test_render_check_reports_a_broken_widget():
    broken = _cell(GOOD_WIDGET["outputs"], [{"text": "Error displaying widget: model not found",
                                             "stderr": False, "images": 0, "widget": False,
                                             "widget_error": True}])
    fallback = _cell(GOOD_WIDGET["outputs"], [{"text": "VBox(...)", "stderr": False, "images": 1,
                                               "widget": False, "widget_error": False}])
    for cell in (broken, fallback):
        problems = render_problems([cell])
        assert any("widget is not rendered live" in p for p in problems), problems


def test_render_check_reports_a_traceback_an_error_and_stderr():
    tb = ("---------------------------------------------------------------------------\n"
          "AssertionError                            Traceback (most recent call last)\n"
          "Cell In[4], line 12\n")
    error = _cell([{"output_type": "error", "ename": "AssertionError", "evalue": "wrong", "traceback": []}],
                  [{"text": tb, "stderr": True, "images": 0, "widget": False, "widget_error": False}])
    printed = _cell([{"output_type": "stream", "name": "stdout", "text": tb}],
                    [{"text": tb, "stderr": False, "images": 0, "widget": False, "widget_error": False}])
    stderr = _cell([{"output_type": "stream", "name": "stderr", "text": "UserWarning: careful"}],
                   [{"text": "UserWarning: careful", "stderr": True, "images": 0, "widget": False,
                     "widget_error": False}])
    assert any("raised AssertionError" in p for p in render_problems([error]))
    assert any("shows a traceback" in p for p in render_problems([printed]))
    assert any("wrote to stderr" in p for p in render_problems([stderr]))


def test_render_check_reports_a_figure_shown_as_text_and_a_missing_image():
    as_text = _cell([{"output_type": "execute_result",
                      "data": {"text/plain": "<Figure size 640x480 with 1 Axes>"}}],
                    [{"text": "<Figure size 640x480 with 1 Axes>", "stderr": False, "images": 0,
                      "widget": False, "widget_error": False}])
    no_img = _cell(GOOD_FIGURE["outputs"], [{"text": "<Figure size 640x480 with 1 Axes>", "stderr": False,
                                            "images": 0, "widget": False, "widget_error": False}])
    missing = _cell(GOOD_FIGURE["outputs"], [])
    assert any("figure is shown as text" in p for p in render_problems([as_text]))
    assert any("not rendered as an image" in p for p in render_problems([no_img]))
    assert any("the page shows 0" in p for p in render_problems([missing]))


def test_likely_cause_must_come_within_the_first_five_lines():
    traceback = "\n".join(["-" * 75, "AssertionError    Traceback (most recent call last)",
                           "Cell In[5], line 40", "     38 _check(corr2d)", "---> 40 check.close(...)",
                           "", "AssertionError: corr2d: the kernel is flipped: that is convolution"])
    short = "corr2d: wrong values for the worked example.\nLikely cause: the kernel is flipped."
    assert likely_cause_problems(traceback, "flipped") != []
    assert likely_cause_problems(short, "flipped") == []
    assert first_lines("\n\na\n\nb\n", 5) == ["a", "b"]


def test_validate_dialog_check_needs_every_failed_test_named():
    tests = {"test_corr2d": "# Visible tests: the worked example", "test_conv_params": "# Visible tests: the counts"}
    dialog = ("Validation Results\nThe following cell failed:\n# Visible tests: the worked example\n"
              "AssertionError: the kernel is flipped\n")
    assert validate_dialog_problems(dialog, tests) == [
        "the Validate dialog does not name the failed tests ['test_conv_params']"]
    assert validate_dialog_problems(dialog + "The following cell failed:\n# Visible tests: the counts", tests) == []
    assert validate_dialog_problems("Success! Your notebook passes all the tests.", {}) != []
    long = dialog + "The following cell failed:\n# Visible tests: the counts\n" + "frame\n" * 100
    assert validate_dialog_problems(long, tests) == [
        f"the Validate dialog holds {len(long.splitlines())} lines for 2 failed tests "
        f"(more than {SCREEN_LINES} per failure)"]


def test_slider_check_needs_a_change():
    assert slider_problems("<img src=a>", "<img src=a>") != []
    assert slider_problems(None, None) != []
    assert slider_problems("<img src=a>", "<img src=b>") == []
