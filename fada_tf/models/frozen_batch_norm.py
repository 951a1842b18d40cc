"""BatchNorm with fixed statistics and affine parameters (the original's FrozenBatchNorm2d).

FADA freezes the BatchNorm layers of its ImageNet-pretrained backbone: the forward pass is
``x * scale + shift`` with ``scale = gamma / sqrt(moving_variance)`` and
``shift = beta - moving_mean * scale``. Unlike ``nn.BatchNorm2d`` (and Keras'
``BatchNormalization``) there is **no epsilon** under the square root, so a checkpoint of the
original gives bit-compatible features only with this exact formula.
"""

import keras


@keras.saving.register_keras_serializable(package="fada_tf")
class FrozenBatchNorm(keras.layers.Layer):
    """Per-channel affine transform of NHWC inputs from four non-trainable weights.

    The weights carry Keras BatchNormalization's names (``gamma``, ``beta``, ``moving_mean``,
    ``moving_variance``) so that a torch state dict (``weight``, ``bias``, ``running_mean``,
    ``running_var``) maps onto either layer the same way. The layer behaves identically in
    training and inference.
    """

    def build(self, input_shape):
        channels = input_shape[-1]
        for name, value in (("gamma", 1.0), ("beta", 0.0),
                            ("moving_mean", 0.0), ("moving_variance", 1.0)):
            setattr(self, name, self.add_weight(
                name=name, shape=(channels,),
                initializer=keras.initializers.Constant(value), trainable=False))

    def call(self, inputs):
        scale = self.gamma * keras.ops.rsqrt(self.moving_variance)
        shift = self.beta - self.moving_mean * scale
        return inputs * keras.ops.cast(scale, inputs.dtype) + keras.ops.cast(shift, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape
