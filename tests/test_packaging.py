"""setup.cfg lists every package folder, and a built wheel installs cli/ and export/ under fada_tf
(and neither the tests nor the benchmarks, packages of the repository only)."""

import configparser
import subprocess
import sys
import zipfile


def declared(repo):
    parser = configparser.ConfigParser()
    parser.read(repo / "setup.cfg")
    packages = set(parser["options"]["packages"].split())
    mapping = dict(line.split(" = ") for line in parser["options"]["package_dir"].strip().splitlines())
    return packages, mapping


def on_disk(repo, mapping):
    found = {".".join(p.parent.relative_to(repo).parts) for p in (repo / "fada_tf").rglob("__init__.py")}
    for package, folder in mapping.items():
        found |= {".".join((package, *p.parent.relative_to(repo / folder).parts))
                  for p in (repo / folder).rglob("__init__.py")}
    return found


def test_setup_cfg_lists_exactly_the_package_folders(repo):
    packages, mapping = declared(repo)
    assert mapping == {"fada_tf.cli": "cli", "fada_tf.export": "export"}
    assert packages == on_disk(repo, mapping)


def test_wheel_places_cli_and_export_inside_fada_tf(repo, tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(tmp_path), str(repo)], check=True)
    (wheel,) = tmp_path.glob("fada_tf-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"fada_tf/cli/main.py", "fada_tf/cli/train.py", "fada_tf/export/__init__.py",
            "fada_tf/models/segmentor.py"} <= names
    assert not any(n.startswith(("cli/", "export/", "tests/", "bench/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "fada-tf = fada_tf.cli.main:cli" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_importing_fada_tf_loads_no_tensorflow():
    code = "import sys, fada_tf; fada_tf.load_config(None); print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
