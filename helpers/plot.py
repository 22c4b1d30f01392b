"""Figures for the chapters: the curriculum's reference pictures and a few general plots.

Every function builds a matplotlib Figure and returns it; nothing is drawn
until it is asked for. The figures are not registered with pyplot, so they
never appear twice, never leak, and work headless (any backend):

    plot.sliding_window(X, K, 0, 1)          # last line of a cell: shown once
    fig = plot.padding_stride(7, 3, p=1, s=2) # assigned: not shown ...
    fig                                       # ... until it is the cell's value
    display(fig)                              # or displayed explicitly
    fig.savefig("padding.png")                # or saved

`grid(ax, values, ...)` draws a small 2-D array with its numbers in the
cells; the reference pictures are built from it.

The explorers' pictures, at the end: `signals` (1-D signals, chapter 1),
`pooling_max_avg` (max and average pooling side by side, chapter 3),
`im2col_window` (one column of im2col, chapter 4), `transposed_overlap` and
`scatter_counts` (one input cell's kernel copy and the overlap counts, chapter 5).

Chapter authors: append new figure functions at the END of this file.
"""
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
import matplotlib.colors as mcolors

__all__ = [
    "show_images", "grid", "sliding_window", "padding_stride", "im2col_columns",
    "transposed_scatter", "filter_gallery", "feature_maps", "timings", "curves",
    "confusion_matrix", "output_size_text",
]

CELL = 0.42                 # inches per grid cell
WINDOW = "#d62728"          # the current window / output cell
PADDING = "#bcd7ee"         # zero-padding cells
INPUT = "#ffffff"
SCATTER = "#f5c77e"         # the window written by transposed convolution
WINDOW_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
                 "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]


# ---------------------------------------------------------------- helpers

def _array(x):
    """A NumPy array from a tensor (any device, with grad), an array or a list."""
    if hasattr(x, "detach"):
        x = x.detach()
        if hasattr(x, "cpu"):
            x = x.cpu()
        if getattr(x, "dtype", None) is not None and str(x.dtype) == "torch.bfloat16":
            x = x.float()
        x = x.numpy()
    return np.asarray(x)


def _array2d(x, what="values"):
    a = _array(x)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D array, got shape {tuple(a.shape)}")
    return a


def _pair(v, what):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{what} must be an int or an (h, w) pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


class CourseFigure(Figure):
    """A Figure that shows itself as a PNG in Jupyter even without %matplotlib inline."""

    def _repr_png_(self):
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=self.dpi, bbox_inches="tight", facecolor="white")
        return buf.getvalue()


def _figure(width, height):
    width = min(max(width, 2.0), 16.0)
    height = min(max(height, 1.5), 12.0)
    return CourseFigure(figsize=(width, height), layout="constrained")


def _text_color(rgba):
    r, g, b = mcolors.to_rgb(rgba)
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"


def _tint(color, amount=0.35):
    """`color` mixed with white: a light cell background."""
    r, g, b = mcolors.to_rgb(color)
    return (1 - amount + amount * r, 1 - amount + amount * g, 1 - amount + amount * b)


def _is_rect(h):
    return (isinstance(h, (tuple, list)) and len(h) == 4
            and all(isinstance(v, (int, float, np.integer, np.floating)) for v in h))


def _fmt(fmt, v):
    if isinstance(v, float) and math.isnan(v):
        return ""
    try:
        if isinstance(v, (float, np.floating)) and float(v).is_integer() and fmt == "{:g}":
            return str(int(v)) if abs(v) < 1e15 else fmt.format(v)
        return fmt.format(v)
    except (ValueError, TypeError):
        return str(v)


# ---------------------------------------------------------------- the building block

def grid(ax, values, highlight=None, title=None, fmt="{:g}", cmap=None, *,
         colors=None, highlight_color=WINDOW, fill=True, fontsize=None,
         vmin=None, vmax=None, gid="highlight"):
    """Draw a small 2-D array as a grid of cells with the numbers in them.

    ax: a matplotlib Axes.
    values: (H, W) tensor / array / nested list (a 1-D one is drawn as a row).
        NaN cells are left blank.
    highlight: a (row, col, h, w) rectangle, or a list of them, outlined.
    title: the axes title.
    fmt: format of the numbers ("{:g}", "{:.2f}"); None for no numbers.
    cmap: colour the cells by value with this colormap (default: white cells).
    colors: an (H, W) nested list / array of colours (None for white), for
        padding or receptive fields; ignored when cmap is given.
    highlight_color: one colour, or one per rectangle.
    fill: also tint the inside of the highlighted rectangles.
    gid: the gid given to the highlight patches (tests and callers find them by it).
    Returns ax.

    >>> import matplotlib.figure; ax = matplotlib.figure.Figure().subplots()
    >>> _ = grid(ax, [[0, 1], [2, 3]], highlight=(0, 0, 1, 2), title="K")
    """
    v = _array2d(values)
    H, W = v.shape
    if cmap is not None:
        shown = v.astype(float)
        image = ax.imshow(shown, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        rgba = image.to_rgba(shown)
    else:
        rgba = np.ones((H, W, 4))
        if colors is not None:
            for r in range(H):
                for c in range(W):
                    col = colors[r][c]
                    if col is not None:
                        rgba[r, c] = mcolors.to_rgba(col)
        ax.imshow(rgba, interpolation="nearest")
    ax.hlines(np.arange(-0.5, H), -0.5, W - 0.5, color="0.55", lw=0.8)
    ax.vlines(np.arange(-0.5, W), -0.5, H - 0.5, color="0.55", lw=0.8)
    ax.set_xlim(-0.56, W - 0.44)      # a margin: edge lines and outlines are not clipped
    ax.set_ylim(H - 0.44, -0.56)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if fmt is not None:
        texts = [[_fmt(fmt, v[r, c].item()) for c in range(W)] for r in range(H)]
        longest = max((len(t) for row in texts for t in row), default=1)
        size = fontsize or (10 if longest <= 3 else 8 if longest <= 5 else 6.5)
        for r in range(H):
            for c in range(W):
                if texts[r][c]:
                    ax.text(c, r, texts[r][c], ha="center", va="center", fontsize=size,
                            color=_text_color(rgba[r, c]))
    if highlight is not None:
        rects = [highlight] if _is_rect(highlight) else list(highlight)
        cols = ([highlight_color] * len(rects) if isinstance(highlight_color, str)
                or _is_color_tuple(highlight_color) else list(highlight_color))
        for k, (r, c, h, w) in enumerate(rects):
            color = cols[k % len(cols)]
            face = mcolors.to_rgba(color, 0.13) if fill else "none"
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, facecolor=face,
                                   edgecolor=color, lw=2.5, gid=gid, zorder=3))
    if title is not None:
        ax.set_title(title, fontsize=10)
    return ax


def _is_color_tuple(c):
    return isinstance(c, tuple) and len(c) in (3, 4) and all(isinstance(x, float) for x in c)


def highlights(fig_or_ax, gid="highlight"):
    """The rectangles drawn with `gid` in a figure or axes, as (row, col, h, w) tuples."""
    axes = fig_or_ax.axes if isinstance(fig_or_ax, Figure) else [fig_or_ax]
    out = []
    for ax in axes:
        for p in ax.patches:
            if p.get_gid() == gid:
                x, y = p.get_xy()
                out.append((y + 0.5, x + 0.5, p.get_height(), p.get_width()))
    return out


# ---------------------------------------------------------------- images

def _image(img):
    """(H, W) or (H, W, 3) NumPy array ready for imshow."""
    a = _array(img)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.transpose(a, (1, 2, 0))            # (C, H, W) -> (H, W, C)
    elif a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] in (1, 3, 4) and a.shape[0] < a.shape[-1]:
        a = np.transpose(a, (1, 2, 0))
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.dtype != np.uint8:
        a = a.astype(float)
        lo, hi = np.nanmin(a), np.nanmax(a)
        if lo < 0 or hi > 1:                       # normalised images: rescale for display
            a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    if a.ndim not in (2, 3):
        raise ValueError(f"an image must be (H, W), (C, H, W) or (H, W, C); got shape {a.shape}")
    return a


def _image_list(images):
    if isinstance(images, (list, tuple)):
        return list(images)
    a = images
    nd = len(a.shape)
    if nd == 4:
        return [a[k] for k in range(a.shape[0])]
    if nd == 3 and not (a.shape[0] in (1, 3, 4) or a.shape[-1] in (3, 4)):
        return [a[k] for k in range(a.shape[0])]   # (N, H, W)
    return [a]


def show_images(images, titles=None, ncols=4, cmap="gray", size=2.5):
    """A grid of images.

    images: one image or a sequence of them: tensors (H, W) or (C, H, W),
        NumPy (H, W) or (H, W, 3) (uint8 or float); a 4-D tensor (N, C, H, W)
        or a 3-D (N, H, W) batch (with N not 1, 3 or 4). Normalised float RGB
        images are rescaled to [0, 1] for display.
    titles: one title per image (or None).
    Returns the Figure.
    """
    imgs = [_image(im) for im in _image_list(images)]
    n = len(imgs)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = _figure(size * ncols, size * nrows + (0.3 * nrows if titles else 0))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k < n:
            im = imgs[k]
            ax.imshow(im, cmap=cmap if im.ndim == 2 else None, interpolation="nearest")
            if titles is not None and k < len(titles) and titles[k] is not None:
                ax.set_title(str(titles[k]), fontsize=10)
    return fig


# ---------------------------------------------------------------- chapter 1

def _corr2d(X, K, stride=(1, 1)):
    H, W = X.shape
    kh, kw = K.shape
    sh, sw = stride
    oh, ow = (H - kh) // sh + 1, (W - kw) // sw + 1
    Y = np.zeros((max(oh, 0), max(ow, 0)), dtype=np.result_type(X.dtype, K.dtype, np.float64))
    for r in range(oh):
        for c in range(ow):
            Y[r, c] = (X[r * sh:r * sh + kh, c * sw:c * sw + kw] * K).sum()
    return Y


def sliding_window(X, K, i, j, stride=1, fmt="{:g}"):
    """A kernel sliding over an input: the window for output (i, j) and its value.

    Three panels: the input X with the window that produces output cell (i, j)
    outlined, the kernel K, and the output Y = X cross-correlated with K with
    cell (i, j) outlined; the title spells out the sum of products.
    X: (H, W); K: (kh, kw); stride: int or (sh, sw).
    Returns the Figure.
    """
    X, K = _array2d(X, "X"), _array2d(K, "K")
    sh, sw = _pair(stride, "stride")
    Y = _corr2d(X, K, (sh, sw))
    kh, kw = K.shape
    if not (0 <= i < Y.shape[0] and 0 <= j < Y.shape[1]):
        raise ValueError(f"output position ({i}, {j}) is outside the {Y.shape[0]}x{Y.shape[1]} output")
    H, W = X.shape
    fig = _figure(CELL * (W + kw + Y.shape[1]) + 1.6, CELL * max(H, kh) + 1.3)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [W, kw, Y.shape[1]]})
    grid(axes[0], X, highlight=(i * sh, j * sw, kh, kw), title="input X", fmt=fmt)
    grid(axes[1], K, title="kernel K", fmt=fmt, colors=[[_tint(WINDOW, 0.15)] * kw] * kh)
    grid(axes[2], Y, highlight=(i, j, 1, 1), title="output Y", fmt=fmt)
    window = X[i * sh:i * sh + kh, j * sw:j * sw + kw]
    terms = [f"{_fmt(fmt, a.item())}·{_fmt(fmt, b.item())}" for a, b in zip(window.ravel(), K.ravel())]
    value = _fmt(fmt, Y[i, j].item())
    if len(terms) <= 9:
        formula = f"Y[{i}, {j}] = " + " + ".join(terms) + f" = {value}"
    else:
        formula = f"Y[{i}, {j}] = sum of X[window] · K, elementwise = {value}"
    fig.suptitle(formula, fontsize=10)
    return fig


def filter_gallery(image, kernels, ncols=3, size=3.0, cmap="gray", normalize=True,
                   absolute=False, stretch=True):
    """A (grayscale) image and the result of each kernel on it.

    image: NumPy (H, W, 3) uint8 (e.g. sklearn's load_sample_image("china.jpg")),
        or a tensor (H, W) / (C, H, W); converted to grayscale in [0, 1].
    kernels: dict name -> 2-D kernel (list, array or tensor), applied with
        F.conv2d (cross-correlation, no padding).
    normalize: divide a kernel by its sum when the sum is positive and not 1
        (blur kernels keep the brightness); edge kernels sum to 0 and stay as
        given. False: every kernel is applied exactly as given.
    absolute: show |response| (edges of both signs bright on black).
    stretch: stretch each result's contrast, black at its 1st and white at
        its 99th percentile (faint responses become visible, but a uniformly
        brighter or darker result looks the same). False: every panel on the
        image's own scale, 0 black and 1 white, values outside clipped.
    A line under the panels says which kernels were divided by their sum and
    how the contrast is shown. Returns the Figure.
    """
    import torch
    import torch.nn.functional as F

    a = _image(image).astype(np.float64)
    if a.ndim == 3:
        a = a[..., :3] @ np.array([0.299, 0.587, 0.114])
    if a.max() > 1.0:
        a = a / 255.0
    x = torch.as_tensor(a, dtype=torch.float32)[None, None]
    panels = [("image (grayscale)", a)]
    divided = []
    for name, k in kernels.items():
        kt = torch.as_tensor(_array2d(k, f"kernel {name!r}").astype(np.float64), dtype=torch.float32)
        s = float(kt.sum())
        if normalize and s > 0 and not math.isclose(s, 1.0):
            kt = kt / s
            divided.append(f"{name} (by {s:.3g})")
        y = F.conv2d(x, kt[None, None])[0, 0]
        panels.append((str(name), y.abs().numpy() if absolute else y.numpy()))
    n = len(panels)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    h, w = a.shape
    fig = _figure(size * ncols, size * nrows * h / w + 0.35 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, k in zip(axes, range(len(axes))):
        ax.set_axis_off()
        if k < n:
            title, img = panels[k]
            lo, hi = np.percentile(img, [1, 99]) if k and stretch else (0.0, 1.0)   # robust contrast
            if hi <= lo:
                lo, hi = float(img.min()), float(img.max()) + 1e-12
            ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi)
            ax.set_title(title, fontsize=10)
    note = ("contrast stretched per panel (1st to 99th percentile)" if stretch
            else "fixed scale: 0 black, 1 white, clipped")
    note += ("; divided by their sum: " + ", ".join(divided)) if divided else "; kernels as given"
    fig.supxlabel(note, fontsize=8)
    return fig


# ---------------------------------------------------------------- chapter 2

def output_size_text(n, f, p=0, s=1):
    """'floor((7 + 2*1 - 3)/2) + 1 = 4' for one axis; raises ValueError if impossible."""
    if s < 1:
        raise ValueError(f"stride must be at least 1 (got s={s})")
    if f < 1:
        raise ValueError(f"kernel size must be at least 1 (got f={f})")
    if p < 0:
        raise ValueError(f"padding cannot be negative (got p={p})")
    if n + 2 * p < f:
        raise ValueError(f"the kernel does not fit: f={f} is larger than the padded input "
                         f"n + 2p = {n} + 2*{p} = {n + 2 * p}")
    out = (n + 2 * p - f) // s + 1
    return f"floor(({n} + 2*{p} - {f})/{s}) + 1 = {out}", out


def padding_stride(n, f, p=0, s=1, ax=None, *, windows=3, fmt="0", cell=CELL):
    """An n x n input with its p-cell zero border and the first window positions.

    n, f, p, s: input size, kernel size, padding, stride; each an int or an
        (h, w) pair. The padding cells are shaded and show 0; the first
        `windows` window positions (in output order) are outlined in different
        colours; the title gives the output size floor((n + 2p - f)/s) + 1.
    ax: draw into this Axes (the Figure is still returned).
    windows: how many window positions to outline; fmt: None to leave the
        zeros out; cell: inches per cell.
    Raises ValueError with a readable message on impossible settings
    (kernel larger than the padded input, stride < 1, ...).
    Returns the Figure.
    """
    h, w = _pair(n, "n")
    fh, fw = _pair(f, "f")
    ph, pw = _pair(p, "p")
    sh, sw = _pair(s, "s")
    if h < 1 or w < 1:
        raise ValueError(f"input size must be at least 1 (got n={n})")
    text_h, oh = output_size_text(h, fh, ph, sh)
    text_w, ow = output_size_text(w, fw, pw, sw)
    H, W = h + 2 * ph, w + 2 * pw
    values = np.full((H, W), np.nan)
    colors = [[INPUT] * W for _ in range(H)]
    for r in range(H):
        for c in range(W):
            if r < ph or r >= ph + h or c < pw or c >= pw + w:
                values[r, c] = 0
                colors[r][c] = PADDING
    positions = [(a, b) for a in range(oh) for b in range(ow)][:max(0, windows)]
    rects = []
    for k, (a, b) in enumerate(positions):
        d = 0.06 * k                               # inset so that overlapping windows stay visible
        rects.append((a * sh + d, b * sw + d, fh - 2 * d, fw - 2 * d))
    if ax is None:
        fig = _figure(cell * W + 1.2, cell * H + 1.4)
        ax = fig.subplots()
    else:
        fig = ax.figure
    grid(ax, values, highlight=rects or None, fmt="{:g}" if fmt else None, colors=colors,
         highlight_color=WINDOW_COLORS, fill=False, gid="window")
    if (h, fh, ph, sh) == (w, fw, pw, sw):
        title = f"n={h}, f={fh}, p={ph}, s={sh}: output {text_h} (so {oh}x{ow})"
    else:
        title = (f"height: {text_h}\nwidth: {text_w}\noutput {oh}x{ow}")
    ax.set_title(title, fontsize=10)
    pad_note = f"shaded: zero padding, p={p}" if (ph or pw) else "no padding"
    ax.set_xlabel(f"{pad_note}; outlined: the first {len(positions)} window"
                  f"{'s' if len(positions) != 1 else ''}, stride {s}", fontsize=9)
    return fig


# ---------------------------------------------------------------- chapter 4

def im2col_columns(X, f, s=1, fmt="{:g}", max_outlined=10):
    """im2col: every receptive field of X becomes one column of a matrix.

    Left: the input X (H, W) with each receptive field outlined in its own
    colour (the first `max_outlined`). Right: the (kh*kw, L) im2col matrix,
    each column tinted with the colour of its field; columns are in F.unfold
    order (window positions row by row), rows in row-major order within the window.
    f, s: kernel size and stride (int or pair).
    Returns the Figure.
    """
    X = _array2d(X, "X")
    fh, fw = _pair(f, "f")
    sh, sw = _pair(s, "s")
    H, W = X.shape
    oh, ow = (H - fh) // sh + 1, (W - fw) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"the {fh}x{fw} kernel does not fit in the {H}x{W} input")
    L = oh * ow
    cols = np.zeros((fh * fw, L), dtype=X.dtype)
    palette = [WINDOW_COLORS[k % len(WINDOW_COLORS)] for k in range(L)]
    for a in range(oh):
        for b in range(ow):
            cols[:, a * ow + b] = X[a * sh:a * sh + fh, b * sw:b * sw + fw].ravel()
    fig = _figure(CELL * (W + L) + 1.5, CELL * max(H, fh * fw) + 1.4)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [W, L]})
    rects = []
    for k in range(min(L, max_outlined)):
        a, b = divmod(k, ow)
        d = 0.06 * (k % 4)
        rects.append((a * sh + d, b * sw + d, fh - 2 * d, fw - 2 * d))
    grid(axes[0], X, highlight=rects, highlight_color=palette, fill=False, fmt=fmt,
         title="input X", gid="window")
    fig.suptitle(f"im2col: {H}x{W} input, {fh}x{fw} windows, stride {s} -> {oh}x{ow} = {L} "
                 f"windows, one column each", fontsize=10)
    colors = [[_tint(palette[c]) for c in range(L)] for _ in range(fh * fw)]
    grid(axes[1], cols, fmt=fmt, colors=colors,
         title=f"im2col matrix, {fh * fw} x {L}")
    axes[1].set_xticks(range(L))
    axes[1].set_xticklabels([f"{a},{b}" for a in range(oh) for b in range(ow)],
                            fontsize=7, rotation=90 if L > 8 else 0)
    axes[1].tick_params(length=0)
    return fig


# ---------------------------------------------------------------- chapter 5

def transposed_scatter(X, K, stride=1, i=0, j=0, padding=0, fmt="{:g}"):
    """Transposed convolution as scatter-add, at the step of input cell (i, j).

    Panels: the input X with (i, j) outlined; the kernel K; X[i, j] * K, the
    contribution of that cell; the partial sum of all contributions up to
    (i, j) (row by row) with the window just written outlined; the full
    output ((m - 1)*s + f per axis). With padding p, the full output shows
    the part that is kept (p cells cropped from each side) outlined.
    Returns the Figure.
    """
    X, K = _array2d(X, "X"), _array2d(K, "K")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    m, n = X.shape
    kh, kw = K.shape
    if not (0 <= i < m and 0 <= j < n):
        raise ValueError(f"input position ({i}, {j}) is outside the {m}x{n} input")
    OH, OW = (m - 1) * sh + kh, (n - 1) * sw + kw
    if OH - 2 * ph < 1 or OW - 2 * pw < 1:
        raise ValueError(f"padding {padding} crops away the whole {OH}x{OW} output")
    dtype = np.result_type(X.dtype, K.dtype, np.float64)
    partial = np.zeros((OH, OW), dtype)
    full = np.zeros((OH, OW), dtype)
    for a in range(m):
        for b in range(n):
            full[a * sh:a * sh + kh, b * sw:b * sw + kw] += X[a, b] * K
            if (a, b) <= (i, j):
                partial[a * sh:a * sh + kh, b * sw:b * sw + kw] += X[a, b] * K
    contribution = X[i, j] * K
    widths = [n, kw, kw, OW, OW]
    fig = _figure(CELL * sum(widths) + 2.5, CELL * max(m, kh, OH) + 1.5)
    axes = fig.subplots(1, 5, gridspec_kw={"width_ratios": widths})
    grid(axes[0], X, highlight=(i, j, 1, 1), title="input X", fmt=fmt)
    grid(axes[1], K, title="kernel K", fmt=fmt)
    grid(axes[2], contribution, title=f"X[{i}, {j}]·K", fmt=fmt,
         colors=[[_tint(SCATTER, 0.6)] * kw] * kh)
    colors = [[None] * OW for _ in range(OH)]
    for r in range(i * sh, i * sh + kh):
        for c in range(j * sw, j * sw + kw):
            colors[r][c] = _tint(SCATTER, 0.6)
    grid(axes[3], partial, highlight=(i * sh, j * sw, kh, kw), colors=colors, fmt=fmt,
         title=f"sum so far (up to ({i}, {j}))")
    kept = (ph, pw, OH - 2 * ph, OW - 2 * pw) if (ph or pw) else None
    grid(axes[4], full, highlight=kept, fmt=fmt, fill=False, highlight_color="#1f77b4",
         title=f"full output {OH}x{OW}" + (f", kept {OH - 2 * ph}x{OW - 2 * pw}" if kept else ""),
         gid="kept")
    fig.suptitle(f"transposed convolution, stride {stride}: each input value scales the "
                 f"kernel and is added into its own window of the output", fontsize=10)
    return fig


# ---------------------------------------------------------------- models and training

def feature_maps(maps, ncols=8, title=None, cmap="viridis", size=1.4):
    """A (C, H, W) tensor (or (1, C, H, W)) as a grid of its channels, numbered."""
    a = _array(maps)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"feature maps must be (C, H, W); got shape {a.shape}")
    C = a.shape[0]
    ncols = max(1, min(ncols, C))
    nrows = math.ceil(C / ncols)
    fig = _figure(size * ncols, size * nrows + (0.4 if title else 0))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k < C:
            ax.imshow(a[k].astype(float), cmap=cmap, interpolation="nearest")
            ax.set_title(str(k), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def timings(table, title="time per call", unit="s"):
    """Bar chart (log scale) of method -> seconds, each bar labelled with its
    time and its ratio to the fastest ("x35 slower" / "fastest").

    table: dict name -> seconds, or a list of (name, seconds) pairs.
    """
    items = list(table.items()) if isinstance(table, dict) else [tuple(t) for t in table]
    names = [str(k) for k, _ in items]
    secs = [float(v) for _, v in items]
    if not items:
        raise ValueError("timings: the table is empty")
    if min(secs) <= 0:
        raise ValueError("timings: every time must be positive (log scale)")
    fastest = min(secs)
    fig = _figure(1.3 * len(items) + 1.5, 3.6)
    ax = fig.subplots()
    bars = ax.bar(range(len(items)), secs, color=WINDOW_COLORS[1:len(items) + 1])
    ax.set_yscale("log")
    ax.set_xticks(range(len(items)))
    ax.set_xticklabels(names, fontsize=9)
    ax.set_ylabel(f"seconds ({unit})" if unit != "s" else "seconds")
    ax.set_ylim(fastest / 3, max(secs) * 12)
    for bar, sec in zip(bars, secs):
        ratio = sec / fastest
        label = ("fastest" if ratio < 1.0005 else
                 f"x{ratio:,.0f} slower" if ratio >= 10 else f"x{ratio:.2g} slower")
        ax.annotate(f"{_seconds(sec)}\n{label}", (bar.get_x() + bar.get_width() / 2, sec),
                    xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def _seconds(s):
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def curves(history, keys=("loss",), title=None):
    """Training curves, one panel per key.

    history: dict name -> list of values per epoch (or a list of per-epoch
        dicts). For key "loss" the panel shows every series named "loss",
        "<prefix>_loss" or "loss_<suffix>" (train_loss, val_loss, ...).
    """
    if isinstance(history, (list, tuple)):
        merged = {}
        for row in history:
            for k, v in row.items():
                merged.setdefault(k, []).append(v)
        history = merged
    if isinstance(keys, str):
        keys = (keys,)
    fig = _figure(4.2 * len(keys), 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(keys), squeeze=False)).ravel()
    for ax, key in zip(axes, keys):
        series = [k for k in history
                  if k == key or k.endswith("_" + key) or k.startswith(key + "_")]
        if not series:
            raise KeyError(f"curves: no series for {key!r} in history (have {sorted(history)})")
        for name in series:
            ys = [float(_array(v)) for v in history[name]]
            ax.plot(range(1, len(ys) + 1), ys, marker="o" if len(ys) <= 30 else None,
                    ms=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def confusion_matrix(cm, classes, normalize=False, title=None, cmap="Blues"):
    """A confusion matrix: rows are true classes, columns predictions, counts in cells.

    cm: (n, n) tensor / array of counts (row = true class).
    normalize: show each row as fractions (the diagonal is per-class accuracy).
    """
    a = _array2d(cm, "cm").astype(float)
    n = a.shape[0]
    if a.shape != (n, n) or len(classes) != n:
        raise ValueError(f"confusion_matrix: cm must be ({len(classes)}, {len(classes)}), "
                         f"got {a.shape}")
    if normalize:
        rows = a.sum(axis=1, keepdims=True)
        a = np.divide(a, rows, out=np.zeros_like(a), where=rows > 0)
    side = max(3.5, 0.55 * n + 1.8)
    fig = _figure(side + 0.6, side)
    ax = fig.subplots()
    grid(ax, a, fmt="{:.2f}" if normalize else "{:g}", cmap=cmap, vmin=0,
         fontsize=8 if n > 6 else 10)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels([str(c) for c in classes], rotation=45, ha="right", fontsize=9)
    ax.set_yticklabels([str(c) for c in classes], fontsize=9)
    ax.tick_params(length=0)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = a.trace() / (n if normalize else max(a.sum(), 1))
    ax.set_title(title or (f"mean per-class accuracy {total:.1%}" if normalize
                           else f"accuracy {total:.1%}"), fontsize=10)
    return fig


# ---------------------------------------------------------------- appended by chapters
# Chapter authors: add new figure functions below this line (cat >> helpers/plot.py).


# ---------------------------------------------------------------- chapter 3 (pooling)

def _pool_grid(X, f, s, p, fill):
    """X padded with `fill`, and the output of max / average pooling (count_include_pad)."""
    X = _array2d(X, "X").astype(float)
    fh, fw = _pair(f, "f")
    sh, sw = _pair(f if s is None else s, "s")
    ph, pw = _pair(p, "p")
    H, W = X.shape
    Xp = np.full((H + 2 * ph, W + 2 * pw), fill, dtype=float)
    Xp[ph:ph + H, pw:pw + W] = X
    oh, ow = (H + 2 * ph - fh) // sh + 1, (W + 2 * pw - fw) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"the {fh}x{fw} window does not fit in the padded {H + 2 * ph}x{W + 2 * pw} input")
    return Xp, (fh, fw), (sh, sw), (ph, pw), (oh, ow)


def pooling_window(X, f, i, j, s=None, p=0, mode="max", fmt="{:g}"):
    """Pooling, one output cell at a time: the window for output (i, j) and its value.

    Two panels: the input X (padding shaded, shown as -inf for max pooling and
    0 for average pooling) with the window of output cell (i, j) outlined and,
    for max pooling, the winning cell marked; and the pooled output with cell
    (i, j) outlined. The title spells out the max or the mean.
    X: (H, W); f, s, p: int or (h, w), s defaults to f (PyTorch's default);
    mode: "max" or "avg" (average with count_include_pad=True).
    Returns the Figure.
    """
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    fill = -np.inf if mode == "max" else 0.0
    Xp, (fh, fw), (sh, sw), (ph, pw), (oh, ow) = _pool_grid(X, f, s, p, fill)
    if not (0 <= i < oh and 0 <= j < ow):
        raise ValueError(f"output position ({i}, {j}) is outside the {oh}x{ow} output")
    Y = np.zeros((oh, ow))
    for r in range(oh):
        for c in range(ow):
            win = Xp[r * sh:r * sh + fh, c * sw:c * sw + fw]
            Y[r, c] = win.max() if mode == "max" else win.mean()
    H, W = Xp.shape
    colors = [[PADDING if (r < ph or r >= H - ph or c < pw or c >= W - pw) else INPUT
               for c in range(W)] for r in range(H)]
    win = Xp[i * sh:i * sh + fh, j * sw:j * sw + fw]
    rects, cols = [(i * sh, j * sw, fh, fw)], [WINDOW]
    if mode == "max":
        a, b = np.unravel_index(np.argmax(win), win.shape)   # the first maximum, as PyTorch
        colors[i * sh + a][j * sw + b] = _tint(WINDOW, 0.45)
    shown = np.where(np.isinf(Xp), np.nan, Xp)
    fig = _figure(CELL * (W + ow) + 1.6, CELL * max(H, oh) + 1.3)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [W, ow]})
    grid(axes[0], shown, highlight=rects, highlight_color=cols, colors=colors, fmt=fmt,
         title="input" + (" (padding shaded)" if ph or pw else ""))
    grid(axes[1], Y, highlight=(i, j, 1, 1), fmt="{:.3g}" if mode == "avg" else fmt,
         title=f"{mode} pooled")
    terms = [_fmt(fmt, v) if np.isfinite(v) else "-inf" for v in win.ravel()]
    if mode == "max":
        formula = f"Y[{i}, {j}] = max(" + ", ".join(terms) + f") = {_fmt(fmt, Y[i, j])}"
    else:
        formula = (f"Y[{i}, {j}] = (" + " + ".join(terms) + f") / {fh * fw} = {Y[i, j]:.4g}")
    if len(terms) > 9:
        formula = f"Y[{i}, {j}] = {mode} of the outlined window = {Y[i, j]:.4g}"
    fig.suptitle(formula + f"    (window {fh}x{fw}, stride {(sh, sw) if sh != sw else sh}"
                 + (f", padding {(ph, pw) if ph != pw else ph})" if ph or pw else ")"), fontsize=10)
    return fig


def pooling_gradient(X, f, dout, s=None, fmt="{:g}"):
    """Backward through max pooling: each output's gradient lands on its window's maximum.

    Three panels: the input X with every window outlined in its own colour and
    its winning (first maximal) cell tinted, the upstream gradient dout in the
    same colours, and dX, where each cell holds the sum of the gradients of
    the windows it wins (0 elsewhere). No padding.
    X: (H, W); f, s: int or (h, w), s defaults to f; dout: shaped like the output.
    Returns the Figure.
    """
    Xp, (fh, fw), (sh, sw), _, (oh, ow) = _pool_grid(X, f, s, 0, -np.inf)
    d = _array2d(dout, "dout").astype(float)
    if d.shape != (oh, ow):
        raise ValueError(f"dout must have the output's shape {(oh, ow)}, got {d.shape}")
    H, W = Xp.shape
    dX = np.zeros_like(Xp)
    colors = [[INPUT] * W for _ in range(H)]
    rects, cols, dcolors = [], [], [[None] * ow for _ in range(oh)]
    for r in range(oh):
        for c in range(ow):
            k = r * ow + c
            col = WINDOW_COLORS[k % len(WINDOW_COLORS)]
            win = Xp[r * sh:r * sh + fh, c * sw:c * sw + fw]
            a, b = np.unravel_index(np.argmax(win), win.shape)
            dX[r * sh + a, c * sw + b] += d[r, c]
            colors[r * sh + a][c * sw + b] = _tint(col, 0.45)
            dcolors[r][c] = _tint(col, 0.45)
            inset = 0.07 * (k % 4)
            rects.append((r * sh + inset, c * sw + inset, fh - 2 * inset, fw - 2 * inset))
            cols.append(col)
    fig = _figure(CELL * (2 * W + ow) + 2.2, CELL * max(H, oh) + 1.3)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [W, ow, W]})
    grid(axes[0], Xp, highlight=rects, highlight_color=cols, colors=colors, fmt=fmt,
         fill=False, title="X: windows and their maxima")
    grid(axes[1], d, colors=dcolors, fmt=fmt, title="dout")
    grid(axes[2], dX, fmt=fmt, cmap="Reds", vmin=0, title="dX")
    fig.suptitle("each dout value goes to its window's maximum; overlapping wins add up",
                 fontsize=10)
    return fig


# ---------------------------------------------------------------- chapter 1 (appended)

def grids(arrays, titles=None, fmt="{:g}", cmap=None, vmin=None, vmax=None, suptitle=None):
    """Several small 2-D arrays side by side, each drawn by `grid` with its numbers.

    arrays: a sequence of (H, W) tensors / arrays / nested lists (sizes may differ).
    titles: one title per array (or None).
    cmap, vmin, vmax: colour the cells by value, on one scale for all panels
        (default: white cells).
    Returns the Figure.

    >>> fig = grids([[[0, 1], [1, 0]], [[1, 2, 3]]], titles=["X", "K"])
    """
    arrs = [_array2d(a, "array") for a in arrays]
    if not arrs:
        raise ValueError("grids: give at least one array")
    widths = [a.shape[1] for a in arrs]
    height = max(a.shape[0] for a in arrs)
    fig = _figure(CELL * sum(widths) + 0.45 * len(arrs) + 0.4,
                  CELL * height + 0.7 + (0.3 if suptitle else 0))
    axes = np.atleast_1d(fig.subplots(1, len(arrs), squeeze=False,
                                      gridspec_kw={"width_ratios": widths})).ravel()
    for k, (ax, a) in enumerate(zip(axes, arrs)):
        title = titles[k] if titles is not None and k < len(titles) else None
        grid(ax, a, title=title, fmt=fmt, cmap=cmap, vmin=vmin, vmax=vmax)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


__all__.append("grids")

__all__ += ["pooling_window", "pooling_gradient"]


# ---------------------------------------------------------------- chapter 6 (training pictures)

def image_grid(images, labels=None, classes=None, predictions=None, ncols=8, size=1.3):
    """Images in a grid, each titled with its class name.

    images: (N, C, H, W) or (N, H, W) tensor / array (uint8, or float: normalised
        images are rescaled for display), or a list of images.
    labels: N class indices (or None); classes: their names (index -> name).
    predictions: N predicted indices (or None); then each title reads
        "true / predicted", green when right and red when wrong.
    Returns the Figure.
    """
    imgs = [_image(im) for im in _image_list(images)]
    n = len(imgs)
    if n == 0:
        raise ValueError("image_grid: no images")

    def name(k):
        k = int(k)
        return str(classes[k]) if classes is not None and 0 <= k < len(classes) else str(k)

    labels = None if labels is None else [int(v) for v in _array(labels).reshape(-1)]
    predictions = None if predictions is None else [int(v) for v in _array(predictions).reshape(-1)]
    for what, seq in (("labels", labels), ("predictions", predictions)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"image_grid: {n} images but {len(seq)} {what}")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    titled = labels is not None or predictions is not None
    fig = _figure(size * ncols, (size + (0.3 if titled else 0)) * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k >= n:
            continue
        im = imgs[k]
        ax.imshow(im, cmap="gray" if im.ndim == 2 else None, interpolation="nearest")
        if predictions is not None:
            right = labels is None or predictions[k] == labels[k]
            text = name(predictions[k]) if labels is None else f"{name(labels[k])} / {name(predictions[k])}"
            ax.set_title(text, fontsize=8, color="#2ca02c" if right else "#d62728")
        elif labels is not None:
            ax.set_title(name(labels[k]), fontsize=8)
    if predictions is not None and labels is not None:
        wrong = sum(p != t for p, t in zip(predictions, labels))
        fig.suptitle(f"true / predicted: {n - wrong} of {n} right", fontsize=10)
    return fig


def _history_dict(history):
    """history as a dict name -> list of numbers (accepts a list of per-epoch dicts, or an
    object with as_dict(), such as helpers.train.History)."""
    if hasattr(history, "as_dict"):
        history = history.as_dict()
    if isinstance(history, (list, tuple)):
        merged = {}
        for row in history:
            for k, v in dict(row).items():
                merged.setdefault(k, []).append(v)
        return merged
    if hasattr(history, "items"):
        return {k: list(v) for k, v in history.items()
                if isinstance(v, (list, tuple)) or hasattr(v, "__len__") and not isinstance(v, str)}
    raise TypeError(f"history must be a dict of lists or a list of dicts, got {type(history).__name__}")


class LiveCurves:
    """Loss and accuracy curves that redraw while a model trains.

        live = plot.LiveCurves(keys=("loss", "acc"))
        history = train.fit(..., callback=live.update)   # or callback=live
        live.figure                                       # the last picture

    update(history) draws the curves of `history` (a dict name -> per-epoch
    values, or a list of per-epoch dicts); in Jupyter the picture is shown
    once and then replaced in place at every call (one display, updated), so a
    notebook executed headless keeps the final picture as a static PNG.
    Series are matched as in `curves`: key "acc" shows train_acc, val_acc, ...
    Keys without data yet are skipped. Extra arguments to update are ignored,
    so it fits any per-epoch callback signature.

    show: False draws without displaying (tests, scripts).
    """

    def __init__(self, keys=("loss", "acc"), title=None, show=True):
        self.keys = (keys,) if isinstance(keys, str) else tuple(keys)
        self.title = title
        self.show = show
        self.figure = None
        self.updates = 0
        self._handle = None

    def update(self, history, *args, **kwargs):
        hist = {k: v for k, v in _history_dict(history).items() if len(v)}
        keys = [k for k in self.keys
                if any(n == k or n.endswith("_" + k) or n.startswith(k + "_") for n in hist)]
        if not keys:
            return self.figure
        epochs = max(len(v) for v in hist.values())
        title = self.title or f"after epoch {epochs}"
        self.figure = curves(hist, keys, title=title)
        self.updates += 1
        if self.show:
            from IPython.display import display

            if self._handle is None:
                self._handle = display(self.figure, display_id=True)
            else:
                self._handle.update(self.figure)
        return self.figure

    __call__ = update

    def _repr_png_(self):
        return None if self.figure is None else self.figure._repr_png_()


def class_accuracy(accuracies, classes=None, title=None):
    """Per-class accuracy as horizontal bars, each labelled with its percentage.

    accuracies: dict class name -> accuracy in [0, 1], or a sequence of
        accuracies (then `classes` names them).
    Returns the Figure.
    """
    if hasattr(accuracies, "items"):
        names = [str(k) for k in accuracies]
        values = [float(_array(v)) for v in accuracies.values()]
    else:
        values = [float(v) for v in _array(accuracies).reshape(-1)]
        names = [str(c) for c in classes] if classes is not None else [str(k) for k in range(len(values))]
    if len(names) != len(values):
        raise ValueError(f"class_accuracy: {len(values)} accuracies but {len(names)} class names")
    if not values:
        raise ValueError("class_accuracy: no classes")
    fig = _figure(5.2, 0.38 * len(values) + 1.1)
    ax = fig.subplots()
    ys = np.arange(len(values))[::-1]
    colors = [WINDOW if v == min(values) and len(values) > 1 else WINDOW_COLORS[1] for v in values]
    ax.barh(ys, values, color=colors)
    for y, v in zip(ys, values):
        ax.text(min(v, 1.0) + 0.01, y, f"{v:.1%}", va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels(names, fontsize=9)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("accuracy")
    mean = float(np.mean(values))
    ax.axvline(mean, color="#7f7f7f", lw=1, ls="--")
    ax.set_title(title or f"per-class accuracy (dashed: mean {mean:.1%})", fontsize=10)
    return fig


def confusion_counts(y_true, y_pred, n_classes):
    """The (n_classes, n_classes) confusion matrix as a NumPy int array, by scikit-learn.

    Row = true class, column = predicted class; classes with no sample still
    get their (zero) row and column.
    """
    from sklearn.metrics import confusion_matrix as _sk_confusion

    t = _array(y_true).reshape(-1).astype(np.int64)
    p = _array(y_pred).reshape(-1).astype(np.int64)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred {p.size}")
    return _sk_confusion(t, p, labels=list(range(int(n_classes))))


def confusion(y_true, y_pred, classes, normalize=False, title=None):
    """Confusion matrix of labels against predictions (scikit-learn counts), drawn
    by `confusion_matrix`. Returns the Figure; its `counts` attribute holds the matrix."""
    counts = confusion_counts(y_true, y_pred, len(classes))
    fig = confusion_matrix(counts, classes, normalize=normalize, title=title)
    fig.counts = counts
    return fig


def conv_filters(weight, ncols=8, size=0.9, title=None):
    """The filters of a convolution layer, one tile each.

    weight: (C_out, C_in, kh, kw), e.g. model.conv1.weight. With 3 input
    channels each filter is shown as a colour patch (its 3 channels as RGB,
    rescaled to [0, 1] filter by filter, so mid-grey is 0); otherwise the
    channels of each filter are averaged into one grey tile.
    Returns the Figure.
    """
    w = _array(weight).astype(float)
    if w.ndim != 4:
        raise ValueError(f"conv_filters: expected a (C_out, C_in, kh, kw) weight, got shape {w.shape}")
    C = w.shape[0]
    ncols = max(1, min(ncols, C))
    nrows = math.ceil(C / ncols)
    fig = _figure(size * ncols, size * nrows + (0.45 if title else 0.2))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k >= C:
            continue
        f = w[k]
        if f.shape[0] == 3:
            m = np.abs(f).max()
            tile = np.transpose(f / (2 * m) + 0.5 if m > 0 else np.full_like(f, 0.5), (1, 2, 0))
            ax.imshow(tile, interpolation="nearest")
        else:
            ax.imshow(f.mean(axis=0), cmap="gray", interpolation="nearest")
        ax.set_title(str(k), fontsize=7)
    fig.suptitle(title or f"{C} filters {w.shape[2]}x{w.shape[3]} over {w.shape[1]} channels",
                 fontsize=10)
    return fig


def layer_outputs(model, x):
    """The output of every top-level layer of `model` for input x, in order.

    model: an nn.Module; its direct children (conv1, act1, pool1, ...) are
    hooked. Functional parts of forward (torch.tanh, F.max_pool2d) have no
    module, so they do not appear: use a model whose layers are modules to see
    every step. x: one image (C, H, W) or a batch (N, C, H, W).
    Returns a dict name -> output tensor (detached, on the CPU), the model's
    own output under "output". The model's training mode is left as it was.
    """
    import torch

    if x.ndim == 3:
        x = x.unsqueeze(0)
    outs, hooks = {}, []
    for name, child in model.named_children():
        def hook(module, inputs, output, name=name):
            if torch.is_tensor(output):
                outs[name] = output.detach().cpu()
        hooks.append(child.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            device = next(model.parameters(), torch.empty(0)).device
            out = model(x.to(device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    outs["output"] = out.detach().cpu()
    return outs


def layer_maps(output, name="layer", ncols=8, cmap="viridis", size=1.2):
    """One layer's output for one image: feature maps as a grid, a vector as a strip.

    output: (C, H, W) or (1, C, H, W) -> `feature_maps`; (D,) or (1, D) -> one
    row of D cells coloured by value, numbered. Returns the Figure.
    """
    a = _array(output)
    if a.ndim in (2, 4) and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3:
        return feature_maps(a, ncols=ncols, cmap=cmap, size=size,
                            title=f"{name}: {a.shape[0]} maps of {a.shape[1]}x{a.shape[2]}")
    if a.ndim != 1:
        raise ValueError(f"layer_maps: expected (C, H, W) or (D,), got shape {a.shape}")
    D = a.shape[0]
    fig = _figure(min(0.35 * D + 1, 14), 1.4)
    ax = fig.subplots()
    ax.imshow(a[None, :].astype(float), cmap=cmap, aspect="auto", interpolation="nearest")
    ax.set_yticks([])
    if D <= 40:
        ax.set_xticks(range(D))
        ax.tick_params(labelsize=7)
    ax.set_title(f"{name}: a vector of {D} values", fontsize=10)
    return fig


def layer_view(image, output, name="layer", title=None, ncols=8, cmap="viridis"):
    """One image and one layer's output for it, side by side in one Figure.

    image: (C, H, W) (normalised images are rescaled for display);
    output: that layer's output for the image, (C, H, W) maps or a (D,) vector
    (a leading batch axis of 1 is dropped). Returns the Figure.
    """
    a = _array(output)
    if a.ndim in (2, 4) and a.shape[0] == 1:
        a = a[0]
    if a.ndim not in (1, 3):
        raise ValueError(f"layer_view: expected (C, H, W) or (D,) output, got shape {a.shape}")
    im = _image(image)
    if a.ndim == 3:
        C = a.shape[0]
        cols = max(1, min(ncols, C))
        rows = math.ceil(C / cols)
        cell = 1.0 if C > 8 else 1.3
        width, height = cell * cols, cell * rows + 0.5
    else:
        width, height = min(0.3 * a.shape[0] + 1, 11), 1.6
    fig = _figure(2.6 + width, max(2.6, height))
    left, right = fig.subfigures(1, 2, width_ratios=[2.6, width])
    ax = left.subplots()
    ax.imshow(im, cmap="gray" if im.ndim == 2 else None, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(str(title), fontsize=9)
    if a.ndim == 3:
        axes = np.atleast_1d(right.subplots(rows, cols, squeeze=False)).ravel()
        lo, hi = float(a.min()), float(a.max())
        for k, axk in enumerate(axes):
            axk.set_axis_off()
            if k < C:
                axk.imshow(a[k].astype(float), cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
                axk.set_title(str(k), fontsize=7)
        right.suptitle(f"{name}: {C} maps of {a.shape[1]}x{a.shape[2]} "
                       f"(one colour scale, {lo:.2g} to {hi:.2g})", fontsize=9)
    else:
        axv = right.subplots()
        axv.imshow(a[None, :].astype(float), cmap=cmap, aspect="auto", interpolation="nearest")
        axv.set_yticks([])
        if a.shape[0] <= 40:
            axv.set_xticks(range(a.shape[0]))
            axv.tick_params(labelsize=7)
        axv.set_title(f"{name}: a vector of {a.shape[0]} values", fontsize=9)
    return fig


__all__ += ["image_grid", "LiveCurves", "class_accuracy", "confusion_counts", "confusion",
            "conv_filters", "layer_outputs", "layer_maps", "layer_view"]


# ---------------------------------------------------------------- chapter 1 (1-D signals)

def signals(named, title=None, size=(7.0, 1.5)):
    """1-D signals drawn one above the other on a shared position axis, as steps.

    named: dict name -> 1-D sequence (tensor, array or list); the signals may
        have different lengths (a valid convolution output is shorter: entry i
        is drawn at position i, under the window that starts there).
    title: above the first panel. size: (width, height of one panel) in inches.
    Returns the Figure.

    >>> fig = signals({"x": [0, 0, 1, 1, 0], "x[i+1] - x[i]": [0, 1, 0, -1]})
    """
    arrays = [(str(k), _array(v).astype(float).ravel()) for k, v in named.items()]
    if not arrays:
        raise ValueError("signals: give at least one signal")
    n = max(len(a) for _, a in arrays)
    fig = _figure(size[0], size[1] * len(arrays) + (0.3 if title else 0))
    axes = np.atleast_1d(fig.subplots(len(arrays), 1, sharex=True, squeeze=False)).ravel()
    for ax, (name, a) in zip(axes, arrays):
        pos = np.arange(len(a))
        ax.step(pos, a, where="mid", color="#1f77b4")
        ax.plot(pos, a, "o", ms=3, color="#1f77b4")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
        ax.tick_params(labelsize=8)
    axes[-1].set_xlabel("position i", fontsize=9)
    if title:
        axes[0].set_title(title, fontsize=10)
    return fig


__all__.append("signals")


# ---------------------------------------------------------------- chapter 3 (max and average, side by side)

def pooling_max_avg(X, f, i=0, j=0, s=None, p=0, fmt="{:g}"):
    """Max and average pooling of the same input, side by side, for one window.

    Three panels: the input X (padding shaded and left blank) with the window of
    output cell (i, j) outlined and its first maximum tinted; the max-pooled output;
    the average-pooled output (count_include_pad=True, PyTorch's default). Cell (i, j)
    is outlined in both outputs. Padding counts as -inf for the max, 0 for the mean.
    X: (H, W); f, s, p: int or (h, w), s defaults to f (PyTorch's default).
    Raises ValueError with a readable message when the padding is more than half the
    window (PyTorch refuses it), the window does not fit, or (i, j) is outside the output.
    Returns the Figure; its suptitle spells out the max and the mean of the window.
    """
    fh, fw = _pair(f, "f")
    ph, pw = _pair(p, "p")
    if 2 * ph > fh or 2 * pw > fw:
        raise ValueError(f"padding p={p} is more than half the window f={f} (PyTorch refuses it)")
    Xm, (fh, fw), (sh, sw), (ph, pw), (oh, ow) = _pool_grid(X, f, s, p, -np.inf)
    Xa = _pool_grid(X, f, s, p, 0.0)[0]
    if not (0 <= i < oh and 0 <= j < ow):
        raise ValueError(f"output cell ({i}, {j}) is outside the {oh}x{ow} output: "
                         f"pick i < {oh} and j < {ow}")
    Ymax, Yavg = np.zeros((oh, ow)), np.zeros((oh, ow))
    for r in range(oh):
        for c in range(ow):
            Ymax[r, c] = Xm[r * sh:r * sh + fh, c * sw:c * sw + fw].max()
            Yavg[r, c] = Xa[r * sh:r * sh + fh, c * sw:c * sw + fw].mean()
    H, W = Xm.shape
    colors = [[PADDING if (r < ph or r >= H - ph or c < pw or c >= W - pw) else INPUT
               for c in range(W)] for r in range(H)]
    win = Xm[i * sh:i * sh + fh, j * sw:j * sw + fw]
    a, b = np.unravel_index(np.argmax(win), win.shape)        # the first maximum, as PyTorch
    colors[i * sh + a][j * sw + b] = _tint(WINDOW, 0.45)
    shown = np.where(np.isinf(Xm), np.nan, Xm)
    fig = _figure(CELL * (W + 2 * ow) + 2.2, CELL * max(H, oh) + 1.5)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [W, ow, ow]})
    grid(axes[0], shown, highlight=(i * sh, j * sw, fh, fw), colors=colors, fmt=fmt,
         title="input" + (" (padding shaded)" if ph or pw else ""))
    grid(axes[1], Ymax, highlight=(i, j, 1, 1), fmt=fmt, title="max pooling")
    grid(axes[2], Yavg, highlight=(i, j, 1, 1), fmt="{:.3g}", title="average pooling")
    total = Xa[i * sh:i * sh + fh, j * sw:j * sw + fw].sum()
    fig.suptitle(f"window of output ({i}, {j}): max = {_fmt(fmt, Ymax[i, j])}, "
                 f"mean = {_fmt('{:g}', total)}/{fh * fw} = {Yavg[i, j]:.4g}    "
                 f"(window {fh}x{fw}, stride {(sh, sw) if sh != sw else sh}"
                 + (f", padding {(ph, pw) if ph != pw else ph})" if ph or pw else ")"), fontsize=10)
    return fig


# ---------------------------------------------------------------- chapter 4 (one column of im2col)

def im2col_window(X, f, col, s=1, p=0, fmt="{:g}"):
    """Which input values land in column `col` of im2col (F.unfold's layout), one channel.

    Left: X (H, W) with its p-cell zero border shaded, the window of column `col`
    outlined (output position y = col // W', x = col % W'). Right: the (kh*kw, H'*W')
    matrix X_col with column `col` outlined; row i*kw + j holds cell (i, j) of each
    window, so the column is the window read row by row.
    X: (H, W); f, s, p: int or (h, w). Raises ValueError with a readable message when
    the kernel does not fit or `col` is not a column of X_col.
    Returns the Figure.
    """
    X = _array2d(X, "X").astype(float)
    fh, fw = _pair(f, "f")
    sh, sw = _pair(s, "s")
    ph, pw = _pair(p, "p")
    if min(fh, fw, sh, sw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"kernel and stride must be at least 1 and padding at least 0 "
                         f"(got f={f}, s={s}, p={p})")
    H, W = X.shape
    Hp, Wp = H + 2 * ph, W + 2 * pw
    if fh > Hp or fw > Wp:
        raise ValueError(f"the {fh}x{fw} kernel does not fit in the padded {Hp}x{Wp} input")
    oh, ow = (Hp - fh) // sh + 1, (Wp - fw) // sw + 1
    L = oh * ow
    if not 0 <= col < L:
        raise ValueError(f"X_col has {L} columns (0 to {L - 1}) here, so there is no column {col}")
    Xp = np.zeros((Hp, Wp))
    Xp[ph:ph + H, pw:pw + W] = X
    cols = np.stack([Xp[a * sh:a * sh + fh, b * sw:b * sw + fw].ravel()
                     for a in range(oh) for b in range(ow)], axis=1)      # (fh*fw, L)
    y, x = divmod(col, ow)
    colors = [[PADDING if (r < ph or r >= ph + H or c < pw or c >= pw + W) else INPUT
               for c in range(Wp)] for r in range(Hp)]
    for a in range(fh):
        for b in range(fw):
            colors[y * sh + a][x * sw + b] = _tint(WINDOW, 0.3)
    ccolors = [[_tint(WINDOW, 0.3) if c == col else INPUT for c in range(L)] for _ in range(fh * fw)]
    cell = min(CELL, 14.0 / (Wp + L + 2))
    cell_in = min(CELL, max(cell, 3.5 / Wp))   # the input stays readable beside a long X_col
    fig = _figure(cell_in * Wp + cell * L + 2.0, max(cell_in * Hp, cell * fh * fw, 1.2) + 1.6)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [cell_in * Wp, cell * L]})
    grid(axes[0], Xp, highlight=(y * sh, x * sw, fh, fw), colors=colors, fmt=fmt,
         fill=False, title="input" + (" (padding shaded)" if ph or pw else ""),
         fontsize=None if cell_in >= 0.35 else 7)
    small = cell < 0.25                      # too small for every number: only the column's
    grid(axes[1], cols, highlight=(0, col, fh * fw, 1), colors=ccolors, fill=False,
         fmt=None if small else fmt, title=f"X_col, {fh * fw} x {L}")
    if small:
        for r in range(fh * fw):
            axes[1].text(col, r, _fmt(fmt, cols[r, col]), ha="center", va="center", fontsize=6)
    axes[1].set_xticks([col])
    axes[1].set_xticklabels([f"column {col}\n= {y}*{ow} + {x}"], fontsize=8)
    if fh * fw <= 16:
        axes[1].set_yticks(range(fh * fw))
        axes[1].set_yticklabels([f"{a},{b}" for a in range(fh) for b in range(fw)], fontsize=7)
    axes[1].tick_params(length=0)
    fig.suptitle(f"column {col} of X_col = the window at output position (y, x) = ({y}, {x}), "
                 f"top-left corner ({y * sh}, {x * sw}) of the padded input", fontsize=10)
    return fig


__all__ += ["pooling_max_avg", "im2col_window"]


# ---------------------------------------------------------------- chapter 5 (appended)

def scatter_counts(m, f, s=1):
    """Along one axis: how many of the m input cells write into each cell of the full
    (m - 1)*s + f grid of a transposed convolution with kernel f and stride s.

    Returns a list of ints; 2-D counts are the outer product of two such lists.
    >>> scatter_counts(3, 3, 2)
    [1, 1, 2, 1, 2, 1, 1]
    """
    n = (m - 1) * s + f
    return [sum(1 for i in range(m) if i * s <= u < i * s + f) for u in range(n)]


def transposed_overlap(m, f, s=1, i=0, j=0, p=0):
    """Transposed convolution of an m x m input, one input cell at a time, with overlap counts.

    Left: the input, cell (i, j) outlined. Right: the full output grid, (m - 1)*s + f cells
    per axis; each cell shows how many input cells write into it (the number of kernel copies
    that land there), coloured by that count; the copy of the f x f kernel that input cell
    (i, j) scatters (rows i*s .. i*s + f - 1, columns j*s .. j*s + f - 1) is outlined in red,
    and with padding p the part that is kept (p cells cropped from each side) in blue.
    m, f, s, p, i, j: ints. Raises ValueError with a readable message for an impossible setting.
    Returns the Figure.
    """
    m, f, s, p, i, j = (int(v) for v in (m, f, s, p, i, j))
    if m < 1 or f < 1:
        raise ValueError(f"the input and the kernel need at least one cell (got m={m}, f={f})")
    if s < 1:
        raise ValueError(f"the stride must be at least 1 (got s={s})")
    if p < 0:
        raise ValueError(f"the padding cannot be negative (got p={p})")
    if not (0 <= i < m and 0 <= j < m):
        raise ValueError(f"there is no input cell ({i}, {j}) in a {m}x{m} input: "
                         f"i and j go from 0 to {m - 1}")
    n = (m - 1) * s + f
    if n - 2 * p < 1:
        raise ValueError(f"the padding p={p} crops the whole output away: "
                         f"(m - 1)*s - 2p + f = {n - 2 * p}")
    c = np.array(scatter_counts(m, f, s))
    counts = np.outer(c, c)
    cell = min(CELL, 9.0 / (n + m + 1))
    fig = _figure(cell * (n + m) + 2.2, cell * n + 1.5)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [max(m, 2), n]})
    grid(axes[0], np.zeros((m, m)), highlight=(i, j, 1, 1), fmt=None,
         title=f"input {m}x{m}: cell ({i}, {j})")
    rects, cols = [(i * s, j * s, f, f)], [WINDOW]
    if p:
        rects.append((p, p, n - 2 * p, n - 2 * p))
        cols.append("#1f77b4")
    grid(axes[1], counts, highlight=rects, highlight_color=cols, fill=False, cmap="Blues",
         vmin=0, vmax=max(int(counts.max()), 1) * 1.6, fmt="{:g}" if cell >= 0.25 else None,
         title=f"full output {n}x{n}: copies of the kernel per cell"
               + (f", kept {n - 2 * p}x{n - 2 * p}" if p else ""))
    fig.suptitle(f"f={f}, s={s}, p={p}: input cell ({i}, {j}) scatters X[{i}, {j}]·K into the red "
                 f"{f}x{f} window at ({i * s}, {j * s})", fontsize=10)
    return fig


__all__ += ["scatter_counts", "transposed_overlap"]
