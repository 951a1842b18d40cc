"""Export of the discriminator-free segmentor (installed as ``fada_tf.export``)."""
