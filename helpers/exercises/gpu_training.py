"""Chapter 8 (training on a GPU, and without one): what its test cells share.

    from helpers.exercises import gpu_training as ex
    ex.check_train_epoch(train_epoch, X, y, batch_size=4)

Everything here runs on a CPU; a GPU is used only where the machine that runs the
student's code has one (cuda_available()). What the student's code receives (models,
optimizers, loaders, scalers) is built with `check.make`, where that code runs; the
reference computations run here, on local copies loaded with load_state_dict.

Presets (for `check.forbid`): the names of the course's own versions, by name only
(helpers.train.get_device, to_device and train_epoch refuse to run inside them; while a
notebook is graded, an answer that names helpers.* fails as well):
    NO_GET_DEVICE       "get_device"
    NO_TO_DEVICE        "to_device"
    NO_TRAIN_EPOCH      "train_epoch", "fit"
    NO_BENCHMARK        "benchmark"
    NO_AMP_STEP         "amp_step"
    NO_DDP_GRADIENTS    "ddp_gradients"

The usual mistakes, as the descriptions the messages show:
    CUDA_IGNORED, MPS_IGNORED, STRING_DEVICE              (get_device)
    TUPLE_TO_LIST, LIST_TO_TUPLE, NOT_RECURSIVE           (to_device)
    NO_ZERO_GRAD, NO_STEP, MEAN_OF_MEANS, LAST_BATCH,     (train_epoch; NO_STEP for amp_step too)
    WRONG_DEVICE
    WARMUP_TIMED, NO_WARMUP, MEAN_TIME, FASTEST_TIME,     (benchmark)
    SLOWEST_TIME
    NO_AUTOCAST, FLOAT16_ON_CPU, CONVERTED,               (amp_step)
    GRADIENTS_ADD_UP
    NOT_AVERAGED, SUMMED, MODULE_PREFIX                   (ddp_gradients)

Small tools:
    cuda_available()              torch.cuda.is_available(), asked where the student's code runs
    best_device_type()            "cuda", else "mps", else "cpu": what get_device() must give there
    flat(state)                   a state dict as one float32 CPU vector (keys in sorted order)
    tensor_leaves(obj, where)     every (path, tensor) in nested tuples, lists and dicts
    counting_layer(features)      a BatchNorm1d (where the student's code runs): in training mode
                                  it counts its own calls
    calls_of(layer)               how many times such a layer was called
    make_mlp(sizes, activation)   Linear layers with `activation` ("ReLU", "Tanh") between them,
                                  built where the student's code runs
    local_mlp(sizes, activation, state)
                                  the same network here, with the weights of `state`

Reference computations (on local copies; the student's objects are never touched):
    reference_epoch(state, X, y, batch_size, lr, zero_grad=True, step=True)
        -> (weights, mean loss per sample, mean of the batch means, last batch's loss)
    reference_amp_steps(state, batches, lr, autocast=True, zero_grad=True) -> (weights, last loss)
    reference_gradients(sizes, activation, state, X, y, rows) -> {parameter name: gradient}

Mistake builders, each returning {description: wrong value} for `mistakes=`:
    train_epoch_mistakes(state, X, y, batch_size, lr)
        a pair: for the weights after the epoch (NO_STEP, NO_ZERO_GRAD) and for the loss
        train_epoch returns (MEAN_OF_MEANS, LAST_BATCH)
    benchmark_mistakes(times)
        for the median benchmark returns (MEAN_TIME, FASTEST_TIME, SLOWEST_TIME)
    ddp_gradient_mistakes(sizes, state, X, y, rank, world_size)
        for one rank's gradients (NOT_AVERAGED, with either way of dealing the shards; SUMMED)

Checks, one case each. The student's function comes first and is called inside
`check.forbid(preset)`:
    check_get_device(get_device, expected)
    check_to_device(to_device, batch, what, device="cpu")
        the same containers, keys and values come back (tensors compared exactly)
    check_moves_every_tensor(to_device, batch, what)
        on the data-less 'meta' device: the whole batch, then each tensor alone in it
    check_train_epoch(train_epoch, X, y, batch_size, device="cpu", lr=0.5)
        a Linear classifier, SGD, a DataLoader without shuffling: the weights and the loss
    check_train_epoch_moves(train_epoch, X, y, batch_size)
        a model on 'meta' fed CPU batches: a batch left on the CPU fails, as on a GPU
    check_benchmark(benchmark, fn, *args, **kwargs)
        fn: a counting_layer; args and kwargs are passed on as they are
    check_amp_step(amp_step, batches, device="cpu", lr=0.5)
        a Linear(10, 16), ReLU, Linear(16, 4) network, one amp_step per (x, y) in batches
    check_loopback_tcp()
        gloo needs TCP on 127.0.0.1: a plain message where it is not allowed
    check_ddp_gradients(ddp_gradients, sizes, X, y, world_size)
        a Tanh network of these sizes: every rank must hold the gradient of all of X
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import check

__all__ = [
    "NO_GET_DEVICE", "NO_TO_DEVICE", "NO_TRAIN_EPOCH", "NO_BENCHMARK", "NO_AMP_STEP", "NO_DDP_GRADIENTS",
    "CUDA_IGNORED", "MPS_IGNORED", "STRING_DEVICE", "TUPLE_TO_LIST", "LIST_TO_TUPLE", "NOT_RECURSIVE",
    "NO_ZERO_GRAD", "NO_STEP", "MEAN_OF_MEANS", "LAST_BATCH", "WRONG_DEVICE",
    "WARMUP_TIMED", "NO_WARMUP", "MEAN_TIME", "FASTEST_TIME", "SLOWEST_TIME",
    "NO_AUTOCAST", "FLOAT16_ON_CPU", "CONVERTED", "GRADIENTS_ADD_UP",
    "NOT_AVERAGED", "SUMMED", "MODULE_PREFIX",
    "cuda_available", "best_device_type", "flat", "tensor_leaves", "counting_layer", "calls_of",
    "make_mlp", "local_mlp",
    "reference_epoch", "reference_amp_steps", "reference_gradients",
    "train_epoch_mistakes", "benchmark_mistakes", "ddp_gradient_mistakes",
    "check_get_device", "check_to_device", "check_moves_every_tensor", "check_train_epoch",
    "check_train_epoch_moves", "check_benchmark", "check_amp_step", "check_loopback_tcp",
    "check_ddp_gradients",
]

# ---------------------------------------------------------------- presets

NO_GET_DEVICE = ("get_device",)
NO_TO_DEVICE = ("to_device",)
NO_TRAIN_EPOCH = ("train_epoch", "fit")
NO_BENCHMARK = ("benchmark",)
NO_AMP_STEP = ("amp_step",)
NO_DDP_GRADIENTS = ("ddp_gradients",)

# ---------------------------------------------------------------- the usual mistakes

CUDA_IGNORED = "CUDA is available but the answer falls back to the CPU"
MPS_IGNORED = ("MPS (Apple's GPU) is available but the answer falls back to the CPU: "
               "check torch.backends.mps.is_available() after CUDA")
STRING_DEVICE = 'a string, not a torch.device: return torch.device("cuda"), not "cuda"'
TUPLE_TO_LIST = "a tuple came back as a list: rebuild each container with its own type"
LIST_TO_TUPLE = "a list came back as a tuple: rebuild each container with its own type"
NOT_RECURSIVE = ("a tensor inside a container was left where it was: walk into every "
                 "tuple, list and dict (recursively)")
NO_ZERO_GRAD = ("optimizer.zero_grad() is never called: each step uses the sum of the gradients "
                "of all earlier batches")
NO_STEP = "optimizer.step() is never called: the weights never change"
MEAN_OF_MEANS = ("the mean of the batch losses: the last, smaller batch counts as much as a full one; "
                 "add loss.item() * len(y) and divide by the number of samples")
LAST_BATCH = "only the last batch's loss is returned: accumulate it over the whole epoch"
WRONG_DEVICE = ("the images or the labels were left where they were: move both to the device "
                "(x.to(device) and y.to(device)) before the forward pass")
WARMUP_TIMED = "the warm-up calls are timed too: time only the `repeats` calls after them"
NO_WARMUP = "no warm-up: call fn `warmup` times, untimed, before the timed calls"
MEAN_TIME = "the mean of the times, not the median (one slow outlier moves the mean)"
FASTEST_TIME = "the fastest time, not the median"
SLOWEST_TIME = "the slowest time, not the median"
NO_AUTOCAST = "the forward pass did not run under torch.autocast (the logits are float32)"
FLOAT16_ON_CPU = "float16 on a CPU: use bfloat16 there (float16 is for CUDA, with a GradScaler)"
CONVERTED = ("the model itself was converted to 16 bits: autocast keeps the weights in float32 "
             "and casts operation by operation")
GRADIENTS_ADD_UP = "optimizer.zero_grad() is never called: the gradients add up"
NOT_AVERAGED = ("each process kept the gradient of its own shard: wrap the model in DDP (or "
                "all-reduce the gradients and divide by the world size) before reading them")
SUMMED = "the gradients are summed over the processes, not averaged: divide by the world size"
MODULE_PREFIX = "the names carry DDP's 'module.' prefix: use ddp.module.named_parameters()"

_KIND_MISTAKES = {("tuple", "list"): TUPLE_TO_LIST, ("list", "tuple"): LIST_TO_TUPLE}
_AMP_SIZES = (10, 16, 4)


# ---------------------------------------------------------------- small tools

def cuda_available():
    """torch.cuda.is_available() on the machine that runs the student's code (a bool)."""
    return bool(check.make("torch.cuda.is_available"))


def best_device_type():
    """The best device type where the student's code runs: "cuda", else "mps", else "cpu"."""
    if cuda_available():
        return "cuda"
    return "mps" if bool(check.make("torch.backends.mps.is_available")) else "cpu"


def flat(state):
    """A state dict as one float32 CPU vector, its entries in sorted key order."""
    return torch.cat([state[k].reshape(-1).float().cpu() for k in sorted(state)])


def tensor_leaves(obj, where):
    """Every (path, tensor) in obj, walking into tuples, lists and dicts.

    where: how messages call obj, e.g. "to_device(nested, 'meta')"; a path extends it
    with the indices and keys on the way, e.g. "to_device(nested, 'meta')['targets'][0]".
    """
    if isinstance(obj, torch.Tensor):
        yield where, obj
    elif isinstance(obj, (tuple, list)):
        for i, item in enumerate(obj):
            yield from tensor_leaves(item, f"{where}[{i}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            yield from tensor_leaves(item, f"{where}[{key!r}]")


def _one_tensor(obj, keep, seen=None):
    """obj with every tensor but the keep-th (in tensor_leaves order) replaced by None;
    containers keep their types and keys."""
    seen = [0] if seen is None else seen
    if isinstance(obj, torch.Tensor):
        seen[0] += 1
        return obj if seen[0] - 1 == keep else None
    if isinstance(obj, (tuple, list)):
        return type(obj)(_one_tensor(item, keep, seen) for item in obj)
    if isinstance(obj, dict):
        return {key: _one_tensor(item, keep, seen) for key, item in obj.items()}
    return obj


def counting_layer(features):
    """A torch.nn.BatchNorm1d(features), built where the student's code runs.

    In training mode it counts its own forward calls (num_batches_tracked): a function
    for benchmark whose calls can be counted. Call it on (n, features) tensors, n >= 2.
    """
    return check.make("torch.nn.BatchNorm1d", features)


def calls_of(layer):
    """How many times a counting_layer has been called (in training mode), an int."""
    return int(layer.num_batches_tracked)


def _mlp_spec(sizes, activation):
    """[(layer name, args)]: Linear(a, b) for consecutive sizes, `activation` between them."""
    spec = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        spec.append(("Linear", (a, b)))
        if i < len(sizes) - 2:
            spec.append((activation, ()))
    return spec


def make_mlp(sizes, activation):
    """A torch.nn.Sequential of Linear layers, built where the student's code runs.

    sizes: the widths, e.g. [6, 5, 3] for Linear(6, 5), activation, Linear(5, 3).
    activation: the name of a torch.nn layer, e.g. "ReLU" or "Tanh".
    """
    return check.make("torch.nn.Sequential",
                      *(check.make(f"torch.nn.{name}", *args) for name, args in _mlp_spec(sizes, activation)))


def local_mlp(sizes, activation, state):
    """The network make_mlp(sizes, activation) builds, here, with the weights of `state`."""
    model = nn.Sequential(*(getattr(nn, name)(*args) for name, args in _mlp_spec(sizes, activation)))
    model.load_state_dict(state)
    return model


def _copy(state):
    """A state dict (from the student's side or not) as tensors of our own."""
    return {k: v.detach().clone() for k, v in state.items()}


def _loader(X, y, batch_size, **kwargs):
    """A DataLoader over TensorDataset(X, y), no shuffling, where the student's code runs."""
    data = check.make("torch.utils.data.TensorDataset", X, y)
    return check.make("torch.utils.data.DataLoader", data, batch_size=batch_size, **kwargs)


def _raise_if_devices_differ(exc, call):
    """Turn a 'tensors on different devices' error of the student's code into WRONG_DEVICE."""
    text = str(exc)
    if "same device" in text or "expected device" in text:
        _, raised, error = text.partition(" raised ")      # the grader's "<call> raised <error>"
        first = (error if raised else text).splitlines()[0]
        raise check.CheckFailure(f"{call} failed: {first[:200]}\n"
                                 f"  likely cause: {WRONG_DEVICE}") from None


# ---------------------------------------------------------------- reference computations

def reference_epoch(state, X, y, batch_size, lr, zero_grad=True, step=True):
    """One epoch of SGD on a local nn.Linear with the weights of `state`, batches in order.

    state: a Linear's state dict; X: (n, features), y: (n,) class indices; lr: SGD's rate.
    zero_grad, step: False leaves out optimizer.zero_grad() or optimizer.step().
    Returns (flat weights after the epoch, mean loss per sample, mean of the batch
    means, the last batch's loss).
    """
    model = nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
    model.load_state_dict(state)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    total, means = 0.0, []
    for i in range(0, len(y), batch_size):
        xb, yb = X[i:i + batch_size], y[i:i + batch_size]
        if zero_grad:
            opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        if step:
            opt.step()
        total += loss.item() * len(yb)
        means.append(loss.item())
    return flat(model.state_dict()), total / len(y), sum(means) / len(means), means[-1]


def reference_amp_steps(state, batches, lr, autocast=True, zero_grad=True):
    """SGD steps under CPU autocast (bfloat16) on a local Linear(10, 16), ReLU, Linear(16, 4).

    state: that network's state dict; batches: [(x, y)]; lr: SGD's rate. autocast=False
    runs in float32; zero_grad=False never clears the gradients.
    Returns (flat weights after the steps, the last step's loss).
    """
    model = local_mlp(_AMP_SIZES, "ReLU", state)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for x, y in batches:
        if zero_grad:
            opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return flat(model.state_dict()), loss.item()


def reference_gradients(sizes, activation, state, X, y, rows):
    """{parameter name: gradient} of F.cross_entropy(model(X[rows]), y[rows]) (the mean loss),
    for a local_mlp(sizes, activation, state). rows: a slice."""
    model = local_mlp(sizes, activation, state)
    F.cross_entropy(model(X[rows]), y[rows]).backward()
    return {k: p.grad.clone() for k, p in model.named_parameters()}


def _vector(grads, names):
    return torch.cat([grads[n].reshape(-1).float() for n in names])


# ---------------------------------------------------------------- mistakes

def train_epoch_mistakes(state, X, y, batch_size, lr):
    """The usual mistakes of train_epoch on a Linear with weights `state`, and what each gives.

    Returns ({description: flat weights} for the weights after the epoch: no step, no
    zero_grad; {description: loss} for the returned loss: the mean of the batch means,
    the last batch's loss).
    """
    _, _, mean_of_means, last = reference_epoch(state, X, y, batch_size, lr)
    no_zero, _, _, _ = reference_epoch(state, X, y, batch_size, lr, zero_grad=False)
    return ({NO_STEP: flat(state), NO_ZERO_GRAD: no_zero},
            {MEAN_OF_MEANS: mean_of_means, LAST_BATCH: last})


def benchmark_mistakes(times):
    """The usual mistakes of benchmark's median, and what each gives for these times.

    times: the list of positive floats the student's benchmark returned (not empty).
    Returns {description: wrong median}: the mean, the fastest and the slowest time, as
    float64 tensors (check.close compares them at rtol 1e-9, and would round a Python
    float to float32 first).
    """
    import statistics

    f64 = lambda v: torch.tensor(float(v), dtype=torch.float64)
    return {MEAN_TIME: f64(statistics.mean(times)), FASTEST_TIME: f64(min(times)),
            SLOWEST_TIME: f64(max(times))}


def ddp_gradient_mistakes(sizes, state, X, y, rank, world_size):
    """The usual mistakes of ddp_gradients, as rank `rank`'s gradients (flat, in sorted name order).

    Returns {description: wrong vector}: the rank's own shard's gradient, dealt as
    DistributedSampler does (X[rank::world_size]) or in contiguous blocks, and the sum
    over the processes instead of the mean.
    """
    names, n = sorted(state), len(y)
    own = lambda rows: _vector(reference_gradients(sizes, "Tanh", state, X, y, rows), names)
    return {NOT_AVERAGED: own(slice(rank, None, world_size)),
            NOT_AVERAGED + " ": own(slice(rank * n // world_size, (rank + 1) * n // world_size)),
            SUMMED: own(slice(None)) * world_size}


# ---------------------------------------------------------------- checks

def check_get_device(get_device, expected):
    """Call get_device() and check that it returns a torch.device of type `expected`.

    expected: "cuda", "mps" or "cpu" (best_device_type() gives it). Returns None.
    """
    with check.forbid(NO_GET_DEVICE):
        dev = get_device()
    check.equal(isinstance(dev, torch.device), True,
                name=f"get_device() returns a torch.device (it returned {type(dev).__name__})",
                mistakes={STRING_DEVICE: False} if isinstance(dev, str) else None)
    fallback = {"cuda": CUDA_IGNORED, "mps": MPS_IGNORED}.get(expected)
    check.equal(dev.type, expected, name="get_device().type",
                mistakes={fallback: "cpu"} if fallback else None)


def _same_structure(out, expected, where):
    """out must have expected's containers, keys and values (tensors compared exactly)."""
    if isinstance(expected, torch.Tensor):
        check.tensor(out, name=where)
        check.close(out, expected, name=where, rtol=0, atol=0)
        return
    if expected is None or isinstance(expected, (tuple, list, dict)):
        got, want = type(out).__name__, type(expected).__name__
        cause = _KIND_MISTAKES.get((want, got))
        check.equal(got, want, name=f"the type of {where}", mistakes={cause: got} if cause else None)
    if isinstance(expected, (tuple, list)):
        check.equal(len(out), len(expected), name=f"len({where})")
        for i, (o, e) in enumerate(zip(out, expected)):
            _same_structure(o, e, f"{where}[{i}]")
    elif isinstance(expected, dict):
        check.equal(sorted(out), sorted(expected), name=f"the keys of {where}")
        for key in expected:
            _same_structure(out[key], expected[key], f"{where}[{key!r}]")
    elif expected is not None:
        check.equal(out, expected, name=where)


def check_to_device(to_device, batch, what, device="cpu"):
    """Call to_device(batch, torch.device(device)) and compare the result with batch.

    batch: a tensor, or tuples, lists and dicts of tensors and other values. what: how
    messages call batch, e.g. "(images, labels)". The result must have the same
    containers (a tuple stays a tuple: TUPLE_TO_LIST, LIST_TO_TUPLE), keys and values
    (tensors compared exactly, on any device). Returns None.
    """
    with check.forbid(NO_TO_DEVICE):
        out = to_device(batch, torch.device(device))
    _same_structure(out, batch, f"to_device({what}, {device!r})")


def _meta_leaves(to_device, batch, where):
    """Move batch to 'meta'; check that every tensor of the result went there (NOT_RECURSIVE).

    Meta tensors hold no data: while a notebook is graded the result cannot come back to
    the grader when it holds one, and the call ends in an error that names 'meta'. What
    does come back holds only tensors that were not moved.
    """
    try:
        with check.forbid(NO_TO_DEVICE):
            moved = to_device(batch, torch.device("meta"))
    except Exception as exc:
        if "meta" not in str(exc):
            raise
        return
    for path, leaf in tensor_leaves(moved, where):
        check.equal(leaf.is_meta, True, name=f"{path} is on the target device",
                    mistakes={NOT_RECURSIVE: False})


def check_moves_every_tensor(to_device, batch, what):
    """Move batch to the data-less 'meta' device: every tensor in it must go there.

    batch: tuples, lists and dicts holding tensors. what: how messages call batch.
    Calls to_device on the whole batch, then once per tensor on a copy of batch that
    holds that tensor only (the others replaced by None), so that each tensor left
    behind is seen even where a moved one cannot be read back. Names NOT_RECURSIVE.
    Returns None.
    """
    where = f"to_device({what}, 'meta')"
    _meta_leaves(to_device, batch, where)
    for keep in range(len(list(tensor_leaves(batch, what)))):
        _meta_leaves(to_device, _one_tensor(batch, keep), where)


def check_train_epoch(train_epoch, X, y, batch_size, device="cpu", lr=0.5):
    """Train a Linear classifier for one epoch with the student's train_epoch and compare.

    X: (n, features) float, y: (n,) class indices (the classes are 0..y.max()).
    batch_size: the DataLoader's (no shuffling, the last batch may be smaller).
    device: where the model goes first. lr: SGD's learning rate.
    Builds the model (then moved to device), loader, SGD optimizer and CrossEntropyLoss where
    the student's code runs; calls train_epoch(model, loader, loss_fn, optimizer, device);
    a device mismatch error names WRONG_DEVICE. Then the weights must equal those of
    reference_epoch (naming NO_STEP, NO_ZERO_GRAD) and the returned loss its mean loss per
    sample (naming MEAN_OF_MEANS, LAST_BATCH); rtol 1e-4, atol 1e-5 on the CPU. Returns None.
    """
    device = torch.device(device)
    model = check.make("torch.nn.Linear", X.shape[1], int(y.max()) + 1)
    state = _copy(model.state_dict())
    model.to(device)
    loader = _loader(X, y, batch_size, shuffle=False)
    optimizer = check.make("torch.optim.SGD", model.parameters(), lr=lr)
    loss_fn = check.make("torch.nn.CrossEntropyLoss")
    name = f"train_epoch on {len(y)} samples, batch size {batch_size}, device {device}"
    try:
        with check.forbid(NO_TRAIN_EPOCH):
            mean_loss = train_epoch(model, loader, loss_fn, optimizer, device)
    except Exception as exc:
        _raise_if_devices_differ(exc, name)
        raise
    weights, per_sample, _, _ = reference_epoch(state, X, y, batch_size, lr)
    weight_mistakes, loss_mistakes = train_epoch_mistakes(state, X, y, batch_size, lr)
    tol = dict(rtol=1e-4, atol=1e-5) if device.type == "cpu" else dict(rtol=1e-3, atol=1e-4)
    check.close(flat(model.state_dict()), weights, name=f"the weights after {name}",
                mistakes=weight_mistakes, **tol)
    check.close(mean_loss, per_sample, name=f"the loss {name} returns", mistakes=loss_mistakes, **tol)


def check_train_epoch_moves(train_epoch, X, y, batch_size):
    """Train a Linear on the data-less 'meta' device, fed CPU batches of (X, y).

    A batch (images or labels) left on the CPU then fails with a device mismatch, as it
    would on a GPU: that error names WRONG_DEVICE. Any other error is expected (a meta
    tensor's .item() has no value) and ignored. Returns None.
    """
    model = check.make("torch.nn.Linear", X.shape[1], int(y.max()) + 1, device="meta")
    loader = _loader(X, y, batch_size)
    optimizer = check.make("torch.optim.SGD", model.parameters(), lr=0.1)
    loss_fn = check.make("torch.nn.CrossEntropyLoss")
    try:
        with check.forbid(NO_TRAIN_EPOCH):
            train_epoch(model, loader, loss_fn, optimizer, torch.device("meta"))
    except Exception as exc:
        _raise_if_devices_differ(exc, "train_epoch(..., device='meta')")


def check_benchmark(benchmark, fn, *args, **kwargs):
    """Call benchmark(fn, *args, **kwargs) and check what it returns and how often it called fn.

    fn: a counting_layer. args: its inputs. kwargs: warmup and repeats, as the call passes
    them (3 and 10 when left out). The result must be a pair (median, times): times a
    list of `repeats` positive floats (naming WARMUP_TIMED), fn called warmup + repeats
    times (naming NO_WARMUP), median the median of times (naming MEAN_TIME, FASTEST_TIME,
    SLOWEST_TIME). Returns None.
    """
    import statistics

    warmup, repeats = kwargs.get("warmup", 3), kwargs.get("repeats", 10)
    before = calls_of(fn)
    with check.forbid(NO_BENCHMARK):
        result = benchmark(fn, *args, **kwargs)
    name = f"benchmark(fn, ..., warmup={warmup}, repeats={repeats})"
    check.equal(isinstance(result, tuple) and len(result) == 2, True,
                name=f"{name} returns a pair (median, times)")
    median, times = result
    check.equal(isinstance(times, list), True, name=f"the times of {name} are a list")
    check.equal(len(times), repeats, name=f"len(times) of {name}", mistakes={WARMUP_TIMED: warmup + repeats})
    check.equal(all(isinstance(t, float) and t > 0 for t in times), True,
                name=f"every time of {name} is a positive float (seconds)")
    check.equal(calls_of(fn) - before, warmup + repeats, name=f"the number of calls {name} made",
                mistakes={NO_WARMUP: repeats})
    check.close(median, statistics.median(times), rtol=1e-9, atol=0, name=f"the median of {name}",
                mistakes=benchmark_mistakes(times))


def check_amp_step(amp_step, batches, device="cpu", lr=0.5):
    """Train a Linear(10, 16), ReLU, Linear(16, 4) network with amp_step, one call per batch.

    batches: [(x, y)], x (n, 10) float, y (n,) in 0..3. device: where the model goes
    (on CUDA with a GradScaler, init_scale=1024). lr: SGD's learning rate.
    Each call must return (loss, logits): logits (n, 4) in bfloat16 on a CPU, float16 on
    CUDA (naming NO_AUTOCAST, FLOAT16_ON_CPU). Then the weights must still be float32
    (naming CONVERTED), the GradScaler used on CUDA, and the weights and the last loss
    those of reference_amp_steps (naming NO_STEP, GRADIENTS_ADD_UP); rtol 2e-2. Returns None.
    """
    device = torch.device(device)
    model = make_mlp(_AMP_SIZES, "ReLU")
    state = _copy(model.state_dict())
    model.to(device)
    optimizer = check.make("torch.optim.SGD", model.parameters(), lr=lr)
    loss_fn = check.make("torch.nn.CrossEntropyLoss")
    cuda = device.type == "cuda"
    scaler = check.make("torch.amp.GradScaler", "cuda", init_scale=1024.0) if cuda else None
    name = f"amp_step on {device}"
    want = torch.float16 if cuda else torch.bfloat16
    for x, y in batches:
        with check.forbid(NO_AMP_STEP):
            result = amp_step(model, x, y, loss_fn, optimizer, device, scaler)
        check.equal(isinstance(result, tuple) and len(result) == 2, True,
                    name=f"{name} returns a pair (loss, logits)")
        loss, logits = result
        check.shape(logits, (len(y), _AMP_SIZES[-1]), name=f"the logits of {name}")
        check.equal(str(logits.dtype), str(want), name=f"the dtype of the logits of {name}",
                    mistakes={NO_AUTOCAST: "torch.float32", FLOAT16_ON_CPU: "torch.float16"})
    after = model.state_dict()
    check.equal(sorted({str(v.dtype) for v in after.values()}), ["torch.float32"],
                name=f"the dtype of the weights after {name}",
                mistakes={CONVERTED: ["torch.bfloat16"], CONVERTED + " ": ["torch.float16"]})
    if cuda:
        check.equal(scaler._scale is not None, True, name="the GradScaler was used (scaler.scale(loss))")
    weights, last = reference_amp_steps(state, batches, lr)
    no_zero, _ = reference_amp_steps(state, batches, lr, zero_grad=False)
    tol = dict(rtol=2e-2, atol=2e-3) if not cuda else dict(rtol=2e-2, atol=5e-3)
    check.close(flat(after), weights, name=f"the weights after {name}",
                mistakes={NO_STEP: flat(state), GRADIENTS_ADD_UP: no_zero}, **tol)
    check.close(loss, last, name=f"the loss {name} returns", **tol)


def check_loopback_tcp():
    """Fail with a plain message when the machine that runs the student's code does not
    allow TCP connections on 127.0.0.1 (gloo needs them). Returns None."""
    try:
        check.make("torch.distributed.TCPStore", "127.0.0.1", 0, 1, True)
    except Exception:
        raise check.CheckFailure(
            "this machine does not allow TCP connections on 127.0.0.1, which the gloo backend needs "
            "to connect the processes: ddp_gradients cannot run here (a sandbox without network?). "
            "Ask your instructor; the exercise is checked where loopback TCP works.") from None


def check_ddp_gradients(ddp_gradients, sizes, X, y, world_size):
    """Call ddp_gradients(model, X, y, world_size=world_size) on a make_mlp(sizes, "Tanh").

    X: (n, sizes[0]) float, n a multiple of world_size; y: (n,) in 0..sizes[-1]-1.
    The result must be a list of world_size dicts {parameter name: gradient}, named as in
    model.named_parameters() (naming MODULE_PREFIX), each equal to the single-process
    gradient of the mean loss over all of X (rtol 1e-4, atol 1e-6), naming the mistakes of
    ddp_gradient_mistakes (NOT_AVERAGED, SUMMED). Returns None.
    """
    model = make_mlp(sizes, "Tanh")
    state = _copy(model.state_dict())
    names, n = sorted(state), len(y)
    full = _vector(reference_gradients(sizes, "Tanh", state, X, y, slice(None)), names)
    name = f"ddp_gradients(model, X, y, world_size={world_size}) with {n} samples"
    with check.forbid(NO_DDP_GRADIENTS):
        result = ddp_gradients(model, X, y, world_size=world_size)
    check.equal(isinstance(result, list), True, name=f"{name} returns a list (one dict per rank)")
    check.equal(len(result), world_size, name=f"len({name})")
    for rank, grads in enumerate(result):
        check.equal(isinstance(grads, dict), True, name=f"{name}[{rank}] is a dict")
        check.equal(sorted(grads), names, name=f"the parameter names of {name}[{rank}]",
                    mistakes={MODULE_PREFIX: sorted("module." + k for k in names)})
        check.close(_vector(grads, names), full, rtol=1e-4, atol=1e-6,
                    name=f"the gradients of rank {rank} (single-process gradients on all {n} samples expected)",
                    mistakes=ddp_gradient_mistakes(sizes, state, X, y, rank, world_size))
