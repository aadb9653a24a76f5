"""Shipped default thresholds. Every value is used as a keyword default elsewhere, never as
a literal; each names the data and the command that chose it in one line. The whole
measurement notes, with the figures of every run, are in docs/thresholds.md: re-run the
command after changing a model or a preprocessing step.
"""
from __future__ import annotations

from typing import Tuple

#: YuNet score threshold: the seed API's default (lower values found faces in paintings).
DETECT_CONF: float = 0.85

#: IoU above which overlapping YuNet boxes are suppressed (the seed API's value).
DETECT_NMS: float = 0.45

#: Faces returned per frame at most, strongest first (seed API default).
MAX_FACES: int = 50

#: Candidates YuNet keeps before NMS. Large enough never to bind before MAX_FACES.
DETECT_TOP_K: int = 5000

#: Longest side (px) of the copy of the frame the detector runs on (never upscaled): at 736
#: faces of 60 px in 1080p frames are all found. ``python benchmarks/bench_min_face.py``.
DETECT_MAX_SIDE: int = 736

#: Longest side (px) a photo is detected at by the compat module's default
#: (number_of_times_to_upsample=1) and by ``identify`` without --max-side: the photo's own
#: size up to this (never enlarged). 40 px faces in a 2000 px photo: 2 of 3 found at 736, 3
#: at 2048 (tests/test_compat_face_recognition.py); 200-330 ms per 2000 px photo on 2 cores.
STILL_MAX_SIDE: int = 2048

#: 1:1 "same person" cosine for SFace: FMR 7.0e-4 (target 1e-3), FNMR 0/140 on lfw_dev's
#: 1,198,786 impostor and 140 genuine pairs at STILL_SCALES.
#: ``python benchmarks/calibrate_lfw.py ../shared/lfw_dev``.
MATCH_COSINE: float = 0.37

#: Error rates of MATCH_COSINE on those pairs (FNMR coarse: 140 genuine pairs).
MATCH_FMR: float = 7.0e-4
MATCH_FNMR: float = 0.0

#: (slope, intercept) of the match probability 1 / (1 + exp(-(slope * s + intercept))):
#: logistic regression on the same pairs, by the same command.
MATCH_LOGISTIC: tuple = (47.115, -18.286)

#: Open-set gate: a query is "unknown" below this cosine to the nearest photo of the best
#: person. lfw_dev, 52 people enrolled, 62 queries, 1,416 strangers: 62/62 identified, 1
#: stranger accepted. ``python benchmarks/eval_open_set.py --lfw ../shared/lfw_dev``.
IDENTIFY_COSINE: float = 0.46

#: ...and it must beat the best photo of any other enrolled person by at least this
#: (guards against lookalikes among the enrolled; same command).
IDENTIFY_MARGIN: float = 0.05

#: Default minimum classifier probability in FaceRecognizer.infer (seed API default).
UNKNOWN_PROBABILITY: float = 0.2

#: Door: a track is recognised when VOTE_K of its last VOTE_N embedded observations name
#: the same person (K > 1: N attempts multiply a stranger's chances).
#: ``python benchmarks/bench_door.py``.
VOTE_K: int = 3
VOTE_N: int = 5

#: Smallest face (px wide) the door embeds: at 36-45 px lfw_dev faces kept TAR 0.964 and
#: FMR 1.3e-5. ``python benchmarks/door_gates_lfw.py ../shared/lfw_dev``.
MIN_FACE_PX: int = 40

#: Yaw-proxy gate of the door: off (on lfw_dev the false match rate did not rise with yaw;
#: same command).
DOOR_MAX_YAW: float = float("inf")

#: Sharpness gate of the door: off (blurred lfw_dev probes gave no false match; same
#: command).
DOOR_MIN_SHARPNESS: float = 0.0

#: An identified track is verified (embedded again) at least this often, in seconds.
VERIFY_EVERY_S: float = 1.0

#: Door hysteresis: an identified track keeps its identity while its face reads at least
#: this cosine to the face that earned the decision: the lowest with an impostor keep rate
#: <= 1e-3 on lfw_dev (5.4e-4; genuine miss 1e-3, small and turned faces included).
#: ``python benchmarks/door_keep_lfw.py ../shared/lfw_dev``...
DOOR_KEEP_COSINE: float = 0.375
#: ...and ends after this many verifications in a row below it...
DOOR_KEEP_MISSES: int = 3
#: ...counted at least this many seconds apart (or one, after a cut or box jump): a stranger
#: standing in is caught within 0.5 s. ``python benchmarks/bench_door.py --part scenes``.
DOOR_DOUBT_EVERY_S: float = 0.25

#: Picture change (0-1) above which a frame is a cut: frame-to-frame change on the demo
#: video had a 99th percentile of 0.046, built cuts 0.14-0.24. ``python
#: benchmarks/bench_door.py``.
CUT_THRESHOLD: float = 0.1

#: Seconds between two firings for the same person, at least...
COOLDOWN_S: float = 10.0

#: ...and the person must have been out of view this long before firing again.
REARM_S: float = 2.0

#: Sides (px) of the cut-out of each face in which a still's landmarks are found again and
#: the embeddings averaged (enrolment, ``verify``, calibration; not video): a re-shot photo
#: kept cosine 0.970 to itself (0.946 in one pass). ``python benchmarks/eval_scales.py
#: ../shared/lfw_dev``.
STILL_SCALES: tuple = (256, 400)

#: Live probability at or above which a face is live (the original project's decision
#: point): 11.2 % of lfw_dev web photos called spoof, 9.8 % / 4.9 % of simulated print /
#: screen attacks called live. ``python benchmarks/eval_liveness.py ../shared/lfw_dev``.
LIVE_PROBABILITY: float = 0.5

#: YuNet's box grown by this before the liveness crops (1.2 and 1.4 changed nothing; same
#: command).
LIVENESS_BOX_SCALE: float = 1.0

#: Door with liveness on: this many of the VOTE_N observations in a window must be live.
LIVE_K: int = 3

#: face_recognition's distance scale for SFace (compat module): past 0.6 (MATCH_COSINE; below,
#: the Euclidean distance of encodings of norm 0.5345), (cosine, distance) knots at which our
#: impostor pairs pass 0.104x as often as dlib's at that tolerance. lfw_dev, 1,177,205
#: impostor and 140 genuine pairs: FMR <= dlib's at every tolerance 0.3-0.8, FNMR within 0.02
#: of it. ``python benchmarks/compat_distance_lfw.py ../shared/lfw_dev dlib_lfw.npz``.
PEER_DISTANCE_KNOTS: Tuple[Tuple[float, float], ...] = (
    (0.37, 0.6), (0.3543, 0.62), (0.3384, 0.64), (0.3233, 0.66), (0.3086, 0.68),
    (0.2944, 0.7), (0.2814, 0.72), (0.269, 0.74), (0.2572, 0.76), (0.2466, 0.78),
    (0.2373, 0.8))
