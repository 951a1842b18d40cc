"""Tests of fada_tf.data: raw releases, prepare and check, class tables, the tf.data pipeline."""
