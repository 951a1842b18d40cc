"""Keras models with random weights for the tests: keras.applications models standing in for
the ImageNet download, random BatchNorm statistics; and the outputs of named layers."""

import keras
import numpy as np


def random_vgg16(seed, bias_std):
    """keras.applications VGG16 (no top) with random kernels and biases N(0, ``bias_std``)."""
    model = keras.applications.VGG16(weights=None, include_top=False)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.bias.assign(rng.normal(0.0, bias_std, layer.bias.shape).astype("float32"))
    return model


def random_resnet50(seed, variance_range, mean_std, gamma_times_std=False):
    """keras.applications ResNet50 (no top) with conv biases N(0, 0.1) and random BN statistics:
    variance U(``variance_range``), gamma U(0.5, 1.5) (times the standard deviation with
    ``gamma_times_std``), beta N(0, 0.1), mean N(0, ``mean_std``)."""
    model = keras.applications.ResNet50(weights=None, include_top=False)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.bias.assign(rng.normal(0.0, 0.1, layer.bias.shape).astype("float32"))
        elif isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            variance = rng.uniform(*variance_range, shape)
            layer.moving_variance.assign(variance.astype("float32"))
            gamma = rng.uniform(0.5, 1.5, shape)
            layer.gamma.assign((np.sqrt(variance) * gamma if gamma_times_std else gamma).astype("float32"))
            layer.beta.assign(rng.normal(0.0, 0.1, shape).astype("float32"))
            layer.moving_mean.assign(rng.normal(0.0, mean_std, shape).astype("float32"))
    return model


def random_statistics(model, seed):
    """Every non-trainable variable of ``model`` (BatchNorm statistics) drawn at random:
    variances U(0.5, 2), the others N(0, 0.2)."""
    rng = np.random.default_rng(seed)
    for variable in model.non_trainable_variables:
        shape = tuple(variable.shape)
        value = rng.uniform(0.5, 2.0, shape) if "variance" in variable.path else rng.normal(0, 0.2, shape)
        variable.assign(value.astype(np.float32))


def layer_outputs(model, names, x):
    """The outputs of the named layers of a functional model, as a list."""
    outputs = keras.Model(model.input, {name: model.get_layer(name).output for name in names})(x)
    return [outputs[name] for name in names]
