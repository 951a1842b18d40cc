"""What a new user meets on stderr: fada-tf's own lines only, one line per bad input.

Each command runs in a fresh process, as a user runs it, so TensorFlow is imported by the
command itself (the in-process CliRunner tests import it earlier).
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

# Lines of TensorFlow's native start-up logging (absl's prefix "I0000 00:00:…", its warning).
NATIVE_LOG_MARKERS = ("absl::InitializeLog", "I0000 00:00:", "E0000 00:00:", "W0000 00:00:")


def fada_tf(*args, prelude: str = ""):
    """Run ``fada-tf ARGS`` in a new interpreter, after the Python statements ``prelude``."""
    code = f"{prelude}\nfrom fada_tf.cli.main import cli\ncli({list(args)!r}, prog_name='fada-tf')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=user_env())


def user_env() -> dict:
    """The environment without the tests' own TF_CPP_MIN_LOG_LEVEL (conftest.py)."""
    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def native_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(m in line for m in NATIVE_LOG_MARKERS)]


@pytest.fixture(scope="module")
def corrupt_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "adapt-000010.weights.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 20)   # an HDF5 signature, then junk
    return path


def test_a_corrupt_weights_file_is_one_line_without_tensorflow_noise(repo, corrupt_weights):
    proc = fada_tf("eval", "--config", str(repo / "configs" / "synthetic.yaml"),
                   "--checkpoint", str(corrupt_weights))
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [proc.stderr.strip()], proc.stderr   # one line
    assert proc.stderr.startswith(f"Error: checkpoint {corrupt_weights} is not a readable Keras "
                                  "weights file (")
    assert proc.stdout == ""


def test_verbose_shows_what_tensorflow_itself_prints(repo, corrupt_weights):
    bare = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True,
                          env=user_env())
    proc = fada_tf("-v", "eval", "--config", str(repo / "configs" / "synthetic.yaml"),
                   "--checkpoint", str(corrupt_weights))
    assert proc.returncode == 1 and "is not a readable Keras weights file" in proc.stderr
    # Whatever a bare `import tensorflow` prints on this machine, -v lets through.
    assert len(native_lines(proc.stderr)) >= len(native_lines(bare.stderr))


@pytest.mark.parametrize("blocked,args,extra", [
    ("onnx", ["export", "onnx", "--out", "{tmp}/m.onnx"], "export"),
    ("onnxruntime", ["predict", "{tmp}/street.png", "--out", "{tmp}/masks",
                     "--onnx", "{tmp}/m.onnx"], "export"),
    ("torch", ["convert", "torch", "{tmp}/m.pth", "--config", "{repo}/configs/gta5_to_cityscapes_r101.yaml",
               "--out", "{tmp}/converted"], "torch"),
    ("matplotlib", ["ccd", "--config", "{repo}/configs/synthetic.yaml", "--checkpoint", "{weights}",
                    "--plot", "{tmp}/ccd.png"], "plot"),
])
def test_a_missing_extra_is_one_line_naming_it(repo, tmp_path, corrupt_weights, blocked, args, extra):
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    (tmp_path / "m.pth").write_bytes(b"pth")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "street.png")
    args = [a.format(tmp=tmp_path, repo=repo, weights=corrupt_weights) for a in args]
    if args[0] == "export":
        args += ["--config", str(repo / "configs" / "synthetic.yaml"), "--checkpoint", str(corrupt_weights)]
    # sys.modules[name] = None makes `import name` raise ModuleNotFoundError, as when not installed.
    proc = fada_tf(*args, prelude=f"import sys; sys.modules[{blocked!r}] = None")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "needs" in lines[0] and f"pip install 'fada-tf[{extra}]'" in lines[0]


def test_a_terminal_sees_a_progress_bar_and_a_log_sees_lines(tmp_path):
    import pty

    from tests.support.raw_fixtures import write_gta5

    write_gta5(tmp_path / "raw" / "GTA5", count=4)   # found inside --root
    args = ["data", "prepare", "--dataset", "gta5", "--root", str(tmp_path / "raw")]
    controller, terminal = pty.openpty()            # stderr is a terminal of 0 columns
    code = f"from fada_tf.cli.main import cli\ncli({args + ['--out', str(tmp_path / 'a')]!r})"
    proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=terminal,
                          env=user_env())
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:   # the terminal is closed once everything was read
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.returncode == 0
    assert "gta5 train: 100%" in seen.decode() and "4/4" in seen.decode() and "pair/s" in seen.decode()

    logged = fada_tf(*args, "--out", str(tmp_path / "b"))   # stderr is a pipe
    assert logged.returncode == 0
    assert f"gta5 release found in {tmp_path / 'raw' / 'GTA5'}" in logged.stderr
    assert "gta5 train: 4/4 pairs (100 %)" in logged.stderr and "%|" not in logged.stderr


def test_what_python_writes_while_tensorflow_loads_is_kept():
    code = ("import os, sys, warnings\n"
            "from fada_tf.cli.quiet import without_native_log_lines\n"
            "with without_native_log_lines():\n"
            "    os.write(2, b'I0000 00:00:1795946983.451703   15988 port.cc:153] native\\n')\n"
            "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called\\n')\n"
            "    print('a line of Python', file=sys.stderr)\n"
            "    warnings.warn('a warning')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0
    lines = proc.stderr.splitlines()
    assert lines[0] == "a line of Python" and "UserWarning: a warning" in lines[1] and len(lines) == 2
