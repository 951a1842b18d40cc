"""The built-in synthetic domain shift: procedural street scenes in a "game" and a "real" style.

Both domains draw the same kind of scene (sky, a skyline of buildings, trees, a road in
perspective with sidewalks, poles carrying signs, people, cars; classes in
``fada_tf.data.classes``) but differ the way GTA5 differs from Cityscapes:

* **game** (source, labelled): saturated flat colours, a blue sky, bright lit windows, lane
  markings, clean pixels, a low horizon, few cars and people;
* **real** (target, unlabelled for training, labelled for validation): muted colours taken from
  different places in colour space (overcast sky, beige facades, olive foliage, dark poles,
  blue signs, grey cars), textured surfaces, random exposure and colour cast, sensor noise and
  blur, a higher horizon, more cars and people.

The layout rules are shared, so class structure transfers; the appearance is not. Every scene
is a pure function of (style, seed, index), so datasets are reproducible without files.

A style can also move classes apart from each other rather than all together: per-class colour
offsets (``class_offsets``), colours crossed between partner classes (``crossing``) and the
scene layout's class proportions. ``fada_tf.data.synthetic_shifts`` builds the targets of
the class-level study from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fada_tf.data.classes import class_table

_NAMES = class_table("synthetic").names
ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, POLE, SIGN, PERSON, CAR = range(len(_NAMES))
# With ``Style.crossing``, an object takes its partner class's colours (sky has none).
PARTNERS = {BUILDING: VEGETATION, VEGETATION: BUILDING, ROAD: SIDEWALK, SIDEWALK: ROAD,
            POLE: SIGN, SIGN: POLE, CAR: PERSON, PERSON: CAR}


@dataclass(frozen=True)
class Style:
    """Appearance and object statistics of one synthetic domain."""

    name: str
    road: tuple[int, int, int]
    sidewalk: tuple[int, int, int]
    building: tuple[tuple[int, int, int], ...]
    window: tuple[int, int, int]
    vegetation: tuple[int, int, int]
    sky_top: tuple[int, int, int]
    sky_bottom: tuple[int, int, int]
    pole: tuple[int, int, int]
    sign: tuple[int, int, int]
    car: tuple[tuple[int, int, int], ...]
    clothes: tuple[tuple[int, int, int], ...]
    colour_jitter: float      # per-instance colour noise (std, in 0..255 units)
    texture: float            # amplitude of surface texture noise
    lane_markings: bool
    horizon: tuple[float, float]   # horizon height as a fraction of the image height
    cars: tuple[int, int]          # inclusive range of cars per scene
    people: tuple[int, int]
    poles: tuple[int, int]
    exposure: tuple[float, float]  # global brightness factor range
    colour_cast: float             # std of a per-image per-channel gain
    noise: float                   # std of per-pixel sensor noise
    blur: bool
    # Layout: the chance that a skyline slot holds a building, its roof height as a fraction of
    # the horizon's row, and the number of trees.
    building_chance: float = 0.8
    building_top: tuple[float, float] = (0.05, 0.8)
    trees: tuple[int, int] = (1, 3)
    # The chance that an object (a building, a tree, the road, a car, ...) is painted in its
    # partner class's colours (PARTNERS) instead of its own.
    crossing: float = 0.0
    # Per-class RGB offsets (one per class, in class order; () = none), added to every pixel
    # of the class before the camera; the image's mean offset is subtracted again, so the
    # image-mean colour is kept (up to clipping).
    class_offsets: tuple[tuple[float, float, float], ...] = ()


GAME = Style(
    name="game",
    road=(70, 70, 82), sidewalk=(190, 160, 150),
    building=((120, 110, 105), (95, 95, 110), (140, 120, 100)), window=(250, 230, 120),
    vegetation=(40, 170, 45), sky_top=(40, 110, 230), sky_bottom=(130, 190, 250),
    pole=(210, 210, 215), sign=(240, 210, 0),
    car=((220, 30, 30), (30, 60, 220), (240, 240, 240), (250, 200, 0)),
    clothes=((230, 40, 40), (40, 200, 60), (40, 40, 230), (250, 140, 0)),
    colour_jitter=8.0, texture=4.0, lane_markings=True, horizon=(0.45, 0.55),
    cars=(1, 2), people=(0, 2), poles=(2, 4),
    exposure=(0.95, 1.05), colour_cast=0.0, noise=0.0, blur=False,
)

REAL = Style(
    name="real",
    road=(112, 106, 100), sidewalk=(150, 148, 140),
    building=((170, 150, 125), (150, 130, 115), (185, 175, 160)), window=(70, 75, 85),
    vegetation=(80, 95, 55), sky_top=(195, 200, 210), sky_bottom=(225, 225, 225),
    pole=(55, 55, 60), sign=(40, 80, 170),
    car=((50, 50, 55), (160, 160, 165), (110, 30, 30), (225, 225, 225)),
    clothes=((40, 40, 45), (80, 70, 60), (30, 40, 70), (140, 130, 120)),
    colour_jitter=12.0, texture=10.0, lane_markings=False, horizon=(0.35, 0.45),
    cars=(2, 4), people=(1, 4), poles=(1, 3),
    exposure=(0.7, 1.15), colour_cast=0.06, noise=6.0, blur=True,
)

STYLES = {"game": GAME, "real": REAL}


def render_scene(style: Style, seed: int, height: int = 64, width: int = 128):
    """Draw one scene: an (H, W, 3) uint8 RGB image and its (H, W) uint8 label map."""
    rng = np.random.default_rng(seed)
    canvas = _Canvas(height, width, rng, style)
    horizon = int(height * rng.uniform(*style.horizon))
    canvas.sky(horizon)
    canvas.skyline(horizon)
    canvas.trees(horizon)
    canvas.ground(horizon)
    for _ in range(rng.integers(style.poles[0], style.poles[1] + 1)):
        canvas.pole_with_sign(horizon)
    objects = [canvas.car] * int(rng.integers(style.cars[0], style.cars[1] + 1))
    objects += [canvas.person] * int(rng.integers(style.people[0], style.people[1] + 1))
    # Paint far (near the horizon) to near, so nearer objects occlude farther ones.
    feet = sorted(rng.uniform(0.15, 0.9, size=len(objects)))
    for draw, depth in zip(rng.permutation(objects), feet):
        draw(horizon, depth)
    return canvas.finish(), canvas.label


def render_split(style: Style | str, count: int, seed: int, height: int = 64, width: int = 128):
    """``count`` scenes of one style (or its name in STYLES) as arrays (N, H, W, 3) uint8 and
    (N, H, W) uint8. Scene seeds depend on the style's name, not on its other fields."""
    style = STYLES[style] if isinstance(style, str) else style
    images = np.empty((count, height, width, 3), np.uint8)
    labels = np.empty((count, height, width), np.uint8)
    for i in range(count):
        images[i], labels[i] = render_scene(style, _scene_seed(style.name, seed, i), height, width)
    return images, labels


def _scene_seed(style_name: str, seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index, sum(map(ord, style_name))]).generate_state(1)[0])


class _Canvas:
    """Paints labels and colours together, back to front."""

    def __init__(self, height, width, rng, style):
        self.h, self.w, self.rng, self.style = height, width, rng, style
        self.label = np.full((height, width), SKY, np.uint8)
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.rows = np.arange(height)[:, None].astype(np.float32)
        self.cols = np.arange(width)[None, :].astype(np.float32)

    def _colour(self, base):
        return np.asarray(base, np.float32) + self.rng.normal(0, self.style.colour_jitter, 3)

    def _class_colour(self, cls):
        """A jittered colour from ``cls``'s palette or, with chance ``style.crossing``, from
        its partner class's."""
        if self.style.crossing and self.rng.random() < self.style.crossing:
            cls = PARTNERS[cls]
        s = self.style
        palette = {ROAD: (s.road,), SIDEWALK: (s.sidewalk,), BUILDING: s.building,
                   VEGETATION: (s.vegetation,), POLE: (s.pole,), SIGN: (s.sign,), CAR: s.car,
                   PERSON: s.clothes}[cls]
        return self._colour(palette[self.rng.integers(len(palette))] if len(palette) > 1 else palette[0])

    def _paint(self, mask, cls, colour):
        self.label[mask] = cls
        self.rgb[mask] = colour

    def _texture(self, shape, scale):
        """Smooth random texture: coarse noise upsampled by repetition."""
        coarse = self.rng.normal(0, 1, ((shape[0] + scale - 1) // scale, (shape[1] + scale - 1) // scale))
        fine = np.kron(coarse, np.ones((scale, scale)))[: shape[0], : shape[1]]
        return fine[..., None] * self.style.texture

    def sky(self, horizon):
        t = np.clip(self.rows / max(horizon, 1), 0, 1)[..., None]
        top, bottom = np.asarray(self.style.sky_top, np.float32), np.asarray(self.style.sky_bottom, np.float32)
        self.rgb[:] = (1 - t) * top + t * bottom
        if self.style.texture > 10:  # clouds
            self.rgb += self._texture((self.h, self.w), max(self.w // 16, 2)) * 0.8

    def skyline(self, horizon):
        x = 0
        while x < self.w:
            bw = int(self.rng.uniform(0.08, 0.25) * self.w)
            if self.rng.random() < self.style.building_chance:
                top = int(self.rng.uniform(*self.style.building_top) * horizon)
                y0, y1, x1 = top, horizon + 1, min(x + bw, self.w)
                colour = self._class_colour(BUILDING)
                block = np.ones((y1 - y0, x1 - x, 3), np.float32) * colour
                block += self._texture(block.shape[:2], 2)
                self._windows(block)
                self.label[y0:y1, x:x1] = BUILDING
                self.rgb[y0:y1, x:x1] = block
            x += bw

    def _windows(self, block):
        step = max(self.w // 32, 3)
        lit = np.asarray(self.style.window, np.float32)
        for r in range(1, block.shape[0] - 1, step):
            for c in range(1, block.shape[1] - 1, step):
                if self.rng.random() < 0.6:
                    block[r : r + step // 2 + 1, c : c + step // 2 + 1] = lit + self.rng.normal(0, 10, 3)

    def trees(self, horizon):
        for _ in range(self.rng.integers(self.style.trees[0], self.style.trees[1] + 1)):
            cx = self.rng.uniform(0, self.w)
            ry = self.rng.uniform(0.1, 0.25) * self.h
            rx = ry * self.rng.uniform(0.6, 1.2)
            cy = horizon - ry * self.rng.uniform(0.3, 0.9)
            mask = ((self.cols - cx) / rx) ** 2 + ((self.rows - cy) / ry) ** 2 <= 1
            colour = self._class_colour(VEGETATION) + self._texture((self.h, self.w), 2)
            self._paint(mask, VEGETATION, colour[mask])

    def ground(self, horizon):
        """Road in perspective from a vanishing point, sidewalks beside it, verges beyond."""
        vx = self.rng.uniform(0.3, 0.7) * self.w
        depth = np.clip((self.rows - horizon) / max(self.h - horizon, 1), 0, None)  # 0 at horizon
        half_road = depth * self.rng.uniform(0.45, 0.7) * self.w
        half_walk = half_road * self.rng.uniform(1.3, 1.6)
        offset = np.abs(self.cols - vx)
        below = self.rows > horizon
        road = below & (offset <= half_road)
        walk = below & ~road & (offset <= half_walk)
        verge = below & ~road & ~walk
        verge_colour = self._class_colour(VEGETATION) + self._texture((self.h, self.w), 2)
        self._paint(verge, VEGETATION, verge_colour[verge])
        walk_colour = self._class_colour(SIDEWALK) + self._texture((self.h, self.w), 1)
        self._paint(walk, SIDEWALK, walk_colour[walk])
        road_colour = self._class_colour(ROAD) + self._texture((self.h, self.w), 3)
        if self.style.lane_markings:
            dash = (np.abs(self.cols - vx) <= np.maximum(depth * self.w * 0.015, 0.5)) & \
                   ((self.rows.astype(int) // 3) % 2 == 0)
            road_colour = np.where(dash[..., None], 235.0, road_colour)
        self._paint(road, ROAD, road_colour[road])
        self.vanishing_x, self.half_road, self.half_walk = vx, half_road[:, 0], half_walk[:, 0]

    def _ground_x(self, row, on_road):
        """A column on the road (or a sidewalk) at image row ``row``."""
        hr, hw = self.half_road[row], self.half_walk[row]
        if on_road:
            return self.vanishing_x + self.rng.uniform(-0.8, 0.8) * hr
        side = self.rng.choice([-1, 1])
        return self.vanishing_x + side * self.rng.uniform(hr, max(hw, hr + 1))

    def pole_with_sign(self, horizon):
        row = int(horizon + self.rng.uniform(0.2, 0.9) * (self.h - horizon - 1))
        x = int(self._ground_x(row, on_road=False))
        scale = (row - horizon) / max(self.h - horizon, 1)
        top = max(int(row - (0.35 + 0.5 * scale) * self.h), 0)
        width = max(int(round(self.w / 64 * (0.6 + scale))), 1)
        x0, x1 = np.clip([x, x + width], 0, self.w)
        if x1 <= x0:
            return
        self._paint((slice(top, row), slice(x0, x1)), POLE, self._class_colour(POLE))
        size = max(int(round(self.w / 32 * (0.7 + scale))), 2)
        sx0, sx1 = np.clip([x0 - size // 2, x0 - size // 2 + size + width], 0, self.w)
        self._paint((slice(top, min(top + size, self.h)), slice(sx0, sx1)), SIGN, self._class_colour(SIGN))

    def car(self, horizon, depth):
        row = int(horizon + depth * (self.h - horizon - 1))
        scale = depth * self.h
        cw, ch = int(scale * self.rng.uniform(0.45, 0.65)) + 2, int(scale * self.rng.uniform(0.22, 0.32)) + 1
        cx = int(self._ground_x(row, on_road=True)) - cw // 2
        x0, x1 = np.clip([cx, cx + cw], 0, self.w)
        y0 = max(row - ch, 0)
        if x1 <= x0 or row <= y0:
            return
        body = self._class_colour(CAR)
        self._paint((slice(y0, row), slice(x0, x1)), CAR, body)
        # Cabin and windows above the body; wheels are part of the car too.
        cab = (slice(max(y0 - ch // 2, 0), y0), slice(x0 + cw // 5, max(x1 - cw // 5, x0 + 1)))
        self._paint(cab, CAR, body * 0.45)
        self.rgb[row - max(ch // 4, 1) : row, x0:x1] = 20.0

    def person(self, horizon, depth):
        row = int(horizon + depth * (self.h - horizon - 1))
        ph = int(depth * self.h * self.rng.uniform(0.3, 0.4)) + 3
        pw = max(ph // 3, 1)
        x = int(self._ground_x(row, on_road=self.rng.random() < 0.2))
        x0, x1 = np.clip([x - pw // 2, x - pw // 2 + pw], 0, self.w)
        y0 = max(row - ph, 0)
        if x1 <= x0 or row <= y0:
            return
        clothes = self._class_colour(PERSON)
        self._paint((slice(y0, row), slice(x0, x1)), PERSON, clothes)
        head = max(ph // 5, 1)
        self.rgb[y0 : y0 + head, x0:x1] = self._colour((200, 160, 130))

    def finish(self):
        """Class offsets, then the camera: exposure, colour cast, blur and sensor noise; back to
        uint8."""
        s, rng = self.style, self.rng
        if s.class_offsets:
            offsets = np.asarray(s.class_offsets, np.float32)[self.label]
            self.rgb += offsets - offsets.mean(axis=(0, 1))
        img = self.rgb * rng.uniform(*s.exposure) * (1 + rng.normal(0, s.colour_cast, 3))
        if s.blur:
            padded = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
            img = sum(padded[dy : dy + self.h, dx : dx + self.w] for dy in range(3) for dx in range(3)) / 9
        if s.noise:
            img = img + rng.normal(0, s.noise, img.shape)
        return np.clip(img, 0, 255).astype(np.uint8)
