"""python -m course bench --train: the accuracies chapters 6 and 7 quote, measured here.

    python -m course bench --train                         every model (about 10 min on 2 idle cores)
    python -m course bench --train --only cifar2 --only lenet5_mnist
    python -m course bench --train --threads 2 --out bench-results/train.json

Trains each model with its `full` recipe (helpers.train.RECIPES, the same
settings a notebook gets with COURSE_PROFILE=full) on the whole data set,
on the CPU, then prints test accuracy, epochs and wall time beside the
targets and the references, and writes them to bench-results/train.json
(git-ignored). The wall time covers training and the one final evaluation;
the test set is not looked at while training.

    model                       target              reference
    cifar2       Net (18,090)   >= 0.91 in < 5 min  0.88-0.89 (SGD, 100 epochs)
    lenet5_mnist LeNet5 (1 ch)  >= 99.4% in < 3 min 99.05% (LeCun et al. 1998)
    lenet5_cifar10 LeNet5       >= 70% in < 5 min   about 59% (Adam, batch 4, 2 epochs)
    mnist_compare  MnistCNN x3  the reference's settings (SGD lr 0.01, batch 100,
                                3,000 iterations): about 97.0 / 93.6 / 96.5%, same ordering

With CUDA it also times one LeNet-5 epoch over CIFAR-10 on the CPU and on
the GPU. A benchmark reports: a missed target never fails the command.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench-results" / "train.json"

# name -> (recipe, model builder arguments, loaders, target accuracy, time budget s, reference)
MODELS = {
    "cifar2": ("cifar2", ("Net", {}), "cifar2_loaders", 0.91, 300, "0.88-0.89 (SGD lr 1e-2, batch 64, 100 epochs)"),
    "lenet5_mnist": ("lenet5_mnist", ("LeNet5", {"in_channels": 1}), "mnist_loaders", 0.994, 180,
                     "0.9905 (LeCun et al. 1998)"),
    "lenet5_cifar10": ("lenet5_cifar10", ("LeNet5", {}), "cifar10_loaders", 0.70, 300,
                       "about 0.59 (Adam lr 1e-3, batch 4, 2 epochs)"),
    "mnist_same_max": ("mnist_compare", ("MnistCNN", {"padding": "same", "pool": "max"}), "mnist_loaders",
                       None, None, "about 0.970"),
    "mnist_same_avg": ("mnist_compare", ("MnistCNN", {"padding": "same", "pool": "avg"}), "mnist_loaders",
                       None, None, "about 0.936"),
    "mnist_valid_max": ("mnist_compare", ("MnistCNN", {"padding": "valid", "pool": "max"}), "mnist_loaders",
                        None, None, "about 0.965"),
}
# the reference's ordering of the three comparison models, best first
COMPARE_ORDER = ("mnist_same_max", "mnist_valid_max", "mnist_same_avg")
COMPARE_TOLERANCE = 0.02   # within 2 points of the reference: its own tables disagree by that much
COMPARE_REFERENCE = {"mnist_same_max": 0.970, "mnist_same_avg": 0.936, "mnist_valid_max": 0.965}


def load_average():
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def pick_threads(requested):
    """torch threads for the runs: `requested`, or the faster of 1 and 2 on a quick LeNet-5 test.

    On a busy machine two threads can be several times slower than one (each
    waits for the other at every operation), so the choice is measured.
    """
    import torch

    from helpers import models

    if requested:
        torch.set_num_threads(requested)
        return requested, {}
    model = models.LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(128, 3, 32, 32), torch.randint(0, 10, (128,))

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    timings = {}
    for threads in sorted({1, min(2, os.cpu_count() or 1)}):
        torch.set_num_threads(threads)
        step()
        times = []
        for _ in range(8):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        timings[threads] = statistics.median(times)
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best, timings


def bench_model(name, device="cpu"):
    """Train one model with its full recipe; return a dict of what was measured."""
    from helpers import models, train

    recipe, (cls, kwargs), loaders_name, target, budget, reference = MODELS[name]
    settings = train.run_settings(recipe, "full")
    train.seed_everything(0)
    train_loader, test_loader = getattr(train, loaders_name)(settings)
    model = getattr(models, cls)(**kwargs)
    start = time.perf_counter()
    history = train.train(model, settings, train_loader, None, device=device, progress=None)
    accuracy = train.evaluate(model, test_loader, flip_test=settings.flip_test)
    wall = time.perf_counter() - start
    plain = train.evaluate(model, test_loader) if settings.flip_test else accuracy
    row = {
        "name": name, "model": f"{cls}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})",
        "parameters": models.count_parameters(model), "recipe": recipe,
        "settings": {k: v for k, v in vars(settings).items()},
        "test_accuracy": round(accuracy, 4), "test_accuracy_without_flip": round(plain, 4),
        "epochs": history.epochs, "wall_s": round(wall, 1),
        "s_per_epoch": round(history.total_time / history.epochs, 2),
        "final_train_loss": round(history.train_loss[-1], 4),
        "target_accuracy": target, "budget_s": budget, "reference": reference,
        "load_after": load_average(), "device": str(device),
    }
    if target is not None:
        row["passed"] = accuracy >= target and wall < budget
    return row


def bench_gpu_epoch():
    """Seconds of one LeNet-5 epoch over CIFAR-10 on the CPU and on CUDA (after a warm-up)."""
    import torch

    from helpers import models, train

    if not torch.cuda.is_available():
        return None
    settings = train.run_settings("lenet5_cifar10", "full", epochs=1, flip_test=False)
    result = {"gpu": torch.cuda.get_device_name(0)}
    for device in ("cpu", "cuda"):
        train.seed_everything(0)
        loader, _ = train.cifar10_loaders(settings, device=device)
        model = models.LeNet5()
        warm = train.run_settings("lenet5_cifar10", "full", epochs=1, train_size=2048)
        warm_loader, _ = train.cifar10_loaders(warm, device=device)
        train.train(model, warm, warm_loader, device=device, progress=False)  # warm-up
        history = train.train(model, settings, loader, device=device, progress=False)
        result[f"{device}_epoch_s"] = round(history.epoch_time[0], 2)
    result["speedup"] = round(result["cpu_epoch_s"] / result["cuda_epoch_s"], 1)
    return result


def compare_verdict(rows):
    """Whether the comparison models came out in the reference's order, each near its figure."""
    by_name = {row["name"]: row for row in rows}
    if not all(name in by_name for name in COMPARE_ORDER):
        return None
    accs = [by_name[name]["test_accuracy"] for name in COMPARE_ORDER]
    ordered = accs[0] >= accs[1] >= accs[2]
    near = all(abs(by_name[n]["test_accuracy"] - COMPARE_REFERENCE[n]) <= COMPARE_TOLERANCE
               for n in COMPARE_ORDER)
    return {"ordering": " > ".join(COMPARE_ORDER), "accuracies": accs, "same_ordering": ordered,
            "within_2_points": near}


def format_row(row):
    target = ""
    if row["target_accuracy"] is not None:
        target = (f">= {row['target_accuracy']:.3f} in < {row['budget_s']} s  "
                  f"{'PASS' if row['passed'] else 'MISS'}")
    flip = ""
    if row["settings"]["flip_test"]:
        flip = f" (without flip {row['test_accuracy_without_flip']:.4f})"
    return (f"  {row['name']:<16} {row['test_accuracy']:.4f}{flip:<24} {row['epochs']:>3} epochs "
            f"{row['wall_s']:>7.1f} s ({row['s_per_epoch']:.1f} s/epoch)  {target:<32} "
            f"reference {row['reference']}")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m course bench --train",
        description="Train every course model with its full recipe and report test accuracy, epochs and "
                    "wall time beside the targets (missed targets never fail the command).")
    parser.add_argument("--only", choices=tuple(MODELS) + ("mnist_compare",), action="append",
                        help="run only this model (repeatable; mnist_compare = the three MnistCNNs)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: the faster of 1 and 2, measured first)")
    parser.add_argument("--device", default="cpu", help="where to train (default cpu: the targets are CPU targets)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results file (default {DEFAULT_OUT})")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    import torch

    names = list(MODELS)
    if args.only:
        wanted = set(args.only)
        if "mnist_compare" in wanted:
            wanted |= set(COMPARE_ORDER)
        names = [n for n in names if n in wanted]
    load_before = load_average()
    threads, timings = pick_threads(args.threads)
    print(f"python -m course bench --train: torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {platform.system()} {platform.machine()}")
    print(f"Load average before the run: {load_before}" + (
        " -- other work is running: times are slower than on an idle machine"
        if load_before and load_before > 0.5 * (os.cpu_count() or 1) else ""))
    print(f"torch threads: {threads}" + (
        " (measured: " + ", ".join(f"{t} thread{'s' if t > 1 else ''} {s * 1e3:.0f} ms/batch"
                                    for t, s in timings.items()) + ")" if timings else " (--threads)"))
    print("Each model: its full recipe (COURSE_PROFILE=full), whole data set, seed 0; wall time = training "
          "+ final test evaluation.", flush=True)
    rows = []
    for name in names:
        row = bench_model(name, device=args.device)
        rows.append(row)
        print(format_row(row), flush=True)
    compare = compare_verdict(rows)
    if compare is not None:
        print(f"  comparison ordering {compare['ordering']}: "
              f"{' / '.join(f'{a:.4f}' for a in compare['accuracies'])} -> "
              f"{'same ordering as the reference' if compare['same_ordering'] else 'ORDERING DIFFERS'}, "
              f"{'each' if compare['within_2_points'] else 'NOT each'} within 2 points of it")
    gpu = bench_gpu_epoch() if torch.cuda.is_available() else None
    if gpu is None:
        print("GPU: no CUDA device available here; CPU vs GPU epoch time for LeNet-5 on CIFAR-10 skipped.")
    else:
        print(f"GPU ({gpu['gpu']}): one LeNet-5 epoch over CIFAR-10 takes {gpu['cpu_epoch_s']:.2f} s on the CPU, "
              f"{gpu['cuda_epoch_s']:.2f} s on the GPU ({gpu['speedup']:.1f}x).")
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "torch": torch.__version__, "cpus": os.cpu_count(),
        "threads": threads, "thread_timings_s": timings, "load_before": load_before,
        "load_after": load_average(), "models": rows, "comparison": compare, "gpu": gpu,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = {}
    if args.out.is_file():  # keep the other models' rows from an earlier run with --only
        try:
            previous = {row["name"]: row for row in json.loads(args.out.read_text()).get("models", [])}
        except (ValueError, OSError):
            previous = {}
    previous.update({row["name"]: row for row in rows})
    result["models"] = [previous[n] for n in MODELS if n in previous]
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
