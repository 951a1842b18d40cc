"""Benchmarks and experiments, each run from the repository root as ``python -m bench.NAME``
(``--help`` lists its options):

* ``synthetic_adaptation`` — FADA against its controls on the synthetic shift, over seeds
  (``make compare``);
* ``evaluation_tables`` — Class Center Distance, multi-scale testing and self-distillation of
  those runs;
* ``train_step_vs_torch`` — one adaptation step, fada-tf against the original's PyTorch step;
* ``backbone_vs_torch`` — the dilated ResNet-101 alone, forward + backward, against PyTorch;
* ``aspp_speed`` — the ASPP head, dilated convolutions against tap products;
* ``eval_speed`` — evaluation time per image, single scale and ``--mst``;
* ``export_latency`` — Keras, SavedModel and ONNX Runtime latency of the export, file sizes;
* ``pipeline_throughput`` — the training input streams and ``data prepare``.

``bench.common`` runs the commands they measure.
"""
