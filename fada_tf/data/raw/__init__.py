"""Readers of the raw benchmark releases, one module per release, each handling its quirk.

``fada-tf data prepare`` reads a release once through these modules and writes the canonical
dataset the training pipeline reads (``fada_tf.data.canonical``); ``registry.raw_format``
picks the reader. This file imports nothing, so the CLI can offer the choices instantly.
"""

RAW_DATASETS = ("gta5", "synthia", "cityscapes", "crosscity")
# How Cross-City's ``*_eval.png`` files encode classes (raw/crosscity.py); the first is the default.
CROSSCITY_LABEL_ENCODINGS = ("labelid", "trainid", "crosscity13")
