"""helpers.train: devices, the run-size profile, loaders, the training loop, evaluation.

All on tiny synthetic data: the whole file runs in a few seconds.
"""
import collections

import pytest
import torch
import torch.nn as nn

from helpers import data, models, train

Pair = collections.namedtuple("Pair", "x y")


def tiny_model(in_features=12, classes=3):
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, 16), nn.ReLU(), nn.Linear(16, classes))


def tiny_images(n=40, channels=3, size=4, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, classes, (n,), generator=g)
    return images, labels


# -------------------------------------------------------------------- devices and seeds

def test_get_device_prefers_cuda():
    device = train.get_device()
    assert isinstance(device, torch.device)
    assert device.type == ("cuda" if torch.cuda.is_available() else device.type)
    assert device.type in ("cuda", "mps", "cpu")


def test_to_device_moves_every_tensor_in_nested_structures():
    batch = {"images": torch.zeros(2, 3), "extra": [torch.ones(1), ("name", torch.arange(3))],
             "pair": Pair(torch.ones(2), 7), "none": None}
    moved = train.to_device(batch, torch.device("meta"))  # the meta device: no data, any machine
    assert moved["images"].device.type == "meta"
    assert moved["extra"][0].device.type == "meta" and isinstance(moved["extra"], list)
    assert isinstance(moved["extra"][1], tuple) and moved["extra"][1][0] == "name"
    assert moved["extra"][1][1].device.type == "meta" and moved["extra"][1][1].dtype == torch.int64
    assert isinstance(moved["pair"], Pair) and moved["pair"].x.device.type == "meta" and moved["pair"].y == 7
    assert moved["none"] is None
    assert batch["images"].device.type == "cpu", "the original must stay where it was"
    assert train.to_device(5, "cpu") == 5


def test_seed_everything_makes_runs_repeat():
    def run(seed):
        train.seed_everything(seed)
        images, labels = tiny_images(64)
        loader = train.TensorLoader(images, labels, 16, shuffle=True, shift=1, flip=True)
        model = tiny_model(48)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        history = train.fit(model, loader, optimizer, 2, device="cpu", progress=False)
        return history.train_loss, model[1].weight.detach().clone()

    loss_a, weight_a = run(0)
    loss_b, weight_b = run(0)
    loss_c, weight_c = run(1)
    assert loss_a == loss_b and torch.equal(weight_a, weight_b)
    assert loss_a != loss_c and not torch.equal(weight_a, weight_c)
    with pytest.raises(ValueError, match="seed"):
        train.seed_everything(-1)


# -------------------------------------------------------------------- the profile

def test_profile_reads_course_profile(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert train.profile() == "fast"
    monkeypatch.setenv("COURSE_PROFILE", " Full ")
    assert train.profile() == "full"
    assert train.run_settings("cifar2") == train.RECIPES["cifar2"]["full"]
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    assert train.run_settings("cifar2") == train.RECIPES["cifar2"]["fast"]


@pytest.mark.parametrize("bad", ["medium", "FAST!", "1"])
def test_bad_profile_is_a_clear_error(monkeypatch, bad):
    monkeypatch.setenv("COURSE_PROFILE", bad)
    with pytest.raises(ValueError, match="COURSE_PROFILE") as info:
        train.profile()
    assert repr(bad) in str(info.value) and "fast" in str(info.value) and "full" in str(info.value)
    with pytest.raises(ValueError, match="COURSE_PROFILE"):
        train.run_settings("cifar2")


def test_recipes_cover_both_profiles_and_fast_is_smaller():
    for name, by_profile in train.RECIPES.items():
        fast, full = by_profile["fast"], by_profile["full"]
        assert fast.train_size is not None and full.train_size is None, name
        assert fast.epochs <= full.epochs, name
    compare = train.run_settings("mnist_compare", "full")
    assert (compare.optimizer, compare.lr, compare.batch_size, compare.momentum) == ("sgd", 0.01, 100, 0.0)
    assert compare.epochs * 60_000 // compare.batch_size == 3_000  # iterations, as in the reference


def test_run_settings_overrides_and_errors():
    assert train.run_settings("cifar2", "fast", epochs=1).epochs == 1
    with pytest.raises(TypeError, match="epoch"):
        train.run_settings("cifar2", "fast", epoch=1)
    with pytest.raises(ValueError, match="name"):
        train.run_settings("cifar3")
    with pytest.raises(ValueError, match="profile_name"):
        train.run_settings("cifar2", "slow")
    with pytest.raises(ValueError, match="batch_size"):
        train.RunSettings(epochs=1, batch_size=0, lr=0.1)


# -------------------------------------------------------------------- loaders and augmentation

def test_tensor_loader_batches_normalises_and_covers_everything():
    images, labels = tiny_images(10, channels=2)
    loader = train.TensorLoader(images, labels, 4, mean=(0.5, 0.25), std=(0.5, 0.25))
    batches = list(loader)
    assert len(loader) == len(batches) == 3 and len(loader.dataset) == 10
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x = torch.cat([x for x, _ in batches])
    expected = data.normalize(images, (0.5, 0.25), (0.5, 0.25))
    assert x.dtype == torch.float32 and torch.allclose(x, expected)
    assert torch.equal(torch.cat([y for _, y in batches]), labels)
    shuffled = train.TensorLoader(images, labels, 4, shuffle=True, drop_last=True)
    assert len(shuffled) == 2 and sum(len(y) for _, y in shuffled) == 8


def test_random_shift_is_a_crop_of_the_padded_image():
    torch.manual_seed(0)
    x = torch.arange(2 * 2 * 5 * 5, dtype=torch.float32).view(2, 2, 5, 5) + 1
    shifted = train.random_shift(x, 2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    assert shifted.shape == x.shape
    for i in range(2):
        crops = [padded[i, :, dy:dy + 5, dx:dx + 5] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(shifted[i], c) for c in crops)
    assert torch.equal(train.random_shift(x, 0), x)
    shifts = {tuple(train.random_shift(x, 1)[0, 0].nonzero()[0].tolist()) for _ in range(40)}
    assert len(shifts) > 1, "the shift must vary"


def test_random_flip_mirrors_some_images():
    torch.manual_seed(0)
    x = torch.randn(64, 1, 3, 3)
    flipped = train.random_flip(x)
    same = [torch.equal(a, b) for a, b in zip(flipped, x)]
    mirrored = [torch.equal(a, b.flip(2)) for a, b in zip(flipped, x)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 10 < sum(mirrored) < 54


def test_cifar2_loaders_follow_the_settings(monkeypatch):
    def fake_cifar2(train=True, **kwargs):
        return tiny_images(300 if train else 100, size=32, classes=2, seed=int(train))

    monkeypatch.setattr(data, "cifar2", fake_cifar2)
    settings = train.RunSettings(epochs=1, batch_size=32, lr=0.1, train_size=100, test_size=50,
                                 eval_batch_size=20, shift=2, flip=True)
    train_loader, test_loader = train.cifar2_loaders(settings)
    x, y = next(iter(train_loader))
    assert x.shape == (32, 3, 32, 32) and y.shape == (32,)
    assert len(train_loader.dataset) == 100 and len(test_loader.dataset) == 50 and len(test_loader) == 3
    x_test = torch.cat([x for x, _ in test_loader])
    assert abs(x_test.mean().item()) < 0.2 and abs(x_test.std().item() - 1) < 0.2  # normalised


# -------------------------------------------------------------------- training and evaluation

def test_fit_overfits_a_fixed_batch_and_fills_the_history():
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 2, 2), torch.arange(16) % 3
    loader = [(x, y)]
    model = tiny_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    seen = []
    history = train.fit(model, loader, optimizer, 60, val_loader=loader, device="cpu",
                        callback=lambda h: seen.append(h.epochs), progress=False)
    assert history.epochs == 60 and seen == list(range(1, 61))
    for series in (history.train_loss, history.train_acc, history.val_loss, history.val_acc,
                   history.epoch_time):
        assert len(series) == 60
    assert history.train_loss[-1] < 0.05 < history.train_loss[0]
    assert history.val_acc[-1] == 1.0
    assert set(history.as_dict()) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    assert history.device == "cpu" and history.total_time > 0 and "60 epochs" in str(history)


def test_train_uses_the_settings():
    torch.manual_seed(0)
    images, labels = tiny_images(32, classes=2)
    loader = train.TensorLoader(images, labels, 8)
    settings = train.RunSettings(epochs=3, batch_size=8, lr=0.01, optimizer="adamw",
                                 schedule="onecycle", label_smoothing=0.1)
    history = train.train(tiny_model(48, 2), settings, loader, loader, progress=False, device="cpu")
    assert history.epochs == 3 and len(history.val_acc) == 3
    with pytest.raises(TypeError, match="settings"):
        train.train(tiny_model(48, 2), 3, loader)


class FixedLogits(nn.Module):
    """Predicts class x[:, 0] (an integer stored in the input): a model with known outputs."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return nn.functional.one_hot(x[:, 0].long(), 3).float() + 0 * self.dummy


def test_evaluate_and_predict_on_a_tiny_loader():
    predictions = torch.tensor([0, 1, 2, 2, 1, 0, 1, 2])
    labels = torch.tensor([0, 1, 2, 0, 1, 0, 2, 2])
    x = predictions.float().view(-1, 1)
    loader = [(x[:3], labels[:3]), (x[3:], labels[3:])]   # batches of unequal size
    model = FixedLogits().train()
    assert train.evaluate(model, loader) == pytest.approx(6 / 8)
    assert model.training, "evaluate must restore the model's mode"
    got, true = train.predict(model, [{"x": x, "y": labels}])
    assert torch.equal(got, predictions) and torch.equal(true, labels)
    assert got.dtype == torch.int64 and got.device.type == "cpu"


def test_per_class_accuracy_and_confusion_matrix():
    predictions = torch.tensor([0, 1, 2, 2, 1, 0, 1, 2])
    labels = torch.tensor([0, 1, 2, 0, 1, 0, 2, 2])
    cm = train.confusion_matrix(predictions, labels, 4)
    assert cm.shape == (4, 4) and cm.sum() == 8
    assert cm[0].tolist() == [2, 0, 1, 0] and cm[2].tolist() == [0, 1, 2, 0]
    acc = train.per_class_accuracy(predictions, labels, 4)
    assert acc[:3].tolist() == pytest.approx([2 / 3, 1.0, 2 / 3]) and torch.isnan(acc[3])
    with pytest.raises(TypeError, match="argmax"):
        train.per_class_accuracy(torch.randn(8, 3), labels)


def test_progress_bar_is_quiet_when_not_interactive():
    # pytest captures stdout, so it is no terminal; no notebook either
    assert train._show_progress(None) is False
    assert train._show_progress(True) is True and train._show_progress(False) is False


def test_chapter8_references_refuse_inside_forbid_by_name():
    from helpers import check

    for name, call in [("get_device", lambda: train.get_device()),
                       ("to_device", lambda: train.to_device(torch.ones(1), "cpu"))]:
        with pytest.raises(check.ForbiddenCall, match=name):
            with check.forbid(name):
                call()
    loader = [(torch.randn(4, 3, 2, 2), torch.tensor([0, 1, 2, 0]))]
    with check.forbid("to_device", "get_device", "train_epoch", "*"):  # fit and evaluate still work
        model = tiny_model()
        train.fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), 1, progress=False)
        train.evaluate(model, loader)
    with check.forbid("*"):
        train.to_device(torch.ones(1), "cpu")  # "*" is for kernels; the training helpers stay on


def test_chapter7_references_refuse_inside_forbid_by_name():
    from helpers import check

    model, loader = tiny_model(), [(torch.randn(4, 3, 2, 2), torch.tensor([0, 1, 2, 0]))]
    labels = torch.tensor([0, 1, 1])
    for name, call in [
            ("fit", lambda: train.fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), 1,
                                      progress=False)),
            ("train", lambda: train.train(model, "cifar2", loader, progress=False)),
            ("confusion_matrix", lambda: train.confusion_matrix(labels, labels)),
            ("per_class_accuracy", lambda: train.per_class_accuracy(labels, labels)),
            ("count_parameters", lambda: models.count_parameters(model)),
            ("parameter_table", lambda: models.parameter_table(model))]:
        with pytest.raises(check.ForbiddenCall, match=name):
            with check.forbid(name):
                call()
        if name != "train":      # the others are cheap: allowed again outside
            call()
