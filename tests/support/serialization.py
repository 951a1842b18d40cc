"""``run_serialization_test``: a Keras object survives serialisation to JSON and back."""

import json

import keras
import numpy as np


def run_serialization_test(obj, inputs=None):
    """``serialize_keras_object`` → JSON text → ``deserialize_keras_object`` (found through
    its registered name) gives an object of the same class whose config serialises to the
    same JSON; with ``inputs`` (a layer or model), after copying the weights, the same outputs.
    Returns the restored object."""
    text = json.dumps(keras.saving.serialize_keras_object(obj), sort_keys=True)
    restored = keras.saving.deserialize_keras_object(json.loads(text))
    assert type(restored) is type(obj)
    assert json.dumps(keras.saving.serialize_keras_object(restored), sort_keys=True) == text
    if inputs is not None:
        expected = obj(inputs)
        restored(inputs)   # builds its weights
        restored.set_weights(obj.get_weights())
        keras.tree.map_structure(
            lambda a, b: np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                                       keras.ops.convert_to_numpy(b)),
            restored(inputs), expected)
    return restored
