"""``fada_tf.files``: every output is written under ``.partial-NAME`` and renamed when complete."""

import subprocess
import sys
from pathlib import Path

import pytest

from fada_tf import files
from fada_tf.files import atomic_output, partial_path


def test_partial_path_is_a_hidden_sibling_that_keeps_type_and_suffixes():
    assert partial_path(Path("run/checkpoints/adapt-000002.weights.h5")) == \
        Path("run/checkpoints/.partial-adapt-000002.weights.h5")
    assert partial_path("gs://bucket/data/gta5/") == "gs://bucket/data/.partial-gta5"
    assert partial_path("out") == ".partial-out"


def test_a_file_appears_only_when_complete(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old")
    with atomic_output(path) as partial:
        partial.write_text("new")
        assert path.read_text() == "old"          # readers still see the previous version
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_folder_replaces_the_previous_folder_whole(tmp_path):
    folder = tmp_path / "pseudo_labels"
    folder.mkdir()
    (folder / "stale.png").write_text("x")
    with atomic_output(folder) as partial:
        partial.mkdir()
        (partial / "00000.png").write_text("y")
    assert sorted(p.name for p in folder.iterdir()) == ["00000.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pseudo_labels"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_error_removes_the_partial_output_and_keeps_the_old_one(tmp_path, error):
    path = tmp_path / "model.onnx"
    path.write_text("old")
    with pytest.raises(error):
        with atomic_output(path) as partial:
            partial.write_text("half")
            raise error()
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_a_stale_partial_output_is_discarded_unless_it_is_to_be_resumed(tmp_path):
    out = tmp_path / "prepared"
    with pytest.raises(RuntimeError):
        with atomic_output(out, keep_on_error=True) as partial:
            partial.mkdir()
            (partial / "done.txt").write_text("first half")
            raise RuntimeError()
    assert (tmp_path / ".partial-prepared" / "done.txt").is_file()   # kept for resuming
    with atomic_output(out, keep_on_error=True) as partial:
        assert (partial / "done.txt").read_text() == "first half"
        (partial / "rest.txt").write_text("second half")
    assert sorted(p.name for p in out.iterdir()) == ["done.txt", "rest.txt"]

    (tmp_path / ".partial-other").mkdir()
    with atomic_output(tmp_path / "other") as partial:
        assert not Path(partial).exists()
        Path(partial).mkdir()
    assert (tmp_path / "other").is_dir()


def test_missing_parent_folders_are_created_and_json_round_trips(tmp_path):
    path = tmp_path / "a" / "b" / "statistics.json"
    files.write_json(path, {"num_images": 3, "quality": None})
    assert files.read_json(path) == {"num_images": 3, "quality": None}
    assert path.read_text().endswith("\n")


def test_files_with_a_scheme_go_through_tf_io_gfile():
    folder = "ram://fada-tf-test/prepared"      # TensorFlow's in-memory filesystem
    files.write_json(f"{folder}/manifest.json", {"splits": ["train"]})
    with atomic_output(f"{folder}/class_stats.json") as partial:
        assert partial == "ram://fada-tf-test/prepared/.partial-class_stats.json"
        files.write_bytes(partial, b"{}")
        assert not files.exists(f"{folder}/class_stats.json")
    assert files.read_json(f"{folder}/manifest.json") == {"splits": ["train"]}
    assert files.read_bytes(f"{folder}/class_stats.json") == b"{}"
    assert not files.exists(partial)
    files.remove(f"{folder}/class_stats.json")
    assert not files.exists(f"{folder}/class_stats.json")


def test_local_outputs_load_no_tensorflow(tmp_path):
    code = ("import sys\n"
            "from fada_tf import files\n"
            "import fada_tf.evaluation.label_files, fada_tf.training.run_dir, fada_tf.visualize\n"
            f"files.write_json({str(tmp_path / 'a.json')!r}, [1])\n"
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
