"""helpers.plot (figures) and helpers.widgets (explorers): build on small inputs,
check what is cheap to check (highlights, titles, numbers), leak no figures."""
import io
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from helpers import plot, widgets

X3 = torch.tensor([[0., 1, 2], [3, 4, 5], [6, 7, 8]])
K2 = torch.tensor([[0., 1], [2, 3]])


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """No function may leave a figure in pyplot's registry (they would pile up or show twice)."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


def texts(ax):
    return [t.get_text() for t in ax.texts]


def renders(fig):
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    assert buf.getvalue().startswith(b"\x89PNG")


# ------------------------------------------------------------------ grid

def test_grid_numbers_and_highlights():
    ax = Figure().subplots()
    out = plot.grid(ax, [[0, 1.5], [2, float("nan")]], highlight=[(0, 0, 1, 2), (1, 1, 1, 1)],
                    title="K")
    assert out is ax and ax.get_title() == "K"
    assert texts(ax) == ["0", "1.5", "2"]                  # NaN cells stay blank
    assert plot.highlights(ax) == [(0, 0, 1, 2), (1, 1, 1, 1)]
    ax = Figure().subplots()
    plot.grid(ax, torch.arange(3), fmt=None, cmap="viridis", highlight=(0, 2, 1, 1))
    assert texts(ax) == [] and plot.highlights(ax) == [(0, 2, 1, 1)]


def test_figures_show_themselves_as_png():
    fig = plot.padding_stride(3, 2)
    assert fig._repr_png_().startswith(b"\x89PNG")


# ------------------------------------------------------------------ chapter pictures

def test_sliding_window_worked_example():
    fig = plot.sliding_window(X3, K2, 0, 0)
    renders(fig)
    assert "0·0 + 1·1 + 3·2 + 4·3 = 19" in fig._suptitle.get_text()
    ax_in, ax_k, ax_out = fig.axes
    assert plot.highlights(ax_in) == [(0, 0, 2, 2)]
    assert plot.highlights(ax_out) == [(0, 0, 1, 1)]
    assert texts(ax_out) == ["19", "25", "37", "43"]
    fig = plot.sliding_window(torch.arange(25.).reshape(5, 5), torch.ones(3, 3), 1, 0, stride=2)
    assert plot.highlights(fig.axes[0]) == [(2, 0, 3, 3)]
    assert plot.highlights(fig.axes[2]) == [(1, 0, 1, 1)]
    with pytest.raises(ValueError):
        plot.sliding_window(X3, K2, 2, 0)


@pytest.mark.parametrize("n, f, p, s, out", [
    (7, 3, 0, 1, 5), (7, 3, 1, 2, 4), (64, 6, 1, 2, 31), (17, 5, 0, 1, 13), (5, 3, 1, 2, 3),
])
def test_padding_stride_title_states_output_size(n, f, p, s, out):
    fig = plot.padding_stride(n, f, p=p, s=s)
    title = fig.axes[0].get_title()
    assert f"floor(({n} + 2*{p} - {f})/{s}) + 1 = {out}" in title
    windows = plot.highlights(fig, gid="window")
    assert len(windows) == min(3, out * out)
    assert windows[0] == (0, 0, f, f)
    assert windows[1][:2] == pytest.approx((0 + 0.06, s + 0.06))     # second window: s to the right
    zeros = texts(fig.axes[0]).count("0")
    assert zeros == (n + 2 * p) ** 2 - n * n                          # the padding cells


def test_padding_stride_pairs_ax_and_impossible():
    fig = plot.padding_stride((5, 7), (3, 2), p=(1, 0), s=(2, 3))
    title = fig.axes[0].get_title()
    assert "height: floor((5 + 2*1 - 3)/2) + 1 = 3" in title
    assert "width: floor((7 + 2*0 - 2)/3) + 1 = 2" in title and "3x2" in title
    renders(fig)
    host = Figure()
    ax = host.subplots()
    assert plot.padding_stride(4, 2, ax=ax) is host
    with pytest.raises(ValueError, match="does not fit"):
        plot.padding_stride(2, 5)
    with pytest.raises(ValueError, match="stride"):
        plot.padding_stride(5, 3, s=0)


def test_im2col_columns_matrix_matches_unfold():
    X = torch.arange(16.).reshape(4, 4)
    fig = plot.im2col_columns(X, 2, 1)
    renders(fig)
    cols = F.unfold(X[None, None], 2)[0]                               # (4, 9)
    assert texts(fig.axes[1]) == [f"{v:g}" for v in cols.flatten().tolist()]
    assert len(plot.highlights(fig.axes[0], gid="window")) == 9
    fig = plot.im2col_columns(torch.arange(25.).reshape(5, 5), 3, 2)
    assert len(texts(fig.axes[1])) == 9 * 4


def test_transposed_scatter_matches_conv_transpose2d():
    X = torch.tensor([[0., 1], [2, 3]])
    K = torch.tensor([[0., 1, 2], [1, 0, 1], [2, 1, 0]])
    fig = plot.transposed_scatter(X, K, stride=2, i=1, j=0)
    renders(fig)
    full = F.conv_transpose2d(X[None, None], K[None, None], stride=2)[0, 0]
    assert texts(fig.axes[4]) == [f"{v:g}" for v in full.flatten().tolist()]
    assert "5x5" in fig.axes[4].get_title()
    assert plot.highlights(fig.axes[3]) == [(2, 0, 3, 3)]
    partial = torch.zeros(5, 5)
    for a, b in [(0, 0), (0, 1), (1, 0)]:
        partial[2 * a:2 * a + 3, 2 * b:2 * b + 3] += X[a, b] * K
    assert texts(fig.axes[3]) == [f"{v:g}" for v in partial.flatten().tolist()]
    fig = plot.transposed_scatter(X, K, stride=2, padding=1)
    assert plot.highlights(fig.axes[4], gid="kept") == [(1, 1, 3, 3)]


def test_filter_gallery():
    img = (np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)
    kernels = {"blur": [[0, 1, 0], [1, 4, 1], [0, 1, 0]], "checker": [[1, -1], [-1, 1]],
               "sobel": torch.tensor([[1., 0, -1], [2, 0, -2], [1, 0, -1]])}
    fig = plot.filter_gallery(img, kernels)
    renders(fig)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled == ["image (grayscale)", "blur", "checker", "sobel"]
    assert fig.axes[2].images[0].get_array().shape == (19, 23)        # valid 2x2
    plot.filter_gallery(torch.rand(12, 12), {"box": np.ones((10, 10))}, absolute=True)


def test_filter_gallery_on_sample_photo():
    datasets = pytest.importorskip("sklearn.datasets")
    china = datasets.load_sample_image("china.jpg")[::4, ::4]
    renders(plot.filter_gallery(china, {"edge": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]]}))


# ------------------------------------------------------------------ general figures

def test_show_images_accepts_the_usual_layouts():
    imgs = [torch.rand(8, 8), torch.rand(3, 8, 8), torch.randn(3, 8, 8),
            (np.random.rand(8, 8, 3) * 255).astype(np.uint8), np.random.rand(8, 8)]
    fig = plot.show_images(imgs, titles=list("abcde"), ncols=3)
    renders(fig)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5 and [ax.get_title() for ax in shown] == list("abcde")
    assert len([ax for ax in plot.show_images(torch.rand(6, 1, 5, 5)).axes if ax.images]) == 6
    assert len([ax for ax in plot.show_images(torch.rand(3, 5, 5)).axes if ax.images]) == 1


def test_feature_maps():
    fig = plot.feature_maps(torch.rand(1, 10, 6, 6), ncols=4, title="conv1")
    renders(fig)
    assert len([ax for ax in fig.axes if ax.images]) == 10
    assert fig._suptitle.get_text() == "conv1"


def test_timings_ratios():
    fig = plot.timings({"loops": 1.2, "im2col": 0.01, "F.conv2d": 0.0004})
    renders(fig)
    ax = fig.axes[0]
    labels = texts(ax)
    assert ax.get_yscale() == "log"
    assert any("fastest" in t for t in labels)
    assert any("x25 slower" in t for t in labels) and any("x3,000 slower" in t for t in labels)


def test_curves_and_confusion_matrix():
    hist = {"train_loss": [0.6, 0.4, 0.2], "val_loss": [0.7, 0.5, 0.4], "train_acc": [0.5, 0.7, 0.9]}
    fig = plot.curves(hist, keys=("loss", "acc"))
    renders(fig)
    assert [len(ax.lines) for ax in fig.axes] == [2, 1]
    assert len(plot.curves([{"loss": 1.0}, {"loss": 0.5}]).axes[0].lines) == 1
    with pytest.raises(KeyError):
        plot.curves(hist, keys=("f1",))
    fig = plot.confusion_matrix(torch.tensor([[5, 1], [2, 7]]), ["plane", "bird"])
    renders(fig)
    ax = fig.axes[0]
    assert texts(ax) == ["5", "1", "2", "7"]
    assert "80.0%" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["plane", "bird"]
    fig = plot.confusion_matrix(np.array([[3, 1], [0, 4]]), ["a", "b"], normalize=True)
    assert texts(fig.axes[0]) == ["0.75", "0.25", "0.00", "1.00"]


# ------------------------------------------------------------------ widgets

def test_conv_explorer_headless_and_live():
    w = widgets.conv_explorer(n=7, f=3, p=0, s=1)
    assert isinstance(w, widgets.W.VBox)
    assert "floor((7 + 2*0 - 3)/1) + 1 = 5" in w.text and "= 5" in w.formula.value
    assert w.figure is not None                               # drawn at creation
    w.controls["p"].value = 1
    assert "floor((7 + 2*1 - 3)/1) + 1 = 7" in w.formula.value
    w.controls["s"].value = 2
    assert "= 4" in w.text
    assert "floor((7 + 2*1 - 3)/2) + 1 = 4" in w.figure.axes[0].get_title()
    bundle = w._repr_mimebundle_()
    assert bundle["text/plain"] == w.text and bundle["image/png"]
    # impossible: kernel larger than the padded input -> a message, no exception
    w.controls["p"].value = 0
    w.controls["n"].value = 2
    w.controls["f"].value = 5
    assert "impossible setting" in w.text and "does not fit" in w.formula.value
    assert w.figure is None and "image/png" not in w._repr_mimebundle_()
    w.controls["n"].value = 9
    assert "floor((9 + 2*0 - 5)/2) + 1 = 3" in w.text and w.figure is not None


@pytest.mark.parametrize("n, f, s, p, ceil", [
    (8, 2, 2, 0, False), (7, 2, 2, 0, True), (7, 3, 2, 1, True), (10, 3, 1, 1, False),
    (5, 2, 3, 1, True), (1, 2, 2, 0, True),
])
def test_pool_output_size_matches_pytorch(n, f, s, p, ceil):
    _, out = widgets.pool_output_size_text(n, f, s, p, ceil)
    assert out == F.max_pool2d(torch.zeros(1, 1, n, n), f, s, p, ceil_mode=ceil).shape[-1]


def test_pool_explorer():
    w = widgets.pool_explorer(n=8, f=2, s=2)
    assert "= 4" in w.text and w.figure is not None
    w.controls["n"].value = 7
    w.controls["ceil_mode"].value = True
    assert "ceil((7 + 2*0 - 2)/2) + 1 = 4" in w.text
    w.controls["p"].value = 2                                  # p > f/2: PyTorch refuses
    assert "impossible setting" in w.text and "half the kernel" in w.text
    assert re.search(r"impossible", w.formula.value)


@pytest.mark.notebooks
def test_explorer_in_a_headless_kernel(tmp_path):
    """Executed by nbclient, the explorer leaves a picture: in its static fallback
    and in the Output widget's saved state; a plot function's figure shows once."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%matplotlib inline\nfrom helpers import plot, widgets"),
        nbformat.v4.new_code_cell("widgets.conv_explorer(7, 3, 1, 2)"),
        nbformat.v4.new_code_cell("plot.padding_stride(5, 3)"),
        nbformat.v4.new_code_cell("fig = plot.padding_stride(5, 3)"),
    ]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    explorer, shown, assigned = (c.outputs for c in nb.cells[1:])
    assert len(explorer) == 1 and "image/png" in explorer[0]["data"]
    assert "= 4" in explorer[0]["data"]["text/plain"]
    assert [sorted(o["data"]) for o in shown] == [["image/png", "text/plain"]]
    assert assigned == []
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    captured = [o for m in state.values() if m["model_name"] == "OutputModel"
                for o in m["state"].get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in captured)
