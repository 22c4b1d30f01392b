"""Data for the course: MNIST, CIFAR-10 and CIFAR-2 (airplanes versus birds).

Where the data lives:

    data_root()    COURSE_DATA if set, else <course root>/data
    cache_dir()    COURSE_CACHE if set, else ~/.cache/cnn-course/data

What is accepted under the data root (the first one found wins):

    MNIST/raw/train-images-idx3-ubyte ...    MNIST, the four IDX files as torchvision
                                             stores them (.gz copies work too)
    cifar-10-batches-py/data_batch_1 ...     CIFAR-10, the official files
    cifar10-jpg/train/<class>/*.jpg          CIFAR-10 as an ImageFolder of JPEGs
    cifar10-jpg/test/<class>/*.jpg           (class folders named as in CIFAR10_CLASSES)

With none of them there, the official files are downloaded through torchvision
(on a machine with internet access); offline, you get one `DataNotFound` error
saying what to put where.

Decoded CIFAR-10 images are cached as one uint8 tensor file in `cache_dir()`,
so the second load takes a fraction of a second instead of seconds:

    >>> images, labels = load_cifar10(train=True)      # doctest: +SKIP
    >>> images.shape, images.dtype, labels.shape       # doctest: +SKIP
    (torch.Size([50000, 3, 32, 32]), torch.uint8, torch.Size([50000]))
    >>> X, y = cifar2(train=False)                     # doctest: +SKIP
    >>> X.shape, y.bincount()                          # doctest: +SKIP
    (torch.Size([2000, 3, 32, 32]), tensor([1000, 1000]))

`import helpers.data` is cheap: torch is imported on the first load, torchvision
only to download.
"""
import gzip
import hashlib
import logging
import os
import pickle
import tempfile
import time
import zlib
from pathlib import Path

__all__ = [
    "DataNotFound",
    "data_root",
    "cache_dir",
    "CIFAR10_CLASSES",
    "CIFAR2_CLASSES",
    "MNIST_MEAN",
    "MNIST_STD",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "load_mnist",
    "load_cifar10",
    "cifar2",
    "normalize",
    "mnist_dataset",
    "cifar10_dataset",
    "cifar2_dataset",
]

_log = logging.getLogger(__name__)

DATA_ENV = "COURSE_DATA"
CACHE_ENV = "COURSE_CACHE"

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR2_CLASSES = ("airplane", "bird")
_CIFAR2_SOURCE_LABELS = (0, 2)  # airplane -> 0, bird -> 1

# Per-channel mean and standard deviation of the training pixels, scaled to
# [0, 1]. Computed once from the data (tests/test_data.py recomputes them):
# MNIST from its 60,000 training digits, CIFAR-10 from its 50,000 training
# images of the JPEG copy. The official files give (0.4914, 0.4822, 0.4465)
# and (0.2470, 0.2435, 0.2616): JPEG smooths a little; no model notices.
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
CIFAR10_MEAN = (0.4913, 0.4821, 0.4465)
CIFAR10_STD = (0.2452, 0.2428, 0.2606)

_MNIST_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CIFAR_BATCHES = {True: tuple(f"data_batch_{i}" for i in range(1, 6)), False: ("test_batch",)}
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_CACHE_VERSION = 1


class DataNotFound(FileNotFoundError):
    """The data set is not under the data root and could not be downloaded."""


# --------------------------------------------------------------------------
# Where things are
# --------------------------------------------------------------------------

def data_root():
    """The folder the data sets are read from (and downloaded into).

    COURSE_DATA if it is set, else `data/` under the course root (the folder
    that holds the `helpers` package).
    """
    value = os.environ.get(DATA_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    return Path(__file__).resolve().parent.parent / "data"


def cache_dir():
    """The folder for decoded-image caches: COURSE_CACHE, else ~/.cache/cnn-course/data.

    The data root may be read-only, so caches never go there. Cache files are
    named after their source (path and a fingerprint of its files), so two data
    roots never share a cache file.
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    return Path.home() / ".cache" / "cnn-course" / "data"


# --------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------

def load_mnist(train=True, *, root=None, download=True):
    """MNIST digits as tensors: images uint8 (N, 1, 28, 28), labels int64 (N,).

    N is 60,000 for train=True and 10,000 for train=False. Reads the IDX files
    in `<root>/MNIST/raw` (torchvision's layout); when they are missing,
    downloads them through torchvision (download=True and online), else raises
    DataNotFound.

    >>> images, labels = load_mnist(train=False)       # doctest: +SKIP
    >>> images.shape, labels[:5]                       # doctest: +SKIP
    (torch.Size([10000, 1, 28, 28]), tensor([7, 2, 1, 0, 4]))
    """
    _check_bool(train, "train")
    _check_bool(download, "download")
    root = _resolve_root(root)
    raw = root / "MNIST" / "raw"
    names = _MNIST_FILES[train]
    if not all(_find_idx(raw, name) for name in names):
        if not download:
            raise _mnist_not_found(root, train, "downloading is switched off (download=False)")
        try:
            import torchvision.datasets

            torchvision.datasets.MNIST(root=str(root), train=train, download=True)
        except Exception as err:  # offline, read-only root, server down, ...
            raise _mnist_not_found(root, train, f"the download failed: {_one_line(err)}") from err
        if not all(_find_idx(raw, name) for name in names):
            raise _mnist_not_found(root, train, "the download finished but the files are not there")
    images = _read_idx(_find_idx(raw, names[0]))
    labels = _read_idx(_find_idx(raw, names[1]))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"MNIST files in {raw} do not match: images {tuple(images.shape)}, "
                         f"labels {tuple(labels.shape)}")
    return images.unsqueeze(1), labels.long()


def _find_idx(folder, name):
    """The IDX file `name` in `folder`, uncompressed or as name.gz; None if absent."""
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _read_idx(path):
    """Read an IDX file of unsigned bytes (MNIST's format) into a uint8 tensor."""
    import torch

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = bytearray(f.read())
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = 1
    for size in shape:
        count *= size
    if len(data) != header + count:
        raise ValueError(f"{path} is truncated or has extra bytes: header says {shape}, "
                         f"expected {header + count} bytes, found {len(data)}")
    return torch.frombuffer(data, dtype=torch.uint8, offset=header, count=count).reshape(shape)


def _mnist_not_found(root, train, reason):
    split = "train" if train else "test"
    files = ", ".join(_MNIST_FILES[True] + _MNIST_FILES[False])
    return DataNotFound(
        f"MNIST ({split}) was not found, and {reason}.\n"
        f"  Looked in: {root / 'MNIST' / 'raw'}\n"
        f"  Data root: {root}  ({_root_origin(root)})\n"
        f"Put the four IDX files there, as torchvision stores them:\n"
        f"  {root / 'MNIST' / 'raw'}/{{{files}}}  (.gz copies work too)\n"
        f"or point the environment variable {DATA_ENV} at a folder that holds MNIST/raw/.\n"
        f"On a machine with internet access they are downloaded there automatically "
        f"(torchvision, about 12 MB)."
    )


# --------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------

def load_cifar10(train=True, *, root=None, cache=None, download=True, progress=None):
    """CIFAR-10 as tensors: images uint8 (N, 3, 32, 32), labels int64 (N,).

    N is 50,000 for train=True and 10,000 for train=False (5,000 / 1,000 per
    class); label i is CIFAR10_CLASSES[i]. Sources, in this order:

    1. the official files `<root>/cifar-10-batches-py` (as torchvision downloads them);
    2. an ImageFolder copy `<root>/cifar10-jpg/{train,test}/<class>/*.jpg`;
    3. a download of the official files through torchvision (download=True, online).

    The decoded images are cached as one tensor file in `cache` (default
    `cache_dir()`), so the second call only reads that file. A damaged cache is
    detected (checksums), deleted and rebuilt. progress: a progress bar while
    decoding JPEGs; None shows it only on a terminal.
    """
    _check_bool(train, "train")
    _check_bool(download, "download")
    if progress is not None:
        _check_bool(progress, "progress")
    root = _resolve_root(root)
    cache = _resolve_path(cache, "cache") if cache is not None else cache_dir()
    split = "train" if train else "test"

    problems = []
    source = _find_cifar10(root, train, problems)
    if source is None:
        if not download:
            raise _cifar10_not_found(root, train, problems, "downloading is switched off (download=False)")
        try:
            import torchvision.datasets

            torchvision.datasets.CIFAR10(root=str(root), train=train, download=True)
        except Exception as err:
            raise _cifar10_not_found(root, train, problems,
                                     f"the download failed: {_one_line(err)}") from err
        after = []
        source = _find_cifar10(root, train, after)
        if source is None:
            raise _cifar10_not_found(root, train, after,
                                     "the download finished but the files are not there")

    kind, path, fingerprint = source
    key = f"v{_CACHE_VERSION}|cifar10|{split}|{kind}|{path.resolve()}|{fingerprint}"
    cache_file = _cache_path(cache, f"cifar10-{split}", str(path.resolve()), key)
    cached = _read_cache(cache_file, key)
    if cached is not None:
        return cached
    if kind == "official":
        images, labels = _read_cifar_batches(path, train)
    else:
        images, labels = _decode_imagefolder(_imagefolder_listing(path), progress=progress,
                                             desc=f"CIFAR-10 {split}")
    _write_cache(cache_file, key, images, labels)
    return images, labels


def _find_cifar10(root, train, problems):
    """(kind, path, fingerprint) of the first usable source, else None.

    Notes what is wrong with a source that is there but unusable in `problems`.
    """
    official = root / "cifar-10-batches-py"
    if official.is_dir():
        files = [official / name for name in _CIFAR_BATCHES[train]]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            problems.append(f"{official} is missing {', '.join(missing)}")
        else:
            stats = [f.stat() for f in files]
            fingerprint = ";".join(f"{f.name}:{s.st_size}:{s.st_mtime_ns}" for f, s in zip(files, stats))
            return "official", official, fingerprint
    folder = root / "cifar10-jpg" / ("train" if train else "test")
    if folder.is_dir():
        try:
            fingerprint = _imagefolder_fingerprint(folder)
        except ValueError as err:
            problems.append(str(err))
        else:
            return "imagefolder", folder, fingerprint
    return None


def _image_names(class_dir):
    return [name for name in os.listdir(class_dir)
            if name.lower().endswith(_IMAGE_SUFFIXES) and not name.startswith(".")]


def _imagefolder_fingerprint(folder):
    """Check `folder/<class>/` for the ten CIFAR-10 classes; return a cheap fingerprint.

    The fingerprint is the image count and modification time of each class
    folder (adding, removing or renaming a file changes it): a directory
    listing, no per-file stat, so a warm load stays fast.
    """
    present = {entry.name for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith(".")}
    missing = [name for name in CIFAR10_CLASSES if name not in present]
    extra = sorted(present - set(CIFAR10_CLASSES))
    if missing or extra:
        detail = []
        if missing:
            detail.append(f"missing class folders: {', '.join(missing)}")
        if extra:
            detail.append(f"unexpected folders: {', '.join(extra)}")
        raise ValueError(f"{folder} is not a CIFAR-10 ImageFolder ({'; '.join(detail)})")
    parts, total = [], 0
    for name in CIFAR10_CLASSES:
        class_dir = folder / name
        count = len(_image_names(class_dir))
        total += count
        parts.append(f"{name}:{count}:{class_dir.stat().st_mtime_ns}")
    if total == 0:
        raise ValueError(f"{folder} has the class folders but no images (*.jpg, *.jpeg, *.png) in them")
    return ";".join(parts)


def _imagefolder_listing(folder):
    """[(path, label), ...] in ImageFolder's order: classes alphabetically, files by name.

    CIFAR-10's class names sort alphabetically in label order, so the labels
    equal torchvision.datasets.ImageFolder's.
    """
    return [(folder / name / f, label)
            for label, name in enumerate(CIFAR10_CLASSES)
            for f in sorted(_image_names(folder / name))]


def _decode_imagefolder(listing, progress=None, desc="decoding"):
    """Decode every image of `listing` into one uint8 tensor (N, 3, 32, 32).

    PIL, one file after the other, exactly as ImageFolder's loader decodes
    them. Measured on two cores, per 10,000 JPEGs: 0.6 s like this (naming the
    format skips PIL's format sniffing), 1.2 s with a plain Image.open, and 2
    threads were slower than none; for all 50,000, 2 worker processes took
    10.8 s against 10.0 s serially on a busy machine. torchvision.io's decoder
    (0.4 s) is deprecated since torchvision 0.29.
    """
    import numpy as np
    import torch
    from PIL import Image
    from tqdm import tqdm  # the console bar: silent where stderr is no terminal (Jupyter, CI)

    pixels = np.empty((len(listing), 32, 32, 3), dtype=np.uint8)
    labels = torch.tensor([label for _, label in listing], dtype=torch.int64)
    bar = tqdm(listing, desc=desc, unit="img", disable=None if progress is None else not progress,
               leave=False, mininterval=0.5)
    for i, (path, _) in enumerate(bar):
        with Image.open(path, formats=("JPEG", "PNG")) as image:
            if image.size != (32, 32):
                raise ValueError(f"{path} is {image.size[0]}x{image.size[1]} pixels; "
                                 f"CIFAR-10 images are 32x32")
            pixels[i] = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), labels


def _read_cifar_batches(folder, train):
    """Read the official pickled batches (what torchvision.datasets.CIFAR10 reads)."""
    import numpy as np
    import torch

    data, labels = [], []
    for name in _CIFAR_BATCHES[train]:
        with open(folder / name, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        data.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
    images = torch.from_numpy(np.concatenate(data))
    return images, torch.tensor(labels, dtype=torch.int64)


def _cifar10_not_found(root, train, problems, reason):
    split = "train" if train else "test"
    found = "".join(f"  Found but unusable: {p}\n" for p in problems)
    return DataNotFound(
        f"CIFAR-10 ({split}) was not found, and {reason}.\n"
        f"  Looked in: {root}  ({_root_origin(root)})\n"
        f"{found}"
        f"Put one of these there:\n"
        f"  {root / 'cifar-10-batches-py'}/   the official files (data_batch_1 ... data_batch_5, "
        f"test_batch), as torchvision downloads them\n"
        f"  {root / 'cifar10-jpg'}/train/<class>/*.jpg and .../cifar10-jpg/test/<class>/*.jpg   "
        f"an ImageFolder copy, one folder per class: {', '.join(CIFAR10_CLASSES)}\n"
        f"or point the environment variable {DATA_ENV} at a folder that holds one of them.\n"
        f"On a machine with internet access the official files are downloaded there "
        f"automatically (torchvision, about 170 MB)."
    )


# --------------------------------------------------------------------------
# The cache: one torch.save'd dict per data set and split
# --------------------------------------------------------------------------

def _cache_path(cache, stem, source, key):
    """cache/<stem>-<hash of the source path>-<hash of path and fingerprint>.pt"""
    source_hash = hashlib.sha1(source.encode()).hexdigest()[:10]
    key_hash = hashlib.sha1(key.encode()).hexdigest()[:10]
    return cache / f"{stem}-{source_hash}-{key_hash}.pt"


def _checksum(tensor):
    return zlib.crc32(tensor.contiguous().view(-1).numpy())


def _read_cache(path, key):
    """(images, labels) from the cache file, or None if it is absent or damaged.

    A damaged file (truncated, corrupt, written by another version or for
    other source files) is deleted so that the caller rebuilds it.
    """
    import torch

    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        images, labels = blob["images"], blob["labels"]
        ok = (blob["key"] == key
              and images.dtype == torch.uint8 and labels.dtype == torch.int64
              and tuple(images.shape) == tuple(blob["shape"])
              and labels.shape == (blob["length"],) and images.shape[0] == blob["length"]
              and _checksum(images) == blob["images_crc32"]
              and _checksum(labels) == blob["labels_crc32"])
    except Exception as err:  # unreadable: truncated, not a zip, wrong keys, ...
        _log.info("cache file %s is unreadable (%s): rebuilding it", path, _one_line(err))
        ok = False
    if not ok:
        _log.info("cache file %s is damaged or stale: rebuilding it", path)
        _remove(path)
        return None
    return images, labels


def _write_cache(path, key, images, labels):
    """Write the cache atomically (temporary file + os.replace); never fail the load."""
    import torch

    blob = {
        "key": key,
        "images": images,
        "labels": labels,
        "shape": list(images.shape),
        "length": int(labels.shape[0]),
        "images_crc32": _checksum(images),
        "labels_crc32": _checksum(labels),
    }
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-" + path.stem + "-", suffix=".pt")
        with os.fdopen(fd, "wb") as f:
            torch.save(blob, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as err:  # read-only or full disk: work without a cache
        _log.info("could not write the cache file %s (%s)", path, _one_line(err))
    finally:
        if tmp is not None:
            _remove(Path(tmp))


def _remove_stale(path):
    """Delete caches of the same source with another fingerprint, and old temp files."""
    stem, source_hash, _ = path.stem.rsplit("-", 2)
    for other in path.parent.glob(f"{stem}-{source_hash}-*.pt"):
        if other != path:
            _remove(other)
    for tmp in path.parent.glob(".tmp-*.pt"):
        try:
            if time.time() - tmp.stat().st_mtime > 3600:  # left by a killed process
                _remove(tmp)
        except OSError:
            pass


def _remove(path):
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as err:
        _log.info("could not delete %s (%s)", path, _one_line(err))


# --------------------------------------------------------------------------
# CIFAR-2, normalisation, datasets
# --------------------------------------------------------------------------

def cifar2(train=True, **kwargs):
    """Airplanes versus birds: CIFAR-10's label 0 becomes 0, label 2 becomes 1.

    Returns images uint8 (N, 3, 32, 32) and labels int64 (N,), N = 10,000 for
    train and 2,000 for test, built with one boolean mask over the cached
    CIFAR-10 tensors (no Python loop over images). Keyword arguments go to
    load_cifar10.

    >>> images, labels = cifar2(train=False)           # doctest: +SKIP
    >>> images.shape, labels.bincount()                # doctest: +SKIP
    (torch.Size([2000, 3, 32, 32]), tensor([1000, 1000]))
    """
    _check_bool(train, "train")
    images, labels = load_cifar10(train, **kwargs)
    airplane, bird = _CIFAR2_SOURCE_LABELS
    keep = (labels == airplane) | (labels == bird)
    return images[keep], (labels[keep] == bird).long()


def normalize(images, mean, std):
    """uint8 images -> float32 (images / 255 - mean) / std, channel by channel.

    images: uint8 (N, C, H, W) or (C, H, W); mean, std: C numbers each (or one
    number) on the [0, 1] scale, e.g. CIFAR10_MEAN, CIFAR10_STD.

    >>> import torch
    >>> normalize(torch.tensor([[[0, 255]]], dtype=torch.uint8), (0.5,), (0.5,))
    tensor([[[-1.,  1.]]])
    """
    import torch

    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        got = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"images must be a uint8 tensor (pixel values 0-255), got {got}")
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (C, H, W) or (N, C, H, W), got shape {tuple(images.shape)}")
    channels = images.shape[-3]
    mean_t = _per_channel(mean, "mean", channels)
    std_t = _per_channel(std, "std", channels)
    if (std_t <= 0).any():
        raise ValueError(f"std must be positive, got {std}")
    return images.float().div_(255).sub_(mean_t).div_(std_t)  # in place: one float copy


def _per_channel(values, name, channels):
    import torch

    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = [values]
    try:
        t = torch.as_tensor(values, dtype=torch.float32).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a number or a sequence of numbers, got {values!r}") from None
    if t.numel() == 1:
        t = t.expand(channels)
    if t.numel() != channels:
        raise ValueError(f"{name} has {t.numel()} values but the images have {channels} channels")
    return t.view(channels, 1, 1)


def mnist_dataset(train=True, **kwargs):
    """MNIST as a TensorDataset of normalised float32 (1, 28, 28) images and int64 labels."""
    import torch.utils.data

    images, labels = load_mnist(train, **kwargs)
    return torch.utils.data.TensorDataset(normalize(images, MNIST_MEAN, MNIST_STD), labels)


def cifar10_dataset(train=True, **kwargs):
    """CIFAR-10 as a TensorDataset of normalised float32 (3, 32, 32) images and int64 labels."""
    import torch.utils.data

    images, labels = load_cifar10(train, **kwargs)
    return torch.utils.data.TensorDataset(normalize(images, CIFAR10_MEAN, CIFAR10_STD), labels)


def cifar2_dataset(train=True, **kwargs):
    """CIFAR-2 (airplane 0, bird 1) as a TensorDataset of normalised float32 images.

    Normalised with the CIFAR-10 statistics.
    """
    import torch.utils.data

    images, labels = cifar2(train, **kwargs)
    return torch.utils.data.TensorDataset(normalize(images, CIFAR10_MEAN, CIFAR10_STD), labels)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def _check_bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")


def _resolve_root(root):
    return data_root() if root is None else _resolve_path(root, "root")


def _resolve_path(value, name):
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or pathlib.Path), got {type(value).__name__}")
    return Path(value).expanduser()


def _root_origin(root):
    if Path(root) != data_root():
        return "passed as root="
    if os.environ.get(DATA_ENV, "").strip():
        return f"from the environment variable {DATA_ENV}"
    return f"the default; set the environment variable {DATA_ENV} to use another folder"


def _one_line(err):
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
