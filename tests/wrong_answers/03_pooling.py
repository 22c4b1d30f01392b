"""Plausible wrong answers for chapter 3 (pooling), for the grading round trip.

Each one replaces answer cells (by grade_id) of the source notebook; the
autograder must give it fewer than full marks and its feedback must contain
`feedback`, the phrase that names the mistake.
"""

_PAIRS = '''
    fh, fw = pair(f)
    ph, pw = pair(p)
    N, C, H, W = X.shape
'''

WRONG_ANSWERS = [
    {
        "name": "average pooling divides by the number of real cells even with count_include_pad=True",
        "cells": {"avg_pool2d": '''
def avg_pool2d(X, f, s=None, p=0, count_include_pad=True):
''' + _PAIRS + '''
    sh, sw = pair(f if s is None else s)
    Ho, Wo = (H + 2 * ph - fh) // sh + 1, (W + 2 * pw - fw) // sw + 1
    Xp = F.pad(X, (pw, pw, ph, ph))
    ones = F.pad(torch.ones_like(X), (pw, pw, ph, ph))
    Y = X.new_zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            win = (slice(None), slice(None), slice(i * sh, i * sh + fh), slice(j * sw, j * sw + fw))
            Y[:, :, i, j] = Xp[win].sum(dim=(-2, -1)) / ones[win].sum(dim=(-2, -1))
    return Y
'''},
        "feedback": "count_include_pad=True",
    },
    {
        "name": "max pooling whose stride defaults to 1",
        "cells": {"max_pool2d": '''
def max_pool2d(X, f, s=None, p=0):
''' + _PAIRS + '''
    sh, sw = pair(1 if s is None else s)
    Ho, Wo = (H + 2 * ph - fh) // sh + 1, (W + 2 * pw - fw) // sw + 1
    Xp = F.pad(X, (pw, pw, ph, ph), value=float("-inf"))
    Y = X.new_zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            Y[:, :, i, j] = Xp[:, :, i * sh:i * sh + fh, j * sw:j * sw + fw].amax(dim=(-2, -1))
    return Y
'''},
        "feedback": "s=None means s = f",
    },
    {
        "name": "max pooling padded with zeros",
        "cells": {"max_pool2d": '''
def max_pool2d(X, f, s=None, p=0):
''' + _PAIRS + '''
    sh, sw = pair(f if s is None else s)
    Ho, Wo = (H + 2 * ph - fh) // sh + 1, (W + 2 * pw - fw) // sw + 1
    Xp = F.pad(X, (pw, pw, ph, ph))
    Y = X.new_zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            Y[:, :, i, j] = Xp[:, :, i * sh:i * sh + fh, j * sw:j * sw + fw].amax(dim=(-2, -1))
    return Y
'''},
        "feedback": "pad with -inf",
    },
    {
        "name": "max pooling backward that assigns instead of adding (overlaps overwrite)",
        "cells": {"max_pool2d_backward": '''
def max_pool2d_backward(dout, X, f, s=None, p=0):
''' + _PAIRS + '''
    sh, sw = pair(f if s is None else s)
    Ho, Wo = dout.shape[-2:]
    Xp = F.pad(X, (pw, pw, ph, ph), value=float("-inf"))
    dXp = torch.zeros_like(Xp)
    for i in range(Ho):
        for j in range(Wo):
            win = Xp[:, :, i * sh:i * sh + fh, j * sw:j * sw + fw].reshape(N, C, -1)
            k = win.argmax(dim=-1)
            for n in range(N):
                for c in range(C):
                    a, b = divmod(int(k[n, c]), fw)
                    dXp[n, c, i * sh + a, j * sw + b] = dout[n, c, i, j]
    return dXp[:, :, ph:ph + H, pw:pw + W]
'''},
        "feedback": "overlapping windows overwrite",
    },
    {
        "name": "max pooling backward that sends the gradient to the whole window",
        "cells": {"max_pool2d_backward": '''
def max_pool2d_backward(dout, X, f, s=None, p=0):
''' + _PAIRS + '''
    sh, sw = pair(f if s is None else s)
    Ho, Wo = dout.shape[-2:]
    dXp = X.new_zeros((N, C, H + 2 * ph, W + 2 * pw))
    for i in range(Ho):
        for j in range(Wo):
            dXp[:, :, i * sh:i * sh + fh, j * sw:j * sw + fw] += dout[:, :, i, j, None, None]
    return dXp[:, :, ph:ph + H, pw:pw + W]
'''},
        "feedback": "every cell of the window",
    },
    {
        "name": "edge map with one polarity per orientation (bright-to-dark edges are lost)",
        "cells": {"all_edges": '''
def all_edges(img):
    right = torch.tensor([[-1., 1.], [-1., 1.]], dtype=img.dtype) / 2
    K = torch.stack([right, right.T]).reshape(2, 1, 2, 2)
    return F.conv2d(F.relu(F.conv2d(img, K)), torch.ones(1, 2, 1, 1, dtype=img.dtype))
'''},
        "feedback": "nothing lights up on this edge",
    },
    {
        "name": "a counter-example whose maxima are at the same place",
        "cells": {"max_counterexample": '''
a = torch.tensor([[1., 0], [0, 0]]).reshape(1, 1, 2, 2)
b = torch.tensor([[2., 0], [0, 1]]).reshape(1, 1, 2, 2)
'''},
        "feedback": "not a counter-example",
    },
]

# Holes closed in the hidden tests (each passed the visible tests before).
WRONG_ANSWERS += [
    {
        "name": "max_pool2d through a float32 buffer",
        "cells": {"max_pool2d": '''
def max_pool2d(X, f, s=None, p=0):
    fh, fw = pair(f)
    sh, sw = pair(f if s is None else s)
    ph, pw = pair(p)
    N, C, H, W = X.shape
    Ho = (H + 2 * ph - fh) // sh + 1
    Wo = (W + 2 * pw - fw) // sw + 1
    Xp = torch.full((N, C, H + 2 * ph, W + 2 * pw), float("-inf"))
    Xp[:, :, ph:ph + H, pw:pw + W] = X
    Y = torch.full((N, C, Ho, Wo), float("-inf"))
    for a in range(fh):
        for b in range(fw):
            Y = torch.maximum(Y, Xp[:, :, a:a + sh * (Ho - 1) + 1:sh, b:b + sw * (Wo - 1) + 1:sw])
    return Y.to(X.dtype)
'''},
        "feedback": "lost float64 precision",
    },
    {
        "name": "max_pool2d_backward gives the gradient to every tied maximum",
        "cells": {"max_pool2d_backward": '''
def max_pool2d_backward(dout, X, f, s=None, p=0):
    fh, fw = pair(f)
    sh, sw = pair(f if s is None else s)
    ph, pw = pair(p)
    N, C, H, W = X.shape
    Ho, Wo = dout.shape[-2:]
    Xp = X.new_full((N, C, H + 2 * ph, W + 2 * pw), float("-inf"))
    Xp[:, :, ph:ph + H, pw:pw + W] = X
    dXp = torch.zeros_like(Xp)
    for i in range(Ho):
        for j in range(Wo):
            r, c = i * sh, j * sw
            window = Xp[:, :, r:r + fh, c:c + fw]
            mask = (window == window.amax(dim=(2, 3), keepdim=True)).to(X.dtype)
            dXp[:, :, r:r + fh, c:c + fw] += mask * dout[:, :, i, j, None, None]
    return dXp[:, :, ph:ph + H, pw:pw + W]
'''},
        "feedback": "every tied maximum",
    },
]
