"""Chapter 5's explorer: the scatter-add of a transposed convolution, with overlap counts."""
import matplotlib
import pytest

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from helpers import plot, widgets  # noqa: E402


@pytest.mark.parametrize("m,f,s", [(3, 3, 2), (4, 4, 2), (2, 2, 2), (3, 2, 3), (1, 3, 1), (5, 5, 4)])
def test_scatter_counts_are_a_transposed_convolution_of_ones(m, f, s):
    counts = F.conv_transpose1d(torch.ones(1, 1, m), torch.ones(1, 1, f), stride=s)[0, 0]
    assert plot.scatter_counts(m, f, s) == [int(c) for c in counts]


def test_transposed_overlap_outlines_the_window_and_the_kept_part():
    fig = plot.transposed_overlap(3, 3, 2, i=1, j=2, p=1)
    rects = plot.highlights(fig)
    assert (1, 2, 1, 1) in rects                 # the input cell
    assert (2, 4, 3, 3) in rects                 # its kernel copy at (i*s, j*s)
    assert (1, 1, 5, 5) in rects                 # the kept 5x5 part of the 7x7 grid
    with pytest.raises(ValueError, match="no input cell"):
        plot.transposed_overlap(3, 3, 2, i=3, j=0)
    with pytest.raises(ValueError, match="crops the whole output"):
        plot.transposed_overlap(1, 2, 1, p=1)


def test_transposed_scatter_explorer_follows_its_sliders():
    e = widgets.transposed_scatter_explorer(m=3, f=3, s=2)
    assert isinstance(e, widgets.Explorer)
    assert all(isinstance(c, W.IntSlider) for c in e.controls.values())
    assert set(e.controls) == {"m", "i", "j", "f", "s", "p"}
    text, fig = e.text, e.figure
    assert fig is not None and e.shown is fig
    assert "= 7" in text and "1 to 2" in text and "checkerboard" in text

    e.controls["f"].value = 4                    # f = 4, s = 2: even coverage
    assert e.text != text and e.figure is not None and e.figure is not fig
    assert "(3-1)*2 + 4 = 8" in e.text and "2 per axis" in e.text and "4 in 2-D" in e.text

    fig = e.figure
    e.controls["j"].value = 2                    # another input cell: another window
    assert e.figure is not fig
    assert (0, 4, 4, 4) in plot.highlights(e.figure)
    assert "columns 4..7" in e.text

    e.controls["i"].value = 4                    # no row 4 in a 3x3 input
    assert e.figure is None
    assert e.text.startswith("impossible setting") and "no input cell (4, 2)" in e.text
    assert isinstance(e.shown, W.HTML) and "no input cell" in e.shown.value

    e.controls["m"].value = 5                    # now it exists again
    assert e.figure is not None and "impossible" not in e.text


def test_transposed_scatter_explorer_padding_that_crops_everything():
    e = widgets.transposed_scatter_explorer(m=1, f=1, s=1)
    assert e.figure is not None
    e.controls["p"].value = 1
    assert e.figure is None and "crops the whole output" in e.text
