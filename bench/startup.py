"""Start-up cost: ``import fada_tf``, the CLI, and what a training run imports.

Each case runs in a fresh interpreter (``--repeats`` times, alternating); the wall time is
measured from this process (interpreter start included, as a user waits for it) and the
peak RSS and the heavy modules loaded are reported by the child at exit.

    python -m bench.startup --repeats 3

The training case is a tiny synthetic ``fada-tf train`` (source and adaptation stages, a few
steps): the modules it loads show whether training imports what it does not use.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from bench.common import REPO, thread_env

HEAVY = ["tensorflow", "keras", "onnx", "tf2onnx", "onnxruntime", "torch", "matplotlib"]
REPORT = ("import atexit, json, resource, sys\n"
          "atexit.register(lambda: print(json.dumps({'peak_rss_mb': resource.getrusage("
          "resource.RUSAGE_SELF).ru_maxrss / 1024, 'loaded': [m for m in %r if m in sys.modules]"
          "}), file=sys.stderr))\n" % (HEAVY,))
TINY_TRAIN = ["train", "--set", "model.tiny_width=4", "--set", "model.discriminator_channels=[8,8]",
              "--set", "source.steps=2", "--set", "adapt.steps=2", "--set", "source.batch_size=2",
              "--set", "adapt.batch_size=2", "--set", "data.synthetic.source_images=4",
              "--set", "data.synthetic.target_train_images=4",
              "--set", "data.synthetic.target_val_images=2", "--set", "data.eval_batch_size=2"]


def cases(work: str) -> dict[str, str]:
    """Name -> the Python code a fresh interpreter runs."""
    cli = "from fada_tf.cli.main import cli\ncli(%r)\n"
    return {"import fada_tf": "import fada_tf\n",
            "import fada_tf.training.run": "import fada_tf.training.run\n",
            "fada-tf --help": cli % (["--help"],),
            "fada-tf train --help": cli % (["train", "--help"],),
            "fada-tf train (tiny synthetic run)": cli % (TINY_TRAIN + ["--output", f"{work}/run"],)}


def measure(code: str) -> dict:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", REPORT + code], cwd=REPO, env=thread_env(2),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed:\n{code}\n{done.stderr[-3000:]}")
    return {"seconds": seconds, **json.loads(done.stderr.strip().splitlines()[-1])}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, list] = {}
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as work:
            for name, code in cases(work).items():
                results.setdefault(name, []).append(measure(code))
                print(f"[{repeat + 1}/{args.repeats}] {name}: {results[name][-1]['seconds']:.2f} s",
                      file=sys.stderr, flush=True)
    print(f"median of {args.repeats} fresh processes, {time.strftime('%Y-%m-%d')}\n\n"
          "| what | wall time s | peak RSS MB | heavy modules loaded |\n|---|---|---|---|")
    for name, runs in results.items():
        loaded = ", ".join(runs[-1]["loaded"]) or "none"
        print(f"| `{name}` | {statistics.median(r['seconds'] for r in runs):.2f} | "
              f"{statistics.median(r['peak_rss_mb'] for r in runs):.0f} | {loaded} |")


if __name__ == "__main__":
    main()
