"""A run's state checkpoint as numbers (``state_values``) and the comparison of two of them
(``assert_same_state``): how the resume and distribution tests tell two runs trained alike."""

import json

import numpy as np
import tensorflow as tf


def state_values(run_dir, name=None):
    """Every numeric value of a state checkpoint (networks, both optimisers, step), by key."""
    folder = run_dir / "checkpoints" / "state"
    name = name or json.loads((folder / "latest.json").read_text())["dir"]
    reader = tf.train.load_checkpoint(str(folder / name / "ckpt"))
    numeric = [k for k, dtype in reader.get_variable_to_dtype_map().items()
               if dtype.is_floating or dtype.is_integer]     # not the data iterator's blobs
    return {key: np.asarray(reader.get_tensor(key)) for key in numeric}


def assert_same_state(actual, expected):
    assert actual.keys() == expected.keys()
    assert any(k.startswith("optimizer/") for k in expected), "the segmentor's SGD state is checkpointed"
    for key, value in expected.items():
        np.testing.assert_allclose(actual[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
