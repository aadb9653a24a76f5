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

#: Cosine similarity at or above which two SFace embeddings are "the same person" (1:1).
#: Chosen on ../shared/lfw_dev (1,549 photos of 1,468 people, none in the LFW test pairs;
#: 140 genuine and 1,198,786 impostor pairs) by
#: ``python benchmarks/calibrate_lfw.py ../shared/lfw_dev`` for a false match rate of at most
#: 1e-3 per pair: the exact cut was 0.3568, rounded up to 0.36, where FMR = 8.9e-4 and
#: FNMR = 0/140 (coarse: one miss is 0.007). OpenCV's published 0.363 gives FMR 7.8e-4 there.
#: Comparing one face against a gallery of N people multiplies the false-match chance by
#: about N: raise the threshold for large galleries (0.40 gives FMR 1.7e-4, 0.42 gives 8e-5).
MATCH_COSINE: float = 0.36
