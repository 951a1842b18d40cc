"""Fixtures of the model tests: the full-size backbones, built once per test module."""

import pytest

from fada_tf.models.resnet import build_dilated_resnet
from fada_tf.models.vgg import build_dilated_vgg16


@pytest.fixture(scope="module")
def resnet50():
    return build_dilated_resnet(50, freeze_bn=True, seed=0)


@pytest.fixture(scope="module")
def resnet101():
    return build_dilated_resnet(101, freeze_bn=True, seed=0)


@pytest.fixture(scope="module")
def vgg16():
    return build_dilated_vgg16(seed=0)
