"""Interactive explorers (ipywidgets) for the chapters.

    from helpers import widgets
    widgets.conv_explorer(n=7, f=3, p=1, s=2)     # sliders -> output size + grid
    widgets.pool_explorer(n=8, f=2, s=2)          # the same for pooling, with ceil_mode
    widgets.pool_compare_explorer()               # max and average pooling side by side, one window
    widgets.im2col_explorer(n=4, f=2)             # which input values land in which column of im2col
    widgets.sliding_window_explorer()             # move the window: its products and their sum
    widgets.transposed_scatter_explorer(m=3, f=3, s=2)   # one input cell's kernel copy, overlap counts

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
           "pool_compare_explorer", "im2col_explorer",
           "feature_map_explorer", "sliding_window_explorer",
           "transposed_scatter_explorer"]


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


def sliding_window_explorer(X=None, K=None, row=0, col=0):
    """Move a kernel over an input with two sliders: the window's top row and left column.

    X: (H, W) input, K: (kh, kw) kernel (tensors, arrays or lists); the default
    is a 5x6 image with a vertical edge and a 3x3 vertical-edge kernel. The
    picture (plot.sliding_window) outlines the window in the input and the
    output cell it produces; the text line spells out the products and their
    sum. The sliders cover the whole input, so a window that would stick out
    of it shows why there is no output there (a message, no picture).
    Returns the widget (a VBox, see Explorer).
    """
    import numpy as np

    X = np.array([[1, 1, 1, 0, 0, 0]] * 5, dtype=float) if X is None else plot._array2d(X, "X")
    K = np.array([[1, 0, -1]] * 3, dtype=float) if K is None else plot._array2d(K, "K")
    H, W = X.shape
    kh, kw = K.shape
    if kh > H or kw > W:
        raise ValueError(f"sliding_window_explorer: the {kh}x{kw} kernel does not fit in the {H}x{W} input")
    controls = {
        "row": _slider(row, 0, H - 1, "window row"),
        "col": _slider(col, 0, W - 1, "window column"),
    }

    def compute(row, col):
        for what, start, k, size, axis in (("bottom", row, kh, H, "rows"), ("right", col, kw, W, "columns")):
            if start + k > size:
                raise ValueError(f"the window would stick out past the {what} edge: it needs {axis} "
                                 f"{start} to {start + k - 1}, the input has {axis} 0 to {size - 1}. "
                                 f"The last start that fits is {size - k}, so the output has "
                                 f"{size} - {k} + 1 = {size - k + 1} {axis}")
        window = X[row:row + kh, col:col + kw]
        terms = " + ".join(f"{plot._fmt('{:g}', a)}*{plot._fmt('{:g}', b)}"
                           for a, b in zip(window.ravel().tolist(), K.ravel().tolist()))
        value = plot._fmt("{:g}", float((window * K).sum()))
        text = f"Y[{row}, {col}] = {terms} = {value}"
        return text, plot.sliding_window(X, K, row, col)

    return Explorer(controls, compute, title="Cross-correlation: move the window")


_POOL_INPUT = [[1, 3, 2, 9, 0, 4],
               [5, 6, 1, 7, 3, 2],
               [8, 0, 4, 2, 6, 1],
               [3, 2, 6, 1, 5, 7],
               [0, 9, 2, 4, 8, 3],
               [7, 1, 5, 3, 2, 6]]


def pool_compare_explorer(X=None, f=2, s=2, p=0, i=0, j=0):
    """Max and average pooling of one small input, side by side, for a chosen window.

    X: (H, W) input (default: a 6x6 grid of digits). Sliders: window f, stride s,
    padding p, and the output cell (i, j) whose window is outlined. The text gives
    the output size and that window's max and mean (count_include_pad=True);
    the picture is `plot.pooling_max_avg`. Settings PyTorch refuses (padding over
    half the window, a window larger than the padded input) and cells outside the
    output show a message. Returns the widget (a VBox, see Explorer).
    """
    X = plot._array2d(_POOL_INPUT if X is None else X, "X").astype(float)
    H, Wd = X.shape
    controls = {
        "f": _slider(f, 1, 4, "window f"),
        "s": _slider(s, 1, 4, "stride s"),
        "p": _slider(p, 0, 2, "padding p"),
        "i": _slider(i, 0, H - 1, "output row i"),
        "j": _slider(j, 0, Wd - 1, "output column j"),
    }

    def compute(f, s, p, i, j):
        if 2 * p > f:
            raise ValueError(f"padding must be at most half the window: p={p} > f/2 = {f / 2:g} "
                             f"(PyTorch refuses it)")
        if H + 2 * p < f or Wd + 2 * p < f:
            raise ValueError(f"the {f}x{f} window does not fit in the padded "
                             f"{H + 2 * p}x{Wd + 2 * p} input")
        oh, ow = (H + 2 * p - f) // s + 1, (Wd + 2 * p - f) // s + 1
        if not (i < oh and j < ow):
            raise ValueError(f"output cell ({i}, {j}) does not exist: the output is {oh}x{ow}, "
                             f"so pick i < {oh} and j < {ow}")
        fig = plot.pooling_max_avg(X, f, i, j, s=s, p=p)
        Xm = plot._pool_grid(X, f, s, p, -math.inf)[0][i * s:i * s + f, j * s:j * s + f]
        Xa = plot._pool_grid(X, f, s, p, 0.0)[0][i * s:i * s + f, j * s:j * s + f]
        text = (f"{H}x{Wd} input, f={f}, s={s}, p={p} -> {oh}x{ow} output; window ({i}, {j}): "
                f"max = {plot._fmt('{:g}', float(Xm.max()))}, mean = {float(Xa.mean()):.4g}")
        return text, fig

    return Explorer(controls, compute, title="Max and average pooling, side by side")


def im2col_explorer(n=4, f=2, s=1, p=0, col=0):
    """Which input values land in which column of im2col, for one window at a time.

    The input is the n x n grid 0, 1, ..., n*n - 1 (so each number names its pixel).
    Sliders: input size n, kernel f, stride s, padding p and the column index of X_col.
    The text gives the column's output position (y, x) = divmod(column, W') and its
    values; the picture (`plot.im2col_window`) outlines the window in the padded input
    and the column in X_col. A column that does not exist for the setting, or a
    kernel larger than the padded input, shows a message. Returns the widget (a VBox).
    """
    import numpy as np

    controls = {
        "n": _slider(n, 2, 6, "input n"),
        "f": _slider(f, 1, 4, "kernel f"),
        "s": _slider(s, 1, 3, "stride s"),
        "p": _slider(p, 0, 2, "padding p"),
        "col": _slider(col, 0, 35, "column"),
    }

    def compute(n, f, s, p, col):
        X = np.arange(n * n, dtype=float).reshape(n, n)
        fig = plot.im2col_window(X, f, col, s=s, p=p)        # raises ValueError if impossible
        o = (n + 2 * p - f) // s + 1
        y, x = divmod(col, o)
        Xp = np.pad(X, p)
        values = ", ".join(plot._fmt("{:g}", float(v)) for v in Xp[y * s:y * s + f, x * s:x * s + f].ravel())
        text = (f"X_col is {f * f} x {o * o} ({o}x{o} windows); column {col} = {y}*{o} + {x}: "
                f"the window at (y, x) = ({y}, {x}), rows {y * s}..{y * s + f - 1} and columns "
                f"{x * s}..{x * s + f - 1} of the padded input, read row by row: [{values}]")
        return text, fig

    return Explorer(controls, compute, title="im2col: which values go into which column")


def transposed_scatter_explorer(m=3, f=3, s=2, i=0, j=0, p=0):
    """The scatter-add of a transposed convolution, one input cell at a time, with overlap counts.

    Sliders: input size m (an m x m input), the input cell (i, j), kernel size f, stride s
    and padding p. The picture (`plot.transposed_overlap`) shows the full output grid,
    (m - 1)*s + f cells per axis, with the f x f window where input cell (i, j) adds its copy
    X[i, j]*K outlined, and in every cell how many input cells write into it; with p > 0 the
    kept part is outlined too. The text works out the sizes and the range of the counts in
    the kept output. A cell outside the input, or a padding that crops everything, shows a
    message. Returns the widget (a VBox).
    """
    controls = {
        "m": _slider(m, 1, 5, "input m"),
        "i": _slider(i, 0, 4, "input row i"),
        "j": _slider(j, 0, 4, "input column j"),
        "f": _slider(f, 1, 5, "kernel f"),
        "s": _slider(s, 1, 4, "stride s"),
        "p": _slider(p, 0, 3, "padding p"),
    }

    def compute(m, i, j, f, s, p):
        fig = plot.transposed_overlap(m, f, s, i, j, p)      # raises ValueError if impossible
        n = (m - 1) * s + f
        kept = plot.scatter_counts(m, f, s)[p:n - p]
        text = (f"full grid (m-1)*s + f = ({m}-1)*{s} + {f} = {n}; output (m-1)*s - 2p + f = {n - 2 * p}. "
                f"Cell ({i}, {j}) writes into rows {i * s}..{i * s + f - 1}, columns {j * s}..{j * s + f - 1}. "
                f"Copies per output cell along one axis: {min(kept)} to {max(kept)}")
        if m > 1 and f % s == 0:
            text += f" (s divides f: {f // s} per axis away from the border, {(f // s) ** 2} in 2-D)"
        elif m > 1 and f > s:
            text += " (s does not divide f: uneven, a checkerboard)"
        elif m > 1 and f < s:
            text += " (f < s: gaps no copy reaches)"
        return text, fig

    return Explorer(controls, compute, title="Transposed convolution: scatter-add and overlaps")
