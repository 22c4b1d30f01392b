"""Chapter 7 (LeNet-5 on MNIST and CIFAR-10): what its test cells share.

    from helpers.exercises import lenet5 as ex
    ex.check_lenet5(LeNet5, 3, 10, 32, batch=4, total=62006)

Presets (for `check.forbid`):
    NO_MODELS       for LeNet5 and mnist_cnn: the course's own models, helpers.models.LeNet5
                    and helpers.models.MnistCNN (only their own names: a test may still
                    build one to hand to the student's code)
    NO_COUNTING     for layer_parameter_counts: helpers.models.count_parameters and
                    helpers.models.parameter_table
    NO_TRAINING     for fit: the course's training loop, helpers.train.fit, train and train_epoch
    NO_CONFUSION    for confusion_matrix and per_class_accuracy: helpers.train.confusion_matrix
                    and helpers.train.per_class_accuracy

The usual mistakes, as the descriptions the messages show:
    AVG_POOL, TANH, SOFTMAX             (LeNet5: the 1998 details, a softmax on the logits)
    BUFFERS                             (layer_parameter_counts: a BatchNorm's statistics)
    MEAN_OF_MEANS, PERCENT              (fit's history)
    TRANSPOSED, PRECISION               (confusion_matrix, per_class_accuracy)
    other_pooling(pool)                 (mnist_cnn: the description for the wrong kind of pooling)

Small tools:
    one_thread()            a context manager: torch on one CPU thread in the student's kernel
                            (through check.make), the kernel's number of threads given back after;
                            for a real training run, reproducible and fast on a loaded grader

Reference computations (plain torch, from the student's model's own weights):
    lenet5_shapes(in_channels, num_classes)
                            the 10 parameter shapes of LeNet5, in order conv1, conv2, fc1, fc2, fc3
    lenet5_forward(params, x, pool=F.max_pool2d, act=F.relu)
                            LeNet-5's logits from those 10 tensors; conv1 padded by (32 - x's size) // 2
    mnist_cnn_shapes(padding)
                            the 6 parameter shapes of mnist_cnn(padding, ...)
    mnist_cnn_forward(params, x, padding, pool)
                            mnist_cnn's logits from its 6 tensors; pool "max" or "avg"
    replay_fit(state, X, y, batch_size, lr, epochs)
                            the history fit must return for a Flatten + Linear model with weights
                            `state`, trained with SGD on (X, y) in order; also the mean of the
                            batch means ("loss_mm", "acc_mm")
    mnist_accuracy(state, n)
                            the test accuracy of helpers.models.LeNet5(1) with weights `state`
                            on the first n MNIST test digits
    expected_confusion(preds, labels, k)
                            scikit-learn's confusion matrix (rows: true class), as int64
    expected_accuracy(cm)   per-class accuracy from a confusion matrix: diagonal / row sums, float32

Mistake builders, each returning {description: wrong value} for `mistakes=`:
    lenet5_mistakes(params, x)
    mnist_cnn_mistakes(params, x, padding, pool)
    history_mistakes(ref, key)          key "loss" or "acc"; ref from replay_fit
    confusion_mistakes(cm)
    accuracy_mistakes(cm)

Checks, one case each. The student's function (or class) comes first and is called
inside `check.forbid(preset)`; the expected value is computed here from plain torch
(or scikit-learn); models are read through named_parameters() and state_dict(), so a
check works on the student's objects and on the grader's proxies of them:
    check_lenet5(LeNet5, in_channels, num_classes, image_size, *, batch, total)
        the parameter shapes and count, then the forward pass on a random batch from
        torch's global generator (seed it in the cell)
    check_layer_counts(layer_parameter_counts, model, expected, *, name, with_buffers=None)
        model: built with check.make(...); expected: {child name: count}
    check_fit_learns(fit, *, seed, train_size, batch_size, lr, test_size, at_least) -> the accuracy
        fit trains helpers.models.LeNet5(1) on MNIST digits (on one thread); its weights must
        reach `at_least`
    check_fit_history(fit, *, n, batch_size, epochs, lr=0.5)
        fit's history on n random samples against replay_fit (the last batch may be smaller)
    check_confusion(confusion_matrix, per_class_accuracy, preds, labels, k, *, name=None, expected=None)
    check_mnist_cnn(mnist_cnn, padding, pool, *, batch, total)
"""
import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import check

__all__ = [
    "NO_MODELS", "NO_COUNTING", "NO_TRAINING", "NO_CONFUSION",
    "AVG_POOL", "TANH", "SOFTMAX", "BUFFERS", "MEAN_OF_MEANS", "PERCENT", "TRANSPOSED", "PRECISION",
    "other_pooling", "one_thread",
    "lenet5_shapes", "lenet5_forward", "mnist_cnn_shapes", "mnist_cnn_forward", "replay_fit",
    "mnist_accuracy", "expected_confusion", "expected_accuracy",
    "lenet5_mistakes", "mnist_cnn_mistakes", "history_mistakes", "confusion_mistakes", "accuracy_mistakes",
    "check_lenet5", "check_layer_counts", "check_fit_learns", "check_fit_history", "check_confusion",
    "check_mnist_cnn",
]

# ---------------------------------------------------------------- presets

NO_MODELS = ("LeNet5", "MnistCNN")
NO_COUNTING = ("count_parameters", "parameter_table")
NO_TRAINING = ("fit", "train", "train_epoch")
NO_CONFUSION = ("confusion_matrix", "per_class_accuracy")

# ---------------------------------------------------------------- the usual mistakes

AVG_POOL = "average pooling: the modern variant uses max pooling (F.max_pool2d)"
TANH = "tanh activations: the modern variant uses ReLU"
SOFTMAX = "a softmax on the output: return the logits, the loss applies the softmax"
BUFFERS = "buffers are counted too (a BatchNorm's running statistics are not parameters)"
MEAN_OF_MEANS = ("the mean of the batch means: the last, smaller batch counts as much as a full one; "
                 "add loss.item() * len(y) (and the correct count) per batch and divide by the number of samples")
PERCENT = "the accuracy is a percentage: return a fraction between 0 and 1"
TRANSPOSED = "rows and columns are swapped: row i is the TRUE class i, column j the prediction"
PRECISION = ("divided by how often each class was predicted (column sums, the precision); per-class "
             "accuracy divides by the number of images of the class (row sums)")

_POOL_LAYERS = {"max": "nn.MaxPool2d", "avg": "nn.AvgPool2d"}
_POOL_FUNCTIONS = {"max": F.max_pool2d, "avg": F.avg_pool2d}
_PADDING = {"same": 2, "valid": 0}


def other_pooling(pool):
    """The description of mnist_cnn's mistake "the other kind of pooling" when `pool` ("max" or
    "avg") was asked for."""
    return f"the other kind of pooling: {pool!r} asks for {_POOL_LAYERS[pool]}"


# ---------------------------------------------------------------- small tools

@contextlib.contextmanager
def one_thread():
    """Run the enclosed code with torch on one CPU thread in the student's kernel (through
    check.make, so also while graded), then give the kernel its number of threads back.

    For a real training run inside a test: the same result whatever the number of cores (the
    order of floating point sums does not depend on it), and no slowdown on a loaded grader:
    on a shared 2-core machine at a load of 11, test_fit's run took 2 s on one thread and
    49 s on two fighting for the cores, close to the 60 s a grader gives one request.
    """
    threads = check.make("torch.get_num_threads")
    check.make("torch.set_num_threads", 1)
    try:
        yield
    finally:
        try:
            check.make("torch.set_num_threads", threads)
        except AssertionError:      # the kernel could not answer: the failure in flight tells why
            pass


# ---------------------------------------------------------------- reference computations

def lenet5_shapes(in_channels, num_classes):
    """The parameter shapes of LeNet5(in_channels, num_classes, ...), in order conv1, conv2,
    fc1, fc2, fc3 (weight, then bias): a list of 10 tuples."""
    return [(6, in_channels, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,),
            (84, 120), (84,), (num_classes, 84), (num_classes,)]


def lenet5_forward(params, x, pool=F.max_pool2d, act=F.relu):
    """LeNet-5 computed from a model's own parameters.

    params: the 10 tensors of conv1, conv2, fc1, fc2, fc3 (weight, bias), in that order.
    x: (B, C, H, H); conv1 is padded by (32 - H) // 2. pool, act: the pooling (2x2) and the
    activation. Returns the logits (B, num_classes).
    """
    w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = params
    pad = (32 - x.shape[-1]) // 2
    x = pool(act(F.conv2d(x, w1, b1, padding=pad)), 2)
    x = pool(act(F.conv2d(x, w2, b2)), 2)
    x = torch.flatten(x, 1)
    x = act(F.linear(x, w3, b3))
    x = act(F.linear(x, w4, b4))
    return F.linear(x, w5, b5)


def mnist_cnn_shapes(padding):
    """The parameter shapes of mnist_cnn(padding, ...): conv1, conv2, the linear layer
    (weight, then bias), a list of 6 tuples. padding: "same" (maps of 7x7 before the
    linear layer) or "valid" (4x4)."""
    side = 7 if padding == "same" else 4
    return [(16, 1, 5, 5), (16,), (32, 16, 5, 5), (32,), (10, 32 * side * side), (10,)]


def mnist_cnn_forward(params, x, padding, pool):
    """mnist_cnn(padding, pool) computed from a model's own parameters.

    params: the 6 tensors of conv1, conv2 and the linear layer (weight, bias), in that order.
    x: (B, 1, 28, 28). padding: "same" (2) or "valid" (0); pool: "max" or "avg".
    Returns the logits (B, 10).
    """
    w1, b1, w2, b2, w3, b3 = params
    pad, pool = _PADDING[padding], _POOL_FUNCTIONS[pool]
    x = pool(F.relu(F.conv2d(x, w1, b1, padding=pad)), 2)
    x = pool(F.relu(F.conv2d(x, w2, b2, padding=pad)), 2)
    return F.linear(torch.flatten(x, 1), w3, b3)


def replay_fit(state, X, y, batch_size, lr, epochs):
    """The history fit must return, from this module's own run of the same training.

    state: the state_dict of an nn.Sequential(nn.Flatten(), nn.Linear(...)) before training;
    X: (n, ...) float32, y: (n,) int64, taken in order in batches of batch_size (the last
    one smaller when batch_size does not divide n); SGD with learning rate lr; F.cross_entropy.
    Trains a local copy (state is not changed). Returns {"loss", "acc", "loss_mm", "acc_mm"}:
    per epoch, the mean loss and the accuracy per sample, and (the usual mistake) the mean
    of the batch means of each.
    """
    out_features, in_features = state["1.weight"].shape
    model = nn.Sequential(nn.Flatten(), nn.Linear(in_features, out_features))
    model.load_state_dict({k: v.detach().clone() for k, v in state.items()})
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    hist = {"loss": [], "acc": [], "loss_mm": [], "acc_mm": []}
    for _ in range(epochs):
        total = correct = 0.0
        losses, accs = [], []
        for i in range(0, len(y), batch_size):
            xb, yb = X[i:i + batch_size], y[i:i + batch_size]
            opt.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            hits = (logits.argmax(1) == yb).sum().item()
            total += loss.item() * len(yb)
            correct += hits
            losses.append(loss.item())
            accs.append(hits / len(yb))
        hist["loss"].append(total / len(y))
        hist["acc"].append(correct / len(y))
        hist["loss_mm"].append(sum(losses) / len(losses))
        hist["acc_mm"].append(sum(accs) / len(accs))
    return hist


def mnist_accuracy(state, n):
    """The accuracy (a float in 0..1) of helpers.models.LeNet5(1) with the weights `state`
    (a state_dict) on the first n MNIST test digits, normalised as helpers.train.mnist_loaders
    does, in eval mode."""
    from helpers import data, models

    model = models.LeNet5(1)
    model.load_state_dict({k: v.detach().cpu() for k, v in state.items()})
    model.eval()
    images, labels = data.load_mnist(train=False)
    x = (images[:n].float() / 255 - data.MNIST_MEAN[0]) / data.MNIST_STD[0]
    with torch.no_grad():
        return (model(x).argmax(1) == labels[:n]).float().mean().item()


def expected_confusion(preds, labels, k):
    """scikit-learn's confusion matrix of (N,) predictions and true labels for classes
    0..k-1: an int64 tensor (k, k), entry [i, j] the samples of true class i predicted as j."""
    from sklearn.metrics import confusion_matrix

    return torch.from_numpy(confusion_matrix(labels.numpy(), preds.numpy(), labels=list(range(k)))).long()


def expected_accuracy(cm):
    """Per-class accuracy from a confusion matrix cm (k, k): diagonal / row sums (computed in
    float64), as float32 (k,); nan for a class with no samples."""
    e = cm.double()
    return (e.diagonal() / e.sum(1)).float()


# ---------------------------------------------------------------- mistakes

def lenet5_mistakes(params, x):
    """The usual mistakes of LeNet5's forward and the logits each gives on x.

    params, x: as in lenet5_forward. Returns {description: wrong logits}: average pooling,
    tanh activations, a softmax on the output.
    """
    right = lenet5_forward(params, x)
    return {AVG_POOL: lenet5_forward(params, x, pool=F.avg_pool2d),
            TANH: lenet5_forward(params, x, act=torch.tanh),
            SOFTMAX: torch.softmax(right, 1)}


def mnist_cnn_mistakes(params, x, padding, pool):
    """The usual mistake of mnist_cnn(padding, pool) and the logits it gives on x:
    {other_pooling(pool): the network with the other kind of pooling}."""
    other = "avg" if pool == "max" else "max"
    return {other_pooling(pool): mnist_cnn_forward(params, x, padding, other)}


def history_mistakes(ref, key):
    """The usual mistakes of fit's history[key] (key "loss" or "acc"), from replay_fit's ref:
    the mean of the batch means, and (for "acc") a percentage. Values as float64 tensors."""
    mistakes = {MEAN_OF_MEANS: torch.tensor(ref[f"{key}_mm"], dtype=torch.float64)}
    if key == "acc":
        mistakes[PERCENT] = 100 * torch.tensor(ref["acc"], dtype=torch.float64)
    return mistakes


def confusion_mistakes(cm):
    """{TRANSPOSED: cm.T}: the matrix with predictions as rows."""
    return {TRANSPOSED: cm.T}


def accuracy_mistakes(cm):
    """{PRECISION: diagonal / column sums}: per-class accuracy divided by the predicted counts."""
    e = cm.double()
    return {PRECISION: (e.diagonal() / e.sum(0)).float()}


# ---------------------------------------------------------------- checks

def check_lenet5(LeNet5, in_channels, num_classes, image_size, *, batch, total):
    """Build LeNet5(in_channels, num_classes, image_size) and check it.

    LeNet5: the student's class. batch: the batch size of the forward pass. total: the
    expected number of parameters.
    Builds it with NO_MODELS switched off; checks that it has 10 parameter tensors, their
    shapes in order (lenet5_shapes), and their count; then runs it (NO_MODELS off) on a
    batch x drawn from torch's global generator and compares with lenet5_forward of its own
    parameters (rtol 1e-4, atol 1e-5), naming the usual mistakes. Returns None.
    """
    name = f"LeNet5({in_channels}, {num_classes}, {image_size})"
    with check.forbid(NO_MODELS):
        model = LeNet5(in_channels, num_classes, image_size)
    named = list(model.named_parameters())
    shapes = [tuple(p.shape) for _, p in named]
    check.equal(len(shapes), 10, name=f"the number of parameter tensors of {name} "
                                      f"(5 layers, each with a weight and a bias)")
    check.equal(shapes, lenet5_shapes(in_channels, num_classes),
                name=f"the parameter shapes of {name}, in order conv1, conv2, fc1, fc2, fc3")
    check.equal(sum(p.numel() for _, p in named), total, name=f"the parameter count of {name}")
    x = torch.randn(batch, in_channels, image_size, image_size)
    with check.forbid(NO_MODELS):
        out = model(x)
    params = [p.detach() for _, p in named]
    check.close(out, lenet5_forward(params, x), name=f"{name}(x) for a batch of {batch}", rtol=1e-4, atol=1e-5,
                mistakes=lenet5_mistakes(params, x))


def check_layer_counts(layer_parameter_counts, model, expected, *, name, with_buffers=None):
    """Run layer_parameter_counts(model) and compare with expected.

    layer_parameter_counts: the student's function. model: an nn.Module built with
    check.make(...). expected: {child name: parameter count}, in order. name: how messages
    call the model. with_buffers: the counts when buffers are counted too (a list, in
    order), to name BUFFERS.
    Calls it with NO_COUNTING switched off; the result must be a dict with the layers of
    expected (only those with parameters, in order) and their counts. Returns None.
    """
    with check.forbid(NO_COUNTING):
        counts = layer_parameter_counts(model)
    check.equal(isinstance(counts, dict), True, name=f"layer_parameter_counts({name}) returns a dict")
    check.equal(list(counts.keys()), list(expected.keys()),
                name=f"the layers of layer_parameter_counts({name}) (only those with parameters, in order)")
    check.equal(list(counts.values()), list(expected.values()), name=f"the counts of layer_parameter_counts({name})",
                mistakes={BUFFERS: with_buffers} if with_buffers else None)


def check_fit_learns(fit, *, seed, train_size, batch_size, lr, test_size, at_least):
    """A real run: fit trains helpers.models.LeNet5(1) on MNIST, and its weights must learn.

    fit: the student's function. seed: torch's seed in the student's kernel, set before the
    model is built (so the weights and the order of the batches are the same every time).
    The training data: the first train_size digits of the "lenet5_mnist" recipe in the fast
    profile, in shuffled batches of batch_size, no random shifts; Adam with learning rate lr;
    one epoch, on the CPU, torch on one thread (one_thread); NO_TRAINING switched off.
    The weights fit leaves (model.state_dict(), evaluated here in a LeNet5 of our own) must
    classify at least the fraction `at_least` of the first test_size test digits.
    Returns that accuracy (a float in 0..1).
    """
    check.make("torch.manual_seed", seed)
    model = check.make("helpers.models.LeNet5", 1)
    settings = check.make("helpers.train.run_settings", "lenet5_mnist", "fast", train_size=train_size,
                          test_size=100, batch_size=batch_size, shift=0)
    train_loader, _ = check.make("helpers.train.mnist_loaders", settings)
    optimizer = check.make("torch.optim.Adam", model.parameters(), lr=lr)
    with one_thread(), check.forbid(NO_TRAINING):
        fit(model, train_loader, optimizer, 1, torch.device("cpu"))
    accuracy = mnist_accuracy(model.state_dict(), test_size)
    check.equal(accuracy >= at_least, True,
                name=f"test accuracy of the weights fit trained ({accuracy:.1%}) is at least {at_least:.0%}")
    return accuracy


def check_fit_history(fit, *, n, batch_size, epochs, lr=0.5):
    """fit's history on a small problem, against replay_fit.

    fit: the student's function. n: the number of samples, X (n, 3, 2, 2) and y (n,) in 0..2,
    drawn from torch's global generator (seed it in the cell); batch_size: the loader's batch
    size (no shuffling; the last batch is smaller when batch_size does not divide n);
    epochs: passed to fit; lr: SGD's learning rate.
    Hands fit an nn.Sequential(Flatten, Linear(12, 3)), a DataLoader and an SGD optimizer
    built with check.make, with NO_TRAINING switched off. The result must be a dict with the
    keys "loss" and "acc", one entry per epoch, equal to replay_fit's mean loss (rtol 1e-4)
    and accuracy (rtol 1e-6) per sample, naming the usual mistakes. Returns None.
    """
    X, y = torch.randn(n, 3, 2, 2), torch.randint(0, 3, (n,))
    model = check.make("torch.nn.Sequential", check.make("torch.nn.Flatten"), check.make("torch.nn.Linear", 12, 3))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    loader = check.make("torch.utils.data.DataLoader", check.make("torch.utils.data.TensorDataset", X, y),
                        batch_size=batch_size, shuffle=False)
    optimizer = check.make("torch.optim.SGD", model.parameters(), lr=lr)
    with check.forbid(NO_TRAINING):
        history = fit(model, loader, optimizer, epochs, torch.device("cpu"))
    name = f"fit on {n} samples, batch size {batch_size}, {epochs} epochs"
    check.equal(isinstance(history, dict) and sorted(history) == ["acc", "loss"], True,
                name=f"{name} returns a dict with the keys 'loss' and 'acc'")
    ref = replay_fit(state, X, y, batch_size, lr, epochs)
    check.equal(len(history["loss"]), epochs, name=f"len(history['loss']) of {name} (one entry per epoch)")
    check.close(torch.tensor(history["loss"], dtype=torch.float64), torch.tensor(ref["loss"], dtype=torch.float64),
                name=f"history['loss'] of {name}", rtol=1e-4, atol=1e-6, mistakes=history_mistakes(ref, "loss"))
    check.close(torch.tensor(history["acc"], dtype=torch.float64), torch.tensor(ref["acc"], dtype=torch.float64),
                name=f"history['acc'] of {name}", rtol=1e-6, atol=1e-9, mistakes=history_mistakes(ref, "acc"))


def check_confusion(confusion_matrix, per_class_accuracy, preds, labels, k, *, name=None, expected=None):
    """Run confusion_matrix(preds, labels, k) and per_class_accuracy(preds, labels, k).

    confusion_matrix, per_class_accuracy: the student's functions. preds, labels: int64 (N,)
    in 0..k-1. name: how messages call the case (default "N predictions of k classes").
    expected: the right matrix, when the cell shows it (default: expected_confusion, i.e.
    scikit-learn's).
    Calls each with NO_CONFUSION switched off: the matrix must equal expected exactly
    (naming TRANSPOSED), the accuracy expected_accuracy(expected) (naming PRECISION; nan for
    a class with no samples). Returns None.
    """
    name = name or f"{len(preds)} predictions of {k} classes"
    expected = expected_confusion(preds, labels, k) if expected is None else expected
    with check.forbid(NO_CONFUSION):
        cm = confusion_matrix(preds, labels, k)
    check.equal(cm, expected, name=f"confusion_matrix({name})", mistakes=confusion_mistakes(expected))
    with check.forbid(NO_CONFUSION):
        got = per_class_accuracy(preds, labels, k)
    check.close(got, expected_accuracy(expected), name=f"per_class_accuracy({name})",
                mistakes=accuracy_mistakes(expected))


def check_mnist_cnn(mnist_cnn, padding, pool, *, batch, total):
    """Build mnist_cnn(padding, pool) and check it.

    mnist_cnn: the student's function. padding: "same" or "valid"; pool: "max" or "avg".
    batch: the batch size of the forward pass. total: the expected number of parameters.
    Builds it with NO_MODELS switched off; checks its parameter shapes (mnist_cnn_shapes)
    and count; then runs it (NO_MODELS off) on x (batch, 1, 28, 28) drawn from torch's
    global generator and compares with mnist_cnn_forward of its own parameters (rtol 1e-4,
    atol 1e-5), naming the other kind of pooling. Returns None.
    """
    name = f"mnist_cnn({padding!r}, {pool!r})"
    with check.forbid(NO_MODELS):
        model = mnist_cnn(padding, pool)
    named = list(model.named_parameters())
    check.equal([tuple(p.shape) for _, p in named], mnist_cnn_shapes(padding),
                name=f"the parameter shapes of {name}")
    check.equal(sum(p.numel() for _, p in named), total, name=f"the parameter count of {name}")
    x = torch.randn(batch, 1, 28, 28)
    with check.forbid(NO_MODELS):
        out = model(x)
    params = [p.detach() for _, p in named]
    check.close(out, mnist_cnn_forward(params, x, padding, pool), name=f"{name}(x) for a batch of {batch}",
                rtol=1e-4, atol=1e-5, mistakes=mnist_cnn_mistakes(params, x, padding, pool))
