"""Chapter 6 (CIFAR-2, airplanes versus birds): what its test cells share.

    from helpers.exercises import cifar2 as ex
    ex.check_cifar2_subset(cifar2_subset, imgs, labs, expected=(imgs[[0, 1, 4, 5]], torch.tensor([1, 0, 1, 0])))

The student's models, optimisers and loaders cross to the grader as proxies: what a
check does with them is call them, read their state_dict, load_state_dict into them,
and build what it hands to them with `check.make(...)` (docs/grading.md). A check never
changes a model's weights through parameters().

Presets (for `check.forbid`):
    NO_LOOPS              for cifar2_subset: iterating over a tensor (Tensor.__iter__, unbind),
                          a tensor as a Python bool (Tensor.__bool__), Tensor.tolist, Tensor.item
    NO_REFERENCE_NETS     for Net and NetFunctional: the course's models "Net", "NetModules" and
                          "net_functional" (helpers.models)

The Net:
    KEYS                  its state_dict keys, conv1.weight ... fc2.bias, in order
    COUNTS                the number of values of each, [432, 16, 1152, 8, 16384, 32, 64, 2]
    N_PARAMETERS          18,090 in all

The usual mistakes, as the descriptions the messages show:
    LOOP, NOT_RELABELLED, SWAPPED                 (cifar2_subset)
    RELU, AVG_POOL, NO_FC1_ACTIVATION             (Net and NetFunctional)
    NO_ZERO_GRAD, NO_STEP, SUMMED_LOSS, LAST_LOSS (training_loop)
    BATCH_MEAN, COUNT                             (accuracy)

Small tools:
    weights(model)                 {name: tensor} of model.state_dict(), detached, on the CPU, copied
    loader(X, y, batch_size)       a DataLoader over TensorDataset(X, y), in order, built with
                                   check.make (in the student's kernel while grading)
    mlp(n_in, n_hidden, n_out)     Sequential(Flatten, Linear, Tanh, Linear), built with check.make
    as_floats(losses, n, name)     the returned losses as n Python floats (a list or tuple of n)
    net_variant(x, p, act=torch.tanh, pool=F.max_pool2d, fc1_activation=True)
                                   the Net's formula with another activation or pooling
    reference_run(init, X, y, n_epochs, lr, batch_size, zero_grad=True)
                                   the five steps by hand on a Linear model: (weights, mean, summed
                                   and last-batch losses per epoch)
    right_answers(model, X, y)     per image, 1.0 where a one-Linear model gets it right (from its
                                   weights, so dropout plays no part)
    expected_accuracy(right, batch_size)
                                   (the fraction right, the mean of the batch accuracies, the count)
    weights_file()                 a file name in the temporary folder, for save and load
    test_accuracy(weights)         the accuracy of a Net with these weights on the 2,000 CIFAR-2
                                   test images

Mistake builders, each returning {description: wrong value} for `mistakes=`:
    subset_mistakes(labels)
    net_mistakes(x, p)
    accuracy_mistakes(right, batch_size)

Checks, one case each; the student's function or model comes first:
    check_cifar2_subset(cifar2_subset, images, labels, expected, name="cifar2_subset")
        inside check.forbid(NO_LOOPS); the pair, the labels (naming the mistakes, int64),
        the images (order and dtype)
    check_parameters(model, what) -> the model's weights
        the state_dict keys (KEYS), the values per tensor (COUNTS) and in all (N_PARAMETERS)
    check_logits(out, x, p, name)
        out against the Net's formula with weights p (rtol 1e-4, atol 1e-5), naming the mistakes
    check_net_output(model, x, p, name)
        model(x) inside check.forbid(NO_REFERENCE_NETS), then check_logits
    check_overfits(model, X, y, losses, n_epochs)
        a model from mlp() trained on one fixed batch: every example right, loss under 0.1,
        and the reported losses fall to under a fifth
    check_training_loop(training_loop, X, y, n_epochs, lr, batch_size, batches=None, run=None)
        a Linear model, SGD, cross-entropy: the weights after n_epochs against the five steps
        by hand, the mean losses per epoch (the usual mistakes named)
    check_train_mode(training_loop, X, y, batch_size)
        a model with dropout left in eval mode must come back in training mode
    check_accuracy(accuracy, model, X, y, batch_size, name, batches=None)
        the fraction right (the usual mistakes named); the model's weights must not change
    check_trained_net(trained_model, at_least)
        the weights of a Net, measured on the test images; prints the accuracy
    check_save_load(save_weights, load_weights, model, path, x, name=None)
        the file is the model's state_dict (torch.load(path, weights_only=True)); load_weights
        returns a model (not load_state_dict's report) with its weights and outputs on x

Batches that must be moved to the model's device come from the notebook's own
OffDeviceLoader (a locked cell, so that while grading it is built in the student's
kernel, where this package is not): hidden tests pass one as `batches=`.
"""
import math

import torch
import torch.nn.functional as F

from helpers import check, models

__all__ = [
    "NO_LOOPS", "NO_REFERENCE_NETS", "KEYS", "COUNTS", "N_PARAMETERS",
    "LOOP", "NOT_RELABELLED", "SWAPPED", "RELU", "AVG_POOL", "NO_FC1_ACTIVATION",
    "NO_ZERO_GRAD", "NO_STEP", "SUMMED_LOSS", "LAST_LOSS", "BATCH_MEAN", "COUNT",
    "weights", "loader", "mlp", "as_floats", "net_variant", "reference_run", "right_answers",
    "expected_accuracy", "weights_file", "test_accuracy",
    "subset_mistakes", "net_mistakes", "accuracy_mistakes",
    "check_cifar2_subset", "check_parameters", "check_logits", "check_net_output", "check_overfits",
    "check_training_loop", "check_train_mode", "check_accuracy", "check_trained_net", "check_save_load",
]

# ---------------------------------------------------------------- presets

NO_LOOPS = (torch.Tensor.__iter__, torch.Tensor.unbind, torch.Tensor.__bool__, torch.Tensor.tolist,
            torch.Tensor.item)
_LOOP_WORDS = ("__iter__", "unbind", "__bool__", "tolist", ".item")   # how their ForbiddenCall reads
NO_REFERENCE_NETS = ("Net", "NetModules", "net_functional")

# ---------------------------------------------------------------- the Net

KEYS = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
COUNTS = [432, 16, 1152, 8, 16384, 32, 64, 2]
N_PARAMETERS = 18090

# ---------------------------------------------------------------- the usual mistakes

LOOP = ("cifar2_subset loops over the images or labels in Python: build a boolean mask "
        "((labels == 0) | (labels == 2)) and index with it")
NOT_RELABELLED = "the labels were kept as CIFAR-10's 0 and 2: bird must become 1"
SWAPPED = "the classes are swapped: airplane must be 0 and bird 1"
RELU = "ReLU instead of tanh"
AVG_POOL = "average pooling instead of max pooling"
NO_FC1_ACTIVATION = "no activation after fc1"
NO_ZERO_GRAD = ("optimizer.zero_grad() is never called: gradients accumulate across batches, "
                "so every step uses the sum of all gradients so far")
NO_STEP = ("the weights never change: optimizer.step() is never called (or zero_grad() runs "
           "between backward() and step())")
SUMMED_LOSS = "the reported loss is the sum over batches: divide by the number of batches (len(train_loader))"
LAST_LOSS = "the reported loss is the last batch's only: add up loss.item() over the batches, then divide"
BATCH_MEAN = ("averaged the batch accuracies: count the correct images over all batches and "
              "divide once by the number of images")
COUNT = "returned the number of correct images, not the fraction"


# ---------------------------------------------------------------- small tools

def weights(model):
    """{name: tensor} of model.state_dict(): detached copies on the CPU.

    model: a torch module, or the grader's proxy of the student's one.
    """
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def loader(X, y, batch_size):
    """A DataLoader over TensorDataset(X, y) in batches of batch_size, in order (no shuffle).

    Built with check.make, so that while grading it lives in the student's kernel.
    """
    return check.make("torch.utils.data.DataLoader", check.make("torch.utils.data.TensorDataset", X, y),
                      batch_size=batch_size)


def mlp(n_in, n_hidden, n_out):
    """Sequential(Flatten, Linear(n_in, n_hidden), Tanh, Linear(n_hidden, n_out)), built with check.make."""
    return check.make("torch.nn.Sequential", check.make("torch.nn.Flatten"),
                      check.make("torch.nn.Linear", n_in, n_hidden), check.make("torch.nn.Tanh"),
                      check.make("torch.nn.Linear", n_hidden, n_out))


def as_floats(losses, n, name):
    """The losses training_loop returned, as a list of n Python floats.

    losses: what it returned, which must be a list or tuple of n numbers.
    name: how the message calls the call, e.g. "training_loop(60, ...)".
    Raises check.CheckFailure otherwise.
    """
    if not isinstance(losses, (list, tuple)) or len(losses) != n:
        raise check.CheckFailure(f"{name}: expected a list of {n} mean losses (one per epoch), "
                                 f"got {type(losses).__name__}"
                                 + (f" of length {len(losses)}" if isinstance(losses, (list, tuple)) else ""))
    return [float(v) for v in losses]


def net_variant(x, p, act=torch.tanh, pool=F.max_pool2d, fc1_activation=True):
    """The Net's formula with another activation or pooling, or without the activation after fc1.

    x: (B, 3, 32, 32); p: {KEYS: tensors}. Returns logits (B, 2).
    """
    out = pool(act(F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=1)), 2)
    out = pool(act(F.conv2d(out, p["conv2.weight"], p["conv2.bias"], padding=1)), 2)
    out = F.linear(out.flatten(1), p["fc1.weight"], p["fc1.bias"])
    return F.linear(act(out) if fc1_activation else out, p["fc2.weight"], p["fc2.bias"])


def reference_run(init, X, y, n_epochs, lr, batch_size, zero_grad=True):
    """The five steps by hand: a Linear(X.shape[1], 2) from `init`, SGD(lr), cross-entropy, batches in order.

    init: a Linear's state_dict; X: (N, n_in); y: (N,) int64.
    zero_grad=False gives the loop that forgets optimizer.zero_grad().
    Returns (weights after training, mean loss per epoch, summed loss per epoch, last batch's
    loss per epoch).
    """
    m = torch.nn.Linear(X.shape[1], 2)
    m.load_state_dict(init)
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    means, sums, lasts = [], [], []
    n_batches = -(-len(y) // batch_size)
    for _ in range(n_epochs):
        total = 0.0
        for i in range(0, len(y), batch_size):
            loss = F.cross_entropy(m(X[i:i + batch_size]), y[i:i + batch_size])
            if zero_grad:
                opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        means.append(total / n_batches), sums.append(total), lasts.append(loss.item())
    return {k: v.detach().clone() for k, v in m.state_dict().items()}, means, sums, lasts


def right_answers(model, X, y):
    """Per image, 1.0 where `model` classifies it right, else 0.0 (float64, shape (N,)).

    model: a model whose only parameters are one Linear layer's (a Linear, or a Sequential
    with Dropout and the like around it). Computed from its weights, X @ W.T + b, so the
    model's mode plays no part. X: (N, n_in); y: (N,).
    """
    return _right(weights(model), X, y)


def _right(model_weights, X, y):
    """right_answers from the model's weights."""
    w = {k.rsplit(".", 1)[-1]: v for k, v in model_weights.items()}
    with torch.no_grad():
        return (F.linear(X, w["weight"], w["bias"]).argmax(1) == y).double()


def expected_accuracy(right, batch_size):
    """(fraction right, mean of the batch accuracies, number right) of the per-image `right`."""
    per_batch = [right[i:i + batch_size].mean().item() for i in range(0, len(right), batch_size)]
    return right.mean().item(), sum(per_batch) / len(per_batch), int(right.sum())


def weights_file():
    """A file name in the temporary folder for the save-and-load test (one per process)."""
    import os
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"cifar2_weights_test_{os.getpid()}.pt")


def test_accuracy(net_weights):
    """The accuracy of helpers.models.Net with these weights on the 2,000 CIFAR-2 test images.

    net_weights: {KEYS: tensors}, any dtype and device. Returns a Python float.
    """
    from helpers import data

    net = models.Net()
    net.load_state_dict({k: v.detach().cpu().float() for k, v in net_weights.items()})
    net.eval()
    test_set = data.cifar2_dataset(train=False)
    with torch.no_grad():
        predicted = net(test_set.tensors[0]).argmax(1)
    return (predicted == test_set.tensors[1]).double().mean().item()


# ---------------------------------------------------------------- mistakes

def subset_mistakes(labels):
    """The labels cifar2_subset gives with the usual mistakes: CIFAR-10's 0 and 2 kept, classes swapped.

    labels: (N,) CIFAR-10 labels. Returns {description: wrong labels}.
    """
    keep = (labels == 0) | (labels == 2)
    return {NOT_RELABELLED: labels[keep], SWAPPED: (labels[keep] == 0).long()}


def net_mistakes(x, p):
    """The Net's logits with the usual mistakes: ReLU, average pooling, no activation after fc1.

    x: (B, 3, 32, 32); p: {KEYS: tensors}. Returns {description: wrong logits}.
    """
    return {RELU: net_variant(x, p, act=torch.relu),
            AVG_POOL: net_variant(x, p, pool=F.avg_pool2d),
            NO_FC1_ACTIVATION: net_variant(x, p, fc1_activation=False)}


def accuracy_mistakes(right, batch_size):
    """accuracy with the usual mistakes: the mean of the batch accuracies, the count.

    right: per image, 1.0 where the model is right (right_answers). Returns {description: wrong value}.
    """
    _, batch_mean, count = expected_accuracy(right, batch_size)
    return {BATCH_MEAN: batch_mean, COUNT: count}


# ---------------------------------------------------------------- checks

def _call_subset(cifar2_subset, images, labels):
    """cifar2_subset(images, labels) inside check.forbid(NO_LOOPS); a tripped loop becomes LOOP."""
    try:
        with check.forbid(NO_LOOPS):
            out = cifar2_subset(images, labels)
    except Exception as err:
        if any(word in str(err) for word in _LOOP_WORDS):
            raise check.CheckFailure(LOOP) from None
        raise
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise check.CheckFailure("cifar2_subset must return a pair (images, labels)")
    return out


def check_cifar2_subset(cifar2_subset, images, labels, expected, name="cifar2_subset"):
    """Run one case of cifar2_subset(images, labels).

    cifar2_subset: the student's function. images: (N, C, H, W); labels: (N,) CIFAR-10 labels.
    expected: (images kept, labels 0/1 as int64). name: how messages call the call.
    Calls it with NO_LOOPS switched off (a tripped loop is reported as LOOP); it must return a
    pair. Then the labels (exactly, naming NOT_RELABELLED and SWAPPED; then their dtype) and
    the images (exactly, in order; then their dtype). Returns None.
    """
    got_images, got_labels = _call_subset(cifar2_subset, images, labels)
    expected_images, expected_labels = expected
    check.equal(got_labels, expected_labels, name=f"{name}: the labels", mistakes=subset_mistakes(labels))
    check.close(got_labels, expected_labels, name=f"{name}: the labels")   # int64 too
    check.equal(got_images, expected_images, name=f"{name}: the images (kept in order)")
    check.close(got_images, expected_images, name=f"{name}: the images (dtype kept)")


def check_parameters(model, what):
    """The Net's parameters: state_dict keys KEYS, COUNTS values per tensor, N_PARAMETERS in all.

    model: the student's Net or NetFunctional (built). what: its class name, for the messages.
    Returns its weights ({name: tensor}, detached, on the CPU).
    """
    params = model.state_dict()
    same = "" if what == "Net" else ", they must equal Net's"
    check.equal(list(params), KEYS, name=f"{what}'s parameter names (state_dict keys{same})")
    check.equal([v.numel() for v in params.values()], COUNTS, name=f"{what}'s parameters per tensor")
    check.equal(sum(v.numel() for v in params.values()), N_PARAMETERS, name=f"{what}'s parameter count")
    return {k: v.detach().cpu() for k, v in params.items()}


def check_logits(out, x, p, name):
    """out against the Net's formula on x with weights p (rtol 1e-4, atol 1e-5), naming the mistakes."""
    check.close(out, models.net_functional(x, p), name=name, rtol=1e-4, atol=1e-5, mistakes=net_mistakes(x, p))


def check_net_output(model, x, p, name):
    """model(x), with NO_REFERENCE_NETS switched off, against the Net's formula with weights p.

    model: the student's Net or NetFunctional, holding the weights p (load them with
    load_state_dict first). x: (B, 3, 32, 32). Returns None.
    """
    with check.forbid(NO_REFERENCE_NETS):
        out = model(x)
    check_logits(out, x, p, name)


def check_overfits(model, X, y, losses, n_epochs):
    """After training_loop(n_epochs, ...) on the single batch (X, y), the model knows it by heart.

    model: built with mlp(...), trained; X, y: the batch; losses: what training_loop returned.
    The losses must be n_epochs numbers; the model, rebuilt here from its weights, must get
    every example right with a loss under 0.1; the last loss must be under a fifth of the first.
    """
    losses = as_floats(losses, n_epochs, f"training_loop({n_epochs}, ...)")
    w = weights(model)
    n_in, n_hidden, n_out = w["1.weight"].shape[1], w["1.weight"].shape[0], w["3.weight"].shape[0]
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(n_in, n_hidden), torch.nn.Tanh(),
                              torch.nn.Linear(n_hidden, n_out))
    net.load_state_dict(w)
    with torch.no_grad():
        final_loss = F.cross_entropy(net(X), y).item()
        right = int((net(X).argmax(1) == y).sum())
    n = len(y)
    if not (right == n and final_loss < 0.1):
        raise check.CheckFailure(
            f"after {n_epochs} epochs on one fixed batch of {n} examples, the model gets {right} of {n} right "
            f"with loss {final_loss:.3f}: it did not learn them (a working loop reaches {n} of {n} and a "
            f"loss under 0.1).\n  Check the five steps: forward, loss, zero_grad, backward, step.")
    if not losses[-1] < losses[0] / 5:
        raise check.CheckFailure(f"the reported mean losses do not fall: first {losses[0]:.4f}, "
                                 f"last {losses[-1]:.4f} (expected the last below a fifth of the first)")


def check_training_loop(training_loop, X, y, n_epochs, lr, batch_size, batches=None, run=None):
    """Run training_loop on a Linear(X.shape[1], 2) with SGD(lr) and cross-entropy, and check each step.

    training_loop: the student's function. X: (N, n_in); y: (N,) int64 labels 0/1.
    batches: the loader to train on (default: loader(X, y, batch_size)); it must give the
    batches of (X, y) in order, batch_size at a time. run: how the messages call the run
    (default "2 epochs of 3 batches").
    The returned losses must be n_epochs numbers (as_floats); the weight and the bias after
    training must be the five steps' (reference_run), naming NO_STEP and NO_ZERO_GRAD; the
    losses must be the mean batch loss of each epoch, naming SUMMED_LOSS and LAST_LOSS.
    Returns None.
    """
    model = check.make("torch.nn.Linear", X.shape[1], 2)
    init = weights(model)
    optimizer = check.make("torch.optim.SGD", model.parameters(), lr=lr)
    losses = training_loop(n_epochs, optimizer, model, check.make("torch.nn.CrossEntropyLoss"),
                           loader(X, y, batch_size) if batches is None else batches)
    losses = as_floats(losses, n_epochs, f"training_loop({n_epochs}, ...)")
    got = weights(model)
    expected, means, sums, lasts = reference_run(init, X, y, n_epochs, lr, batch_size)
    no_zero, _, _, _ = reference_run(init, X, y, n_epochs, lr, batch_size, zero_grad=False)
    run = run or f"{n_epochs} epochs of {math.ceil(len(y) / batch_size)} batches"
    for key in ("weight", "bias"):
        check.close(got[key], expected[key], name=f"the {key} after {run}", rtol=1e-4, atol=1e-6,
                    mistakes={NO_STEP: init[key], NO_ZERO_GRAD: no_zero[key]})
    check.close(torch.tensor(losses, dtype=torch.float64), torch.tensor(means, dtype=torch.float64),
                name=f"the mean batch loss of each epoch ({run})", rtol=1e-4, atol=1e-6,
                mistakes={SUMMED_LOSS: torch.tensor(sums, dtype=torch.float64),
                          LAST_LOSS: torch.tensor(lasts, dtype=torch.float64)})


def check_train_mode(training_loop, X, y, batch_size):
    """A model left in evaluation mode (by an earlier evaluation) must be switched back.

    training_loop: the student's function. X: (N, n_in); y: (N,) labels 0/1.
    Builds Sequential(Linear(n_in, 8), Dropout(0.5), Linear(8, 2)), puts it in eval mode,
    trains it one epoch on loader(X, y, batch_size); model.training must then be True.
    Returns None.
    """
    model = check.make("torch.nn.Sequential", check.make("torch.nn.Linear", X.shape[1], 8),
                       check.make("torch.nn.Dropout", 0.5), check.make("torch.nn.Linear", 8, 2))
    model.eval()
    optimizer = check.make("torch.optim.SGD", model.parameters(), lr=0.1)
    training_loop(1, optimizer, model, check.make("torch.nn.CrossEntropyLoss"), loader(X, y, batch_size))
    check.equal(model.training, True,
                name="model.training after training_loop on a model in eval mode "
                     "(call model.train() first: dropout and batch norm must train)")


def check_accuracy(accuracy, model, X, y, batch_size, name, batches=None):
    """Run accuracy(model, loader) and compare with the fraction of images the model gets right.

    accuracy: the student's function. model: one Linear layer, possibly with dropout around
    it (right_answers), built with check.make and holding its weights. X, y: the images and
    labels. batches: the loader to hand over (default: loader(X, y, batch_size)); it must
    give (X, y) in batches of batch_size. name: how the message calls the result.
    Compares with the fraction right, naming BATCH_MEAN and COUNT, then checks that the
    model's weights did not change. Returns None.
    """
    before = weights(model)
    right = _right(before, X, y)
    got = accuracy(model, loader(X, y, batch_size) if batches is None else batches)
    check.close(got, right.mean().item(), name=name, mistakes=accuracy_mistakes(right, batch_size))
    after = weights(model)
    for key in before:
        check.close(after[key], before[key], rtol=0, atol=0,
                    name=f"{key} of the model after {name} (measuring must not change the weights)")


def check_trained_net(trained_model, at_least):
    """trained_model must be a Net whose weights reach `at_least` accuracy on the test images.

    trained_model: the student's trained model. Checks its state_dict keys (KEYS), loads the
    weights into helpers.models.Net, measures the accuracy on the 2,000 CIFAR-2 test images
    (test_accuracy), prints it, and fails below at_least. Returns the accuracy.
    """
    w = trained_model.state_dict()
    check.equal(list(w), KEYS, name="trained_model's parameter names (it must be a Net)")
    measured = test_accuracy(w)
    print(f"test accuracy of trained_model, measured here: {measured:.3f}")
    if measured < at_least:
        raise check.CheckFailure(
            f"trained_model reaches {measured:.3f} on the 2,000 test images; {at_least:.2f} is needed.\n"
            f"  Did training_loop run on a fresh Net with SGD lr=1e-2 for N_EPOCHS epochs? "
            f"(0.5 means it guesses one class: the weights barely changed.)")
    return measured


def check_save_load(save_weights, load_weights, model, path, x, name=None):
    """save_weights(model, path), then load_weights(path): the file and the model that comes back.

    save_weights, load_weights: the student's functions. model: a Net (the student's). path:
    a file name (weights_file()). x: (B, 3, 32, 32) images. name: what the messages start with
    (default: nothing).
    The file must be what torch.load(path, weights_only=True) reads as a dict: the model's
    state_dict, names and values. load_weights(path) must return a model (not what
    load_state_dict returns) with the same weights and outputs on x (rtol 1e-5). Returns None.
    """
    where = f"{name}: " if name else ""
    before = weights(model)
    save_weights(model, path)
    try:
        saved = check.make("torch.load", path, weights_only=True)
    except Exception as err:
        raise check.CheckFailure(
            f"{where}the file at path is not a state_dict that torch.load(path, weights_only=True) reads "
            f"({type(err).__name__}).\n  Save model.state_dict(), not the model itself.") from None
    if not isinstance(saved, dict):
        raise check.CheckFailure(f"{where}the file must hold model.state_dict() (a dict of tensors)")
    check.equal(sorted(saved), sorted(before), name=f"{where}the names saved in the file")
    for key in before:
        check.close(saved[key], before[key], name=f"{where}saved {key}")
    loaded = load_weights(path)
    try:
        after = {k: v.detach().cpu() for k, v in loaded.state_dict().items()}
    except Exception:
        raise check.CheckFailure(
            f"{where}load_weights(path) did not return a model: load_state_dict returns a report of "
            "missing and unexpected keys, not the model; call it, then return the model") from None
    for key in before:
        check.close(after[key], before[key], name=f"{where}{key} of the model load_weights returned")
    check.close(loaded(x), model(x), name=f"{where}outputs of the loaded model against the saved one", rtol=1e-5)
