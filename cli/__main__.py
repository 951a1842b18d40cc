"""``python -m fada_tf.cli`` runs the ``fada-tf`` command."""

from fada_tf.cli.main import cli

cli(prog_name="fada-tf")
