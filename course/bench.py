"""python -m course bench: the speed figures the course quotes, measured here.

    python -m course bench                     everything (about a minute on 2 cores)
    python -m course bench --only conv         one part: conv, data or import
    python -m course bench --repeats 5 --batch 32

Four comparisons, each side by side in one run on the same inputs (median of
a few timed runs after a warm-up; torch's thread count left at its default):

1. conv:   chapter 4's layer, X (64, 10, 37, 37) and W (20, 10, 5, 5) at
           stride 2, by helpers.conv2d (loops), helpers.conv2d_im2col and
           F.conv2d, plus a check that all three agree.
2. data:   loading CIFAR-10's training set cold (decoding, into an empty
           temporary cache) and warm (from that cache).
3. data:   CIFAR-2 by helpers.data.cifar2 (one boolean mask on the cached
           tensor) against a Python list comprehension over the torchvision
           dataset, as a first attempt would write it.
4. import: `import helpers` in a fresh interpreter, alone and together with torch.

Each figure is printed with its target and PASS or MISS. A benchmark reports:
it never fails because a target was missed (the exit status is 0).
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONV_INPUT = (10, 37, 37)        # (C_in, H, W) per image; the batch is --batch
CONV_WEIGHT = (20, 10, 5, 5)     # (C_out, C_in, kh, kw)
CONV_STRIDE = 2
TARGET_NAIVE_OVER_IM2COL = 50.0  # the naive loops are at least this much slower
TARGET_IM2COL_OVER_F = 3.0       # im2col is within this factor of F.conv2d
AGREE_TOL = 1e-4
TARGET_WARM_LOAD_S = 0.5
TARGET_CIFAR2_SPEEDUP = 20.0
TARGET_IMPORT_S = 2.0
NAIVE_BUDGET_S = 30.0            # stop repeating the slow sides once they used this much


@dataclass
class Row:
    """One line of the table: what, the figure, the target, PASS/MISS ("" without a target)."""

    label: str
    value: str
    target: str = ""
    result: str = ""
    note: str = ""


def verdict(ok):
    return "PASS" if ok else "MISS"


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def time_runs(fn, repeats=3, warmup=1, budget_s=None):
    """Seconds of each timed call of fn(), after `warmup` untimed calls.

    With budget_s, stops early once the timed calls took that long (at least
    one timed call always runs).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if budget_s is not None and sum(times) >= budget_s:
            break
    return times


def format_seconds(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _runs_note(times):
    return f"median of {len(times)}" if len(times) > 1 else "1 run"


# --------------------------------------------------------------------------
# 1. Convolution
# --------------------------------------------------------------------------

def bench_conv(batch=64, repeats=3):
    """Naive loops vs im2col vs F.conv2d on chapter 4's layer. Returns (title, rows)."""
    import torch
    import torch.nn.functional as F

    import helpers

    torch.manual_seed(0)
    X = torch.randn(batch, *CONV_INPUT)
    W = torch.randn(*CONV_WEIGHT)
    s = CONV_STRIDE

    def naive():
        return helpers.conv2d(X, W, stride=s)

    def im2col():
        return helpers.conv2d_im2col(X, W, stride=s)

    def torch_conv():
        return F.conv2d(X, W, stride=s)

    # The fast two first, with more repeats: after the naive loop's hundreds of
    # thousands of tiny tensors, large allocations are slow and erratic for a while.
    t_im2col = time_runs(im2col, 10 * repeats)
    t_f = time_runs(torch_conv, 10 * repeats)
    helpers.conv2d(X[:1], W, stride=s)  # warm the loop version up on one image: it is slow
    t_naive = time_runs(naive, repeats, warmup=0, budget_s=NAIVE_BUDGET_S)
    m_naive, m_im2col, m_f = (statistics.median(t) for t in (t_naive, t_im2col, t_f))

    Y_naive, Y_im2col, Y_f = naive(), im2col(), torch_conv()
    same_shape = Y_naive.shape == Y_im2col.shape == Y_f.shape
    diff = max((Y_naive - Y_f).abs().max().item(), (Y_im2col - Y_f).abs().max().item()) \
        if same_shape else float("inf")
    scale = max(1.0, Y_f.abs().max().item())
    relative = diff / scale
    agree = same_shape and relative <= AGREE_TOL

    naive_ratio, im2col_ratio = m_naive / m_im2col, m_im2col / m_f
    title = (f"Convolution: X {tuple(X.shape)}, W {tuple(W.shape)}, stride {s} "
             f"-> Y {tuple(Y_f.shape)}")
    rows = [
        Row("helpers.conv2d (naive loops)", format_seconds(m_naive), note=_runs_note(t_naive)),
        Row("helpers.conv2d_im2col", format_seconds(m_im2col), note=_runs_note(t_im2col)),
        Row("F.conv2d", format_seconds(m_f), note=_runs_note(t_f)),
        Row("naive / im2col", f"{naive_ratio:.1f}x", f">= {TARGET_NAIVE_OVER_IM2COL:g}x",
            verdict(naive_ratio >= TARGET_NAIVE_OVER_IM2COL)),
        Row("im2col / F.conv2d", f"{im2col_ratio:.2f}x", f"<= {TARGET_IM2COL_OVER_F:g}x",
            verdict(im2col_ratio <= TARGET_IM2COL_OVER_F)),
        Row("all three agree: max|diff| / max|Y|", f"{relative:.1e}", "<= 1e-4",
            verdict(agree), note=f"max|diff| = {diff:.1e}, max|Y| = {scale:.1f}"),
    ]
    return title, rows


# --------------------------------------------------------------------------
# 2 and 3. Data
# --------------------------------------------------------------------------

def bench_data(repeats=3, root=None):
    """CIFAR-10 cold vs warm load, and CIFAR-2 by mask vs by list comprehension.

    The cache is a temporary folder, so the user's own cache is neither used
    nor touched. Returns (title, rows).
    """
    import torch

    from helpers import data

    root = Path(root) if root is not None else data.data_root()
    title = f"Data: CIFAR-10 train from {root}"
    with tempfile.TemporaryDirectory(prefix="course-bench-cache-") as cache:
        def load():
            return data.load_cifar10(train=True, root=root, cache=cache, download=False,
                                     progress=False)

        try:
            start = time.perf_counter()
            _, labels = load()
            cold = time.perf_counter() - start
        except data.DataNotFound as err:
            first_line = str(err).splitlines()[0]
            return title, [Row("CIFAR-10", "skipped", note=f"{first_line} (set COURSE_DATA)")]
        source = "official files" if (root / "cifar-10-batches-py").is_dir() else "JPEG ImageFolder"
        t_warm = time_runs(load, repeats)
        warm = statistics.median(t_warm)

        def mask():
            return data.cifar2(train=True, root=root, cache=cache, download=False, progress=False)

        t_mask = time_runs(mask, repeats)
        m_mask = statistics.median(t_mask)
        dataset = _torchvision_dataset(root)
        label_map = {0: 0, 2: 1}
        looped = []

        def list_comprehension():  # the first attempt: a Python loop over every image
            looped[:] = [(img, label_map[label]) for img, label in dataset if label in (0, 2)]

        # one run: it decodes all 50,000 images again, and is slow by design
        t_loop = time_runs(list_comprehension, repeats=1, warmup=0)
        m_loop = statistics.median(t_loop)
        images2, labels2 = mask()
    # the two CIFAR-2 builds must give the same images in the same order
    same = (len(looped) == len(labels2) > 0
            and torch.equal(torch.tensor([label for _, label in looped]), labels2)
            and torch.equal(torch.stack([img for img, _ in looped]), images2))

    speedup = m_loop / m_mask
    rows = [
        Row(f"load_cifar10 cold ({source})", format_seconds(cold),
            note=f"1 run, {'reads' if source == 'official files' else 'decodes'} {len(labels):,} images"),
        Row("load_cifar10 warm (cache)", format_seconds(warm), f"< {TARGET_WARM_LOAD_S:g} s",
            verdict(warm < TARGET_WARM_LOAD_S), note=_runs_note(t_warm)),
        Row("cold / warm", f"{cold / warm:.1f}x"),
        Row("cifar2 (mask on cached tensor)", format_seconds(m_mask), note=_runs_note(t_mask)),
        Row("list comprehension over dataset", format_seconds(m_loop),
            note=f"{_runs_note(t_loop)}, {type(dataset).__name__}"),
        Row("list comprehension / cifar2", f"{speedup:.1f}x", f">= {TARGET_CIFAR2_SPEEDUP:g}x",
            verdict(speedup >= TARGET_CIFAR2_SPEEDUP)),
        Row("both give the same CIFAR-2", f"{len(labels2):,} images", "equal", verdict(same)),
    ]
    return title, rows


def _torchvision_dataset(root):
    """The torchvision dataset over the same files, giving uint8 (3, 32, 32) tensors."""
    from torchvision.datasets import CIFAR10, ImageFolder
    from torchvision.transforms import PILToTensor

    if (root / "cifar-10-batches-py").is_dir():
        return CIFAR10(str(root), train=True, download=False, transform=PILToTensor())
    return ImageFolder(str(root / "cifar10-jpg" / "train"), transform=PILToTensor())


# --------------------------------------------------------------------------
# 4. Import time
# --------------------------------------------------------------------------

_IMPORT_SNIPPETS = {
    "import helpers (torch not loaded)": (
        "import time, sys; t = time.perf_counter(); import helpers; "
        "t = time.perf_counter() - t; assert 'torch' not in sys.modules, 'torch was imported'; print(t)"),
    "import torch + helpers, conv2d loaded": (
        "import time; t = time.perf_counter(); import torch; import helpers; helpers.conv2d; "
        "print(time.perf_counter() - t)"),
}


def import_time(code, repeats=3, warmup=1):
    """Seconds that `code` prints, run in fresh interpreters (median of repeats)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    times = []
    for i in range(warmup + max(1, repeats)):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{code!r} failed:\n{out.stderr.strip()}")
        if i >= warmup:
            times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def bench_import(repeats=3, warmup=1):
    """`import helpers` in a fresh interpreter, without and with torch. Returns (title, rows)."""
    rows = []
    for label, code in _IMPORT_SNIPPETS.items():
        times = import_time(code, repeats, warmup)
        median = statistics.median(times)
        with_torch = "torch +" in label
        rows.append(Row(label, format_seconds(median),
                        f"< {TARGET_IMPORT_S:g} s" if with_torch else "",
                        verdict(median < TARGET_IMPORT_S) if with_torch else "",
                        note=_runs_note(times) + ", fresh interpreter"))
    return "Import time", rows


# --------------------------------------------------------------------------
# The table and the command
# --------------------------------------------------------------------------

def format_table(title, rows):
    headers = ("measurement", "value", "target", "result", "note")
    cells = [headers] + [(r.label, r.value, r.target, r.result, r.note) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = [title]
    for i, c in enumerate(cells):
        line = "  " + "  ".join(text.ljust(w) if k != 1 else text.rjust(w)
                                for k, (text, w) in enumerate(zip(c[:4], widths)))
        lines.append((line + "  " + c[4]).rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(lines)


def header():
    import torch

    lines = [f"python -m course bench: torch {torch.__version__}, {torch.get_num_threads()} threads "
             f"(torch default), {os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"{platform.system()} {platform.machine()}"]
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        load = None
    if load is not None:
        busy = load > 0.5 * (os.cpu_count() or 1)
        lines.append(f"Load average before the run: {load:.1f}"
                     + (" -- other work is running: timings are slower and noisier than on an "
                        "idle machine" if busy else ""))
    return "\n".join(lines)


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `python -m course bench -- --only conv` passes the "--" along
        argv = argv[1:]
    parser = argparse.ArgumentParser(
        prog="python -m course bench",
        description="Print the course's speed figures (convolution, data loading, import) with "
                    "their targets. Targets missed are reported, never fatal.")
    parser.add_argument("--only", choices=("conv", "data", "import"), action="append",
                        help="run only this part (repeatable; default: all)")
    parser.add_argument("--repeats", type=_positive_int, default=3,
                        help="timed runs per figure, after a warm-up; the median is shown (default 3)")
    parser.add_argument("--batch", type=_positive_int, default=64,
                        help="batch size of the convolution input (default 64)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    parts = args.only or ["conv", "data", "import"]
    print(header())
    print(f"Each figure: median of {args.repeats} timed runs after a warm-up, unless noted.")
    for part in ("conv", "data", "import"):
        if part not in parts:
            continue
        if part == "conv":
            title, rows = bench_conv(batch=args.batch, repeats=args.repeats)
        elif part == "data":
            title, rows = bench_data(repeats=args.repeats)
        else:
            title, rows = bench_import(repeats=args.repeats)
        print()
        print(format_table(title, rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
