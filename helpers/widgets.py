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
setting is impossible).
"""
import base64
import html
import math

import ipywidgets as W
from IPython.display import display

from helpers import plot

__all__ = ["Explorer", "conv_explorer", "pool_explorer", "pool_output_size_text"]


class Explorer(W.VBox):
    """A VBox of controls, a formula line and a figure that follow the controls."""

    def __init__(self, controls, compute, title=None, **kwargs):
        """controls: dict name -> widget; compute(**values) -> (text, Figure or None),
        raising ValueError with a readable message for impossible settings."""
        self.controls = dict(controls)
        self._compute = compute
        self.text = ""
        self.figure = None
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
        if fig is not None:
            display(fig)

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
