"""Built frames and videos for tests, benchmarks and the demo (never imported by the
library itself).

Real faces, synthetic layouts: a photo scaled onto a full-HD canvas, several face crops
pasted at chosen sizes and places, a door camera's video of people walking up, and the
hard door scenes of :func:`door_scene` (a cut, a swap in one place, two people crossing).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from numpy.typing import NDArray

from ._validate import check_frame
from .image_io import crop_around, margin_window, read_image
from .door.sources import Frame
from .boxes import iou_matrix

if TYPE_CHECKING:
    from .pipeline import FacePipeline
    from .door.trigger import DoorTrigger

__all__ = ["FULL_HD", "full_hd_frame", "crop_around", "paste_faces", "Visit", "door_video",
           "write_video", "face_crop", "textured_background", "Actor", "scene_video", "Scene",
           "hard_scenes", "lfw_scenes", "true_label", "FittedFaces", "similarity_percentiles",
           "SceneRun", "run_door_on_scene", "presented_photo", "reshot"]

FULL_HD = (1920, 1080)


def full_hd_frame(image: NDArray[np.uint8], size: Tuple[int, int] = FULL_HD) -> NDArray[np.uint8]:
    """``image`` scaled to the canvas height and centred on a black (width, height) canvas.

    With the default size and ``obama.jpg`` this is the standard latency input.

    Returns
    -------
    ndarray, uint8 (height, width, 3)
    """
    image = check_frame(image, "image")
    width, height = size
    factor = height / image.shape[0]
    scaled = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    used = min(width, scaled.shape[1])
    x0 = (width - used) // 2
    src0 = (scaled.shape[1] - used) // 2
    canvas[:, x0:x0 + used] = scaled[:height, src0:src0 + used]
    return canvas


def paste_faces(size: Tuple[int, int],
                items: Iterable[Tuple[NDArray[np.uint8], int, int, float]],
                background: int = 40) -> NDArray[np.uint8]:
    """A (width, height) frame with scaled crops pasted on a flat grey background.

    Parameters
    ----------
    size : (width, height)
    items : iterable of (crop, x, y, scale)
        Each crop is resized by ``scale`` and its top-left corner put at (x, y);
        what falls outside the frame is cut off.

    Returns
    -------
    ndarray, uint8 (height, width, 3)
    """
    width, height = size
    canvas = np.full((height, width, 3), background, np.uint8)
    for crop, x, y, scale in items:
        crop = check_frame(crop, "crop")
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interpolation)
        h = min(small.shape[0], height - y)
        w = min(small.shape[1], width - x)
        if h > 0 and w > 0:
            canvas[y:y + h, x:x + w] = small[:h, :w]
    return canvas


@dataclass(frozen=True)
class Visit:
    """Someone walking up to the camera in a built video.

    The face (``face_width`` pixels wide inside ``crop``) grows from ``start_px`` to
    ``end_px`` over ``walk_s`` seconds while drifting from ``x_from`` to ``x_to``
    (fractions of the frame width), stays ``stay_s`` seconds, then is gone.
    """

    label: str
    crop: NDArray[np.uint8]
    face_width: float
    start_s: float
    walk_s: float = 3.0
    stay_s: float = 1.0
    start_px: float = 40.0
    end_px: float = 240.0
    x_from: float = 0.3
    x_to: float = 0.45

    def face_px(self, t: float) -> Optional[float]:
        """Face width at video time ``t``, or None when the person is not in view."""
        s = t - self.start_s
        if s < 0 or s > self.walk_s + self.stay_s:
            return None
        return self.start_px + (self.end_px - self.start_px) * min(1.0, s / self.walk_s)


def door_video(visits: Sequence[Visit], seconds: float, size: Tuple[int, int] = (1280, 720),
               fps: float = 25.0, noise: float = 4.0, blur_every: int = 0,
               drop_every: int = 0, seed: int = 0
               ) -> Iterator[Tuple[NDArray[np.uint8], List[Tuple[str, float]]]]:
    """Frames of a door camera in which ``visits`` happen, with what is in each frame.

    Yields ``(frame, [(label, face_px), ...])``. ``noise`` is the standard deviation of
    Gaussian pixel noise; every ``blur_every``-th frame is motion-blurred and every
    ``drop_every``-th frame is skipped (a dropped frame: time moves on).
    """
    width, height = size
    rng = np.random.default_rng(seed)
    ramp = np.linspace(70, 130, width, dtype=np.float32)[None, :, None]
    background = np.repeat(np.repeat(ramp, height, axis=0), 3, axis=2).astype(np.uint8)
    # A few noise fields, reused in turn: drawing fresh noise per 720p frame is slow.
    fields = [rng.normal(0, noise, background.shape) for _ in range(7)] if noise else []
    noise_bank = [(np.clip(f, 0, 255).astype(np.uint8), np.clip(-f, 0, 255).astype(np.uint8))
                  for f in fields]
    for index in range(int(round(seconds * fps))):
        if drop_every and index % drop_every == drop_every - 1:
            continue
        t = index / fps
        items, infos = [], []
        for visit in visits:
            face_px = visit.face_px(t)
            if face_px is None:
                continue
            scale = face_px / visit.face_width
            progress = min(1.0, (t - visit.start_s) / visit.walk_s)
            cx = (visit.x_from + (visit.x_to - visit.x_from) * progress) * width
            x = int(cx - visit.crop.shape[1] * scale / 2)
            y = int(height * 0.45 - visit.crop.shape[0] * scale / 2)
            items.append((visit.crop, x, y, scale))
            infos.append((visit.label, face_px))
        frame = background.copy()
        for crop, x, y, scale in items:
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interpolation)
            x0, y0 = max(0, x), max(0, y)
            x1, y1 = min(width, x + small.shape[1]), min(height, y + small.shape[0])
            if x1 > x0 and y1 > y0:
                frame[y0:y1, x0:x1] = small[y0 - y:y1 - y, x0 - x:x1 - x]
        if noise_bank:
            up, down = noise_bank[index % len(noise_bank)]
            frame = np.asarray(cv2.subtract(cv2.add(frame, up), down), np.uint8)
        if blur_every and index % blur_every == 0:
            frame = np.asarray(cv2.blur(frame, (9, 1)), np.uint8)
        yield frame, infos


def face_crop(image: NDArray[np.uint8], box: NDArray, margin: float = 0.6
              ) -> Tuple[NDArray[np.uint8], Tuple[float, float, float, float]]:
    """The region of a face ``box`` grown by ``margin`` x its size per side, and the face
    box (x1, y1, x2, y2) inside that crop."""
    crop = crop_around(image, box, margin)
    x1, y1, x2, y2 = (float(v) for v in box)
    left, top, _, _ = margin_window(box, margin, image.shape)
    return crop, (x1 - left, y1 - top, x2 - left, y2 - top)


def reshot(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The same BGR photo as a second capture would give it: shifted by 3 px, scaled by 0.9
    (replicated border), JPEG-compressed at quality 70. For measuring how far an embedding
    moves for nothing but capture noise."""
    height, width = check_frame(image, "image").shape[:2]
    moved = cv2.warpAffine(image, np.array([[0.9, 0, 3], [0, 0.9, 3]], np.float32), (width, height),
                           borderMode=cv2.BORDER_REPLICATE)
    ok, jpeg = cv2.imencode(".jpg", moved, [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert ok
    return read_image(jpeg.tobytes())


def presented_photo(photo: NDArray[np.uint8], box: NDArray, kind: str = "print",
                    size: Tuple[int, int] = (640, 480), seed: int = 0) -> NDArray[np.uint8]:
    """A simulated presentation attack: a camera frame of ``photo``'s face held up to it.

    The face (``box``, grown by its size on every side) becomes a flat rectangle in a
    textured room, either a print (white paper border, paler inks) or a phone screen (black
    bezel, a screen-door pixel grid), tilted a little, lit unevenly across, then re-shot:
    blurred and JPEG-compressed at quality 75. Built to exercise the liveness check; it
    is not evidence of how real printed or replayed attacks score.
    """
    if kind not in ("print", "screen"):
        raise ValueError(f"kind must be 'print' or 'screen', got {kind!r}")
    rng = np.random.default_rng(seed)
    picture = crop_around(photo, np.asarray(box, np.float32), 1.0).astype(np.float32)
    height, width = picture.shape[:2]
    if kind == "print":
        picture = picture * 0.82 + 28  # paper: no deep blacks, no full whites
        border, colour = max(4, width // 14), 235.0
    else:
        grid = np.ones((height, width, 1), np.float32)
        grid[::3] *= 0.72  # dark rows and columns between the screen's pixels
        grid[:, ::3] *= 0.72
        picture = picture * grid * 1.1
        border, colour = max(6, width // 10), 12.0
    card = cv2.copyMakeBorder(np.clip(picture, 0, 255), border, border, border, border,
                              cv2.BORDER_CONSTANT, value=(colour, colour, colour))
    frame_w, frame_h = size
    scale = 0.7 * frame_h / card.shape[0]
    card = cv2.resize(card, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ch, cw = card.shape[:2]
    angle = float(rng.uniform(-6, 6))
    centre = (frame_w / 2 + float(rng.uniform(-0.1, 0.1)) * frame_w, frame_h / 2)
    matrix = cv2.getRotationMatrix2D((cw / 2, ch / 2), angle, 1.0)
    matrix[:, 2] += np.array(centre) - np.array([cw / 2, ch / 2])
    warped = cv2.warpAffine(card, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0)
    mask = cv2.warpAffine(np.ones((ch, cw), np.float32), matrix, size, borderValue=0)[..., None]
    room = textured_background(size, seed).astype(np.float32)
    light = np.linspace(0.8, 1.15, frame_w, dtype=np.float32)[None, :, None]
    lit = np.clip((room * (1 - mask) + warped * mask) * light, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", cv2.GaussianBlur(lit, (3, 3), 1.0),
                            [cv2.IMWRITE_JPEG_QUALITY, 75])
    return np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), np.uint8)


def textured_background(size: Tuple[int, int], seed: int) -> NDArray[np.uint8]:
    """A (width, height) frame of smooth colour patches: each seed is another "scene"."""
    width, height = size
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 226, (5, 8, 3)).astype(np.uint8)
    return np.asarray(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC),
                      np.uint8)


@dataclass(frozen=True)
class Actor:
    """A face in a built scene, from ``start_s`` to ``end_s`` (video seconds).

    Its centre moves linearly from ``start`` to ``end`` ((x, y) as fractions of the
    frame) while its width goes from ``start_px`` to ``end_px``; ``face_box`` is the
    face inside ``crop`` (as returned by :func:`face_crop`). Later actors are drawn
    over earlier ones.
    """

    label: str
    crop: NDArray[np.uint8]
    face_box: Tuple[float, float, float, float]
    start_s: float
    end_s: float
    start: Tuple[float, float] = (0.5, 0.45)
    end: Optional[Tuple[float, float]] = None
    start_px: float = 90.0
    end_px: Optional[float] = None

    def at(self, t: float) -> Optional[Tuple[float, float, float]]:
        """(centre x, centre y, face width) in fractions and pixels, or None out of view."""
        if not self.start_s <= t < self.end_s:
            return None
        f = (t - self.start_s) / max(self.end_s - self.start_s, 1e-9)
        end = self.end if self.end is not None else self.start
        end_px = self.end_px if self.end_px is not None else self.start_px
        return (self.start[0] + f * (end[0] - self.start[0]),
                self.start[1] + f * (end[1] - self.start[1]),
                self.start_px + f * (end_px - self.start_px))


def scene_video(actors: Sequence[Actor], seconds: float, size: Tuple[int, int] = (640, 360),
                fps: float = 25.0, scenes: Sequence[Tuple[float, int]] = ((0.0, 0),),
                noise: float = 3.0, seed: int = 0
                ) -> Iterator[Tuple[NDArray[np.uint8], List[Tuple[str, NDArray[np.float32]]]]]:
    """Frames of a built scene, with the true face boxes in each.

    Parameters
    ----------
    actors : sequence of Actor
    seconds, fps : float
    size : (width, height)
    scenes : sequence of (start second, background seed)
        The background switches at each start: a hard cut.
    noise : float
        Standard deviation of the Gaussian pixel noise.

    Yields
    ------
    (frame uint8 (height, width, 3), [(label, face box float32 (4,) x1 y1 x2 y2), ...])
    """
    width, height = size
    rng = np.random.default_rng(seed)
    backgrounds = [(start, textured_background(size, bg_seed)) for start, bg_seed in scenes]
    fields = [rng.normal(0, noise, (height, width, 3)).astype(np.int16) for _ in range(5)]
    for index in range(int(round(seconds * fps))):
        t = index / fps
        frame = next(bg for start, bg in reversed(backgrounds) if t >= start).copy()
        truth = []
        for actor in actors:
            where = actor.at(t)
            if where is None:
                continue
            cx, cy, face_px = where
            fx1, fy1, fx2, fy2 = actor.face_box
            scale = face_px / (fx2 - fx1)
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            small = cv2.resize(actor.crop, None, fx=scale, fy=scale, interpolation=interpolation)
            x = int(round(cx * width - (fx1 + fx2) / 2 * scale))
            y = int(round(cy * height - (fy1 + fy2) / 2 * scale))
            x0, y0 = max(0, x), max(0, y)
            x1, y1 = min(width, x + small.shape[1]), min(height, y + small.shape[0])
            if x1 > x0 and y1 > y0:
                frame[y0:y1, x0:x1] = small[y0 - y:y1 - y, x0 - x:x1 - x]
            box = np.array([x + fx1 * scale, y + fy1 * scale, x + fx2 * scale, y + fy2 * scale],
                           np.float32)
            truth.append((actor.label, box))
        if noise:
            frame = np.clip(frame + fields[index % len(fields)], 0, 255).astype(np.uint8)
        yield frame, truth


@dataclass(frozen=True)
class Scene:
    """A built video: actors over backgrounds (``(start second, seed)``; each switch is a
    hard cut), ``size`` (width, height) at ``fps``."""

    name: str
    actors: Tuple[Actor, ...]
    seconds: float
    backgrounds: Tuple[Tuple[float, int], ...] = ((0.0, 0),)
    size: Tuple[int, int] = (640, 360)
    fps: float = 25.0

    def frames(self) -> Iterator[Tuple[NDArray[np.uint8], List[Tuple[str, NDArray[np.float32]]]]]:
        """As :func:`scene_video`."""
        return scene_video(self.actors, self.seconds, self.size, self.fps, self.backgrounds)


FaceCrop = Tuple[str, NDArray[np.uint8], Tuple[float, float, float, float]]


def hard_scenes(a: FaceCrop, b: FaceCrop, stranger: Optional[FaceCrop] = None) -> List[Scene]:
    """The scenes in which a tracker may hand one person's identity to another, for two
    people ``(label, crop, face box in crop)``: "cut" (a hard cut between two scenes
    whose faces sit in about the same place), "swap" (``a`` leaves and ``b`` stands in the
    very same place from frame 75 on: between two detections while the door is idle) and
    "crossing" (the two walk past each other, ``b`` in front); with a ``stranger`` (not
    enrolled) also "stranger swap" (as "swap", the stranger standing in for ``a``)."""
    (la, ca, ba), (lb, cb, bb) = a, b
    scenes = [
        Scene("cut", (Actor(la, ca, ba, 0.0, 3.0, start=(0.5, 0.45), start_px=90),
                      Actor(lb, cb, bb, 3.0, 6.0, start=(0.52, 0.47), start_px=86)),
              6.0, backgrounds=((0.0, 1), (3.0, 2))),
        Scene("swap", (Actor(la, ca, ba, 0.0, 3.0, start=(0.5, 0.45), start_px=90),
                       Actor(lb, cb, bb, 3.0, 6.0, start=(0.5, 0.45), start_px=90)), 6.0),
        Scene("crossing", (Actor(la, ca, ba, 0.0, 5.0, start=(0.15, 0.45), end=(0.85, 0.45),
                                 start_px=80),
                           Actor(lb, cb, bb, 0.0, 5.0, start=(0.85, 0.47), end=(0.15, 0.47),
                                 start_px=80)), 5.0)]
    if stranger is not None:
        ls, cs, bs = stranger
        scenes.append(Scene("stranger swap", (
            Actor(la, ca, ba, 0.0, 3.0, start=(0.5, 0.45), start_px=90),
            Actor(ls, cs, bs, 3.0, 6.0, start=(0.5, 0.45), start_px=90)), 6.0))
    return scenes


def lfw_scenes(pipeline: "FacePipeline", root: Union[str, "os.PathLike[str]"],
               cases: Dict[str, Dict]) -> Tuple[List[Scene], List[Tuple[str, NDArray[np.float32]]]]:
    """The real-face scenes of the door, from lfw_dev photos named in ``cases`` (the JSON
    of ``benchmarks/pick_door_faces.py``): "turned" (an enrolled person's turned face,
    64-66 px, for 2 s) and "lookalike" (a stranger similar to an enrolled person, walking
    up from 50 to 140 px over 4 s, labelled "stranger"). Also returns the enrolment the
    scenes assume: ``[(name, embedding (128,)), ...]``."""
    root = Path(root)

    def face(name: str) -> Tuple[NDArray[np.uint8], Tuple[float, float, float, float],
                                 NDArray[np.float32]]:
        image = read_image(root / name)
        found = max(pipeline.analyze(image), key=lambda f: f.width)
        assert found.embedding is not None
        return face_crop(image, found.box) + (found.embedding,)

    turned, lookalike = cases["turned"], cases["lookalike"]
    enrol = [(turned["person"], face(name)[2]) for name in turned["enrol"]]
    enrol.append((lookalike["enrolled"].split("/")[0], face(lookalike["enrolled"])[2]))
    crop, box, _ = face(turned["photo"])
    scenes = [Scene("turned", (Actor(turned["person"], crop, box, 0.0, 2.0, start=(0.4, 0.45),
                                     end=(0.42, 0.46), start_px=64, end_px=66),), 2.0)]
    crop, box, _ = face(lookalike["stranger"])
    scenes.append(Scene("lookalike", (Actor("stranger", crop, box, 0.0, 4.0, start=(0.5, 0.5),
                                            end=(0.45, 0.5), start_px=50, end_px=140),), 4.0))
    return scenes, enrol


def dip_scene(pipeline: "FacePipeline", root: Union[str, "os.PathLike[str]"], case: Dict
              ) -> Tuple[Scene, List[Tuple[str, NDArray[np.float32]]]]:
    """The "dip" scene from lfw_dev photos named in ``case`` (the "dip" entry of
    ``benchmarks/pick_door_faces.py``'s JSON): an enrolled person's face, 80 px wide, for
    2 s, then another photo of theirs that reads below the identify gate but above the
    door's keep threshold (a face turned away for a while) for 2 s in the very same place,
    then the first again for 2 s: one visit, one decision. Widths: the case's
    ``front_px`` and ``dip_px``. Also returns the enrolment the scene assumes (the front
    photo only): ``[(name, embedding (128,))]``."""
    root = Path(root)
    person = case["person"]
    found = {}
    for key in ("front", "dip"):
        image = read_image(root / case[key])
        face = max(pipeline.analyze(image), key=lambda f: f.width)
        assert face.embedding is not None
        found[key] = face_crop(image, face.box) + (face.embedding,)
    (front, front_box, front_vec), (dip, dip_box, _) = found["front"], found["dip"]
    front_px, dip_px = float(case["front_px"]), float(case["dip_px"])
    actors = (Actor(person, front, front_box, 0.0, 2.0, start_px=front_px),
              Actor(person, dip, dip_box, 2.0, 4.0, start_px=dip_px),
              Actor(person, front, front_box, 4.0, 6.0, start_px=front_px))
    return Scene("dip", actors, 6.0), [(person, front_vec)]


def true_label(box: NDArray, truth: Sequence[Tuple[str, NDArray]]) -> str:
    """The label of the true face box that overlaps ``box`` most (IoU >= 0.3), else
    "nobody"."""
    if not truth:
        return "nobody"
    overlap = iou_matrix(np.asarray(box, np.float32)[None], np.stack([b for _, b in truth]))[0]
    best = int(np.argmax(overlap))
    return truth[best][0] if overlap[best] >= 0.3 else "nobody"


@dataclass
class SceneRun:
    """What a door did on a :class:`Scene`.

    ``events`` pairs each event with the true label at its box; ``wrong_claims`` lists
    ``(frame, track_id, claimed person, true label)`` for every frame in which the
    detector ran and an identified track sat on someone else's face; ``decidable``
    maps each label to the first video time its face was at least ``min_face_px`` wide;
    ``seconds`` is the processing time.
    """

    events: List[Tuple[object, str]]
    wrong_claims: List[Tuple[int, int, str, str]]
    decidable: Dict[str, float]
    frames: int
    seconds: float


def run_door_on_scene(trigger: "DoorTrigger", scene: Scene, min_face_px: float) -> SceneRun:
    """Feed ``scene`` to ``trigger`` frame by frame and compare it with the truth."""
    frames = list(scene.frames())
    events: List[Tuple[object, str]] = []
    wrong: List[Tuple[int, int, str, str]] = []
    decidable: Dict[str, float] = {}
    start = time.perf_counter()
    for index, (image, truth) in enumerate(frames):
        for event in trigger.process(Frame(index, index / scene.fps, image)):
            events.append((event, true_label(np.asarray(event.box), truth)))
        if trigger.last_detected_frame == index:
            for track_id, person, box in trigger.identified_tracks():
                label = true_label(box, truth)
                if label != person:
                    wrong.append((index, track_id, person, label))
    elapsed = time.perf_counter() - start
    for index, (_, truth) in enumerate(frames):
        for label, box in truth:
            if box[2] - box[0] >= min_face_px:
                decidable.setdefault(label, index / scene.fps)
    return SceneRun(events, wrong, decidable, len(frames), elapsed)


@dataclass(frozen=True)
class FittedFaces:
    """A Gaussian model of face embeddings fitted to real ones, to pad a gallery with
    synthetic people whose similarities look like real faces'.

    An identity is a centre drawn from N(mean, between-person covariance); one of its
    photos is the unit vector of centre + s x (within-person noise), where s is drawn once
    per identity (lognormal around ``within_scale``, spread ``within_spread``: some people
    vary more between photos than others). Within-person covariance is estimated from the
    people with several photos and shrunk by ``shrink`` towards isotropic (lfw_dev has
    fewer such deviations than dimensions). ``within_scale`` 1.05 and ``within_spread``
    0.12 match lfw_dev's genuine similarity percentiles; print both with
    :func:`similarity_percentiles` (``benchmarks/bench_gallery.py`` prints the realism line).

    Attributes
    ----------
    mean : ndarray float32 (128,)
    between_root, within_root : ndarray float32 (128, 128)
        Square roots (``R @ R.T`` = covariance) of the two covariances.
    """

    mean: NDArray[np.float32]
    between_root: NDArray[np.float32]
    within_root: NDArray[np.float32]
    within_scale: float = 1.05
    within_spread: float = 0.12

    @classmethod
    def fit(cls, embeddings: NDArray[np.float32], labels: Sequence[str],
            shrink: float = 0.3) -> "FittedFaces":
        """Fit to unit embeddings (n, 128) with a person label each."""
        x = np.asarray(embeddings, np.float64)
        labels_arr = np.asarray(labels)
        deviations = []
        for person in np.unique(labels_arr):
            rows = x[labels_arr == person]
            if len(rows) >= 2:
                deviations.append(rows - rows.mean(axis=0))
        if not deviations:
            raise ValueError("fitting needs people with two or more photos")
        dev = np.concatenate(deviations)
        within = dev.T @ dev / max(len(dev) - len(deviations), 1)
        within = (1 - shrink) * within + shrink * np.trace(within) / x.shape[1] * np.eye(x.shape[1])
        between = np.cov(x.T) - within

        def root(cov: NDArray) -> NDArray[np.float32]:
            values, vecs = np.linalg.eigh(cov)
            return (vecs * np.sqrt(np.clip(values, 0, None))).astype(np.float32)

        return cls(x.mean(axis=0).astype(np.float32), root(between), root(within))

    def identities(self, n: int, rng: np.random.Generator
                   ) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
        """``n`` identities: centres (n, 128) and within-person scales (n,)."""
        centres = self.mean + rng.standard_normal((n, self.mean.size), dtype=np.float32) \
            @ self.between_root.T
        scales = self.within_scale * np.exp(self.within_spread * rng.standard_normal(n))
        return centres.astype(np.float32), scales.astype(np.float32)

    def photos(self, centres: NDArray[np.float32], scales: NDArray[np.float32],
               rng: np.random.Generator) -> NDArray[np.float32]:
        """One photo (unit row, float32) of each identity."""
        noise = rng.standard_normal(centres.shape, dtype=np.float32) @ self.within_root.T
        rows = centres + scales[:, None] * noise
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def similarity_percentiles(embeddings: NDArray[np.float32], labels: Sequence[str],
                           percentiles: Sequence[float] = (1, 5, 50, 95, 99),
                           impostor_percentiles: Sequence[float] = (50, 99, 99.9, 99.99)
                           ) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentiles of genuine (same label) and impostor pair similarities of unit rows."""
    labels_arr = np.asarray(labels)
    sims = embeddings @ embeddings.T
    upper = np.triu_indices(len(labels_arr), 1)
    same = (labels_arr[:, None] == labels_arr[None, :])[upper]
    pairs = sims[upper]
    return (np.percentile(pairs[same], percentiles),
            np.percentile(pairs[~same], impostor_percentiles))


def read_video(path: Union[str, "os.PathLike[str]"]) -> List[NDArray[np.uint8]]:
    """Every frame OpenCV decodes from a video file (BGR uint8), in order."""
    capture = cv2.VideoCapture(str(path))
    frames: List[NDArray[np.uint8]] = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return frames
            frames.append(np.asarray(image, np.uint8))
    finally:
        capture.release()


def write_video(path: Union[str, "os.PathLike[str]"], frames: Iterable[NDArray[np.uint8]],
                fps: float = 25.0) -> Path:
    """Write BGR frames to an MJPG ``.avi`` file (readable by any OpenCV build)."""
    path = Path(path)
    writer = None
    try:
        for frame in frames:
            if writer is None:
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps,
                                         (frame.shape[1], frame.shape[0]))
                if not writer.isOpened():
                    raise OSError(f"OpenCV cannot write video {path}")
            writer.write(frame)
    finally:
        if writer is not None:
            writer.release()
    return path


#: Width (px) of the 2000 x 1333 photo of :func:`peer_fixtures` and its three faces.
SMALL_FACES_PHOTO = (2000, 1333)
SMALL_FACES_PX = (40, 50, 60)


def peer_fixtures(data: Union[str, "os.PathLike[str]"], out: Union[str, "os.PathLike[str]"]
                  ) -> Dict[str, Path]:
    """The inputs on which face_recognition's documented examples are compared with the
    compat module (``benchmarks/peer/peer_answers.py`` runs the peer on them), built from
    the test photos in ``data`` into ``out``, the same bytes every time:

    ``known/`` obama.jpg, biden.jpg and a sub-folder ``extra/obama3.jpg`` (the peer's CLI
    ignores sub-folders); ``unknown/`` obama2.jpg, astronaut.png and ``small_faces.jpg``
    (2000x1333: obama2, biden and the astronaut 40, 50 and 60 px wide on a blurred real
    photo); ``train/<name>/`` for the KNN example (obama: obama.jpg, obama3.jpg; biden:
    biden.jpg); ``clip.avi`` (640x360, 3 s: obama2.jpg walking up from 50 to 160 px).
    Returns those paths by name."""
    from .pipeline import FacePipeline  # noqa: PLC0415 - the models only when building

    data, out = Path(data), Path(out)
    names = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "astronaut.png")
    photos = {name: data / name for name in names}
    layout = {"known/obama.jpg": "obama.jpg", "known/biden.jpg": "biden.jpg",
              "known/extra/obama3.jpg": "obama3.jpg", "unknown/obama2.jpg": "obama2.jpg",
              "unknown/astronaut.png": "astronaut.png", "train/obama/obama.jpg": "obama.jpg",
              "train/obama/obama3.jpg": "obama3.jpg", "train/biden/biden.jpg": "biden.jpg"}
    for target, source in layout.items():
        (out / target).parent.mkdir(parents=True, exist_ok=True)
        (out / target).write_bytes(photos[source].read_bytes())
    pipeline = FacePipeline()
    crops = {}
    for name in ("obama2.jpg", "biden.jpg", "astronaut.png"):
        image = read_image(photos[name])
        crops[name] = face_crop(image, max(pipeline.analyze(image), key=lambda f: f.width).box)
    width, height = SMALL_FACES_PHOTO
    background = cv2.resize(read_image(photos["obama3.jpg"]), (width, height))
    canvas = cv2.GaussianBlur(background, (0, 0), 25)  # a real photo's colours, no face
    for (crop, box), x, px in zip(crops.values(), (width // 8, width // 2 - 50, width * 3 // 4),
                                  SMALL_FACES_PX):
        scale = px / (box[2] - box[0])
        small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas[height // 2:height // 2 + small.shape[0], x:x + small.shape[1]] = small
    cv2.imwrite(str(out / "unknown" / "small_faces.jpg"), canvas,
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    crop, box = crops["obama2.jpg"]
    scene = Scene("walk", (Actor("obama", crop, box, 0.0, 3.0, start=(0.45, 0.5),
                                 end=(0.5, 0.45), start_px=50, end_px=160),), 3.0)
    write_video(out / "clip.avi", (frame for frame, _ in scene.frames()))
    return {"known": out / "known", "unknown": out / "unknown", "train": out / "train",
            "clip": out / "clip.avi", "small_faces": out / "unknown" / "small_faces.jpg"}
