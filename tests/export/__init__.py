"""Tests of the deployment export (export/, installed as fada_tf.export): ONNX and SavedModel."""
