"""Explorers and pictures of chapters 3 (pooling) and 4 (im2col)."""
import io

import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from helpers import plot, widgets


def renders(fig):
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    assert buf.getvalue().startswith(b"\x89PNG")


def _int_sliders(w):
    return [c for c in w.controls.values() if isinstance(c, widgets.W.IntSlider)]


# ------------------------------------------------------------------ chapter 3

def test_pooling_max_avg_matches_pytorch():
    X = torch.tensor(widgets._POOL_INPUT, dtype=torch.float64)
    for f, s, p, (i, j) in [(2, 2, 0, (1, 2)), (3, 2, 1, (0, 0)), (3, 1, 1, (5, 5)), ((1, 3), 1, (0, 1), (2, 0))]:
        fig = plot.pooling_max_avg(X, f, i, j, s=s, p=p)
        renders(fig)
        mx = F.max_pool2d(X[None, None], f, s, p)[0, 0]
        av = F.avg_pool2d(X[None, None], f, s, p)[0, 0]
        shown_max = [t.get_text() for t in fig.axes[1].texts]
        assert shown_max == [plot._fmt("{:g}", v) for v in mx.flatten().tolist()]
        shown_avg = [float(t.get_text()) for t in fig.axes[2].texts]
        assert torch.allclose(torch.tensor(shown_avg, dtype=torch.float64), av.flatten(), rtol=0, atol=0.006)
        assert f"max = {plot._fmt('{:g}', mx[i, j].item())}" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="half the window"):
        plot.pooling_max_avg(X, 2, 0, 0, p=2)
    with pytest.raises(ValueError, match="outside"):
        plot.pooling_max_avg(X, 2, 3, 0)


def test_pool_compare_explorer_follows_its_controls():
    w = widgets.pool_compare_explorer()
    assert isinstance(w, widgets.W.VBox) and len(_int_sliders(w)) >= 1
    assert "3x3 output" in w.text and "window (0, 0): max = 6, mean = 3.75" in w.text
    assert w.figure is not None and w.shown is w.figure
    before_text, before_fig = w.text, w.figure
    w.controls["j"].value = 2                       # window (0, 2): 0 4 / 3 2 -> max 4, mean 2.25
    assert w.text != before_text and w.figure is not before_fig
    assert "window (0, 2): max = 4, mean = 2.25" in w.text
    w.controls["f"].value = 3
    w.controls["p"].value = 1                       # f=3, s=2, p=1 on 6x6 -> 3x3
    X = torch.tensor(widgets._POOL_INPUT, dtype=torch.float64)[None, None]
    assert f"max = {F.max_pool2d(X, 3, 2, 1)[0, 0, 0, 2].item():g}" in w.text
    bundle = w._repr_mimebundle_()
    assert bundle["text/plain"] == w.text and bundle["image/png"]
    # impossible: a cell outside the output, then padding over half the window
    w.controls["i"].value = 5
    assert "impossible setting" in w.text and "pick i < 3" in w.text
    assert w.figure is None and isinstance(w.shown, widgets.W.HTML)
    assert "image/png" not in w._repr_mimebundle_()
    w.controls["i"].value = 0
    assert w.figure is not None
    w.controls["f"].value = 1                       # p=1 > f/2
    assert "impossible setting" in w.text and "half the window" in w.text and w.figure is None


def test_pool_explorer_ceil_mode_as_used_in_chapter_3():
    w = widgets.pool_explorer(n=5, f=2, s=2, ceil_mode=False)
    assert "floor((5 + 2*0 - 2)/2) + 1 = 2" in w.text and w.figure is not None
    w.controls["ceil_mode"].value = True
    assert "ceil((5 + 2*0 - 2)/2) + 1 = 3" in w.text
    assert F.max_pool2d(torch.zeros(1, 1, 5, 5), 2, ceil_mode=True).shape[-1] == 3


# ------------------------------------------------------------------ chapter 4

@pytest.mark.parametrize("n, f, s, p", [(4, 2, 1, 0), (5, 3, 2, 1), (4, (2, 3), (1, 2), (1, 0)), (3, 1, 1, 2)])
def test_im2col_window_column_is_unfold(n, f, s, p):
    X = torch.arange(float(n * n)).reshape(n, n)
    cols = F.unfold(X[None, None], f, padding=p, stride=s)[0]
    for col in (0, cols.shape[1] - 1, cols.shape[1] // 2):
        fig = plot.im2col_window(X, f, col, s=s, p=p)
        renders(fig)
        rects = plot.highlights(fig.axes[1])
        assert rects == [(0, col, cols.shape[0], 1)]
        if len(fig.axes[1].texts) == cols.numel():       # every number drawn: read the column back
            texts = [t for t in fig.axes[1].texts if round(t.get_position()[0]) == col]
            assert [float(t.get_text()) for t in texts] == cols[:, col].tolist()
    with pytest.raises(ValueError, match="no column"):
        plot.im2col_window(X, f, cols.shape[1], s=s, p=p)


def test_im2col_explorer_follows_its_controls():
    w = widgets.im2col_explorer(n=4, f=2, s=1, p=0, col=0)
    assert isinstance(w, widgets.W.VBox) and len(_int_sliders(w)) >= 1
    assert "X_col is 4 x 9" in w.text and "[0, 1, 4, 5]" in w.text
    assert w.figure is not None and w.shown is w.figure
    before_text, before_fig = w.text, w.figure
    w.controls["col"].value = 4
    assert w.text != before_text and w.figure is not before_fig
    assert "(y, x) = (1, 1)" in w.text and "[5, 6, 9, 10]" in w.text
    expected = F.unfold(torch.arange(16.).reshape(1, 1, 4, 4), 2)[0, :, 4].tolist()
    assert "[" + ", ".join(f"{v:g}" for v in expected) + "]" in w.text
    w.controls["p"].value = 1                        # 5x5 windows: column 4 is (0, 4)
    assert "(y, x) = (0, 4)" in w.text and "[0, 0, 3, 0]" in w.text
    bundle = w._repr_mimebundle_()
    assert bundle["text/plain"] == w.text and bundle["image/png"]
    # impossible: a column that does not exist, then a kernel larger than the padded input
    w.controls["p"].value = 0
    w.controls["col"].value = 20
    assert "impossible setting" in w.text and "no column 20" in w.text
    assert w.figure is None and isinstance(w.shown, widgets.W.HTML)
    w.controls["col"].value = 0
    w.controls["n"].value = 2
    w.controls["f"].value = 4
    assert "impossible setting" in w.text and "does not fit" in w.text and w.figure is None
    w.controls["n"].value = 6
    assert w.figure is not None and "X_col is 16 x 9" in w.text
