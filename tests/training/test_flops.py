"""``fada_tf.training.flops``: the FLOPs of what a traced function runs, against counts worked
out by hand from the layers' shapes (2 · outputs · taps per convolution or product)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from fada_tf.config.schema import ModelConfig
from fada_tf.models.segmentor import build_backbone
from fada_tf.training.flops import graph_flops, matmul_rate


def conv(outputs: tuple, kernel: tuple) -> int:
    """2 · output values · (k_h · k_w · C_in): one multiply-add per tap."""
    return 2 * math.prod(outputs) * math.prod(kernel[:3])


def kernels():
    rng = np.random.default_rng(0)
    return (tf.constant(rng.normal(size=(3, 3, 3, 8)), tf.float32),
            tf.constant(rng.normal(size=(3, 3, 8, 4)), tf.float32),
            tf.constant(rng.normal(size=(4 * 4 * 4, 5)), tf.float32))


def forward(x, k1, k2, w):
    y = tf.nn.relu(tf.nn.conv2d(x, k1, 2, "SAME"))              # 2x8x8x8
    y = tf.nn.relu(tf.nn.conv2d(y, k2, 2, "SAME", dilations=1))  # 2x4x4x4
    return tf.matmul(tf.reshape(y, [2, -1]), w)                   # 2x5


FORWARD = conv((2, 8, 8, 8), (3, 3, 3)) + conv((2, 4, 4, 4), (3, 3, 8)) + 2 * 2 * 5 * 64


def test_forward_pass_counts_each_convolution_and_product_once():
    k1, k2, w = kernels()
    function = tf.function(forward).get_concrete_function(
        tf.TensorSpec([2, 16, 16, 3]), k1, k2, w)
    assert graph_flops(function) == FORWARD


def test_a_training_step_counts_the_gradients_it_uses_and_not_the_ones_it_drops():
    """Every kernel's gradient costs its forward again; the input gradients are needed for all
    but the first layer (the image's gradient is built by the tape, then pruned)."""
    k1, k2, w = (tf.Variable(k) for k in kernels())

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(forward(x, k1, k2, w) ** 2)
        for variable, gradient in zip((k1, k2, w), tape.gradient(loss, [k1, k2, w])):
            variable.assign_sub(0.1 * gradient)
        return loss

    counted = graph_flops(step.get_concrete_function(tf.TensorSpec([2, 16, 16, 3])))
    first = conv((2, 8, 8, 8), (3, 3, 3))
    assert counted == FORWARD + FORWARD + (FORWARD - first)

    @tf.function
    def loss_and_unused_gradient(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(forward(x, k1, k2, w) ** 2)
        tape.gradient(loss, [k1, k2, w])      # built, never used: pruned, not counted
        return loss

    assert graph_flops(loss_and_unused_gradient.get_concrete_function(
        tf.TensorSpec([2, 16, 16, 3]))) == FORWARD


def test_nested_functions_and_recomputation_count_once_per_call():
    k1, k2, w = kernels()
    inner = tf.function(forward)

    @tf.function
    def twice(x):
        return inner(x, k1, k2, w) + inner(2 * x, k1, k2, w)

    assert graph_flops(twice.get_concrete_function(tf.TensorSpec([2, 16, 16, 3]))) == 2 * FORWARD

    # ReLU's gradient needs the recomputed convolution (a linear block's gradient would not).
    block = tf.recompute_grad(lambda x: tf.nn.relu(tf.nn.conv2d(x, k2, 1, "SAME")))

    @tf.function
    def recomputed(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(block(x) ** 2)
        return loss, tape.gradient(loss, x)

    one = conv((2, 8, 8, 4), (3, 3, 8))   # forward, its recomputation, the input gradient
    assert graph_flops(recomputed.get_concrete_function(tf.TensorSpec([2, 8, 8, 8]))) == 3 * one


def test_dilated_resnet_forward_matches_the_count_from_its_architecture():
    """Dilated ResNet-50 at output stride 8 (torchvision v1.5: stride on the 3x3; layer3
    dilated 2, layer4 dilated 4), worked out block by block from its channel widths."""
    height, width = 64, 96
    backbone = build_backbone(ModelConfig(backbone="resnet50", freeze_bn=True))
    function = tf.function(backbone).get_concrete_function(tf.TensorSpec([1, height, width, 3]))

    def positions(stride):
        return (1, height // stride, width // stride)

    expected = conv((*positions(2), 64), (7, 7, 3))
    channels = 64
    for blocks, mid, stride_in, stride in ((3, 64, 4, 4), (4, 128, 4, 8), (6, 256, 8, 8),
                                           (3, 512, 8, 8)):
        for index in range(blocks):
            before = stride_in if index == 0 else stride
            expected += conv((*positions(before), mid), (1, 1, channels))
            expected += conv((*positions(stride), mid), (3, 3, mid))
            expected += conv((*positions(stride), 4 * mid), (1, 1, mid))
            if index == 0:
                expected += conv((*positions(stride), 4 * mid), (1, 1, channels))
            channels = 4 * mid
    assert graph_flops(function) == expected


def test_unknown_shapes_and_loops_around_arithmetic_are_refused():
    k1, k2, w = kernels()
    dynamic = tf.function(lambda x: tf.nn.conv2d(x, k1, 1, "SAME")).get_concrete_function(
        tf.TensorSpec([None, 8, 8, 3]))
    with pytest.raises(ValueError, match="Conv2D.*not fully known"):
        graph_flops(dynamic)

    @tf.function
    def loop(x):
        return tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.matmul(y, y)), (0, x))[1]

    with pytest.raises(ValueError, match="While"):
        graph_flops(loop.get_concrete_function(tf.TensorSpec([4, 4])))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_matmul_rate_is_a_finite_positive_rate(dtype):
    rate = matmul_rate(dtype, size=64, repeats=2)
    assert 0 < rate < math.inf
