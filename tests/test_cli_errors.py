"""Bad input: a one-line error naming problem and fix, exit code 2, and no run directory."""

import os
import zipfile

import numpy as np
import pytest
from skimage import io

from hybench.cli import main


def write_npz(path, images, labels):
    np.savez(path, images=images, labels=labels)
    return path


def good_images(n=60):
    return np.random.default_rng(0).integers(0, 256, size=(n, 16, 16), dtype=np.uint8)


def two_classes(n=60):
    return np.arange(n) % 2


def case_unknown_dataset(tmp):
    return ["--dataset", "no-such-dataset"], "unknown dataset"


def case_glob_matches_nothing(tmp):
    return ["--models", "nothing-*"], "matches no registered entry"


def case_missing_file(tmp):
    return ["--dataset", str(tmp / "absent.npz")], "not found"


def case_corrupt_npz(tmp):
    bad = tmp / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    return ["--dataset", str(bad)], "bad.npz"


def case_count_mismatch(tmp):
    return ["--dataset", str(write_npz(tmp / "m.npz", good_images(), two_classes(59)))], "labels"


def case_single_class(tmp):
    path = write_npz(tmp / "s.npz", good_images(), np.zeros(60, int))
    return ["--dataset", str(path)], "single class"


def case_nan_images(tmp):
    images = good_images().astype(np.float32)
    images[0, 0, 0] = np.nan
    return ["--dataset", str(write_npz(tmp / "n.npz", images, two_classes()))], "NaN"


def case_wrong_dtype(tmp):
    images = good_images().astype(np.int32)
    return ["--dataset", str(write_npz(tmp / "d.npz", images, two_classes()))], "uint8"


def case_empty_class_folder(tmp):
    root = tmp / "tree"
    (root / "normal").mkdir(parents=True)
    (root / "pneumonia").mkdir()
    for i in range(4):
        io.imsave(root / "normal" / f"{i}.png", good_images(1)[0], check_contrast=False)
    return ["--dataset", str(root)], "pneumonia"


def case_split_too_small(tmp):
    labels = np.zeros(60, int)
    labels[:3] = 1
    return ["--dataset", str(write_npz(tmp / "t.npz", good_images(), labels))], "split"


def case_unwritable_output(tmp):
    if os.geteuid() == 0:  # root ignores permission bits; /proc refuses new files even for root
        return ["--out", "/proc/hybench-test-run"], "not writable"
    locked = tmp / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return ["--out", str(locked / "run")], "not writable"


def case_unknown_config_key(tmp):
    config = tmp / "m.toml"
    config.write_text('datasets = ["synthetic-cxr"]\nmodel = ["hog-*"]\n')
    return ["--config", str(config)], "unknown key"


def case_unknown_imbalance(tmp):
    return ["--imbalance", "none,undersample"], "undersample"


CASES = [v for k, v in sorted(globals().items()) if k.startswith("case_")]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_bad_input_one_line_exit_2_no_run_dir(case, tmp_path, capsys):
    args, expected = case(tmp_path)
    out = tmp_path / "out"
    if "--out" not in args:
        args = [*args, "--out", str(out)]
    code = main(
        ["run", "--quiet", "--models", "hog-logreg", *args]
        if "--models" not in args
        else ["run", "--quiet", *args]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("hybench: error:") and "\n" not in err
    assert expected in err
    assert not out.exists()


def test_corrupt_npz_is_really_corrupt(tmp_path):
    case_corrupt_npz(tmp_path)
    assert not zipfile.is_zipfile(tmp_path / "bad.npz")
