"""TensorFlow image operations that reproduce the original FADA's PIL/torchvision preprocessing.

The original (GitHub JDAI-CV/FADA) transforms PIL images:

* ``core/datasets/transform.py:49-64`` ``Resize``: ``F.resize(image, (h, w), Image.BICUBIC)``
  on the uint8 RGB image, ``F.resize(label, (h, w), Image.NEAREST)`` on the label.
* ``core/datasets/transform.py:66-87`` ``RandomScale``: s uniform in the scale range, then the
  same two resizes to ``(int(h*s), int(w*s))`` (line 79).
* ``core/datasets/transform.py:170-185`` ``ColorJitter``: ``torchvision.transforms.ColorJitter(
  brightness, contrast, saturation, hue)`` on the PIL image.
* ``core/datasets/build.py:6-31`` ``build_transform``: for a source domain the jitter comes
  first, on the full-resolution image (lines 22-30), then Resize or RandomScale + RandomCrop,
  flip, ToTensor, Normalize. The test transform (lines 33-37) resizes the image alone.

What each function reproduces (graph-mode friendly, usable in ``tf.data`` maps). Images are
float32 (H, W, 3) holding integer values 0..255 (inputs are rounded and clipped to that, the
uint8 PIL sees); outputs are float32 with integer values 0..255, as PIL's uint8 results.

* ``resize_image``: PIL's bicubic resampling of a uint8 image (a = -0.5; the filter widened by
  the shrink factor, i.e. antialiased; two separable passes with 22-bit fixed-point weights and
  uint8 rounding/clipping after each), with PIL's arithmetic: equal to Pillow 13 bit for bit
  (measured max |diff| = 0: noise and structured images, shrinking 3x, enlarging, one axis,
  odd ratios, tall images). The closest built-in, ``tf.image.resize(method="bicubic",
  antialias=True)`` rounded and clipped, differs from PIL by max 1 / mean 0.04-0.12 levels for
  300x500 -> 90x160 but by max 3-20 (mean 0.06-0.25) for small shrinks and enlargements, most
  on noise (PIL clips the first pass to uint8; edges); ``antialias=False`` by up to 160.
  Cost: ~2-3x PIL (1052x1914 -> 720x1280: ~0.07 s on 2 CPU cores). ``resize_images`` is the
  same for a batch, and is what an exported model resizes with (``fada_tf.export.graph``):
  its operations convert to ONNX for a dynamic input size (the taps are computed in the graph
  from the input's size; Gather, MatMul, BitShift, If) and ONNX Runtime gives Pillow's bytes
  too. ``resize_float_images`` is PIL's bicubic of 32-bit float images ("F" mode: the same
  taps, float64 weights and sums, no 8-bit rounding), for normalised float inputs.
* ``resize_label``: PIL's ``NEAREST``: source index ``floor(a/2 + i*a)``, ``a = in/out``, where
  PIL adds ``a`` one step at a time in double precision; a float64 cumulative sum gives the
  same pixels (exact). ``tf.image.resize(method="nearest")`` picks other pixels in edge cases
  (e.g. 2 -> 7 pixels; 1016 of 5762 size pairs tried).
* ``scaled_size``: ``(int(h*s), int(w*s))``, truncated, in double precision.
* ``adjust_brightness`` / ``adjust_contrast`` / ``adjust_saturation``: ``ImageEnhance``
  ``Brightness`` / ``Contrast`` / ``Color``, i.e. ``Image.blend(degenerate, image, f)`` = float32
  ``d + f*(x - d)`` truncated and clipped; degenerate = black / the rounded mean of the 'L'
  image / the 'L' image, L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. Exact.
* ``adjust_hue``: torchvision's PIL hue shift: PIL RGB -> HSV (8 bits, truncating), H plus
  ``uint8(hue * 255)`` with wrap-around, PIL HSV -> RGB (rounding). Exact (both conversions
  checked on all 2^24 inputs).
* ``apply_jitter``: the four operations with given factors in a given order (ids as
  torchvision's ``fn_idx``: 0 brightness, 1 contrast, 2 saturation, 3 hue), uint8 results
  after every step as PIL. ``color_jitter`` draws the order (a uniform random permutation) and
  the factors (uniform in ``[max(0, 1-b), 1+b]``, hue in ``[-h, h]``) from a stateless seed
  (``jitter_parameters``); an operation whose amount is 0 is left out, as torchvision does, so
  ``color_jitter(x, seed, 0, 0, 0, 0)`` is the identity. torchvision < 0.8 shuffled only the
  enabled operations: the same distribution. Full-resolution 1052x1914 jitter: ~0.2 s (PIL ~0.1
  s), mostly the hue conversions.

The random draws come from TF's stateless generator, not torch's: the distributions match the
original, the individual draws do not.
"""

from __future__ import annotations

import tensorflow as tf

_PRECISION_BITS = 22  # PIL Resample.c: 32 - 8 - 2


def _as_bytes(image):
    """0..255 image of any dtype -> uint8 (rounded, clipped), the image PIL sees."""
    if image.dtype == tf.uint8:
        return image
    return tf.cast(tf.clip_by_value(tf.round(tf.cast(image, tf.float32)), 0.0, 255.0), tf.uint8)


def _as_int_image(image):
    """``_as_bytes`` as int32, for arithmetic."""
    return tf.cast(_as_bytes(image), tf.int32)


def scaled_size(height, width, scale):
    """``(int(height*scale), int(width*scale))`` as int32 scalars (RandomScale's target size)."""
    def trunc(n):
        return tf.cast(tf.cast(n, tf.float64) * tf.cast(scale, tf.float64), tf.int32)
    return trunc(height), trunc(width)


# ----------------------------------------------------------------------------- bicubic resize

def _cubic(x):
    """PIL's bicubic kernel (a = -0.5), same operation order, float64."""
    x = tf.abs(x)
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5
    return tf.where(x < 1.0, near, tf.where(x < 2.0, far, tf.zeros_like(x)))


def _bicubic_weights(in_size, out_size):
    """PIL's taps for one axis (``precompute_coeffs``): source indices (out, K) and float64
    weights (out, K) normalised to sum 1, zero beyond each output pixel's window."""
    in_size, out_size = tf.cast(in_size, tf.int32), tf.cast(out_size, tf.int32)
    scale = tf.cast(in_size, tf.float64) / tf.cast(out_size, tf.float64)
    filterscale = tf.maximum(scale, 1.0)
    support = 2.0 * filterscale
    ksize = tf.cast(tf.math.ceil(support), tf.int32) * 2 + 1
    center = (tf.range(out_size, dtype=tf.float64) + 0.5) * scale
    first = tf.maximum(tf.cast(center - support + 0.5, tf.int32), 0)  # C (int) truncates
    stop = tf.minimum(tf.cast(center + support + 0.5, tf.int32), in_size)
    taps = first[:, None] + tf.range(ksize)[None, :]
    offset = tf.cast(taps, tf.float64) - center[:, None] + 0.5
    weights = tf.where(taps < stop[:, None], _cubic(offset * (1.0 / filterscale)), 0.0)
    total = tf.cumsum(weights, axis=1)[:, -1]  # left-to-right sum, as PIL's loop
    return tf.minimum(taps, in_size - 1), tf.math.divide_no_nan(weights, total[:, None])


def _bicubic_taps(in_size, out_size):
    """PIL's taps for one axis of an 8-bit image: source indices (out, K) and int32
    fixed-point weights (out, K) (``normalize_coeffs_8bpc``)."""
    taps, weights = _bicubic_weights(in_size, out_size)
    fixed = weights * float(1 << _PRECISION_BITS)
    fixed = tf.where(weights < 0, fixed - 0.5, fixed + 0.5)  # then truncated, as PIL
    return taps, tf.cast(fixed, tf.int32)


def _resample_rows(planes, out_rows):
    """One PIL 8-bit pass over the rows of (P, H, W) uint8 planes -> uint8 (P, out_rows, W).

    Each output row is a weighted sum of K input rows: a (1, K) x (K, W) integer matrix
    product per plane and output row (exact; faster than a broadcast multiply and a sum, in
    TensorFlow and in ONNX Runtime). PIL shifts each sum right by 22 bits and clips it to
    0..255; clipping negative sums to 0 before the shift gives the same bytes and keeps the
    shift on non-negative numbers (ONNX's BitShift is unsigned: tf2onnx converts through
    uint64)."""
    taps, weights = _bicubic_taps(tf.shape(planes)[1], out_rows)
    gathered = tf.gather(tf.cast(planes, tf.int32), taps, axis=1)  # (P, out_rows, K, W)
    total = tf.matmul(weights[:, None, :], gathered)[:, :, 0]  # (P, out_rows, W)
    total += 1 << (_PRECISION_BITS - 1)
    total = tf.minimum(tf.bitwise.right_shift(tf.maximum(total, 0), _PRECISION_BITS), 255)
    return tf.cast(total, tf.uint8)


def _resample_rows_float(planes, out_rows):
    """One PIL 32-bit float pass (mode "F") over the rows of float32 (P, H, W) planes:
    float64 weights and sums, float32 results, no rounding or clipping."""
    taps, weights = _bicubic_weights(tf.shape(planes)[1], out_rows)
    gathered = tf.gather(tf.cast(planes, tf.float64), taps, axis=1)  # (P, out_rows, K, W)
    return tf.cast(tf.matmul(weights[:, None, :], gathered)[:, :, 0], tf.float32)


def _has_size(height_width, height, width):
    """Whether a (height, width, ...) shape is (``height``, ``width``)."""
    return tf.logical_and(tf.equal(height_width[0], height), tf.equal(height_width[1], width))


def _two_passes(planes, height, width, resample_rows):
    """Both PIL passes over (P, H, W) planes, in Pillow 13's order (``ImagingResampleInner``):
    the vertical pass first when the height shrinks by more than twice as many pixels as the
    width (older Pillow always ran the horizontal pass first; the same for landscape images).
    The horizontal pass resamples the rows of the transposed planes. Planes that already have
    the size come back as they are, as PIL returns a copy (a pass to the same size is the
    identity anyway: weights 1 and 0)."""
    def transpose(x):
        return tf.transpose(x, [0, 2, 1])

    shape = tf.shape(planes)
    shrink_rows = shape[1] - height
    vertical_first = (shrink_rows > 0) & (shrink_rows > 2 * (shape[2] - width))
    return tf.cond(
        _has_size(shape[1:], height, width), lambda: planes,
        lambda: tf.cond(
            vertical_first,
            lambda: transpose(resample_rows(transpose(resample_rows(planes, height)), width)),
            lambda: resample_rows(transpose(resample_rows(transpose(planes), width)), height)))


def _resize_planes(images, size, as_planes_type, resample_rows):
    """NHWC images -> (N*C, H, W) planes (rows contiguous: the layout both passes are fast
    in), both passes, back to NHWC."""
    height, width = size[0], size[1]
    shape = tf.shape(images)
    planes = tf.reshape(tf.transpose(as_planes_type(images), [0, 3, 1, 2]), tf.stack([-1, shape[1], shape[2]]))
    resized = _two_passes(planes, height, width, resample_rows)
    resized = tf.reshape(resized, tf.stack([shape[0], shape[3], height, width]))
    return tf.transpose(resized, [0, 2, 3, 1])


def resize_image(image, size):
    """float32 (H, W, 3) 0..255 -> (size[0], size[1], 3), equal to PIL ``Image.BICUBIC``.

    Two passes with uint8 results in between (``_two_passes``)."""
    resized = resize_images(image[None], size)[0]
    return tf.reshape(resized, tf.stack([size[0], size[1], 3]))


def resize_images(images, size):
    """A batch (N, H, W, C) of 0..255 images (any dtype; rounded and clipped to bytes) ->
    float32 (N, size[0], size[1], C), each image exactly PIL's ``Image.BICUBIC``. Written
    with operations tf2onnx converts for a dynamic input size, the taps and weights computed
    in the graph from it (Range, CumSum, Gather, MatMul, BitShift, If), and ONNX Runtime
    runs exactly (int32 and float64 arithmetic)."""
    return tf.cast(_resize_planes(images, size, _as_bytes, _resample_rows), tf.float32)


def resize_float_images(images, size):
    """A batch (N, H, W, C) of float images of any range (e.g. already normalised) -> float32
    (N, size[0], size[1], C): PIL's bicubic of 32-bit float images (mode "F", channel by
    channel), the taps and weights of ``resize_images`` without the 8-bit fixed point,
    rounding and clipping. Equal to PIL's up to float32 rounding (sums in another order:
    measured max difference 1 unit in the last place, most pixels equal)."""
    return _resize_planes(images, size, lambda x: tf.cast(x, tf.float32), _resample_rows_float)


# ----------------------------------------------------------------------------- nearest resize

def _nearest_indices(in_size, out_size):
    """Source indices PIL's NEAREST resize picks: a running double sum a/2, a/2 + a, ..."""
    step = tf.cast(in_size, tf.float64) / tf.cast(out_size, tf.float64)
    steps = tf.concat([[0.5 * step], tf.fill([out_size - 1], step)], axis=0)
    return tf.minimum(tf.cast(tf.math.floor(tf.cumsum(steps)), tf.int32), in_size - 1)


def resize_label(label, size):
    """Integer (H, W) -> (size[0], size[1]), the pixels PIL ``Image.NEAREST`` picks (a label
    that already has the size comes back as it is)."""
    height, width = size[0], size[1]
    shape = tf.shape(label)

    def resized():
        rows = tf.gather(label, _nearest_indices(shape[0], height), axis=0)
        return tf.gather(rows, _nearest_indices(shape[1], width), axis=1)

    result = tf.cond(_has_size(shape, height, width), lambda: label, resized)
    return tf.reshape(result, tf.stack([height, width]))


# ----------------------------------------------------------------------------- colour jitter

def _grayscale(rgb):
    """PIL's RGB -> 'L' of an int32 image: (19595 R + 38470 G + 7471 B + 2^15) >> 16."""
    weighted = rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + (1 << 15)
    return tf.bitwise.right_shift(weighted, 16)


def _blend(degenerate, rgb, factor):
    """``Image.blend(degenerate, image, factor)`` on int32 images: float32 d + f*(x - d),
    truncated, clipped to 0..255."""
    d, x = tf.cast(degenerate, tf.float32), tf.cast(rgb, tf.float32)
    mixed = d + tf.cast(factor, tf.float32) * (x - d)
    return tf.cast(tf.clip_by_value(tf.math.floor(mixed), 0.0, 255.0), tf.int32)


def _brightness(rgb, factor):
    return _blend(tf.zeros_like(rgb), rgb, factor)


def _contrast(rgb, factor):
    gray = tf.cast(_grayscale(rgb), tf.float64)  # ImageStat: exact sum / count, double
    mean = tf.reduce_sum(gray) / tf.cast(tf.size(gray), tf.float64)
    mean = tf.cast(tf.math.floor(mean + 0.5), tf.int32)  # int(mean + 0.5)
    return _blend(tf.fill(tf.shape(rgb), mean), rgb, factor)


def _saturation(rgb, factor):
    gray = _grayscale(rgb)[..., None]
    return _blend(tf.broadcast_to(gray, tf.shape(rgb)), rgb, factor)


def _rgb_to_hsv(rgb):
    """PIL's RGB -> HSV (Convert.c ``rgb2hsv_row``): float32 ratios, 8-bit truncated H, S."""
    f32, f64 = tf.float32, tf.float64
    r, g, b = tf.unstack(tf.cast(rgb, f32), axis=-1)
    high, low = tf.maximum(r, tf.maximum(g, b)), tf.minimum(r, tf.minimum(g, b))
    span = tf.where(high > low, high - low, 1.0)
    sat = span / tf.maximum(high, 1.0)
    rc, gc, bc = (high - r) / span, (high - g) / span, (high - b) / span
    hue = tf.where(r == high, bc - gc, tf.where(
        g == high, tf.cast(2.0 + tf.cast(rc, f64) - tf.cast(bc, f64), f32),
        tf.cast(4.0 + tf.cast(gc, f64) - tf.cast(rc, f64), f32)))
    hue = tf.cast(tf.math.floormod(tf.cast(hue, f64) / 6.0 + 1.0, 1.0), f32)

    def byte(value):
        return tf.cast(tf.clip_by_value(tf.cast(value, f64) * 255.0, 0.0, 255.0), tf.int32)
    grey = high == low
    return (tf.where(grey, 0, byte(hue)), tf.where(grey, 0, byte(sat)), tf.cast(high, tf.int32))


def _hsv_to_rgb(hue, sat, val):
    """PIL's HSV -> RGB (Convert.c ``hsv2rgb``) of int32 H, S, V planes -> int32 (..., 3).

    PIL mixes float and double here; all-double gives the same bytes (checked on all 2^24 HSV
    triples), and so does tf.round (half to even) for C's round (half away from zero)."""
    h, s, v = (tf.cast(x, tf.float64) for x in (hue, sat, val))
    position = h * 6.0 / 255.0
    sector = tf.math.floor(position)
    frac, fs = position - sector, s / 255.0
    p = tf.round(v * (1.0 - fs))
    q = tf.round(v * (1.0 - fs * frac))
    t = tf.round(v * (1.0 - fs * (1.0 - frac)))
    p, q, t = (tf.where(sat == 0, val, tf.cast(c, tf.int32)) for c in (p, q, t))
    sector = tf.cast(sector, tf.int32) % 6

    def by_sector(*choices):  # the value for hue sectors 0..5
        picked = choices[5]
        for k in range(5):
            picked = tf.where(sector == k, choices[k], picked)
        return picked
    return tf.stack([by_sector(val, q, p, p, t, val), by_sector(t, val, val, q, p, p),
                     by_sector(p, p, t, val, val, q)], axis=-1)


def _hue(rgb, factor):
    """torchvision ``adjust_hue`` on PIL: H + uint8(factor * 255) (wrapping), back to RGB."""
    h, s, v = _rgb_to_hsv(rgb)
    shift = tf.cast(tf.cast(factor, tf.float64) * 255.0, tf.int32)  # truncates toward 0
    return _hsv_to_rgb(tf.math.floormod(h + shift, 256), s, v)


_OPERATIONS = (_brightness, _contrast, _saturation, _hue)


def _on_floats(operation, image, factor):
    return tf.cast(operation(_as_int_image(image), factor), tf.float32)


def adjust_brightness(image, factor):
    """``ImageEnhance.Brightness(image).enhance(factor)`` of a float32 0..255 image."""
    return _on_floats(_brightness, image, factor)


def adjust_contrast(image, factor):
    """``ImageEnhance.Contrast(image).enhance(factor)`` of a float32 0..255 image."""
    return _on_floats(_contrast, image, factor)


def adjust_saturation(image, factor):
    """``ImageEnhance.Color(image).enhance(factor)`` of a float32 0..255 image."""
    return _on_floats(_saturation, image, factor)


def adjust_hue(image, factor):
    """torchvision's PIL ``adjust_hue(image, factor)``, factor in [-0.5, 0.5]."""
    return _on_floats(_hue, image, factor)


def apply_jitter(image, order, brightness=None, contrast=None, saturation=None, hue=None):
    """Apply the jitter operations with the given factors in ``order`` (4 ids: 0 brightness,
    1 contrast, 2 saturation, 3 hue; a tensor or list); a factor of None leaves that
    operation out. Each step is quantised to uint8 values as PIL."""
    factors = (brightness, contrast, saturation, hue)
    rgb = _as_int_image(image)
    for step in range(4):
        branches = [(lambda op=op, f=f, x=rgb: x if f is None else op(x, f))
                    for op, f in zip(_OPERATIONS, factors)]
        rgb = tf.switch_case(tf.cast(order[step], tf.int32), branches)
    return tf.cast(rgb, tf.float32)


def jitter_parameters(seed, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0):
    """Draw torchvision ColorJitter's parameters from a shape-[2] seed: ``(order, factors)``,
    order a random permutation of 0..3, factors a tuple of 4 float32 scalars or None (an
    operation with a range of 0, left out)."""
    order_seed, factor_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    order = tf.argsort(tf.random.stateless_uniform([4], order_seed))
    unit = tf.unstack(tf.random.stateless_uniform([4], factor_seed))
    factors = [None if b <= 0 else max(0.0, 1.0 - b) + (1.0 + b - max(0.0, 1.0 - b)) * u
               for b, u in zip((brightness, contrast, saturation), unit)]
    factors.append(None if hue <= 0 else (2.0 * unit[3] - 1.0) * hue)
    return order, tuple(factors)


def color_jitter(image, seed, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0):
    """``torchvision.transforms.ColorJitter(brightness, contrast, saturation, hue)`` on a float32
    0..255 (H, W, 3) image; ``seed`` a shape-[2] int tensor; the amounts Python floats (hue
    <= 0.5). Factors in [max(0, 1-b), 1+b], hue shift in [-hue, hue], random order."""
    if min(brightness, contrast, saturation, hue) < 0 or hue > 0.5:
        raise ValueError("jitter amounts must be >= 0 and hue <= 0.5, got "
                         f"{(brightness, contrast, saturation, hue)}")
    order, factors = jitter_parameters(seed, brightness, contrast, saturation, hue)
    return apply_jitter(image, order, *factors)
