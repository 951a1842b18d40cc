"""``fada_tf.models.vgg``: FADA's dilated VGG-16 layout (pool4/pool5 removed, conv5 dilated 2,
fc6/fc7 dilated 4)."""

import keras


def test_vgg16_layout(vgg16):
    convs = [layer for layer in vgg16.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.name for layer in convs][-5:] == ["conv5_1", "conv5_2", "conv5_3", "fc6", "fc7"]
    assert len(convs) == 15 and all(layer.use_bias for layer in convs)
    assert [layer.name for layer in vgg16.layers
            if isinstance(layer, keras.layers.MaxPooling2D)] == ["pool1", "pool2", "pool3"]
    assert all(vgg16.get_layer(f"conv5_{i}").dilation_rate == (2, 2) for i in (1, 2, 3))
    assert vgg16.get_layer("conv4_3").dilation_rate == (1, 1)
    assert all(vgg16.get_layer(name).dilation_rate == (4, 4) for name in ("fc6", "fc7"))
    assert vgg16.get_layer("fc7").kernel.shape == (3, 3, 1024, 1024)
