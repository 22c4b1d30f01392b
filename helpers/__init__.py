"""What the course notebooks import: verified kernels, checks, data, plots, widgets.

Submodules load on first use, so `import helpers` stays cheap and a chapter
pays only for what it touches:

    import helpers
    helpers.corr2d(X, K)          # loads helpers.conv (and torch)
    from helpers import check     # readable assertions for test cells

Where things live: conv (chapters 1-2), pool (3), columns (4: im2col, image to columns), transposed (5),
check (test cells), data (MNIST, CIFAR-10, CIFAR-2), plot (figures),
widgets (interactive explorers), models (networks used by the chapters),
train (devices, run sizes, data loaders and the training loop: chapters 6-8).
"""
import importlib

# public name -> submodule that defines it
_KERNELS = {
    "corr2d": "conv",
    "corr2d_multi_in": "conv",
    "corr2d_multi_in_out": "conv",
    "conv1d": "conv",
    "conv1d_matrix": "conv",
    "conv_params": "conv",
    "fc_params": "conv",
    "conv_output_size": "conv",
    "pad2d": "conv",
    "conv2d": "conv",
    "max_pool2d": "pool",
    "avg_pool2d": "pool",
    "max_pool2d_backward": "pool",
    "im2col": "columns",
    "col2im": "columns",
    "conv2d_im2col": "columns",
    "conv_matrix": "transposed",
    "conv_transpose2d": "transposed",
    "conv_transpose2d_zero_insert": "transposed",
    "conv_transpose_output_size": "transposed",
}
_SUBMODULES = {"check", "conv", "pool", "columns", "transposed", "data", "plot", "widgets", "models", "train"}

__all__ = sorted(_KERNELS) + sorted(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _KERNELS:
        module = importlib.import_module(f"{__name__}.{_KERNELS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__():
    return __all__
