"""``fada-tf``: train, adapt and evaluate segmentors with fine-grained adversarial learning.

TensorFlow is imported inside the commands, so ``fada-tf --help`` is instant, and without its
native start-up lines unless ``--verbose`` (``fada_tf.cli.quiet``).
"""

from __future__ import annotations

import click

from fada_tf.cli.bench import bench
from fada_tf.cli.ccd import ccd
from fada_tf.cli.common import FadaGroup
from fada_tf.cli.convert import convert
from fada_tf.cli.data import data
from fada_tf.cli.evaluate import eval_command
from fada_tf.cli.distill import distill
from fada_tf.cli.export import export
from fada_tf.cli.predict import predict
from fada_tf.cli.quiet import quiet_tensorflow
from fada_tf.cli.train import train


@click.group(cls=FadaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fada-tf")
@click.option("-v", "--verbose", is_flag=True,
              help="Also show TensorFlow's native log lines (start-up, devices, C++ warnings).")
def cli(verbose):
    """FADA (Wang et al., ECCV 2020) in Keras 3 / TensorFlow.

    \b
    Quick start on the built-in synthetic domain shift:
        fada-tf train --output runs/demo
        fada-tf eval --run runs/demo
    """
    if not verbose:
        quiet_tensorflow()


cli.add_command(train)
cli.add_command(eval_command)
cli.add_command(convert)
cli.add_command(data)
cli.add_command(export)
cli.add_command(ccd)
cli.add_command(predict)
cli.add_command(distill)
cli.add_command(bench)
