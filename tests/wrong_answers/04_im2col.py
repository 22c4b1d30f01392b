"""Plausible wrong answers for chapter 4 (im2col: convolution as one matrix multiply).

Each replaces answer cells (by grade_id) in the source notebook; the round
trip expects fewer than full marks and the feedback to contain "feedback".
The other answer cells keep their solutions, so conv2d_im2col runs on the
solution's im2col unless a wrong answer replaces it.
"""

# ------------------------------------------------------------------ im2col

_IM2COL_HEAD = '''
def im2col(X, f, s=1, p=0):
    (kh, kw), (sh, sw), (ph, pw) = pair(f), pair(s), pair(p)
    N, C, H, W = X.shape
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    Xp = F.pad(X, (pw, pw, ph, ph))
'''

IM2COL_CHANNEL_LAST = _IM2COL_HEAD + '''
    slices = [Xp[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]
              for i in range(kh) for j in range(kw)]
    # stacked before the channel axis: rows in (kh, kw, C) order
    return torch.stack(slices, dim=1).reshape(N, kh * kw * C, Ho * Wo)
'''

IM2COL_COLUMN_MAJOR = _IM2COL_HEAD + '''
    cols = []
    for x in range(Wo):              # the outer loop runs over the columns of the image
        for y in range(Ho):
            cols.append(Xp[:, :, y * sh:y * sh + kh, x * sw:x * sw + kw].reshape(N, -1))
    return torch.stack(cols, dim=2)
'''

IM2COL_TRANSPOSED = _IM2COL_HEAD + '''
    rows = []
    for y in range(Ho):
        for x in range(Wo):
            rows.append(Xp[:, :, y * sh:y * sh + kh, x * sw:x * sw + kw].reshape(N, -1))
    return torch.stack(rows, dim=1)  # one window per row: (N, L, C*kh*kw)
'''

IM2COL_NO_PADDING = '''
def im2col(X, f, s=1, p=0):
    (kh, kw), (sh, sw), (ph, pw) = pair(f), pair(s), pair(p)
    N, C, H, W = X.shape
    Ho = (H - kh) // sh + 1
    Wo = (W - kw) // sw + 1
    slices = [X[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]
              for i in range(kh) for j in range(kw)]
    return torch.stack(slices, dim=2).reshape(N, C * kh * kw, Ho * Wo)
'''

# ------------------------------------------------------------------ col2im

_COL2IM_HEAD = '''
def col2im(cols, input_size, f, s=1, p=0):
    (H, W), (kh, kw), (sh, sw), (ph, pw) = pair(input_size), pair(f), pair(s), pair(p)
    N, K, L = cols.shape
    C = K // (kh * kw)
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    out = cols.new_zeros(N, C, H + 2 * ph, W + 2 * pw)
'''

COL2IM_ASSIGNS = _COL2IM_HEAD + '''
    for y in range(Ho):
        for x in range(Wo):
            out[:, :, y * sh:y * sh + kh, x * sw:x * sw + kw] = cols[:, :, y * Wo + x].reshape(N, C, kh, kw)
    return out[:, :, ph:ph + H, pw:pw + W]
'''

COL2IM_AVERAGES = _COL2IM_HEAD + '''
    count = torch.zeros_like(out)
    for y in range(Ho):
        for x in range(Wo):
            out[:, :, y * sh:y * sh + kh, x * sw:x * sw + kw] += cols[:, :, y * Wo + x].reshape(N, C, kh, kw)
            count[:, :, y * sh:y * sh + kh, x * sw:x * sw + kw] += 1
    out = out / count.clamp(min=1)
    return out[:, :, ph:ph + H, pw:pw + W]
'''

COL2IM_KEEPS_PADDING = _COL2IM_HEAD + '''
    Z = cols.reshape(N, C, kh, kw, Ho, Wo)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw] += Z[:, :, i, j]
    return out
'''

# ------------------------------------------------------------------ conv2d_im2col

_CONV_HEAD = '''
def conv2d_im2col(X, W, b=None, stride=1, padding=0):
    N, C, H, Wd = X.shape
    C_out, _, kh, kw = W.shape
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (Wd + 2 * pw - kw) // sw + 1
    X_col = im2col(X, (kh, kw), (sh, sw), (ph, pw))
'''

CONV_NO_BIAS = _CONV_HEAD + '''
    Y = W.reshape(C_out, -1) @ X_col
    return Y.reshape(N, C_out, Ho, Wo)
'''

CONV_SWAPPED_RESHAPE = _CONV_HEAD + '''
    Y = W.reshape(C_out, -1) @ X_col
    if b is not None:
        Y = Y + b.reshape(1, C_out, 1)
    return Y.reshape(N, C_out, Wo, Ho)
'''

CONV_FILTERS_CHANNEL_LAST = _CONV_HEAD + '''
    W_row = W.permute(0, 2, 3, 1).reshape(C_out, -1)     # (kh, kw, C) order
    Y = W_row @ X_col
    if b is not None:
        Y = Y + b.reshape(1, C_out, 1)
    return Y.reshape(N, C_out, Ho, Wo)
'''

CONV_BATCH_AS_COLUMNS = _CONV_HEAD + '''
    X_all = X_col.permute(1, 0, 2).reshape(C * kh * kw, N * Ho * Wo)   # every image's columns side by side
    Y = W.reshape(C_out, -1) @ X_all                                  # (C_out, N*H'W')
    if b is not None:
        Y = Y + b.reshape(C_out, 1)
    return Y.reshape(N, C_out, Ho, Wo)                                # forgets to move the batch axis
'''

# ------------------------------------------------------------------ im2col_nbytes

_NBYTES_HEAD = '''
def im2col_nbytes(shape, f, s=1, p=0, dtype=torch.float32):
    N, C, H, W = shape
    (kh, kw), (sh, sw), (ph, pw) = pair(f), pair(s), pair(p)
'''

NBYTES_VALUES = _NBYTES_HEAD + '''
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    return N * C * kh * kw * Ho * Wo
'''

NBYTES_INPUT = _NBYTES_HEAD + '''
    return N * C * H * W * dtype.itemsize
'''

NBYTES_NO_PLUS_ONE = _NBYTES_HEAD + '''
    Ho = (H + 2 * ph - kh) // sh
    Wo = (W + 2 * pw - kw) // sw
    return N * C * kh * kw * Ho * Wo * dtype.itemsize
'''


WRONG_ANSWERS = [
    {"name": "im2col rows in (kh, kw, C) order",
     "cells": {"im2col": IM2COL_CHANNEL_LAST},
     "feedback": "rows in (kh, kw, C) order"},
    {"name": "im2col takes the windows column by column",
     "cells": {"im2col": IM2COL_COLUMN_MAJOR},
     "feedback": "windows taken column by column"},
    {"name": "im2col returns one window per row",
     "cells": {"im2col": IM2COL_TRANSPOSED},
     "feedback": "the output is transposed"},
    {"name": "im2col ignores the padding",
     "cells": {"im2col": IM2COL_NO_PADDING},
     "feedback": "the padding is missing"},
    {"name": "col2im assigns instead of adding",
     "cells": {"col2im": COL2IM_ASSIGNS},
     "feedback": "overwritten or averaged instead of added"},
    {"name": "col2im averages the overlaps",
     "cells": {"col2im": COL2IM_AVERAGES},
     "feedback": "averaged instead of added"},
    {"name": "col2im keeps the padding",
     "cells": {"col2im": COL2IM_KEEPS_PADDING},
     "feedback": "the padding is still there"},
    {"name": "conv2d_im2col forgets the bias",
     "cells": {"conv2d_im2col": CONV_NO_BIAS},
     "feedback": "the bias is missing"},
    {"name": "conv2d_im2col reshapes to (W', H')",
     "cells": {"conv2d_im2col": CONV_SWAPPED_RESHAPE},
     "feedback": "H' and W' are swapped"},
    {"name": "conv2d_im2col flattens the filters channel last",
     "cells": {"conv2d_im2col": CONV_FILTERS_CHANNEL_LAST},
     "feedback": "flattened in another order"},
    {"name": "conv2d_im2col puts the batch into the columns and reshapes without permuting",
     "cells": {"conv2d_im2col": CONV_BATCH_AS_COLUMNS},
     "feedback": "batch and channel axes are mixed up"},
    {"name": "im2col_nbytes counts values",
     "cells": {"im2col_nbytes": NBYTES_VALUES},
     "feedback": "counted the values, not the bytes"},
    {"name": "im2col_nbytes gives the input's size",
     "cells": {"im2col_nbytes": NBYTES_INPUT},
     "feedback": "size of the input X"},
    {"name": "im2col_nbytes without the + 1",
     "cells": {"im2col_nbytes": NBYTES_NO_PLUS_ONE},
     "feedback": "the + 1 is missing"},
]
