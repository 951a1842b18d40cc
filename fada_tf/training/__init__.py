"""Training: a run of stages (``run``), the stages themselves (``stages``: source, adapt,
distill), the loop that trains one stage under a ``tf.distribute`` strategy (``loop``,
``steps``, ``distribution``, ``precision``), optimisers and schedules (``optimizers``), and
what a run writes and resumes from (``run_dir``, ``checkpoints``, ``state``, ``interrupt``)."""
