"""Bad input: a one-line error naming problem and fix, exit code 2, and no run directory."""

import os
import shutil
import zipfile
import zlib

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


def toml(tmp, text):
    config = tmp / "m.toml"
    config.write_text(text)
    return ["--config", str(config)]


def png_tree(root):
    for name in ("normal", "pneumonia"):
        (root / name).mkdir(parents=True)
        for i in range(10):
            io.imsave(root / name / f"{i}.png", good_images(1)[0], check_contrast=False)
    return root


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
    return toml(tmp, 'datasets = ["synthetic-cxr"]\nmodel = ["hog-*"]\n'), "unknown key"


def case_unknown_imbalance(tmp):
    return ["--imbalance", "none,undersample"], "undersample"


def case_toml_seeds_is_a_string(tmp):
    return toml(tmp, 'seeds = "0"\n'), "seeds must be a list of integers, got '0'"


def case_toml_jobs_is_a_string(tmp):
    return toml(tmp, 'jobs = "2"\n'), "jobs must be an integer"


def case_toml_models_is_a_string(tmp):
    return toml(tmp, 'models = "pixels-logreg"\n'), "models must be a list of strings"


def case_toml_feature_table_typo(tmp):
    expected = "[feature_params.hogg]: unknown feature 'hogg'"
    return toml(tmp, "[feature_params.hogg]\norientations = 8\n"), expected


def case_toml_model_table_typo(tmp):
    expected = "[model_options.pixels-logreeg]"
    return toml(tmp, "[model_options.pixels-logreeg]\nC = 3\n"), expected


def case_toml_unknown_model_option(tmp):
    return toml(tmp, "[model_options.hog-logreg]\nCc = 3\n"), "Cc"


def case_toml_dataset_table_typo(tmp):
    expected = "[dataset_options.synthetic-cr]"
    return toml(tmp, "[dataset_options.synthetic-cr]\nn = 100\n"), expected


def case_toml_table_name_cut_at_a_dot(tmp):
    config = toml(tmp, "[feature_params.embed-mobilenet-0.25]\ninput_size = 32\n")
    return config, 'quote the name: [feature_params."embed-mobilenet-0.25"]'


def case_toml_unknown_cnn_option(tmp):
    config = toml(tmp, "[model_options.cnn]\nepochz = 3\n")
    return ["--models", "resnet-small", *config], "resnet-small takes no option(s) epochz"


def case_two_datasets_one_file_name(tmp):
    paths = []
    for folder in ("a", "b"):
        (tmp / folder).mkdir()
        paths.append(str(write_npz(tmp / folder / "good.npz", good_images(), two_classes())))
    return ["--dataset", *paths], "are both named 'good'"


def case_unwritable_cache_dir(tmp):
    if os.geteuid() == 0:
        return ["--cache-dir", "/proc/hybench-test-cache"], "cache directory"
    locked = tmp / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return ["--cache-dir", str(locked / "cache")], "cache directory"


def case_out_inside_the_dataset(tmp):
    root = png_tree(tmp / "tree")
    return ["--dataset", str(root), "--out", str(root / "run")], "inside dataset folder"


def case_negative_labels(tmp):
    labels = two_classes() - 1
    return ["--dataset", str(write_npz(tmp / "neg.npz", good_images(), labels))], "negative"


def case_zero_images(tmp):
    path = write_npz(tmp / "empty.npz", good_images()[:0], two_classes()[:0])
    return ["--dataset", str(path)], "holds no images"


def case_pickled_object_arrays(tmp):
    labels = np.array([str(v) for v in two_classes()], dtype=object)
    path = write_npz(tmp / "obj.npz", good_images(), labels)
    return ["--dataset", str(path)], "pickled"


def case_npz_with_val_but_no_test(tmp):
    path = tmp / "part.npz"
    np.savez(path, train_images=good_images(), train_labels=two_classes(),
             val_images=good_images(), val_labels=two_classes())
    return ["--dataset", str(path)], "needs train and test"


def case_decompression_bomb_png(tmp):
    root = png_tree(tmp / "tree")
    bomb = root / "pneumonia" / "5.png"
    write_png_header_claiming(bomb, 30000, 30000)
    return ["--dataset", str(root)], "5.png"


def case_plugin_entry_name_with_a_path(tmp):
    plugin = tmp / "evil.py"
    plugin.write_text(
        "from hybench.models import register_model\n"
        "@register_model('../../../../tmp/x', family='classical', features='pixels')\n"
        "def evil(**kw):\n    pass\n"
    )
    return ["--plugins", str(plugin)], "invalid model name"


def write_png_header_claiming(path, width, height):
    """Rewrite a PNG's IHDR chunk to claim ``width`` x ``height`` (CRC fixed), pixels unchanged."""
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.write_bytes(bytes(data))


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


@pytest.mark.parametrize(("seeds", "expected"), [("3-1", "is empty"), ("-1", "must be >= 0"),
                                                 ("a,b", "must look like")])
def test_bad_seeds_are_named(seeds, expected, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--quiet", "--seeds", seeds, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_records_stop_a_resume_with_one_line(small_run_dir, tmp_path, capsys):
    for bad in ('{"schema": 2, "cell_id": "x"}', "[1, 2]"):
        out = tmp_path / f"run{len(bad)}"
        shutil.copytree(small_run_dir, out)
        with (out / "records.jsonl").open("a") as fh:
            fh.write(bad + "\n")
        before = (out / "records.jsonl").read_bytes()
        assert main(["run", "--resume", "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("hybench: error:") and "\n" not in err
        assert "records.jsonl:13" in err
        assert (out / "records.jsonl").read_bytes() == before


@pytest.mark.parametrize("command", ["leaderboard", "report"])
def test_output_that_is_a_directory_is_one_line_and_leaves_no_temp_file(
    command, small_run_dir, tmp_path, capsys
):
    target = tmp_path / "folder"
    target.mkdir()
    assert main([command, str(small_run_dir), "-o", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a directory" in err and "\n" not in err
    assert list(target.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["folder"]
