"""The stages of a run, one module each: ``source`` (stage 1, L_seg on the labelled source),
``adapt`` (stage 2, FADA: eqs. 2 and 5) and ``distill`` (stage 3, self-distillation on the
teacher's pseudo labels); ``common`` holds what they share. ``fada_tf.training.run`` runs
them in order."""
