"""``fada_tf.models.frozen_batch_norm``: BatchNorm with fixed statistics and no epsilon, as the
original's ``FrozenBatchNorm2d``, untouched by training."""

import keras
import numpy as np

from fada_tf.models.frozen_batch_norm import FrozenBatchNorm


def test_frozen_batch_norm_matches_numpy_without_epsilon():
    rng = np.random.default_rng(0)
    layer = FrozenBatchNorm()
    x = rng.normal(size=(2, 3, 4, 5)).astype("float32")
    layer.build(x.shape)
    gamma, beta, mean = (rng.normal(size=5).astype("float32") for _ in range(3))
    variance = rng.uniform(1e-5, 1e-4, 5).astype("float32")  # an epsilon of 1e-5 would show
    layer.set_weights([gamma, beta, mean, variance])
    scale = gamma / np.sqrt(variance)
    np.testing.assert_allclose(layer(x), x * scale + (beta - mean * scale), rtol=1e-5, atol=1e-5)
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert FrozenBatchNorm.from_config(layer.get_config()).name == layer.name


def test_frozen_batch_norm_is_not_trained():
    inputs = keras.Input((4, 4, 2))
    outputs = FrozenBatchNorm(name="fbn")(keras.layers.Conv2D(3, 1, name="conv")(inputs))
    model = keras.Model(inputs, outputs)
    fbn = model.get_layer("fbn")
    fbn.set_weights([np.full(3, value, "float32") for value in (2.0, 0.5, 0.1, 3.0)])
    before = [w.numpy().copy() for w in fbn.weights]
    kernel_before = model.get_layer("conv").kernel.numpy().copy()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.ones((2, 4, 4, 2), "float32"), np.zeros((2, 4, 4, 3), "float32"), verbose=0)
    assert fbn.trainable_weights == [] and len(fbn.non_trainable_weights) == 4
    for weight, value in zip(fbn.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)
    assert not np.array_equal(model.get_layer("conv").kernel.numpy(), kernel_before)
