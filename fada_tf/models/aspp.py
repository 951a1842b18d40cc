"""DeepLabV2's ASPP classifier, the original's ``ASPP_Classifier_V2``.

Four parallel 3x3 convolutions from the backbone features straight to the class logits, with
dilations 6, 12, 18, 24 and padding equal to the dilation (so the output keeps the feature
resolution); their outputs are **summed**. Kernels are N(0, 0.01) as in the original.
Biases start at zero here; the original leaves torch's default U(±1/sqrt(9 * in_channels))
(below 0.008 for 1024+ channels), so the difference is negligible.

The convs are named ``conv2d_list.<i>`` like the original's modules, so the key
``conv2d_list.<i>.weight`` maps onto the Keras variable ``aspp/conv2d_list.<i>/kernel``. The
layer's default name ``aspp`` is what the optimiser matches to give the head its larger
learning rate.
"""

import keras


@keras.saving.register_keras_serializable(package="fada_tf")
class AsppClassifierV2(keras.layers.Layer):
    """Sum of dilated 3x3 convs to ``num_classes`` channels; conv ``i`` is seeded ``seed + i``."""

    def __init__(self, num_classes, dilations=(6, 12, 18, 24), seed=0, name="aspp", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.dilations = tuple(dilations)
        self.seed = seed
        self.convs = [
            keras.layers.Conv2D(
                num_classes, 3, dilation_rate=dilation, padding="same", use_bias=True,
                kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01, seed=seed + index),
                bias_initializer="zeros", name=f"conv2d_list.{index}")
            for index, dilation in enumerate(self.dilations)]

    def build(self, input_shape):
        for conv in self.convs:
            conv.build(input_shape)

    def call(self, features):
        logits = self.convs[0](features)
        for conv in self.convs[1:]:
            logits = logits + conv(features)
        return logits

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "dilations": list(self.dilations), "seed": self.seed}
