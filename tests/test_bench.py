"""course.bench: a smoke test of the benchmark's parts on tiny sizes (no timing assertions)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course import bench

REPO = Path(__file__).resolve().parent.parent


def _tiny_jpg_root(root, per_class=2):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"):
        folder = root / "cifar10-jpg" / "train" / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    return root


def test_time_runs_and_format():
    calls = []
    times = bench.time_runs(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and len(times) == 3 and all(t >= 0 for t in times)
    assert len(bench.time_runs(lambda: None, repeats=10, warmup=0, budget_s=0)) == 1
    assert bench.format_seconds(2.5e-6) == "2.5 us"
    assert bench.format_seconds(0.0123) == "12.3 ms"
    assert bench.format_seconds(3.456) == "3.46 s"


def test_conv_part_tiny():
    title, rows = bench.bench_conv(batch=1, repeats=1)
    assert "(1, 10, 37, 37)" in title and "(1, 20, 17, 17)" in title
    by_label = {row.label: row for row in rows}
    assert {"helpers.conv2d (naive loops)", "helpers.conv2d_im2col", "F.conv2d",
            "naive / im2col", "im2col / F.conv2d"} <= set(by_label)
    assert by_label["naive / im2col"].result in ("PASS", "MISS")
    agree = [row for row in rows if row.label.startswith("all three agree")]
    assert agree and agree[0].result == "PASS", agree


def test_data_part_tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "user-cache"))
    root = _tiny_jpg_root(tmp_path / "data")
    title, rows = bench.bench_data(repeats=1, root=root)
    by_label = {row.label: row for row in rows}
    assert str(root) in title
    assert by_label["load_cifar10 warm (cache)"].result in ("PASS", "MISS")
    assert by_label["list comprehension / cifar2"].result in ("PASS", "MISS")
    assert by_label["both give the same CIFAR-2"].result == "PASS"
    assert by_label["both give the same CIFAR-2"].value == "4 images"
    assert not (tmp_path / "user-cache").exists(), "the benchmark must use its own temporary cache"


def test_data_part_without_data(tmp_path):
    title, rows = bench.bench_data(repeats=1, root=tmp_path / "nothing")
    assert len(rows) == 1 and rows[0].value == "skipped" and "not found" in rows[0].note


def test_import_part():
    title, rows = bench.bench_import(repeats=1, warmup=0)
    assert [row.label for row in rows] == list(bench._IMPORT_SNIPPETS)
    assert rows[1].result in ("PASS", "MISS")


def test_table_format():
    text = bench.format_table("Title", [bench.Row("a", "1.0 ms"), bench.Row("bb", "2.0x", ">= 1x", "PASS", "n")])
    lines = text.splitlines()
    assert lines[0] == "Title" and "measurement" in lines[1] and "PASS" in lines[-1]
    assert lines[-1].rstrip().endswith("n")


def test_main_options(capsys):
    assert bench.main(["--only", "conv", "--batch", "1", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "threads" in out and "Convolution" in out and "Import" not in out and "Data" not in out
    assert ("PASS" in out) and ("naive / im2col" in out)
    with pytest.raises(SystemExit):
        bench.main(["--only", "gpu"])
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "0"])
    assert bench.parse_args(["--", "--only", "data"]).only == ["data"]


def test_python_m_course_bench():
    """The command line: python -m course bench (course/__main__.py hands over to bench.main)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "course", "bench", "--", "--only", "conv", "--batch", "1",
                          "--repeats", "1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Convolution" in out.stdout and "im2col / F.conv2d" in out.stdout
