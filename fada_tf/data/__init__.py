"""Class tables, the synthetic domain shift, dataset sources and the tf.data pipeline."""
