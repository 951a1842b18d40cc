"""fada_tf.data.image_ops against PIL, computed here: the original FADA's preprocessing
(core/datasets/transform.py: bicubic/nearest ``F.resize``, torchvision ``ColorJitter``).

Measured and asserted: every operation equals PIL (Pillow 13) exactly, max |diff| = 0, on
noise and on smooth/structured images: bicubic resizes (shrinking up to 10x, enlarging, one
axis, odd ratios, tall images), nearest label resizes, each jitter operation over a range of
factors, the HSV conversions on all 2^24 inputs, and the jitter in every order.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance

from fada_tf.data.image_ops import (_hsv_to_rgb, _rgb_to_hsv, adjust_brightness, adjust_contrast,
                                    adjust_hue, adjust_saturation, apply_jitter, color_jitter,
                                    jitter_parameters, resize_float_images, resize_image, resize_images,
                                    resize_label, scaled_size)

OPS = ("brightness", "contrast", "saturation", "hue")


def noise(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def structured(h, w):
    """Gradients, a sinusoid, a disc and a box: smooth areas plus hard edges."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    image = np.stack([255 * xx, 255 * yy, 128 + 100 * np.sin(12 * xx + 7 * yy)], -1)
    image[(yy - 0.4) ** 2 + (xx - 0.5) ** 2 < 0.05] = [250, 20, 30]
    image[int(h * 0.6):int(h * 0.8), int(w * 0.1):int(w * 0.3)] = [10, 200, 90]
    return image.clip(0, 255).astype(np.uint8)


IMAGES = {"noise": noise, "structured": lambda h, w: structured(h, w)}


def as_tf(array):
    return tf.constant(array, tf.float32)


# --------------------------------------------------------------------------------- resizing

@pytest.mark.parametrize("kind", sorted(IMAGES))
@pytest.mark.parametrize("src, dst", [
    ((37, 53), (20, 31)),     # odd shrink
    ((64, 96), (128, 160)),   # enlarge
    ((300, 500), (90, 160)),  # strong shrink (filter widened ~3x)
    ((45, 45), (45, 17)),     # one axis only
    ((167, 53), (33, 90)),    # taller than wide: Pillow runs the vertical pass first
    ((33, 70), (100, 7)),     # enlarge one axis, shrink the other 10x
    ((40, 60), (40, 60)),     # the same size: PIL returns a copy
])
def test_resize_image_equals_pil_bicubic(kind, src, dst):
    image = IMAGES[kind](*src)
    expected = np.asarray(Image.fromarray(image).resize(dst[::-1], Image.BICUBIC))
    result = resize_image(as_tf(image), dst).numpy()
    assert result.shape == (*dst, 3) and result.dtype == np.float32
    np.testing.assert_array_equal(result, expected)


RESIZES = [((37, 53), (20, 31)), ((64, 96), (128, 160)), ((300, 500), (90, 160)), ((45, 45), (45, 17)),
           ((167, 53), (33, 90)), ((33, 70), (100, 7)), ((40, 60), (40, 60)), ((97, 161), (64, 128))]


def pil_float(image, dst):
    """PIL's bicubic of each channel as a 32-bit float ("F") image."""
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c]), "F")
                                .resize(dst[::-1], Image.BICUBIC)) for c in range(image.shape[-1])], -1)


@pytest.mark.parametrize("src, dst", RESIZES)
def test_resize_images_equals_pil_bicubic_for_each_image_of_a_batch(src, dst):
    """The batched resize the exported graph uses: uint8 in, each image PIL's, dynamic shapes."""
    images = np.stack([noise(*src, seed=1), structured(*src), noise(*src, seed=2)])
    expected = np.stack([np.asarray(Image.fromarray(i).resize(dst[::-1], Image.BICUBIC)) for i in images])
    resize = tf.function(resize_images, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8),
                                                         tf.TensorSpec([2], tf.int32)])
    result = resize(tf.constant(images), tf.constant(dst)).numpy()
    assert result.shape == (3, *dst, 3) and result.dtype == np.float32
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(resize_images(as_tf(images), dst).numpy(), expected)  # float 0..255 in


@pytest.mark.parametrize("src, dst", RESIZES)
def test_resize_float_images_equals_pil_on_float_images(src, dst):
    """Normalised floats (negative, beyond 1), resized as PIL resizes mode "F" images: equal but
    for the order of the sums (float64 in both; at most one float32 step apart)."""
    images = np.stack([(noise(*src, seed=3) / 255.0 - 0.45) / 0.225, (structured(*src) / 255.0 - 0.45) / 0.225])
    images = images.astype(np.float32)
    expected = np.stack([pil_float(i, dst) for i in images])
    result = resize_float_images(tf.constant(images), dst).numpy()
    assert result.shape == (2, *dst, 3) and result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)
    assert np.mean(result == expected) > 0.99


@pytest.mark.parametrize("src, dst", [
    ((37, 53), (20, 31)), ((37, 53), (101, 159)), ((2, 3), (7, 15)), ((5, 2), (21, 7)),
    ((64, 96), (128, 160)), ((300, 500), (90, 160)), ((3, 1914), (2, 4001)), ((23, 29), (23, 29)),
])
def test_resize_label_equals_pil_nearest(src, dst):
    """Exact, including ratios where PIL's running sum picks another pixel than floor((i+½)·a)
    (e.g. 2 → 7: position 1.5·2/7 = 0.4286 but 3.5·2/7 sums to 0.99999…, so pixel 0)."""
    label = np.random.default_rng(1).integers(0, 256, src).astype(np.uint8)
    expected = np.asarray(Image.fromarray(label).resize(dst[::-1], Image.NEAREST))
    result = resize_label(tf.constant(label.astype(np.int32)), dst).numpy()
    np.testing.assert_array_equal(result, expected)


def test_scaled_size_truncates_like_int():
    for h, w, s in [(720, 1280, 0.5), (720, 1280, 0.7), (1052, 1914, 1.37), (512, 1024, 1.5)]:
        s32 = np.float32(s)  # the pipeline draws the scale as float32
        got = scaled_size(tf.constant(h), tf.constant(w), tf.constant(s32))
        assert tuple(int(x) for x in got) == (int(h * float(s32)), int(w * float(s32)))


def test_resizes_work_inside_a_dataset_map():
    image = structured(50, 70)
    label = np.random.default_rng(2).integers(0, 19, (50, 70)).astype(np.int32)
    ds = tf.data.Dataset.from_tensors((as_tf(image), tf.constant(label)))

    def rescale(x, y):
        size = scaled_size(tf.shape(x)[0], tf.shape(x)[1], tf.constant(0.63))
        return resize_image(x, size), resize_label(y, size)
    x, y = next(iter(ds.map(rescale)))
    dst = (int(50 * float(np.float32(0.63))), int(70 * float(np.float32(0.63))))[::-1]
    np.testing.assert_array_equal(x.numpy(), Image.fromarray(image).resize(dst, Image.BICUBIC))
    np.testing.assert_array_equal(y.numpy(), Image.fromarray(label).resize(dst, Image.NEAREST))


# --------------------------------------------------------------------------------- jitter: PIL

def pil_hue(image, factor):
    """torchvision's functional_pil.adjust_hue."""
    h, s, v = image.convert("HSV").split()
    h = np.array(h, dtype=np.uint8)
    h += np.array(factor * 255).astype(np.uint8)  # uint8 wrap-around
    return Image.merge("HSV", (Image.fromarray(h, "L"), s, v)).convert("RGB")


PIL_OPS = {
    "brightness": lambda im, f: ImageEnhance.Brightness(im).enhance(f),
    "contrast": lambda im, f: ImageEnhance.Contrast(im).enhance(f),
    "saturation": lambda im, f: ImageEnhance.Color(im).enhance(f),
    "hue": pil_hue,
}
TF_OPS = {"brightness": adjust_brightness, "contrast": adjust_contrast,
          "saturation": adjust_saturation, "hue": adjust_hue}


def pil_jitter(image, order, factors):
    im = Image.fromarray(image)
    for index in order:
        if factors[index] is not None:
            im = PIL_OPS[OPS[index]](im, float(factors[index]))
    return np.asarray(im)


@pytest.mark.parametrize("kind", sorted(IMAGES))
@pytest.mark.parametrize("op", ["brightness", "contrast", "saturation"])
def test_enhance_operations_equal_pil(op, kind):
    image = IMAGES[kind](61, 83)
    for factor in [0.0, 0.3, 0.77, 1.0, 1.234, 1.6, 2.2]:
        expected = np.asarray(PIL_OPS[op](Image.fromarray(image), factor))
        np.testing.assert_array_equal(TF_OPS[op](as_tf(image), factor).numpy(), expected,
                                      err_msg=f"{op} {factor}")


@pytest.mark.parametrize("kind", sorted(IMAGES))
def test_hue_equals_pil_including_wrap_around(kind):
    image = IMAGES[kind](61, 83) if kind == "structured" else noise(256, 256)
    hsv_hue = np.asarray(Image.fromarray(image).convert("HSV"))[..., 0].astype(int)
    for factor in [-0.5, -0.37, -0.1, 0.0, 0.05, 0.33, 0.5]:
        shift = int(np.array(factor * 255).astype(np.uint8))
        if factor:  # the shift carries some hues past 255 or below 0
            assert ((hsv_hue + shift) > 255).any()
        expected = np.asarray(pil_hue(Image.fromarray(image), factor))
        np.testing.assert_array_equal(adjust_hue(as_tf(image), factor).numpy(), expected,
                                      err_msg=f"hue {factor}")


def test_hsv_round_trip_covers_the_colour_cube():
    """Hue 0 is PIL's lossy RGB → HSV → RGB round trip; checked on 2^18 random colours."""
    image = noise(512, 512, seed=3)
    expected = np.asarray(Image.fromarray(image).convert("HSV").convert("RGB"))
    assert (expected != image).any()
    np.testing.assert_array_equal(adjust_hue(as_tf(image), 0.0).numpy(), expected)


# --------------------------------------------------------------------------------- jitter: order

def test_apply_jitter_follows_the_given_order():
    image = structured(32, 48)
    factors = (1.3, 0.6, 1.7, 0.21)
    results = set()
    for order in itertools.permutations(range(4)):
        result = apply_jitter(as_tf(image), list(order), *factors).numpy()
        np.testing.assert_array_equal(result, pil_jitter(image, order, factors), err_msg=str(order))
        results.add(result.tobytes())
    assert len(results) > 12  # the order matters


def test_color_jitter_draws_every_order_and_factors_in_range():
    b, c, s, h = 0.5, 0.3, 1.4, 0.2
    orders, drawn = set(), []
    for i in range(300):
        order, factors = jitter_parameters(tf.constant([i, 7], tf.int64), b, c, s, h)
        orders.add(tuple(order.numpy()))
        drawn.append([float(f) for f in factors])
    assert orders == set(itertools.permutations(range(4)))
    drawn = np.array(drawn)
    low = np.array([1 - b, 1 - c, 0.0, -h])  # saturation: max(0, 1 - 1.4) = 0
    high = np.array([1 + b, 1 + c, 1 + s, h])
    assert (drawn >= low).all() and (drawn <= high).all()
    span = high - low  # spread over the whole range
    assert (drawn.min(0) < low + 0.05 * span).all() and (drawn.max(0) > high - 0.05 * span).all()


def test_color_jitter_applies_the_drawn_order_and_factors():
    image = noise(40, 56, seed=4)
    jitter = tf.function(lambda x, seed: color_jitter(x, seed, 0.4, 0.4, 0.4, 0.1))
    for i in range(6):
        seed = tf.constant([i, 11], tf.int64)
        order, factors = jitter_parameters(seed, 0.4, 0.4, 0.4, 0.1)
        expected = pil_jitter(image, order.numpy(), [float(f) for f in factors])
        np.testing.assert_array_equal(jitter(as_tf(image), seed).numpy(), expected)


def test_zero_ranges_leave_operations_out():
    image = noise(40, 56, seed=5)
    seed = tf.constant([3, 4], tf.int64)
    np.testing.assert_array_equal(color_jitter(as_tf(image), seed, 0, 0, 0, 0).numpy(), image)
    _, factors = jitter_parameters(seed, 0.5, 0, 0, 0)
    assert factors[1:] == (None, None, None)
    expected = np.asarray(PIL_OPS["brightness"](Image.fromarray(image), float(factors[0])))
    np.testing.assert_array_equal(color_jitter(as_tf(image), seed, 0.5).numpy(), expected)


def test_color_jitter_in_a_dataset_map_is_seeded():
    image = as_tf(structured(30, 40))
    seeds = tf.data.Dataset.random(seed=9).take(8).batch(2)
    ds = seeds.map(lambda s: color_jitter(image, s, 0.5, 0.5, 0.5, 0.25))
    first, second = [x.numpy() for x in ds], [x.numpy() for x in ds]
    for a, b, s in zip(first, second, seeds):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, color_jitter(image, s, 0.5, 0.5, 0.5, 0.25).numpy())
    assert len({a.tobytes() for a in first}) == len(first)


def test_hsv_conversions_equal_pil_on_every_byte_triple():
    """The two conversions inside adjust_hue, on all 2^24 inputs (16 slices of 2^20): PIL
    mixes float and double, and a few of its results hinge on that."""
    low = np.arange(1 << 16)
    for first in range(0, 256, 16):
        codes = (np.arange(first, first + 16)[:, None] << 16 | low).reshape(1024, 1024)
        triples = np.stack([codes >> 16, codes >> 8 & 255, codes & 255], -1).astype(np.uint8)
        hsv = np.stack([x.numpy() for x in _rgb_to_hsv(tf.constant(triples, tf.int32))], -1)
        np.testing.assert_array_equal(hsv, np.asarray(Image.fromarray(triples).convert("HSV")))
        planes = [tf.constant(triples[..., i], tf.int32) for i in range(3)]
        np.testing.assert_array_equal(_hsv_to_rgb(*planes).numpy(),
                                      np.asarray(Image.fromarray(triples, "HSV").convert("RGB")))
