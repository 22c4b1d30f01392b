"""helpers.data: finding, reading, caching and subsetting MNIST and CIFAR-10.

Most tests build tiny data roots in tmp_path (a few generated JPEGs, tiny IDX
files, tiny pickled batches), so they are fast and need no data. The tests
marked `real` read the full data sets from COURSE_DATA (or ../shared/data next
to the repository) and decode CIFAR-10 once per session into a temporary cache:
they never use, nor fill, the user's own cache.
"""
import importlib.util
import os
import pickle
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

import helpers.data as data
from helpers.data import CIFAR10_CLASSES, DataNotFound

REPO = Path(__file__).resolve().parent.parent

# Keep every test that reads the real data on one xdist worker, so the
# session-scoped decode below happens once per test run.
if importlib.util.find_spec("xdist") is not None:
    real = pytest.mark.xdist_group("real-data")
else:  # pragma: no cover - plain pytest without the plugin
    def real(fn):
        return fn


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test sees the user's data root or cache unless it asks."""
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "no-data-here"))


# --------------------------------------------------------------------------
# Tiny synthetic data roots
# --------------------------------------------------------------------------

def _make_jpg_root(root, per_class=(2, 1), seed=0):
    """root/cifar10-jpg/{train,test}/<class>/NNNN.jpg: a few random 32x32 JPEGs per class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, count in zip(("train", "test"), per_class):
        for name in CIFAR10_CLASSES:
            folder = root / "cifar10-jpg" / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}.jpg", quality=90)
    return root


def _make_official_root(root, per_batch=3, seed=1):
    """root/cifar-10-batches-py with tiny pickled batches in the official format."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    expected = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        pixels = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": pixels, "labels": labels,
                         "filenames": [f"{i}.png" for i in range(per_batch)]}, f)
        expected[name] = (pixels.reshape(-1, 3, 32, 32), labels)
    return root, expected


def _write_idx(path, array):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.tobytes())


def _make_mnist_root(root, n_train=5, n_test=3, seed=2):
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    made = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        made[prefix] = (images, labels)
    return root, made


@pytest.fixture
def jpg_root(tmp_path):
    return _make_jpg_root(tmp_path / "jpg-data")


@pytest.fixture
def count_decodes(monkeypatch):
    """Count calls of the JPEG decoder (a cache hit makes none)."""
    calls = []
    original = data._decode_imagefolder

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(data, "_decode_imagefolder", counting)
    return calls


def _cache_files(folder):
    return sorted(p.name for p in Path(folder).iterdir()) if Path(folder).exists() else []


# --------------------------------------------------------------------------
# Where things are
# --------------------------------------------------------------------------

def test_data_root_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "somewhere"))
    assert data.data_root() == tmp_path / "somewhere"
    monkeypatch.delenv("COURSE_DATA")
    assert data.data_root() == REPO / "data"


def test_cache_dir_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "c"))
    assert data.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("COURSE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.cache_dir() == tmp_path / "home" / ".cache" / "cnn-course" / "data"


def test_class_names():
    assert CIFAR10_CLASSES == ("airplane", "automobile", "bird", "cat", "deer",
                               "dog", "frog", "horse", "ship", "truck")
    assert list(CIFAR10_CLASSES) == sorted(CIFAR10_CLASSES)  # ImageFolder's order is label order
    assert data.CIFAR2_CLASSES == ("airplane", "bird")


def test_import_is_cheap():
    code = ("import sys, helpers.data; "
            "print(sorted(m for m in ('torch', 'torchvision', 'PIL', 'tqdm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "[]", f"import helpers.data pulled in {out.stdout.strip()}"


# --------------------------------------------------------------------------
# CIFAR-10 from an ImageFolder of JPEGs, and the cache
# --------------------------------------------------------------------------

def test_cifar10_from_jpg_matches_imagefolder(jpg_root):
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import PILToTensor

    images, labels = data.load_cifar10(train=True, root=jpg_root)
    assert images.shape == (20, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.tolist() == [i // 2 for i in range(20)]
    reference = ImageFolder(str(jpg_root / "cifar10-jpg" / "train"), transform=PILToTensor())
    assert reference.classes == list(CIFAR10_CLASSES)
    for i in range(len(reference)):
        image, label = reference[i]
        assert label == labels[i]
        assert torch.equal(image, images[i]), f"image {i} differs from PIL's decoding"

    test_images, test_labels = data.load_cifar10(train=False, root=jpg_root)
    assert test_images.shape == (10, 3, 32, 32) and test_labels.tolist() == list(range(10))


def test_cache_used_on_second_load(jpg_root, count_decodes, tmp_path):
    first = data.load_cifar10(root=jpg_root)
    files = _cache_files(tmp_path / "cache")  # COURSE_CACHE, set by _isolated
    assert len(files) == 1 and files[0].startswith("cifar10-train-") and files[0].endswith(".pt")
    second = data.load_cifar10(root=jpg_root)
    assert len(count_decodes) == 1, "the second load decoded the JPEGs again instead of using the cache"
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_course_cache_env_respected(jpg_root, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "elsewhere"))
    data.load_cifar10(train=False, root=jpg_root)
    assert len(_cache_files(tmp_path / "elsewhere")) == 1
    assert not (tmp_path / "cache").exists()
    data.load_cifar10(train=False, root=jpg_root, cache=tmp_path / "explicit")
    assert len(_cache_files(tmp_path / "explicit")) == 1


def test_course_data_env_respected(jpg_root, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(jpg_root))
    images, _ = data.load_cifar10(train=False)
    assert len(images) == 10


@pytest.mark.parametrize("damage", ["truncate", "flip-bytes", "garbage", "empty", "other-key"])
def test_damaged_cache_is_rebuilt(jpg_root, count_decodes, tmp_path, damage):
    good_images, good_labels = data.load_cifar10(root=jpg_root)
    (cache_file,) = (tmp_path / "cache").iterdir()
    raw = cache_file.read_bytes()
    if damage == "truncate":
        cache_file.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip-bytes":  # inside the image bytes: torch.load may not notice, the CRC does
        blob = bytearray(raw)
        start = raw.find(bytes(good_images[0, 0, 0, :16].tolist()))
        assert start > 0
        blob[start: start + 8] = bytes(255 - b for b in blob[start: start + 8])
        cache_file.write_bytes(bytes(blob))
    elif damage == "garbage":
        cache_file.write_bytes(b"not a torch file" * 100)
    elif damage == "empty":
        cache_file.write_bytes(b"")
    elif damage == "other-key":  # a valid file whose record does not match the source
        blob = torch.load(cache_file, weights_only=True)
        blob["key"] = "something else"
        torch.save(blob, cache_file)

    images, labels = data.load_cifar10(root=jpg_root)
    assert len(count_decodes) == 2, "the damaged cache was used instead of being rebuilt"
    assert torch.equal(images, good_images) and torch.equal(labels, good_labels)
    # the rebuilt file is good: the next load uses it
    data.load_cifar10(root=jpg_root)
    assert len(count_decodes) == 2
    assert _cache_files(tmp_path / "cache") == [cache_file.name]


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_interrupted_cache_write_leaves_no_file(jpg_root, monkeypatch, tmp_path, error):
    def broken_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a file")
        raise error

    monkeypatch.setattr(torch, "save", broken_save)
    if isinstance(error, OSError):  # a disk problem: the load still succeeds, uncached
        images, _ = data.load_cifar10(train=False, root=jpg_root)
        assert len(images) == 10
    else:
        with pytest.raises(KeyboardInterrupt):
            data.load_cifar10(train=False, root=jpg_root)
    assert _cache_files(tmp_path / "cache") == []


def test_changed_source_gets_a_new_cache(jpg_root, count_decodes, tmp_path):
    from PIL import Image

    data.load_cifar10(train=False, root=jpg_root)
    old = _cache_files(tmp_path / "cache")
    folder = jpg_root / "cifar10-jpg" / "test" / "cat"
    Image.new("RGB", (32, 32), (1, 2, 3)).save(folder / "9999.jpg")
    images, labels = data.load_cifar10(train=False, root=jpg_root)
    assert len(count_decodes) == 2 and len(images) == 11
    assert labels.bincount().tolist() == [1, 1, 1, 2, 1, 1, 1, 1, 1, 1]
    new = _cache_files(tmp_path / "cache")
    assert len(new) == 1 and new != old, "the stale cache of the same source should be replaced"


def test_two_roots_never_share_a_cache(tmp_path):
    a = _make_jpg_root(tmp_path / "a", per_class=(1, 1), seed=10)
    b = _make_jpg_root(tmp_path / "b", per_class=(1, 1), seed=11)
    images_a, _ = data.load_cifar10(root=a)
    images_b, _ = data.load_cifar10(root=b)
    assert not torch.equal(images_a, images_b)
    assert len(_cache_files(tmp_path / "cache")) == 2
    assert torch.equal(data.load_cifar10(root=a)[0], images_a)


def test_progress_bar_quiet_when_not_a_tty(jpg_root, capfd, tmp_path):
    data.load_cifar10(train=False, root=jpg_root)
    data.load_cifar10(train=True, root=jpg_root, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    data.load_cifar10(train=False, root=jpg_root, cache=tmp_path / "other", progress=True)
    assert "CIFAR-10 test" in capfd.readouterr().err  # asked for: shown even off a terminal


def test_bad_image_size_is_reported(jpg_root):
    from PIL import Image

    Image.new("RGB", (40, 30)).save(jpg_root / "cifar10-jpg" / "test" / "dog" / "big.jpg")
    with pytest.raises(ValueError, match=r"big\.jpg.*32x32"):
        data.load_cifar10(train=False, root=jpg_root)


# --------------------------------------------------------------------------
# CIFAR-10 from the official files, and source order
# --------------------------------------------------------------------------

def test_cifar10_from_official_files(tmp_path, count_decodes):
    root, expected = _make_official_root(tmp_path / "official")
    images, labels = data.load_cifar10(train=True, root=root)
    want = np.concatenate([expected[f"data_batch_{i}"][0] for i in range(1, 6)])
    assert images.shape == (15, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(images, torch.from_numpy(want))
    assert labels.tolist() == sum((expected[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    test_images, test_labels = data.load_cifar10(train=False, root=root)
    assert torch.equal(test_images, torch.from_numpy(expected["test_batch"][0]))
    assert test_labels.dtype == torch.int64
    assert count_decodes == []
    assert len(_cache_files(tmp_path / "cache")) == 2


def test_official_files_win_over_jpg(tmp_path):
    root, expected = _make_official_root(tmp_path / "both")
    _make_jpg_root(root)
    images, _ = data.load_cifar10(train=False, root=root)
    assert torch.equal(images, torch.from_numpy(expected["test_batch"][0]))


def test_incomplete_official_falls_back_to_jpg(tmp_path):
    root, _ = _make_official_root(tmp_path / "both")
    (root / "cifar-10-batches-py" / "data_batch_3").unlink()
    _make_jpg_root(root)
    images, _ = data.load_cifar10(train=True, root=root)
    assert len(images) == 20  # the JPEG copy


# --------------------------------------------------------------------------
# Nothing there: one clear error; downloads through torchvision
# --------------------------------------------------------------------------

def test_cifar10_not_found_message(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    monkeypatch.setenv("COURSE_DATA", str(empty))
    with pytest.raises(DataNotFound) as info:
        data.load_cifar10(train=True, download=False)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for part in ("COURSE_DATA", str(empty), "cifar-10-batches-py", "cifar10-jpg",
                 "train/<class>/*.jpg", "airplane, automobile", "internet", "automatically"):
        assert part in message, f"{part!r} missing from:\n{message}"


def test_mnist_not_found_message(tmp_path):
    empty = tmp_path / "empty"
    with pytest.raises(DataNotFound) as info:
        data.load_mnist(train=False, root=empty, download=False)
    message = str(info.value)
    for part in ("COURSE_DATA", str(empty / "MNIST" / "raw"), "t10k-images-idx3-ubyte",
                 "train-labels-idx1-ubyte", "automatically"):
        assert part in message, f"{part!r} missing from:\n{message}"


def test_broken_jpg_tree_is_named_in_the_error(jpg_root):
    import shutil

    shutil.rmtree(jpg_root / "cifar10-jpg" / "train" / "frog")
    with pytest.raises(DataNotFound, match="missing class folders: frog"):
        data.load_cifar10(train=True, root=jpg_root, download=False)


def test_failed_download_gives_data_not_found(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataNotFound, match="download failed.*Name or service not known") as info:
        data.load_cifar10(root=tmp_path / "empty")
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    with pytest.raises(DataNotFound, match="download failed"):
        data.load_mnist(root=tmp_path / "empty")


def test_download_through_torchvision(tmp_path, monkeypatch):
    """Online, torchvision's download=True fetches the official files into the data root."""
    import torchvision.datasets

    calls = []

    def fake_cifar10(root, train, download):
        calls.append(("CIFAR10", root, train, download))
        _make_official_root(Path(root))

    def fake_mnist(root, train, download):
        calls.append(("MNIST", root, train, download))
        _make_mnist_root(Path(root))

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", fake_cifar10)
    monkeypatch.setattr(torchvision.datasets, "MNIST", fake_mnist)
    root = tmp_path / "fresh"
    monkeypatch.setenv("COURSE_DATA", str(root))
    images, _ = data.load_cifar10(train=False)
    assert images.shape == (3, 3, 32, 32)
    images, _ = data.load_mnist(train=True)
    assert images.shape == (5, 1, 28, 28)
    assert calls == [("CIFAR10", str(root), False, True), ("MNIST", str(root), True, True)]


# --------------------------------------------------------------------------
# MNIST from IDX files
# --------------------------------------------------------------------------

def test_mnist_from_idx(tmp_path):
    root, made = _make_mnist_root(tmp_path / "m")
    images, labels = data.load_mnist(train=True, root=root)
    assert images.shape == (5, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (5,) and labels.dtype == torch.int64
    assert torch.equal(images[:, 0], torch.from_numpy(made["train"][0]))
    assert labels.tolist() == made["train"][1].tolist()
    images, labels = data.load_mnist(train=False, root=root)
    assert images.shape == (3, 1, 28, 28)


def test_mnist_gz_files(tmp_path):
    import gzip

    root, made = _make_mnist_root(tmp_path / "m")
    for path in (root / "MNIST" / "raw").iterdir():
        (path.parent / (path.name + ".gz")).write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    images, labels = data.load_mnist(train=False, root=root)
    assert torch.equal(images[:, 0], torch.from_numpy(made["t10k"][0]))


def test_mnist_truncated_idx(tmp_path):
    root, _ = _make_mnist_root(tmp_path / "m")
    path = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        data.load_mnist(train=False, root=root)


# --------------------------------------------------------------------------
# CIFAR-2, normalize, datasets, argument checks
# --------------------------------------------------------------------------

def test_cifar2_mapping(jpg_root):
    all_images, all_labels = data.load_cifar10(root=jpg_root)
    images, labels = data.cifar2(root=jpg_root)
    assert images.shape == (4, 3, 32, 32) and labels.dtype == torch.int64
    assert labels.tolist() == [0, 0, 1, 1]
    assert torch.equal(images[:2], all_images[all_labels == 0])
    assert torch.equal(images[2:], all_images[all_labels == 2])


def test_normalize():
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3).expand(2, 3, 2, 3).clone()
    out = data.normalize(images, (0.2, 0.0, 1.0), (0.5, 1.0, 0.25))
    assert out.dtype == torch.float32 and out.shape == images.shape
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([-0.4, 0.0, 1.6]))
    torch.testing.assert_close(out[1, 1, 1], torch.tensor([0.0, 0.2, 1.0]))
    torch.testing.assert_close(out[0, 2, 0], torch.tensor([-4.0, -3.2, 0.0]))
    assert images.dtype == torch.uint8 and images[0, 0, 0, 2] == 255  # input untouched
    single = data.normalize(images[0], data.CIFAR10_MEAN, data.CIFAR10_STD)
    assert single.shape == (3, 2, 3)
    assert data.normalize(images[:, :1], 0.5, 0.5).shape == (2, 1, 2, 3)


def test_normalize_bad_arguments():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    with pytest.raises(TypeError, match="images must be a uint8 tensor"):
        data.normalize(images.float(), data.CIFAR10_MEAN, data.CIFAR10_STD)
    with pytest.raises(TypeError, match="images"):
        data.normalize(images.numpy(), data.CIFAR10_MEAN, data.CIFAR10_STD)
    with pytest.raises(ValueError, match="mean has 1 values? but the images have 3 channels|mean"):
        data.normalize(images, (0.1, 0.2), data.CIFAR10_STD)
    with pytest.raises(TypeError, match="std"):
        data.normalize(images, data.CIFAR10_MEAN, "wide")
    with pytest.raises(ValueError, match="std must be positive"):
        data.normalize(images, data.CIFAR10_MEAN, (1.0, 0.0, 1.0))


def test_datasets_are_normalized_tensor_datasets(jpg_root, tmp_path):
    root, _ = _make_mnist_root(tmp_path / "m")
    for dataset, n, shape in ((data.cifar10_dataset(train=False, root=jpg_root), 10, (3, 32, 32)),
                              (data.cifar2_dataset(train=True, root=jpg_root), 4, (3, 32, 32)),
                              (data.mnist_dataset(train=True, root=root), 5, (1, 28, 28))):
        assert isinstance(dataset, torch.utils.data.TensorDataset)
        assert len(dataset) == n
        image, label = dataset[0]
        assert image.shape == shape and image.dtype == torch.float32
        assert label.dtype == torch.int64
    images, _ = data.load_cifar10(train=False, root=jpg_root)
    want = data.normalize(images, data.CIFAR10_MEAN, data.CIFAR10_STD)
    assert torch.equal(data.cifar10_dataset(train=False, root=jpg_root).tensors[0], want)


@pytest.mark.parametrize("call", [
    lambda: data.load_cifar10(train="yes"),
    lambda: data.load_cifar10(1),
    lambda: data.load_mnist(train=None),
    lambda: data.cifar2(train=0),
    lambda: data.mnist_dataset(train="train"),
    lambda: data.cifar10_dataset(train=1.0),
    lambda: data.cifar2_dataset(train=[True]),
])
def test_train_must_be_bool(call):
    with pytest.raises(TypeError, match="train must be True or False"):
        call()


def test_other_bad_arguments(jpg_root):
    with pytest.raises(TypeError, match="download"):
        data.load_cifar10(root=jpg_root, download="no")
    with pytest.raises(TypeError, match="progress"):
        data.load_cifar10(root=jpg_root, progress=1)
    with pytest.raises(TypeError, match="root"):
        data.load_mnist(root=42)
    with pytest.raises(TypeError, match="cache"):
        data.load_cifar10(root=jpg_root, cache=3.5)


# --------------------------------------------------------------------------
# The real data sets (COURSE_DATA, as CI sets it, or ../shared/data)
# --------------------------------------------------------------------------

def _real_root():
    candidates = [os.environ.get("COURSE_DATA", ""), str(REPO.parent / "shared" / "data")]
    for candidate in filter(None, candidates):
        root = Path(candidate)
        if (root / "MNIST" / "raw").is_dir() and (
                (root / "cifar-10-batches-py").is_dir() or (root / "cifar10-jpg").is_dir()):
            return root
    return None


_REAL_ROOT = _real_root()  # read before the autouse fixture hides COURSE_DATA
needs_real = pytest.mark.skipif(
    _REAL_ROOT is None,
    reason="the real MNIST and CIFAR-10 are not here: set COURSE_DATA to a folder holding "
           "MNIST/raw and cifar-10-batches-py or cifar10-jpg (CI points it at ../shared/data)")


@pytest.fixture(scope="session")
def real_cifar(tmp_path_factory):
    """CIFAR-10 decoded once per session into a temporary cache, then loaded again from it."""
    cache = tmp_path_factory.mktemp("real-cache")
    start = time.perf_counter()
    train = data.load_cifar10(train=True, root=_REAL_ROOT, cache=cache, progress=False)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    again = data.load_cifar10(train=True, root=_REAL_ROOT, cache=cache, progress=False)
    warm = time.perf_counter() - start
    test = data.load_cifar10(train=False, root=_REAL_ROOT, cache=cache, progress=False)
    return {"cache": cache, "train": train, "again": again, "test": test, "cold": cold, "warm": warm}


def _channel_stats(images):
    """Exact per-channel mean and std on the [0, 1] scale, from a 256-bin histogram."""
    values = torch.arange(256, dtype=torch.float64) / 255
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = torch.bincount(images[:, c].reshape(-1), minlength=256).double()
        mean = (counts * values).sum() / counts.sum()
        var = (counts * (values - mean) ** 2).sum() / counts.sum()
        means.append(mean.item())
        stds.append(var.sqrt().item())
    return means, stds


@real
@needs_real
def test_real_mnist():
    images, labels = data.load_mnist(train=True, root=_REAL_ROOT)
    assert images.shape == (60000, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60000,) and labels.dtype == torch.int64
    assert labels.min() == 0 and labels.max() == 9
    means, stds = _channel_stats(images)
    np.testing.assert_allclose(means, data.MNIST_MEAN, atol=1e-4)
    np.testing.assert_allclose(stds, data.MNIST_STD, atol=1e-4)
    images, labels = data.load_mnist(train=False, root=_REAL_ROOT)
    assert images.shape == (10000, 1, 28, 28)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]


@real
@needs_real
def test_real_cifar10(real_cifar):
    images, labels = real_cifar["train"]
    assert images.shape == (50000, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.shape == (50000,) and labels.dtype == torch.int64
    assert labels.bincount().tolist() == [5000] * 10
    images, labels = real_cifar["test"]
    assert images.shape == (10000, 3, 32, 32)
    assert labels.bincount().tolist() == [1000] * 10
    if (_REAL_ROOT / "cifar10-jpg" / "train").is_dir():
        assert sorted(os.listdir(_REAL_ROOT / "cifar10-jpg" / "train")) == list(CIFAR10_CLASSES)


@real
@needs_real
def test_real_cifar10_stats(real_cifar):
    means, stds = _channel_stats(real_cifar["train"][0])
    # The constants come from the JPEG copy; the official files differ by < 0.002 in std.
    official = (_REAL_ROOT / "cifar-10-batches-py").is_dir()
    atol = 2.5e-3 if official else 1e-4
    np.testing.assert_allclose(means, data.CIFAR10_MEAN, atol=atol)
    np.testing.assert_allclose(stds, data.CIFAR10_STD, atol=atol)


@real
@needs_real
def test_real_cache_second_load(real_cifar):
    (images, labels), (again_images, again_labels) = real_cifar["train"], real_cifar["again"]
    assert torch.equal(images, again_images) and torch.equal(labels, again_labels)
    assert real_cifar["warm"] < real_cifar["cold"] / 3, (
        f"loading from the cache took {real_cifar['warm']:.2f} s, the first load {real_cifar['cold']:.2f} s")
    assert len(list(real_cifar["cache"].glob("cifar10-*.pt"))) == 2


@real
@needs_real
def test_real_cifar2(real_cifar):
    cache = real_cifar["cache"]
    for train, n in ((True, 10000), (False, 2000)):
        images, labels = data.cifar2(train=train, root=_REAL_ROOT, cache=cache)
        assert images.shape == (n, 3, 32, 32) and images.dtype == torch.uint8
        assert labels.dtype == torch.int64 and labels.bincount().tolist() == [n // 2, n // 2]
        all_images, all_labels = real_cifar["train" if train else "test"]
        assert torch.equal(images[labels == 0], all_images[all_labels == 0])
        assert torch.equal(images[labels == 1], all_images[all_labels == 2])
    dataset = data.cifar2_dataset(train=False, root=_REAL_ROOT, cache=cache)
    assert len(dataset) == 2000 and dataset[0][0].dtype == torch.float32
