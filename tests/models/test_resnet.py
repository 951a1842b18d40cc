"""``fada_tf.models.resnet``: torchvision's dilated ResNet layout (stride on the 3x3 conv, the
dilation pattern of layer3 and layer4, the stem's max-pool)."""

import keras


def test_resnet_stride_sits_on_the_3x3_conv(resnet50):
    assert resnet50.get_layer("layer2.0.conv1").strides == (1, 1)
    assert resnet50.get_layer("layer2.0.conv2").strides == (2, 2)
    assert resnet50.get_layer("layer2.0.downsample.0").strides == (2, 2)
    assert not any(layer.use_bias for layer in resnet50.layers
                   if isinstance(layer, keras.layers.Conv2D))


def test_resnet101_dilation_pattern(resnet101):
    def conv2(layer, block):
        return resnet101.get_layer(f"layer{layer}.{block}.conv2")

    assert conv2(3, 0).dilation_rate == (1, 1)
    assert all(conv2(3, block).dilation_rate == (2, 2) for block in range(1, 23))
    assert conv2(4, 0).dilation_rate == (2, 2)
    assert all(conv2(4, block).dilation_rate == (4, 4) for block in (1, 2))
    for layer in (3, 4):
        assert resnet101.get_layer(f"layer{layer}.0.downsample.0").strides == (1, 1)
        assert all(conv2(layer, block).strides == (1, 1) for block in range(3))


def test_maxpool_is_3x3_stride_2_padding_1(resnet50):
    assert resnet50.get_layer("maxpool_pad").padding == ((1, 1), (1, 1))
    pool = resnet50.get_layer("maxpool")
    assert (pool.pool_size, pool.strides, pool.padding) == ((3, 3), (2, 2), "valid")
