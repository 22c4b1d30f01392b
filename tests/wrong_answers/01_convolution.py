"""Plausible wrong answers for chapter 1 (convolution by hand).

Each replaces answer cells (by grade_id) in the source notebook; the round
trip expects fewer than full marks and the feedback to contain "feedback".
"""

WRONG_ANSWERS = [
    {
        "name": "corr2d flips the kernel (true convolution)",
        "cells": {"corr2d": '''
def corr2d(X, K):
    kh, kw = K.shape
    K = K.flip(0, 1)
    Y = torch.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1), dtype=X.dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y
'''},
        "feedback": "the kernel is flipped",
    },
    {
        "name": "corr2d loops stop one step early",
        "cells": {"corr2d": '''
def corr2d(X, K):
    kh, kw = K.shape
    H, W = X.shape
    Y = torch.zeros((H - kh + 1, W - kw + 1), dtype=X.dtype)
    for i in range(H - kh):
        for j in range(W - kw):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y
'''},
        "feedback": "a loop stops one step early",
    },
    {
        "name": "corr2d output one row and column too small",
        "cells": {"corr2d": '''
def corr2d(X, K):
    kh, kw = K.shape
    Y = torch.zeros((X.shape[0] - kh, X.shape[1] - kw), dtype=X.dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y
'''},
        "feedback": "off by one",
    },
    {
        "name": "corr2d always returns float32",
        "cells": {"corr2d": '''
def corr2d(X, K):
    kh, kw = K.shape
    Y = torch.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y
'''},
        "feedback": "wrong dtype: expected float64, got float32",
    },
    {
        "name": "horizontal and vertical bar answers swapped",
        "cells": {"plus_by_hand": '''
Y0 = [[3, 1, 1], [3, 1, 1], [3, 1, 1]]
Y1 = [[1, 1, 0], [3, 3, 3], [1, 1, 0]]
Y2 = [[2, 2, 1], [1, 2, 1], [2, 1, 1]]
'''},
        "feedback": "that is the vertical bar's output",
    },
    {
        "name": "corr2d_multi_in averages the channels",
        "cells": {"corr2d_multi_in": '''
def corr2d_multi_in(X, K):
    return sum(corr2d(x, k) for x, k in zip(X, K)) / X.shape[0]
'''},
        "feedback": "the channels are averaged",
    },
    {
        "name": "conv_params forgets the bias",
        "cells": {"conv_params": '''
import math


def conv_params(c_in, c_out, kh, kw, bias=True):
    return c_out * c_in * kh * kw


def fc_params(n_inputs, n_units, bias=True):
    if isinstance(n_inputs, (tuple, list, torch.Size)):
        n_inputs = math.prod(n_inputs)
    return n_units * (n_inputs + (1 if bias else 0))
'''},
        "feedback": "the biases are missing",
    },
    {
        "name": "conv1d_matrix puts the kernel in reverse",
        "cells": {"conv1d_matrix": '''
def conv1d_matrix(k, n):
    f = k.shape[0]
    A = torch.zeros((n - f + 1, n), dtype=k.dtype)
    for i in range(n - f + 1):
        A[i, i:i + f] = k.flip(0)
    return A
'''},
        "feedback": "that is convolution, not cross-correlation",
    },
]

# Holes closed in the hidden tests (each passed the visible tests before).
WRONG_ANSWERS.append({
    "name": "fc_params multiplies only three sizes",
    "cells": {"conv_params": '''
def conv_params(c_in, c_out, kh, kw, bias=True):
    return c_out * (c_in * kh * kw + (1 if bias else 0))


def fc_params(input_shape, units, bias=True):
    if isinstance(input_shape, int):
        n = input_shape
    else:
        a, b, c = list(input_shape)[:3]
        n = a * b * c
    return units * (n + (1 if bias else 0))
'''},
    "feedback": "only the first three sizes are multiplied",
})
