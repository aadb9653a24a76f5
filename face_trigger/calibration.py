"""Thresholds tied to error rates: genuine / impostor similarities of a labelled
folder, FMR / FNMR tables, the threshold for a target false match rate, and a
logistic match probability, saved as JSON for verification and the recognizer."""
from __future__ import annotations

import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from . import thresholds
from ._fileio import atomic_write_bytes, atomic_write_text, read_json
from ._validate import unit_rows
from .enrollment import EnrollmentResult, enroll_folder
from .errors import CalibrationError, FaceTriggerError, InvalidParameterError
from .model_files import bundled_info
from .pipeline import FacePipeline

FORMAT = "face_trigger-calibration"
FORMAT_VERSION = 1
#: Thresholds listed in every FMR / FNMR table.
TABLE_THRESHOLDS = (0.25, 0.30, 0.34, 0.36, 0.37, 0.38, 0.40, 0.42, 0.45, 0.50, 0.55, 0.60)


@dataclass(frozen=True)
class MatchCalibration:
    """A verification threshold and a match probability, with the data behind them.

    ``probability(s) = 1 / (1 + exp(-(slope * s + intercept)))``: the chance that
    a pair with cosine similarity ``s`` is the same person, for a pair that was
    as likely genuine as not beforehand (fitted with balanced classes).
    """

    threshold: float
    slope: float
    intercept: float
    model: str
    target_fmr: float
    fmr: float
    fnmr: float
    genuine_pairs: int
    impostor_pairs: int
    source: str = ""

    def probability(self, similarity: Union[float, NDArray]) -> Union[float, NDArray]:
        """Match probability in [0, 1], increasing with similarity (scalar or array)."""
        z = self.slope * np.asarray(similarity, dtype=np.float64) + self.intercept
        out = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow
        return float(out) if np.ndim(out) == 0 else out

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Any) -> "MatchCalibration":
        if not isinstance(data, dict) or data.get("format") != FORMAT \
                or data.get("version") != FORMAT_VERSION:
            raise CalibrationError(f"not a calibration file (format {FORMAT!r} version "
                                   f"{FORMAT_VERSION} expected)")
        try:
            values = {name: data[name] for name in cls.__dataclass_fields__ if name != "source"}
            values["source"] = str(data.get("source", ""))
            calibration = cls(**values)
        except (KeyError, TypeError) as exc:
            raise CalibrationError(f"calibration file lacks a field: {exc}") from exc
        if not (math.isfinite(calibration.slope) and calibration.slope > 0
                and -1.0 <= calibration.threshold <= 1.0):
            raise CalibrationError("calibration has a non-positive slope or a threshold "
                                   "outside [-1, 1]")
        return calibration

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Write as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "MatchCalibration":
        """Read a file written by :meth:`save` (or by ``calibrate``)."""
        return cls.from_dict(read_json(path, "calibration", CalibrationError))


def default_calibration() -> MatchCalibration:
    """The shipped calibration of the bundled SFace model (see thresholds.py)."""
    return MatchCalibration(
        threshold=thresholds.MATCH_COSINE, slope=thresholds.MATCH_LOGISTIC[0],
        intercept=thresholds.MATCH_LOGISTIC[1], model=bundled_info("embedder").id,
        target_fmr=1e-3, fmr=thresholds.MATCH_FMR, fnmr=thresholds.MATCH_FNMR,
        genuine_pairs=140, impostor_pairs=1_198_786,
        source="../shared/lfw_dev; python benchmarks/calibrate_lfw.py ../shared/lfw_dev")


def pair_similarities(embeddings: Any, labels: Sequence[Any],
                      chunk: int = 2048) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Cosine similarities of all genuine and all impostor pairs (i < j), each sorted.

    Vectorised: one matrix product per chunk of rows, no loop over pairs.

    Returns
    -------
    genuine, impostor : ndarray, float32
    """
    vectors = unit_rows(embeddings)
    codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)[1]
    if codes.shape[0] != vectors.shape[0]:
        raise InvalidParameterError(f"got {vectors.shape[0]} embeddings but {codes.shape[0]} "
                                    "labels")
    genuine, impostor = [], []
    for start in range(0, vectors.shape[0], chunk):
        block = vectors[start:start + chunk] @ vectors.T
        rows = np.arange(start, min(start + chunk, vectors.shape[0]))
        upper = np.arange(vectors.shape[0])[None, :] > rows[:, None]
        same = codes[rows][:, None] == codes[None, :]
        genuine.append(block[upper & same])
        impostor.append(block[upper & ~same])
    return np.sort(np.concatenate(genuine)), np.sort(np.concatenate(impostor))


def error_rates(genuine: NDArray, impostor: NDArray, threshold: float) -> Tuple[float, float]:
    """(FMR, FNMR) at ``threshold`` for sorted similarity arrays; "match" means >= threshold."""
    fmr = (impostor.size - np.searchsorted(impostor, threshold, side="left")) / impostor.size
    fnmr = np.searchsorted(genuine, threshold, side="left") / genuine.size
    return float(fmr), float(fnmr)


def threshold_for_fmr(impostor: NDArray, target_fmr: float) -> float:
    """Smallest threshold whose false match rate is at most ``target_fmr``."""
    if not 0.0 < target_fmr < 1.0:
        raise InvalidParameterError(f"target_fmr must be in (0, 1), got {target_fmr}")
    allowed = int(math.floor(target_fmr * impostor.size))
    cut = float(impostor[impostor.size - allowed - 1])
    return float(np.nextafter(np.float32(cut), np.float32(2.0)))


def fit_logistic(genuine: NDArray, impostor: NDArray) -> Tuple[float, float]:
    """(slope, intercept) of a logistic regression of same-person on similarity,
    classes weighted equally."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - heavy, rarely used
    x = np.concatenate([genuine, impostor]).astype(np.float64)[:, None]
    y = np.concatenate([np.ones(genuine.size), np.zeros(impostor.size)])
    model = LogisticRegression(class_weight="balanced", C=1e4).fit(x, y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


@dataclass(frozen=True)
class CalibrationReport:
    """What :func:`calibrate` found: the calibration, its FMR / FNMR table and the photos."""

    calibration: MatchCalibration
    table: List[Tuple[float, float, float]]
    people: int
    enrollment: EnrollmentResult = field(repr=False)

    @property
    def caution(self) -> str:
        """Why the chosen threshold cannot be trusted at its target FMR, or "": with N
        impostor pairs an FMR below about 3 / N is not measurable (the rule of three: zero
        false matches in N pairs still allows an FMR up to 3 / N at 95 % confidence)."""
        c = self.calibration
        needed = math.ceil(3.0 / c.target_fmr)
        if c.impostor_pairs >= needed:
            return ""
        return (f"{c.impostor_pairs} impostor pairs cannot show an FMR of {c.target_fmr:g}: "
                f"that needs at least {needed} (rule of three); the threshold is a guess. "
                "Add people, or ask for a larger target FMR")

    def format_table(self) -> str:
        """The table as text: threshold, FMR, false matches, FNMR, misses."""
        c = self.calibration
        lines = [f"{'threshold':>9s} {'FMR':>10s} {'false matches':>14s} {'FNMR':>8s} "
                 f"{'misses':>7s}"]
        for t, fmr, fnmr in self.table:
            marker = "  <- chosen" if t == c.threshold else ""
            lines.append(f"{t:9.4f} {fmr:10.2e} {round(fmr * c.impostor_pairs):14d} "
                         f"{fnmr:8.3f} {round(fnmr * c.genuine_pairs):7d}{marker}")
        return "\n".join(lines)


def calibrate(root: Union[str, os.PathLike], target_fmr: float = 1e-3,
              output: Union[str, os.PathLike, None] = None,
              plot: Union[str, os.PathLike, None] = None,
              pipeline: Optional[FacePipeline] = None,
              progress: Optional[bool] = None,
              scales: Optional[Sequence[Optional[int]]] = thresholds.STILL_SCALES,
              force: bool = False) -> CalibrationReport:
    """Choose the match threshold for ``target_fmr`` on a labelled folder.

    Parameters
    ----------
    root : path
        ``<root>/<person>/<photos>``; each photo gives its largest face.
    target_fmr : float
        Largest acceptable false match rate per compared pair (default 1e-3).
    output : path, optional
        Write the :class:`MatchCalibration` JSON here (atomically).
    plot : path, optional
        Save a PNG with the score distributions and the ROC curve (needs
        matplotlib: ``pip install matplotlib (the [plot] extra)``).
    scales : optional
        As for ``verify`` (``FacePipeline.analyze``): calibrate the way photos are compared.
    force : bool
        Write ``output`` even when the pairs cannot support the target FMR
        (:attr:`CalibrationReport.caution`); by default that is refused.

    Raises
    ------
    CalibrationError
        Fewer than two people, or nobody with two usable photos; or ``output`` asked for a
        threshold too few impostor pairs support, without ``force`` (nothing is written).
    """
    pipeline = pipeline if pipeline is not None else FacePipeline()
    enrollment = enroll_folder(root, pipeline, progress=progress, several_faces="largest",
                               scales=scales)
    people = _check_enough(root, enrollment.labels)
    genuine, impostor = pair_similarities(enrollment.embeddings, enrollment.labels)
    threshold = threshold_for_fmr(impostor, target_fmr)
    fmr, fnmr = error_rates(genuine, impostor, threshold)
    slope, intercept = fit_logistic(genuine, impostor)
    calibration = MatchCalibration(
        threshold=threshold, slope=slope, intercept=intercept, model=pipeline.model.id,
        target_fmr=target_fmr, fmr=fmr, fnmr=fnmr, genuine_pairs=int(genuine.size),
        impostor_pairs=int(impostor.size),
        source=f"{Path(root).resolve()}, {len(enrollment.labels)} photos of {people} people, "
               f"{time.strftime('%Y-%m-%d')}")
    table = sorted({(t, *error_rates(genuine, impostor, t)) for t in TABLE_THRESHOLDS}
                   | {(threshold, fmr, fnmr)})
    report = CalibrationReport(calibration, table, people, enrollment)
    if output is not None:
        if report.caution and not force:
            raise CalibrationError(f"{report.caution}. Nothing was written to {output}: a door "
                                   f"loading threshold {threshold:.3f} could let strangers in; "
                                   "force=True (calibrate --force) writes it anyway")
        calibration.save(output)
    if plot is not None:
        _plot(plot, genuine, impostor, threshold)
    return report


def _check_enough(root: Union[str, os.PathLike], labels: Sequence[str]) -> int:
    """The number of people; CalibrationError unless there are two, one with two photos."""
    people = len(set(labels))
    counts = np.unique(labels, return_counts=True)[1] if labels else np.zeros(0, np.int64)
    if people < 2:
        raise CalibrationError(f"calibration needs at least two people with usable photos under "
                               f"{root}; found {people}")
    if max(counts) < 2:
        raise CalibrationError(f"calibration needs at least one person with two or more usable "
                               f"photos under {root} (genuine pairs); nobody has")
    return people


def _plot(path: Union[str, os.PathLike], genuine: NDArray, impostor: NDArray,
          threshold: float) -> None:
    figure = roc_figure(genuine, impostor, threshold)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    import matplotlib.pyplot as plt  # noqa: PLC0415 - imported by roc_figure already
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def roc_figure(genuine: NDArray, impostor: NDArray, threshold: float) -> Any:
    """The calibration figure (a matplotlib Figure): score densities on a log scale with the
    threshold, and the ROC (log false match rate) with the chosen operating point marked."""
    try:
        import matplotlib  # noqa: PLC0415 - optional extra
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:
        raise FaceTriggerError("plotting needs matplotlib (the [plot] extra)") \
            from exc
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.linspace(-0.3, 1.0, 131)
    left.hist(impostor, bins=bins, density=True, alpha=0.6, label=f"impostor ({impostor.size})")
    left.hist(genuine, bins=bins, density=True, alpha=0.6, label=f"genuine ({genuine.size})")
    left.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.3f}")
    left.set_xlabel("cosine similarity")
    left.set_ylabel("density (log scale)")  # the impostor tail past the threshold shows
    left.set_yscale("log")
    left.legend()
    grid = np.linspace(-0.3, 1.0, 400)
    rates = np.array([error_rates(genuine, impostor, t) for t in grid])
    right.semilogx(np.maximum(rates[:, 0], 1.0 / impostor.size), 1.0 - rates[:, 1])
    fmr, fnmr = error_rates(genuine, impostor, threshold)
    right.plot(max(fmr, 1.0 / impostor.size), 1.0 - fnmr, "o", color="k",
               label=f"chosen: threshold {threshold:.3f}, FMR {fmr:.1e}, TMR {1.0 - fnmr:.3f}")
    right.legend(loc="lower right")
    right.set_xlabel("false match rate (log scale)")
    right.set_ylabel("true match rate")
    right.set_title("ROC")
    right.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    return figure
