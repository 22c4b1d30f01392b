"""Chapters 1 and 2: their explorers (helpers.widgets) and the figures added for them
(helpers.plot.signals, filter_gallery's normalize/stretch note)."""
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from helpers import plot, widgets


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """No function may leave a figure in pyplot's registry."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


def renders(fig):
    assert isinstance(fig, Figure)
    assert fig._repr_png_()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- chapter 1: sliding window

def test_sliding_window_explorer_moves_and_refuses():
    ex = widgets.sliding_window_explorer()
    assert set(ex.controls) == {"row", "col"}
    assert all(type(c).__name__ == "IntSlider" for c in ex.controls.values())
    # the initial state is drawn at creation: window at (0, 0) on the default edge image
    assert ex.text == "Y[0, 0] = 1*1 + 1*0 + 1*-1 + 1*1 + 1*0 + 1*-1 + 1*1 + 1*0 + 1*-1 = 0"
    assert ex.shown is ex.figure and isinstance(ex.figure, Figure)
    assert plot.highlights(ex.figure.axes[0]) == [(0, 0, 3, 3)]
    first_text, first_fig = ex.text, ex.figure
    ex.controls["col"].value = 1                       # the window straddles the edge
    assert ex.text != first_text and ex.text.endswith("= 3")
    assert ex.figure is not first_fig and ex.shown is ex.figure
    assert plot.highlights(ex.figure.axes[0]) == [(0, 1, 3, 3)]
    assert plot.highlights(ex.figure.axes[2]) == [(0, 1, 1, 1)]
    renders(ex.figure)
    ex.controls["row"].value = 4                       # rows 4..6 of a 5-row input: impossible
    assert "impossible setting" in ex.text and "bottom edge" in ex.text
    assert "5 - 3 + 1 = 3 rows" in ex.text
    assert ex.figure is None
    assert not isinstance(ex.shown, Figure) and "bottom edge" in ex.shown.value
    ex.controls["row"].value = 2                       # back to a legal place: a picture again
    assert isinstance(ex.figure, Figure) and ex.text.startswith("Y[2, 1]")


def test_sliding_window_explorer_own_input():
    X = torch.arange(12.).reshape(3, 4)
    ex = widgets.sliding_window_explorer(X, [[1., -1.]], row=2, col=3)
    assert "right edge" in ex.text and ex.figure is None          # (2, 3) needs columns 3..4
    ex.controls["col"].value = 2
    assert ex.text == "Y[2, 2] = 10*1 + 11*-1 = -1"
    with pytest.raises(ValueError, match="does not fit"):
        widgets.sliding_window_explorer(torch.zeros(2, 2), torch.ones(3, 3))


# ---------------------------------------------------------------- chapter 2: conv_explorer

def test_conv_explorer_no_stale_picture(capsys):
    ex = widgets.conv_explorer(n=7, f=3, p=1, s=2)
    assert "floor((7 + 2*1 - 3)/2) + 1 = 4" in ex.text
    first_text, first_fig = ex.text, ex.figure
    assert isinstance(first_fig, Figure) and ex.shown is first_fig
    ex.controls["s"].value = 1
    assert ex.text != first_text and "= 7" in ex.text
    assert isinstance(ex.figure, Figure) and ex.figure is not first_fig and ex.shown is ex.figure
    ex.controls["p"].value = 0
    ex.controls["f"].value = 7
    capsys.readouterr()
    ex.controls["n"].value = 5                          # f = 7 > n + 2p = 5: impossible
    assert "impossible setting" in ex.text and "does not fit" in ex.text
    assert ex.figure is None
    assert not isinstance(ex.shown, Figure) and "does not fit" in ex.shown.value
    # what the output area was given (outside a kernel it lands on stdout): the message, no picture
    given = capsys.readouterr().out
    assert "does not fit" in given and "Figure" not in given
    ex.controls["p"].value = 1                          # 5 + 2 = 7: fits again, one output
    assert isinstance(ex.figure, Figure) and "= 1" in ex.text


# ---------------------------------------------------------------- chapter 1: figures

def test_signals_plot():
    x = torch.tensor([0., 0, 1, 1, 1, 0, 0, 1, 1, 0])
    y = x[1:] - x[:-1]
    fig = plot.signals({"x": x, "[-1, 1]": y}, title="a square wave")
    renders(fig)
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "a square wave"
    assert fig.axes[0].get_xlim() == (-0.5, 9.5)
    with pytest.raises(ValueError):
        plot.signals({})


def test_filter_gallery_says_what_it_changes():
    img = np.random.default_rng(0).random((20, 24))
    kernels = {"box": np.ones((3, 3)), "edge": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]]}
    fig = plot.filter_gallery(img, kernels)
    note = fig.get_supxlabel()
    assert "box (by 9)" in note and "edge" not in note and "stretched" in note
    box = fig.axes[1].images[0]
    assert box.get_array().max() <= 1.0 + 1e-6                      # divided by 9
    assert box.get_clim() != (0.0, 1.0)                             # contrast stretched
    fig = plot.filter_gallery(img, kernels, normalize=False, stretch=False)
    note = fig.get_supxlabel()
    assert "kernels as given" in note and "fixed scale" in note
    box = fig.axes[1].images[0]
    assert box.get_array().max() > 3                                # the plain sum of 9 pixels
    assert box.get_clim() == (0.0, 1.0)
    renders(fig)
