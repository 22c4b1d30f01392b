"""Chapter 6's training pictures (helpers.plot) and the feature-map explorer
(helpers.widgets): every figure renders, the confusion matrix counts right,
live curves redraw, and the explorer follows its controls."""
import io

import numpy as np
import pytest
import torch
import torch.nn as nn
from matplotlib.figure import Figure

from helpers import plot, widgets


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


def renders(fig):
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    assert buf.getvalue().startswith(b"\x89PNG")


class Tiny(nn.Module):
    """A small CNN whose layers are modules: conv -> tanh -> pool -> flatten -> linear."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.act1 = nn.Tanh()
        self.pool1 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(4 * 4 * 4, 2)

    def forward(self, x):
        return self.fc1(self.flatten(self.pool1(self.act1(self.conv1(x)))))


def test_image_grid_titles_with_class_names():
    images = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    fig = plot.image_grid(images, torch.tensor([0, 1, 1, 0, 1]), ("airplane", "bird"), ncols=3)
    renders(fig)
    assert [ax.get_title() for ax in fig.axes][:5] == ["airplane", "bird", "bird", "airplane", "bird"]
    fig = plot.image_grid(images.float() / 255 - 0.5, [0, 1, 1, 0, 1], ("airplane", "bird"),
                          predictions=[0, 0, 1, 0, 1])
    titles = [ax.get_title() for ax in fig.axes][:5]
    assert titles[1] == "bird / airplane" and "4 of 5 right" in fig._suptitle.get_text()
    assert fig.axes[1].title.get_color() != fig.axes[0].title.get_color()   # wrong is red
    with pytest.raises(ValueError):
        plot.image_grid(images, [0, 1], ("airplane", "bird"))


def test_confusion_counts_match_by_hand():
    y_true = torch.tensor([0, 0, 0, 1, 1, 2])
    y_pred = torch.tensor([0, 1, 0, 1, 0, 2])
    counts = plot.confusion_counts(y_true, y_pred, 4)
    assert counts.tolist() == [[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    fig = plot.confusion(y_true, y_pred, ["a", "b", "c", "d"])
    renders(fig)
    assert fig.counts.tolist() == counts.tolist()
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert cells[:4] == ["2", "1", "0", "0"] and "accuracy 66.7%" in fig.axes[0].get_title()
    # agrees with helpers.train's own count when that exists
    train = pytest.importorskip("helpers.train")
    assert train.confusion_matrix(y_pred, y_true, 4).tolist() == counts.tolist()


def test_live_curves_redraw_and_keep_the_last_picture():
    live = plot.LiveCurves(keys=("loss", "acc"), show=False)
    assert live.update({"train_loss": []}) is None and live.figure is None
    history = {"train_loss": [0.6], "train_acc": [0.7], "val_acc": [0.72]}
    first = live.update(history)
    renders(first)
    history["train_loss"].append(0.4), history["train_acc"].append(0.8), history["val_acc"].append(0.81)
    second = live(history, "extra", epoch=2)                 # any callback signature
    assert second is not first and live.updates == 2
    assert len(second.axes) == 2 and "epoch 2" in second._suptitle.get_text()
    assert len(second.axes[1].lines) == 2                     # train_acc and val_acc
    assert live._repr_png_().startswith(b"\x89PNG")
    rows = plot.LiveCurves(keys="loss", show=False).update([{"loss": 1.0}, {"loss": 0.5}])
    assert list(rows.axes[0].lines[0].get_ydata()) == [1.0, 0.5]


def test_live_curves_as_a_fit_callback():
    train = pytest.importorskip("helpers.train")
    torch.manual_seed(0)
    x, y = torch.randn(32, 3, 8, 8), torch.randint(0, 2, (32,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    model = Tiny()
    live = plot.LiveCurves(show=False)
    train.fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), 2, val_loader=loader,
              device="cpu", callback=live.update, progress=False)
    assert live.updates == 2 and len(live.figure.axes) == 2


def test_class_accuracy_bars():
    fig = plot.class_accuracy({"airplane": 0.9, "bird": 0.85})
    renders(fig)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["90.0%", "85.0%"]
    fig = plot.class_accuracy(torch.tensor([0.5, 1.0, 0.25]), ["a", "b", "c"])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b", "c"]
    with pytest.raises(ValueError):
        plot.class_accuracy([0.5], ["a", "b"])


def test_conv_filters_and_layer_pictures():
    model = Tiny()
    fig = plot.conv_filters(model.conv1.weight)
    renders(fig)
    assert sum(1 for ax in fig.axes if ax.images) == 4
    renders(plot.conv_filters(torch.randn(6, 1, 5, 5)))
    outs = plot.layer_outputs(model, torch.randn(3, 8, 8))
    assert list(outs) == ["conv1", "act1", "pool1", "flatten", "fc1", "output"]
    assert outs["pool1"].shape == (1, 4, 4, 4) and outs["output"].shape == (1, 2)
    assert model.training                                         # mode left as it was
    renders(plot.layer_maps(outs["pool1"], "pool1"))
    renders(plot.layer_maps(outs["fc1"], "fc1"))
    renders(plot.layer_view(torch.rand(3, 8, 8), outs["conv1"], "conv1", title="image 0"))
    renders(plot.layer_view(torch.rand(3, 8, 8), outs["flatten"], "flatten"))


def test_feature_map_explorer_follows_its_controls():
    model = Tiny()
    images = torch.randn(4, 3, 8, 8)
    w = widgets.feature_map_explorer(model, images, labels=[0, 1, 1, 0], classes=("airplane", "bird"))
    assert isinstance(w, widgets.W.VBox)
    assert w.controls["layer"].value == "conv1" and w.figure is not None
    assert "image 0: airplane" in w.text and "(4, 8, 8)" in w.text
    before = w.figure
    w.controls["index"].value = 1
    assert "image 1: bird" in w.text and w.figure is not before and w.shown is w.figure
    w.controls["layer"].value = "pool1"
    assert "pool1 output shape (4, 4, 4)" in w.text
    w.controls["layer"].value = "fc1"
    assert "fc1 output shape (2,)" in w.text
    bundle = w._repr_mimebundle_()
    assert bundle["text/plain"] == w.text and bundle["image/png"]
    with pytest.raises(ValueError, match="no layer named"):
        widgets.feature_map_explorer(model, images, layers=["conv9"])


def test_impossible_setting_replaces_the_picture():
    """An impossible setting shows its message where the picture was: never a stale figure."""
    w = widgets.conv_explorer(n=7, f=3)
    assert w.shown is w.figure
    w.controls["f"].value = 7
    w.controls["n"].value = 2
    assert w.figure is None and isinstance(w.shown, widgets.W.HTML)
    assert "impossible setting" in w.shown.value
    w.controls["n"].value = 9
    assert w.shown is w.figure and w.figure is not None
