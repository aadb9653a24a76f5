"""Shipped default thresholds and where each one comes from.

Every value is used as a keyword default elsewhere, never as a literal. Each
constant names the data and the command that chose it; re-run the command after
changing a model or preprocessing step.
"""
from __future__ import annotations

#: YuNet score threshold. 0.85 is the seed API's default; at 640 px input a lower
#: value (0.6-0.7) reported faces in a painting behind a person (ARCHITECTURE.md §6).
DETECT_CONF: float = 0.85

#: IoU above which overlapping YuNet boxes are suppressed (OpenCV Zoo default 0.3;
#: the seed API uses 0.45, kept for compatibility).
DETECT_NMS: float = 0.45

#: Faces returned per frame at most, strongest first (seed API default).
MAX_FACES: int = 50

#: Candidates YuNet keeps before NMS. Large enough never to bind before MAX_FACES.
DETECT_TOP_K: int = 5000

#: Longest side (px) of the copy of the frame the detector runs on. Frames larger
#: than this are downscaled, never upscaled. At 640 a 1080p frame is detected at
#: 640x360 and faces of 50 px and more (in 1080p pixels) are found at DETECT_CONF;
#: measured by ``python benchmarks/bench_min_face.py`` (README, "Smallest face").
DETECT_MAX_SIDE: int = 736

#: Cosine similarity at or above which two SFace embeddings are "the same person".
#: Chosen on ../shared/lfw_dev by ``python benchmarks/calibrate_lfw.py ../shared/lfw_dev``
#: (README, "Match threshold") for a false match rate of about 1e-3 per pair.
MATCH_COSINE: float = 0.363
