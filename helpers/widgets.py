"""Interactive explorers (ipywidgets) for the chapters.

    from helpers import widgets
    widgets.conv_explorer(n=7, f=3, p=1, s=2)     # sliders -> output size + grid
    widgets.pool_explorer(n=8, f=2, s=2)          # the same for pooling, with ceil_mode

Each explorer is a VBox: sliders, a line of text with the output-size formula
worked out with the numbers, and the `plot.padding_stride` picture. The
initial state is drawn when the explorer is created, so a notebook executed
headless (nbclient, nbgrader) keeps a picture; the explorer also carries a
static PNG and a plain-text line in its display data for viewers without
widget support. Impossible settings show a readable message, never a traceback.

Attributes for tests and curious students: `explorer.controls` (name ->
slider), `explorer.formula` (the HTML widget with the text), `explorer.text`
(that text, plain), `explorer.figure` (the current Figure, None when the
setting is impossible), `explorer.shown` (what the picture area shows: the
Figure, or the message that replaces it for an impossible setting).
"""
import base64
import html
import math

import ipywidgets as W
from IPython.display import display

from helpers import plot

__all__ = ["Explorer", "conv_explorer", "pool_explorer", "pool_output_size_text",
           "feature_map_explorer"]


class Explorer(W.VBox):
    """A VBox of controls, a formula line and a figure that follow the controls."""

    def __init__(self, controls, compute, title=None, **kwargs):
        """controls: dict name -> widget; compute(**values) -> (text, Figure or None),
        raising ValueError with a readable message for impossible settings."""
        self.controls = dict(controls)
        self._compute = compute
        self.text = ""
        self.figure = None
        self.shown = None             # what the output area shows now: the figure or a message
        self.formula = W.HTML()
        self.output = W.interactive_output(self._update, self.controls)
        rows = [W.HBox(list(self.controls.values())[i:i + 3])
                for i in range(0, len(self.controls), 3)]
        header = [W.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__(header + rows + [self.formula, self.output], **kwargs)

    def _update(self, **values):
        try:
            text, fig = self._compute(**values)
            ok = True
        except ValueError as e:
            text, fig, ok = f"impossible setting: {e}", None, False
        except Exception as e:  # never let a slider position raise in the notebook
            text, fig, ok = f"cannot draw this setting ({type(e).__name__}: {e})", None, False
        self.text = text
        self.figure = fig
        color = "inherit" if ok else "#b00020"
        self.formula.value = (f"<span style='font-family:monospace;color:{color}'>"
                              f"{html.escape(text)}</span>")
        # interactive_output cleared the area with wait=True: the old picture stays
        # until something new is shown, so an impossible setting shows its message
        # there too, never the previous (stale) picture.
        if fig is not None:
            self.shown = fig
        else:
            self.shown = W.HTML(f"<span style='color:#b00020'>{html.escape(text)}</span>")
        display(self.shown)

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return data
        data["text/plain"] = self.text          # viewers without widgets: the formula ...
        if self.figure is not None:               # ... and the picture
            png = self.figure._repr_png_()
            data["image/png"] = base64.b64encode(png).decode("ascii")
        return data


def _slider(value, lo, hi, description):
    value = int(value)
    return W.IntSlider(value=value, min=min(lo, value), max=max(hi, value),
                       description=description, continuous_update=False,
                       style={"description_width": "initial"},
                       layout=W.Layout(width="260px"))


def conv_explorer(n=7, f=3, p=0, s=1):
    """Sliders for input size n, kernel size f, padding p and stride s.

    Shows floor((n + 2p - f)/s) + 1 with the numbers and the padded grid with
    the first window positions; an impossible setting (kernel larger than the
    padded input) shows a message instead. Returns the widget (a VBox).
    """
    controls = {
        "n": _slider(n, 1, 12, "input n"),
        "f": _slider(f, 1, 7, "kernel f"),
        "p": _slider(p, 0, 4, "padding p"),
        "s": _slider(s, 1, 4, "stride s"),
    }

    def compute(n, f, p, s):
        text, out = plot.output_size_text(n, f, p, s)
        fig = plot.padding_stride(n, f, p, s, cell=0.32)
        return f"output size = {text}   (input {n}x{n} -> output {out}x{out})", fig

    return Explorer(controls, compute, title="Convolution: output size")


def pool_output_size_text(n, f, s=None, p=0, ceil_mode=False):
    """Pooling output size along one axis as PyTorch computes it, and its formula.

    Returns (text, size); raises ValueError on settings PyTorch refuses.
    """
    s = f if s is None else s
    if f < 1:
        raise ValueError(f"kernel size must be at least 1 (got f={f})")
    if s < 1:
        raise ValueError(f"stride must be at least 1 (got s={s})")
    if p < 0:
        raise ValueError(f"padding cannot be negative (got p={p})")
    if 2 * p > f:
        raise ValueError(f"padding must be at most half the kernel size: p={p} > f/2 = {f / 2:g} "
                         f"(PyTorch refuses it)")
    if not ceil_mode:
        if n + 2 * p < f:
            raise ValueError(f"the window does not fit: f={f} is larger than the padded input "
                             f"n + 2p = {n} + 2*{p} = {n + 2 * p}")
        out = (n + 2 * p - f) // s + 1
        return f"floor(({n} + 2*{p} - {f})/{s}) + 1 = {out}", out
    out = math.ceil((n + 2 * p - f) / s) + 1
    text = f"ceil(({n} + 2*{p} - {f})/{s}) + 1 = {out}"
    if (out - 1) * s >= n + p:                   # the last window would start in the right padding
        out -= 1
        text += f", minus 1 because the last window would start in the padding: {out}"
    if out < 1:
        raise ValueError(f"no window fits: f={f} on the padded input n + 2p = {n + 2 * p}")
    return text, out


def pool_explorer(n=8, f=2, s=2, p=0, ceil_mode=False):
    """Sliders for pooling: input size n, window f, stride s, padding p, ceil_mode.

    Shows the output size as PyTorch computes it (floor, or ceil with
    ceil_mode=True) and the grid with the first windows; settings PyTorch
    refuses (padding over half the window, ...) show a message.
    Returns the widget (a VBox).
    """
    controls = {
        "n": _slider(n, 1, 12, "input n"),
        "f": _slider(f, 1, 5, "window f"),
        "s": _slider(s, 1, 4, "stride s"),
        "p": _slider(p, 0, 2, "padding p"),
        "ceil_mode": W.Checkbox(value=bool(ceil_mode), description="ceil_mode",
                                indent=False, layout=W.Layout(width="140px")),
    }

    def compute(n, f, s, p, ceil_mode):
        text, out = pool_output_size_text(n, f, s, p, ceil_mode)
        text = f"output size = {text}   (input {n}x{n} -> output {out}x{out})"
        if n + 2 * p < f:            # legal in ceil_mode, but no whole window to draw
            return text + "; the single window is larger than the padded input", None
        fig = plot.padding_stride(n, f, p, s, cell=0.32)
        fig.axes[0].set_title(f"pooling n={n}, f={f}, s={s}, p={p}"
                              f"{', ceil_mode' if ceil_mode else ''}: output {out}x{out}",
                              fontsize=10)
        return text, fig

    return Explorer(controls, compute, title="Pooling: output size")


def feature_map_explorer(model, images, labels=None, classes=None, layers=None, index=0, layer=None):
    """Pick an image and a layer; see that layer's feature maps for that image.

    model: an nn.Module whose layers are its direct children (conv1, act1,
        pool1, ...; see plot.layer_outputs); it is run in eval mode, without
        gradients, and its training mode is left as it was.
    images: (N, C, H, W) batch the slider picks from (normalised images are
        rescaled for display); labels, classes: to title the image with its class.
    layers: the layer names offered (default: every child with an output,
        plus "output"). index, layer: the starting image and layer.
    The picture shows the input image and the chosen layer's maps (a vector
    layer such as fc1 as a strip of values); the text line says the shape and
    the predicted class. Returns the widget (a VBox, see Explorer).
    """
    import torch

    n = int(images.shape[0])
    if n == 0:
        raise ValueError("feature_map_explorer: no images")
    probe = plot.layer_outputs(model, images[:1])
    names = list(probe) if layers is None else list(layers)
    unknown = [name for name in names if name not in probe]
    if unknown:
        raise ValueError(f"feature_map_explorer: no layer named {', '.join(unknown)} "
                         f"(the model has {', '.join(probe)})")
    start = layer if layer is not None else next((k for k in names if probe[k].ndim == 4), names[0])
    controls = {
        "index": _slider(index, 0, n - 1, "image"),
        "layer": W.Dropdown(options=names, value=start, description="layer",
                            layout=W.Layout(width="220px")),
    }

    def name_of(k):
        k = int(k)
        return str(classes[k]) if classes is not None and 0 <= k < len(classes) else str(k)

    def compute(index, layer):
        if not 0 <= index < n:
            raise ValueError(f"there is no image {index}: pick 0 to {n - 1}")
        outs = plot.layer_outputs(model, images[index])
        out = outs[layer][0]
        scores = outs["output"][0]
        predicted = int(torch.argmax(scores)) if scores.ndim == 1 else None
        title = f"image {index}"
        if labels is not None:
            title += f": {name_of(labels[index])}"
        if predicted is not None:
            title += f", predicted {name_of(predicted)}"
        text = (f"{title}; {layer} output shape {tuple(out.shape)}"
                + (f" ({out.shape[0]} maps of {out.shape[1]}x{out.shape[2]})" if out.ndim == 3 else ""))
        return text, plot.layer_view(images[index], out, name=layer, title=title)

    return Explorer(controls, compute, title="Feature maps: pick an image and a layer")

