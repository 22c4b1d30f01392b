"""Plausible wrong answers for chapter 2 (padding and stride).

Each replaces answer cells (by grade_id) in the source notebook; the round
trip expects fewer than full marks and the feedback to contain "feedback".
"""

_VALID = '''
    if s < 1:
        raise ValueError("the stride must be at least 1")
    if p < 0:
        raise ValueError("the padding cannot be negative")
    if f > n + 2 * p:
        raise ValueError("the kernel does not fit in the padded input")
'''

WRONG_ANSWERS = [
    {
        "name": "conv_output_size without the +1",
        "cells": {"conv_output_size": '''
def conv_output_size(n, f, p=0, s=1):
''' + _VALID + '''
    return (n + 2 * p - f) // s
'''},
        "feedback": "the +1 is missing",
    },
    {
        "name": "conv_output_size rounds up",
        "cells": {"conv_output_size": '''
def conv_output_size(n, f, p=0, s=1):
''' + _VALID + '''
    return math.ceil((n + 2 * p - f) / s) + 1
'''},
        "feedback": "rounded up (ceil) instead of down",
    },
    {
        "name": "conv_output_size never raises",
        "cells": {"conv_output_size": '''
def conv_output_size(n, f, p=0, s=1):
    return (n + 2 * p - f) // max(s, 1) + 1
'''},
        "feedback": "it should raise ValueError",
    },
    {
        "name": "conv_output_size that memorised the visible cases",
        "cells": {"conv_output_size": '''
def conv_output_size(n, f, p=0, s=1):
''' + _VALID + '''
    known = {(6, 2, 0, 1): 5, (6, 2, 0, 2): 3, (6, 2, 1, 1): 7, (28, 5, 0, 1): 24,
             (32, 3, 1, 1): 32, (32, 2, 0, 2): 16, (32, 4, 1, 2): 16, (7, 3, 0, 3): 2,
             (10, 4, 2, 3): 4, (3, 5, 1, 1): 1, (227, 11, 0, 4): 55, (224, 7, 3, 2): 112}
    return known.get((n, f, p, s), n)
'''},
        "feedback": "a hidden test failed",
    },
    {
        "name": "pad2d pads one side only",
        "cells": {"pad2d": '''
def pad2d(X, p):
    ph, pw = (p, p) if isinstance(p, int) else p
    H, W = X.shape[-2:]
    out = X.new_zeros(*X.shape[:-2], H + ph, W + pw)
    out[..., :H, :W] = X
    return out
'''},
        "feedback": "padding on one side only",
    },
    {
        "name": "pad2d always returns float32",
        "cells": {"pad2d": '''
def pad2d(X, p):
    ph, pw = (p, p) if isinstance(p, int) else p
    H, W = X.shape[-2:]
    out = torch.zeros(*X.shape[:-2], H + 2 * ph, W + 2 * pw)
    out[..., ph:ph + H, pw:pw + W] = X
    return out
'''},
        "feedback": "wrong dtype",
    },
    {
        "name": "conv2d applies the stride to the height only",
        "cells": {"conv2d": '''
def conv2d(X, W, b=None, stride=1, padding=0):
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    N, C_in, H, Wd = X.shape
    C_out, _, kh, kw = W.shape
    H_out = (H + 2 * ph - kh) // sh + 1
    W_out = Wd + 2 * pw - kw + 1
    Xp = pad2d(X, (ph, pw))
    Y = X.new_zeros(N, C_out, H_out, W_out)
    for i in range(H_out):
        for j in range(W_out):
            window = Xp[:, :, i * sh:i * sh + kh, j:j + kw]
            Y[:, :, i, j] = (window[:, None] * W[None]).sum(dim=(2, 3, 4))
    if b is not None:
        Y = Y + b.view(1, C_out, 1, 1)
    return Y
'''},
        "feedback": "the stride is applied along the height only",
    },
    {
        "name": "conv2d ignores the bias",
        "cells": {"conv2d": '''
def conv2d(X, W, b=None, stride=1, padding=0):
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    N, C_in, H, Wd = X.shape
    C_out, _, kh, kw = W.shape
    H_out = (H + 2 * ph - kh) // sh + 1
    W_out = (Wd + 2 * pw - kw) // sw + 1
    Xp = pad2d(X, (ph, pw))
    Y = X.new_zeros(N, C_out, H_out, W_out)
    for i in range(H_out):
        for j in range(W_out):
            window = Xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            Y[:, :, i, j] = torch.einsum("ncab,ocab->no", window, W)
    return Y
'''},
        "feedback": "the bias is ignored",
    },
    {
        "name": "conv2d flips the kernel",
        "cells": {"conv2d": '''
def conv2d(X, W, b=None, stride=1, padding=0):
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    N, C_in, H, Wd = X.shape
    C_out, _, kh, kw = W.shape
    H_out = (H + 2 * ph - kh) // sh + 1
    W_out = (Wd + 2 * pw - kw) // sw + 1
    Xp = pad2d(X, (ph, pw))
    Wf = W.flip(-2, -1)
    Y = X.new_zeros(N, C_out, H_out, W_out)
    for i in range(H_out):
        for j in range(W_out):
            window = Xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            Y[:, :, i, j] = torch.einsum("ncab,ocab->no", window, Wf)
    if b is not None:
        Y = Y + b.view(1, C_out, 1, 1)
    return Y
'''},
        "feedback": "the kernel is flipped",
    },
    {
        "name": "conv2d that calls F.conv2d",
        "cells": {"conv2d": '''
def conv2d(X, W, b=None, stride=1, padding=0):
    return F.conv2d(X, W, b, stride=stride, padding=padding)
'''},
        "feedback": "your answer called torch.conv2d",
    },
    {
        "name": "output shapes written height x width x channels",
        "cells": {"output_shapes": '''
shape_a = (31, 31, 10)
shape_b = (13, 13, 10)
shape_c = (12, 12, 3)
shape_d = (3, 3, 2)
'''},
        "feedback": "write (C, H, W), channels first",
    },
    {
        "name": "layer stack with the strides left out",
        "cells": {"layer_stack": '''
stack_shapes = [(3, 39, 39), (10, 37, 37), (20, 33, 33), (40, 29, 29)]
n_features = 40 * 29 * 29
stack = nn.Sequential(
    nn.Conv2d(3, 10, 3), nn.ReLU(),
    nn.Conv2d(10, 20, 5), nn.ReLU(),
    nn.Conv2d(20, 40, 5), nn.ReLU(),
    nn.Flatten(),
)
'''},
        "feedback": "the stride of 2 in conv 2 and conv 3 is ignored",
    },
]

# A hole closed in the hidden tests: conv2d must leave its inputs unchanged.
WRONG_ANSWERS.append({
    "name": "conv2d zeroes its input after use",
    "cells": {"conv2d": '''
def conv2d(X, W, b=None, stride=1, padding=0):
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    Xp = pad2d(X, (ph, pw))
    N, C, H, Wd = Xp.shape
    O, _, kh, kw = W.shape
    Ho, Wo = (H - kh) // sh + 1, (Wd - kw) // sw + 1
    Y = torch.zeros(N, O, Ho, Wo, dtype=X.dtype)
    for i in range(Ho):
        for j in range(Wo):
            window = Xp[:, None, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            Y[:, :, i, j] = (window * W[None]).sum(dim=(2, 3, 4))
    if b is not None:
        Y += b[None, :, None, None]
    X.zero_()          # "free" the input
    return Y
'''},
    "feedback": "must not change its inputs",
})
