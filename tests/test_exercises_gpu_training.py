"""helpers/exercises/gpu_training.py: chapter 8's checks pass right answers and name wrong ones,
in the student's kernel and, where it differs, through the judge (a fake kernel, as in test_judge)."""
import inspect
import statistics
import time

import pytest
import torch

from helpers import check
from helpers.exercises import gpu_training as ex
from test_judge import judge_for


def to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


def one_level(batch, device):
    """Moves the tensors it sees at the top of the batch, not deeper."""
    if isinstance(batch, dict):
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    return batch


def train_epoch(model, loader, loss_fn, optimizer, device, per_sample=True, move_y=True):
    model.train()
    total, seen, losses = 0.0, 0, []
    for x, y in loader:
        x, y = x.to(device), (y.to(device) if move_y else y)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total, seen = total + loss.item() * len(y), seen + len(y)
        losses.append(loss.item())
    return total / seen if per_sample else sum(losses) / len(losses)


def benchmark(fn, *args, warmup=3, repeats=10, mean=False):
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return (statistics.mean(times) if mean else statistics.median(times)), times


def amp_step(model, x, y, loss_fn, optimizer, device, scaler=None, autocast=True):
    optimizer.zero_grad()
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
        logits = model(x.to(device))
        loss = loss_fn(logits, y.to(device))
    loss.backward()
    optimizer.step()
    return loss.item(), logits.detach()


NESTED = {"image": torch.randn(2, 3), "targets": [torch.arange(3), ("id", 7, None)],
          "extra": {"mask": torch.rand(2, 3) > 0.5, "scale": 0.5}}


def failure(fn, *args, **kwargs):
    with pytest.raises(check.CheckFailure) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_right_answers_pass():
    ex.check_get_device(lambda: torch.device("cpu"), "cpu")
    ex.check_to_device(to_device, NESTED, "nested")
    ex.check_moves_every_tensor(to_device, NESTED, "nested")
    X, y = torch.randn(10, 6), torch.randint(0, 3, (10,))
    ex.check_train_epoch(train_epoch, X, y, batch_size=4)
    ex.check_train_epoch_moves(train_epoch, X, y, batch_size=4)
    ex.check_benchmark(benchmark, ex.counting_layer(4), torch.randn(6, 4), warmup=2, repeats=4)
    ex.check_amp_step(amp_step, [(torch.randn(8, 10), torch.randint(0, 4, (8,)))])


def test_wrong_answers_are_named():
    assert "a string, not a torch.device" in failure(ex.check_get_device, lambda: "cpu", "cpu")
    assert "CUDA is available" in failure(ex.check_get_device, lambda: torch.device("cpu"), "cuda")
    assert ex.TUPLE_TO_LIST in failure(ex.check_to_device, lambda b, d: list(b), (torch.ones(1),), "pair")
    assert ex.NOT_RECURSIVE in failure(ex.check_moves_every_tensor, one_level, NESTED, "nested")
    X, y = torch.randn(10, 6), torch.randint(0, 3, (10,))
    assert ex.MEAN_OF_MEANS in failure(ex.check_train_epoch, lambda *a: train_epoch(*a, per_sample=False),
                                       X, y, batch_size=4)
    assert ex.WRONG_DEVICE in failure(ex.check_train_epoch_moves, lambda *a: train_epoch(*a, move_y=False),
                                      X, y, batch_size=4)
    layer = ex.counting_layer(4)
    # The mean of a few times differs from their median by far less than float32's precision
    # allows at times; the mistake is still named (compared in float64).
    assert ex.MEAN_TIME in failure(ex.check_benchmark, lambda *a, **k: benchmark(*a, mean=True, **k),
                                   layer, torch.randn(6, 4), warmup=1, repeats=4)
    assert ex.NO_AUTOCAST in failure(ex.check_amp_step, lambda *a: amp_step(*a, autocast=False),
                                     [(torch.randn(8, 10), torch.randint(0, 4, (8,)))])


def test_a_tensor_left_deep_inside_is_seen_by_the_judge_too():
    """While graded, a batch holding a moved (meta) tensor cannot come back to the grader:
    each tensor is then moved on its own, so one left behind still shows."""
    cell = ('from helpers.exercises import gpu_training as ex\n'
            'nested = {"image": torch.randn(2, 3), "targets": [torch.arange(3), ("id", 7, None)]}\n'
            'ex.check_moves_every_tensor(to_device, nested, "nested")\n')
    for answer, passes in ((to_device, True), (one_level, False)):
        judge, _ = judge_for("import torch\n" + inspect.getsource(answer).replace(answer.__name__, "to_device", 1))
        outputs, passed = judge.run_test_cell(cell, "test_to_device")
        assert passed == passes, outputs
        if not passes:
            assert ex.NOT_RECURSIVE in "".join(o.get("evalue", "") for o in outputs)
