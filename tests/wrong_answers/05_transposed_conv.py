"""Plausible wrong answers for chapter 5 (transposed convolution).

Each replaces answer cells (by grade_id) in the source notebook; the round
trip expects fewer than full marks and the feedback to contain "feedback".
The other answer cells keep their solutions. conv2d_input_grad, generator_summary
and dcgan_generator are optional, ungraded exercises (Go further), so they have
no entries here.
"""

# ------------------------------------------------------------------ conv_matrix

CONV_MATRIX_TRANSPOSED = '''
def conv_matrix(K, n):
    h, w = pair(n)
    kh, kw = K.shape
    Ho, Wo = h - kh + 1, w - kw + 1
    C = torch.zeros(h * w, Ho * Wo, dtype=K.dtype)      # one row per INPUT value
    for i in range(Ho):
        for j in range(Wo):
            C[:, i * Wo + j].view(h, w)[i:i + kh, j:j + kw] = K
    return C
'''

CONV_MATRIX_PACKED = '''
def conv_matrix(K, n):
    h, w = pair(n)
    kh, kw = K.shape
    Ho, Wo = h - kh + 1, w - kw + 1
    C = torch.zeros(Ho * Wo, h * w, dtype=K.dtype)
    for i in range(Ho):
        for j in range(Wo):
            start = i * w + j
            C[i * Wo + j, start:start + kh * kw] = K.flatten()  # no gap between kernel rows
    return C
'''

# ------------------------------------------------------------------ conv_transpose2d

_SCATTER_HEAD = '''
def conv_transpose2d(X, K, stride=1, padding=0):
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    H, W = X.shape
    kh, kw = K.shape
    full = torch.zeros((H - 1) * sh + kh, (W - 1) * sw + kw, dtype=X.dtype)
'''

SCATTER_NO_CROP = _SCATTER_HEAD + '''
    for i in range(H):
        for j in range(W):
            full[i * sh:i * sh + kh, j * sw:j * sw + kw] += X[i, j] * K
    return full                      # the padding is never cropped
'''

SCATTER_ASSIGNS = _SCATTER_HEAD + '''
    for i in range(H):
        for j in range(W):
            full[i * sh:i * sh + kh, j * sw:j * sw + kw] = X[i, j] * K
    return full[ph:full.shape[0] - ph, pw:full.shape[1] - pw]
'''

SCATTER_CROP_AT_END = _SCATTER_HEAD + '''
    for i in range(H):
        for j in range(W):
            full[i * sh:i * sh + kh, j * sw:j * sw + kw] += X[i, j] * K
    return full[:full.shape[0] - 2 * ph, :full.shape[1] - 2 * pw]
'''

# ------------------------------------------------------------------ zero insertion

ZERO_INSERT_NO_FLIP = '''
def conv_transpose2d_zero_insert(X, K, stride=1, padding=0):
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    H, W = X.shape
    kh, kw = K.shape
    Z = torch.zeros((H - 1) * sh + 1, (W - 1) * sw + 1, dtype=X.dtype)
    Z[::sh, ::sw] = X
    Z = F.pad(Z, (kw - 1 - pw, kw - 1 - pw, kh - 1 - ph, kh - 1 - ph))
    return F.conv2d(Z[None, None], K[None, None])[0, 0]         # K not rotated
'''

ZERO_INSERT_S_ZEROS = '''
def conv_transpose2d_zero_insert(X, K, stride=1, padding=0):
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    H, W = X.shape
    kh, kw = K.shape
    Z = torch.zeros((H - 1) * (sh + 1) + 1, (W - 1) * (sw + 1) + 1, dtype=X.dtype)
    Z[::sh + 1, ::sw + 1] = X                                   # s zeros between values
    Z = F.pad(Z, (kw - 1 - pw, kw - 1 - pw, kh - 1 - ph, kh - 1 - ph))
    return F.conv2d(Z[None, None], K.flip(0, 1)[None, None])[0, 0]
'''

ZERO_INSERT_PAD_F_MINUS_1 = '''
def conv_transpose2d_zero_insert(X, K, stride=1, padding=0):
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    H, W = X.shape
    kh, kw = K.shape
    Z = torch.zeros((H - 1) * sh + 1, (W - 1) * sw + 1, dtype=X.dtype)
    Z[::sh, ::sw] = X
    Z = F.pad(Z, (kw - 1, kw - 1, kh - 1, kh - 1))              # p forgotten
    return F.conv2d(Z[None, None], K.flip(0, 1)[None, None])[0, 0]
'''

# ------------------------------------------------------------------ output size

SIZE_FORWARD_FORMULA = '''
def conv_transpose_output_size(m, f, s=1, p=0, output_padding=0):
    if m < 1 or f < 1 or s < 1 or p < 0 or output_padding < 0 or output_padding >= s:
        raise ValueError("impossible setting")
    size = (m + 2 * p - f) // s + 1 + output_padding           # the convolution's formula
    if size < 1:
        raise ValueError("too small")
    return size
'''

SIZE_PLUS_2P = '''
def conv_transpose_output_size(m, f, s=1, p=0, output_padding=0):
    if m < 1 or f < 1 or s < 1 or p < 0 or output_padding < 0 or output_padding >= s:
        raise ValueError("impossible setting")
    return (m - 1) * s + 2 * p + f + output_padding
'''

SIZE_NO_CHECKS = '''
def conv_transpose_output_size(m, f, s=1, p=0, output_padding=0):
    return (m - 1) * s - 2 * p + f + output_padding
'''

WRONG_ANSWERS = [
    {"name": "conv_matrix transposed (one row per input value)",
     "cells": {"conv_matrix": CONV_MATRIX_TRANSPOSED},
     "feedback": "the matrix is transposed"},
    {"name": "conv_matrix packs the kernel rows together",
     "cells": {"conv_matrix": CONV_MATRIX_PACKED},
     "feedback": "the kernel rows are packed next to each other"},
    {"name": "scatter-add without cropping the padding",
     "cells": {"conv_transpose2d": SCATTER_NO_CROP},
     "feedback": "the padding is not cropped"},
    {"name": "scatter-add assigns instead of adding",
     "cells": {"conv_transpose2d": SCATTER_ASSIGNS},
     "feedback": "overlapping copies overwrite each other"},
    {"name": "scatter-add crops 2p at the end",
     "cells": {"conv_transpose2d": SCATTER_CROP_AT_END},
     "feedback": "the padding is cropped at the end only"},
    {"name": "zero insertion without rotating the kernel",
     "cells": {"conv_transpose2d_zero_insert": ZERO_INSERT_NO_FLIP},
     "feedback": "the kernel is not rotated"},
    {"name": "zero insertion puts s zeros between values",
     "cells": {"conv_transpose2d_zero_insert": ZERO_INSERT_S_ZEROS},
     "feedback": "s zeros were inserted between neighbouring values"},
    {"name": "zero insertion pads with f - 1, ignoring p",
     "cells": {"conv_transpose2d_zero_insert": ZERO_INSERT_PAD_F_MINUS_1},
     "feedback": "the padding p is ignored"},
    {"name": "output size with the forward convolution's formula",
     "cells": {"conv_transpose_output_size": SIZE_FORWARD_FORMULA},
     "feedback": "that is the size of a convolution"},
    {"name": "output size adds the padding",
     "cells": {"conv_transpose_output_size": SIZE_PLUS_2P},
     "feedback": "the padding is added"},
    {"name": "output size without argument checks",
     "cells": {"conv_transpose_output_size": SIZE_NO_CHECKS},
     "feedback": "it should raise ValueError"},
]
