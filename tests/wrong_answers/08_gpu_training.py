"""Plausible wrong answers for chapter 8 (training on a GPU, and without one).

Each replaces answer cells (by grade_id) in the source notebook; the round
trip expects fewer than full marks and the feedback to contain "feedback".
"""

TRAIN_EPOCH = '''
def train_epoch(model, loader, loss_fn, optimizer, device):
    model.train()
    total, seen = 0.0, 0
    for x, y in loader:
        x, y = {X_LINE}, {Y_LINE}
        {ZERO}
        loss = loss_fn(model(x), y)
        loss.backward()
        {STEP}
        total += loss.item() * len(y)
        seen += len(y)
    return total / seen
'''


def train_epoch(x="x.to(device)", y="y.to(device)", zero="optimizer.zero_grad()", step="optimizer.step()"):
    return (TRAIN_EPOCH.replace("{X_LINE}", x).replace("{Y_LINE}", y)
            .replace("{ZERO}", zero).replace("{STEP}", step))


DDP_CELL = '''
def worker(rank, world_size, port, model, X, y, out_dir):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=60))
    try:
        net = {WRAP}
        loss = F.cross_entropy(net(X[rank::world_size]), y[rank::world_size])
        loss.backward()
        grads = {name: p.grad.detach().clone() for name, p in net.{NAMED}()}
        torch.save(grads, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def ddp_gradients(model, X, y, world_size=2):
    port = free_port()
    with tempfile.TemporaryDirectory() as out_dir:
        mp.start_processes(worker, args=(world_size, port, model, X, y, out_dir),
                           nprocs=world_size, start_method="fork")
        return [torch.load(os.path.join(out_dir, f"rank{rank}.pt")) for rank in range(world_size)]
'''

WRONG_ANSWERS = [
    {
        "name": "get_device returns a string",
        "cells": {"get_device": '''
def get_device():
    return "cuda" if torch.cuda.is_available() else "cpu"
'''},
        "feedback": "returns a torch.device",
    },
    {
        "name": "to_device turns tuples into lists",
        "cells": {"to_device": '''
def to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [to_device(v, device) for v in batch]
    return batch
'''},
        "feedback": "a tuple came back as a list",
    },
    {
        "name": "to_device moves nothing",
        "cells": {"to_device": '''
def to_device(batch, device):
    return batch
'''},
        "feedback": "was left where it was",
    },
    {
        "name": "train_epoch never clears the gradients",
        "cells": {"train_epoch": train_epoch(zero="pass")},
        "feedback": "optimizer.zero_grad() is never called",
    },
    {
        "name": "train_epoch never steps",
        "cells": {"train_epoch": train_epoch(step="pass")},
        "feedback": "optimizer.step() is never called",
    },
    {
        "name": "train_epoch leaves the labels on the CPU",
        "cells": {"train_epoch": train_epoch(y="y")},
        "feedback": "the images or the labels were left where they were",
    },
    {
        "name": "train_epoch leaves the images on the CPU",
        "cells": {"train_epoch": train_epoch(x="x")},
        "feedback": "the images or the labels were left where they were",
    },
    {
        "name": "train_epoch averages the batch means",
        "cells": {"train_epoch": '''
def train_epoch(model, loader, loss_fn, optimizer, device):
    model.train()
    losses = []
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)
'''},
        "feedback": "the mean of the batch losses",
    },
    {
        "name": "benchmark without warm-up",
        "cells": {"benchmark": '''
def benchmark(fn, *args, warmup=3, repeats=10):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times
'''},
        "feedback": "no warm-up",
    },
    {
        "name": "benchmark reports the mean",
        "cells": {"benchmark": '''
def benchmark(fn, *args, warmup=3, repeats=10):
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return sum(times) / len(times), times
'''},
        "feedback": "the mean of the times",
    },
    {
        "name": "amp_step without autocast",
        "cells": {"amp_step": '''
def amp_step(model, x, y, loss_fn, optimizer, device, scaler=None):
    x, y = x.to(device), y.to(device)
    optimizer.zero_grad()
    logits = model(x)
    loss = loss_fn(logits, y)
    loss.backward()
    optimizer.step()
    return loss.item(), logits.detach()
'''},
        "feedback": "did not run under torch.autocast",
    },
    {
        "name": "ddp_gradients without DDP: each rank keeps its own gradients",
        "cells": {"ddp_gradients": DDP_CELL.replace("{WRAP}", "model").replace("{NAMED}", "named_parameters")},
        "feedback": "kept the gradient of its own shard",
    },
    {
        "name": "ddp_gradients keeps DDP's module. prefix",
        "cells": {"ddp_gradients": DDP_CELL.replace("{WRAP}", "DDP(model)").replace("{NAMED}", "named_parameters")},
        "feedback": "'module.' prefix",
    },
]
