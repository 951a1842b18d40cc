"""Multi-scale + flip inference against a hand-computed average, and evaluate() against numpy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fada_tf.config.schema import ModelConfig
from fada_tf.data.classes import ClassTable
from fada_tf.evaluation.evaluate import evaluate, predict_labels, predict_probabilities
from fada_tf.evaluation.metrics import confusion_matrix, summarize
from fada_tf.models import build_segmentor
from fada_tf.models.resize import resize_bilinear
from tests.support.numpy_reference import softmax

K = 3
SCALES = (0.7, 1.0, 1.3)
TABLE = ClassTable("three", ("a", "b", "c"), ((1, 1, 1), (2, 2, 2), (3, 3, 3)))


@pytest.fixture(scope="module")
def segmentor():
    return build_segmentor(ModelConfig(backbone="tiny", tiny_width=4), K, seed=3)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(size=(2, 24, 40, 3)).astype(np.float32)


def hand_average(segmentor, images, size, scales, flip):
    """Each scale and each mirror image run separately; probabilities averaged in numpy."""
    outputs = []
    h, w = images.shape[1:3]
    for s in scales:
        scaled = resize_bilinear(images, (int(h * s), int(w * s))).numpy()
        runs = [(scaled, False), (scaled[:, :, ::-1], True)] if flip else [(scaled, False)]
        for x, mirrored in runs:
            logits = resize_bilinear(segmentor(np.ascontiguousarray(x))["logits"], size).numpy()
            p = softmax(logits.astype(np.float64))
            outputs.append(p[:, :, ::-1] if mirrored else p)
    return np.mean(outputs, axis=0)


@pytest.mark.parametrize("scales,flip", [((1.0,), True), (SCALES, False), (SCALES, True), ((0.5, 1.5), True)])
def test_multiscale_flip_equals_the_hand_computed_average(segmentor, images, scales, flip):
    size = (30, 50)
    got = predict_probabilities(segmentor, images, size, scales, flip).numpy()
    expected = hand_average(segmentor, images, size, scales, flip)
    assert got.shape == (2, 30, 50, K)
    np.testing.assert_allclose(got, expected, atol=2e-6)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
    labels = predict_labels(segmentor, images, size, scales, flip).numpy()
    np.testing.assert_array_equal(labels, np.argmax(got, -1))


def test_the_scales_and_flips_really_change_the_prediction(segmentor, images):
    """Guards the hand-computed test against a model for which averaging would not matter."""
    single = predict_probabilities(segmentor, images, (24, 40)).numpy()
    flipped = predict_probabilities(segmentor, images, (24, 40), flip=True).numpy()
    scaled = predict_probabilities(segmentor, images, (24, 40), SCALES).numpy()
    assert np.abs(single - flipped).max() > 1e-3 and np.abs(single - scaled).max() > 1e-3
    # Averaging logits instead of probabilities gives something else.
    logits = [resize_bilinear(segmentor(np.ascontiguousarray(x))["logits"], (24, 40)).numpy()
              for x in (images, images[:, :, ::-1])]
    wrong = softmax((logits[0] + logits[1][:, :, ::-1]) / 2)
    assert np.abs(wrong - flipped).max() > 1e-4


def test_flip_of_a_pixelwise_model_changes_nothing():
    """A 1x1-conv 'segmentor' commutes with mirroring: flip-averaging must give back its output
    exactly (not flipping the mirrored output back would average each pixel with its mirror)."""
    image = keras.Input((None, None, 3))
    logits = keras.layers.Conv2D(K, 1, kernel_initializer=keras.initializers.RandomNormal(seed=1))(image)
    model = keras.Model(image, {"features": logits, "logits": logits})
    x = np.random.default_rng(1).normal(size=(1, 6, 9, 3)).astype(np.float32)
    plain = predict_probabilities(model, x, (6, 9)).numpy()
    np.testing.assert_allclose(predict_probabilities(model, x, (6, 9), flip=True).numpy(), plain, atol=1e-6)
    np.testing.assert_allclose(plain, softmax(model(x)["logits"].numpy()), atol=1e-6)


def test_single_scale_labels_are_the_argmax_of_upsampled_logits(segmentor, images):
    logits = resize_bilinear(segmentor(images)["logits"], (31, 47)).numpy()
    np.testing.assert_array_equal(predict_labels(segmentor, images, (31, 47)).numpy(), logits.argmax(-1))


@pytest.mark.parametrize("scales,flip", [((1.0,), False), (SCALES, True)])
def test_evaluate_accumulates_the_confusion_of_the_predictions(segmentor, images, scales, flip):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, K, size=(2, 30, 50)).astype(np.int32)
    labels[rng.random(labels.shape) < 0.3] = 255
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(1)
    seen = []
    result = evaluate(segmentor, dataset, TABLE, verbose=0, scales=scales, flip=flip,
                      on_predictions=seen.append)
    predictions = hand_average(segmentor, images, (30, 50), scales, flip).argmax(-1)
    np.testing.assert_array_equal(np.concatenate(seen), predictions)
    expected = summarize(confusion_matrix(labels, predictions, K), TABLE)
    assert result["num_images"] == 2
    assert result["miou"] == pytest.approx(expected["miou"], abs=1e-12)
    assert result["per_class_iou"] == pytest.approx(expected["per_class_iou"], abs=1e-12)
    valid = labels != 255
    assert result["pixel_acc"] == pytest.approx(np.mean(predictions[valid] == labels[valid]), abs=1e-12)
