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
#: measured by ``python benchmarks/bench_min_face.py`` (docs/pipeline.md, "Smallest face").
DETECT_MAX_SIDE: int = 736

#: Cosine similarity at or above which two SFace embeddings are "the same person" (1:1).
#: Chosen on ../shared/lfw_dev (1,549 photos of 1,468 people, none in the LFW test pairs;
#: 140 genuine and 1,198,786 impostor pairs), each photo embedded as ``verify`` embeds it
#: (landmarks at STILL_SCALES averaged), by
#: ``python benchmarks/calibrate_lfw.py ../shared/lfw_dev`` for a false match rate of at most
#: 1e-3 per pair: the exact cut was 0.3617, rounded up to 0.37, where FMR = 7.0e-4 and
#: FNMR = 0/140 (coarse: one miss is 0.007). Embedded in one pass (video frames;
#: ``--scales one``) FMR is 5.8e-4 at 0.37 (the exact cut there is 0.3568).
#: Comparing one face against a gallery of N people multiplies the false-match chance by
#: about N: raise the threshold for large galleries (0.40 gives FMR 2.1e-4, 0.42 gives 9e-5).
MATCH_COSINE: float = 0.37

#: Error rates of MATCH_COSINE on those pairs (FNMR coarse: 140 genuine pairs).
MATCH_FMR: float = 7.0e-4
MATCH_FNMR: float = 0.0

#: (slope, intercept) of the match probability 1 / (1 + exp(-(slope * s + intercept))) for
#: cosine similarity s: a logistic regression, classes weighted equally, on the same lfw_dev
#: pairs (STILL_SCALES), by ``python benchmarks/calibrate_lfw.py ../shared/lfw_dev``.
MATCH_LOGISTIC: tuple = (47.115, -18.286)

#: Open-set identification (FaceRecognizer): a query is "unknown" unless its cosine
#: similarity to the nearest enrolled photo of the predicted person is at least this.
#: Higher than MATCH_COSINE because a query is compared with every enrolled person
#: (false accepts grow about N-fold). Chosen by ``python benchmarks/eval_open_set.py --lfw
#: ../shared/lfw_dev --enrol-scales one`` (every photo in one pass): 52 people enrolled with
#: 71 photos, 62 queries of them, 1,416 strangers. At 0.46 (margin 0.05) 62/62 queries were
#: identified and 1 of 1,416 strangers accepted (0.07 %); 0.42 accepted 7 (0.49 %), 0.50
#: accepted none but missed 1 query. docs/recognizer.md. Checked again without
#: ``--enrol-scales`` (enrolment photos at STILL_SCALES, now the default; queries in one pass,
#: as camera frames): 0.46 identified 61/62 (one query fell just under the gate) and accepted
#: no stranger; 0.44 identified 62/62 and accepted 3 (0.21 %). Within the noise of 62
#: queries, so the gate stays.
IDENTIFY_COSINE: float = 0.46

#: ...and it must beat the best photo of any other enrolled person by at least this. On
#: lfw_dev it changes nothing at the default gate (it helps below 0.42); it guards against
#: lookalikes among the enrolled people, where a query is close to two of them.
IDENTIFY_MARGIN: float = 0.05

#: Default minimum classifier probability in FaceRecognizer.infer (seed API default).
UNKNOWN_PROBABILITY: float = 0.2

#: Door trigger: a track is recognised when VOTE_K of its last VOTE_N embedded observations
#: name the same enrolled person (each observation already passed the recognizer's gate and
#: margin). Voting over N attempts multiplies a stranger's chances by up to N, so K > 1 is
#: required: with per-observation false accepts at 0.07 % (IDENTIFY_COSINE), 3 agreeing
#: wrong votes are far rarer than one. Measured on the built demo video by
#: ``python benchmarks/bench_door.py`` (docs/door.md).
VOTE_K: int = 3
VOTE_N: int = 5

#: Smallest face (box width in frame pixels) that counts as an observation: smaller faces
#: are tracked but not embedded. Chosen on real faces by
#: ``python benchmarks/door_gates_lfw.py ../shared/lfw_dev``
#: (lfw_dev photos downscaled so the face is 36-80 px wide, 1,664 genuine and 14.3 million
#: impostor pairs at the identify gate): widths 36-45 px kept TAR 0.964 and FMR 1.3e-5,
#: the same as 90-120 px (0.984, 8.9e-6); nothing below 36 px was measured, and YuNet at
#: the default detector side finds few faces below 40 px (docs/pipeline.md, "Smallest face").
#: docs/door.md: the gate tables.
MIN_FACE_PX: int = 40

#: Yaw-proxy gate of the door (nose offset from the eyes' midpoint over the eye distance):
#: off. On the same lfw_dev probes the false match rate at the identify gate did not rise
#: with yaw (0 of 332,713 impostor pairs above 0.35, 1.4e-5 when frontal) and the true
#: accept rate stayed 0.85-1.0 up to 1.0 (0.75 above 1.0, 16 pairs); a gate would only
#: drop faces that still match.
DOOR_MAX_YAW: float = float("inf")

#: Sharpness gate of the door (Laplacian variance at 64 px wide): off. Probes below 60
#: (86 probes) gave no false match in 133,124 impostor pairs and TAR 1.0 on their few
#: genuine pairs; sharpness predicted genuine similarity worse than any other measure
#: (Spearman 0.05; SFace's feature norm 0.35).
DOOR_MIN_SHARPNESS: float = 0.0

#: An identified track is verified (embedded again) at least this often, in seconds.
#: About once a second (issue #13): a swap missed by every other check is caught within it.
VERIFY_EVERY_S: float = 1.0

#: Picture change (0-1, ``tracking.CutDetector``) above which a frame is a cut. On the
#: 730-frame demo video (no cut; noise, blur, dropped frames) the change between frames had
#: median 0.007 and 99th percentile 0.046 (0.36 once, when a 240 px face vanished at once);
#: cuts between two of the built textured scenes scored 0.14-0.24 (``python
#: benchmarks/bench_door.py`` prints the cuts it saw). A false cut only costs a verification
#: of identified faces and the votes of undecided ones.
CUT_THRESHOLD: float = 0.1

#: Seconds between two firings for the same person, at least...
COOLDOWN_S: float = 10.0

#: ...and the person must have been out of view this long before firing again.
REARM_S: float = 2.0

#: Sides (px) of a cut-out of each face (its box grown by 0.6 of its size per side; None =
#: as found) in which a still's landmarks are found again and the embeddings of the chips
#: they align averaged (``FacePipeline.analyze(scales=...)``): the default of enrolment,
#: ``verify`` and calibration, not of video frames. Chosen by
#: ``python benchmarks/eval_scales.py ../shared/lfw_dev``: a photo re-shot (shifted 3 px,
#: scaled 0.9, JPEG 70) kept a cosine of 0.970 to itself on average and 0.932 at the 1st
#: percentile, against 0.946 and 0.834 in one pass; genuine pairs 0.674 against 0.654;
#: 1.56x the time. (None, 400) was no better and costs more for large faces; three sides
#: (None, 320, 480) gained 0.007 more for 2.4x.
STILL_SCALES: tuple = (256, 400)

#: Live probability (mean of the two MiniFASNet "live" softmax entries) at or above which a
#: face is live: the original project's decision point (its summed softmax's argmax is
#: "live" at least from here). Measured by ``python benchmarks/eval_liveness.py
#: ../shared/lfw_dev``: the two spoof samples score 0.229 and 0.002, the live one 1.000; real
#: faces called spoof (BPCER) 11.2 % of 1,549 lfw_dev web photos (6.6 % at 0.3, 18.3 % at
#: 0.7); simulated attacks called live 9.8 % (prints) and 4.9 % (screens) of about 200
#: each. No real attack set was available: docs/liveness.md says what this does not show.
LIVE_PROBABILITY: float = 0.5

#: YuNet's box is grown by this about its centre before the liveness crops are cut. 1.2 and
#: 1.4 changed nothing on lfw_dev or the samples and little on simulated attacks (same
#: command), so the original crop rule is kept as it is.
LIVENESS_BOX_SCALE: float = 1.0

#: Door with liveness on: a track is identified only when this many of the VOTE_N
#: observations in its window are live (LIVE_PROBABILITY): the same K as the votes, so one
#: doubtful frame of a real face does not refuse it. Per-frame errors of one face are not
#: independent; docs/liveness.md.
LIVE_K: int = 3
