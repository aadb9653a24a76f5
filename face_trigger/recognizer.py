"""FaceRecognizer: enrol people, train an SVM or KNN on their embeddings, and
recognise new faces with an open-set "unknown" decision. Saved models are
verified before they are unpickled."""
from __future__ import annotations

import io
import logging
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import joblib
import numpy as np
import sklearn
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from . import thresholds
from ._validate import EMBEDDING_DIM, bgr_frames, check_gate, check_range, unit_rows
from ._version import __version__
from .align import align_faces
from .embedder import Embedder, SFaceEmbedder
from .enrollment import EnrollmentResult, enroll_folder
from .errors import (EmbeddingError, InvalidParameterError, LabelMapError, ModelFileError,
                     NotFittedError)
from .identity import Identity, NamedFace, open_set_gate, query_rows, recognize_image
from .label_map import LabelMap, encode_labels
from .model_files import bundled_info, read_verified
from .pipeline import FacePipeline
from .signed_file import KeyArg, read_signed, write_signed
from .types import UNKNOWN, ModelInfo

logger = logging.getLogger(__name__)

FILE_FORMAT = "face_trigger-recognizer"
FILE_FORMAT_VERSION = 1
CLASSIFIERS = ("svm", "knn")


class FaceRecognizer(BaseEstimator, ClassifierMixin):
    """Recognise enrolled people from face embeddings, or say "unknown".

    Parameters
    ----------
    dnn_model_path : path, optional
        SFace model for :meth:`embed`; ``None`` = bundled.
    classifier_model_path : path, optional
        Deprecated: use :meth:`from_file`. A file written by :meth:`save`, loaded now (a
        recognizer made so cannot be cloned: its parameters come from the file).
    label_map_path : path, optional
        Deprecated: use :meth:`load_label_mapping`. A JSON label map, loaded now.
    embedder : Embedder, optional
        An embedder of your own (:class:`~face_trigger.OnnxEmbedder`) instead of SFace;
        the recognizer then takes its ``dim``-sized embeddings.
    classifier : {"svm", "knn"}
        Linear SVM (``LinearSVC``, one-vs-rest) with temperature-scaled
        probabilities (3-fold cross-validated), or distance-weighted KNN.
    unknown_threshold : float
        Minimum cosine similarity between the query and the nearest enrolled photo
        of the predicted person. Raising it rejects more strangers and more
        genuine visitors in bad light.
    margin : float
        Minimum lead of that similarity over the best other person.
    n_neighbors : int, optional
        KNN neighbours; ``None`` = up to 5, limited by the smallest class.
    C : float
        SVM regularisation.
    unknown_label : optional
        What :meth:`predict` returns for a rejected face; ``None`` = ``"unknown"`` for
        string labels, ``-1`` for integer labels.

    Notes
    -----
    The unknown decision is open-set: a closed-set classifier always names
    someone, so a query is also rejected when it is not close enough to the
    photos of the person the classifier picked, or too close to another person.
    With one person enrolled no classifier is trained and the distance decides.

    Thread safety: ``infer``/``identify`` only read fitted state; ``embed``
    uses a locked net. Training while other threads infer is not supported.
    """

    def __init__(self, dnn_model_path: Union[str, os.PathLike, None] = None,
                 classifier_model_path: Union[str, os.PathLike, None] = None,
                 label_map_path: Union[str, os.PathLike, None] = None, *,
                 embedder: Optional[Embedder] = None, classifier: str = "svm",
                 unknown_threshold: float = thresholds.IDENTIFY_COSINE,
                 margin: float = thresholds.IDENTIFY_MARGIN,
                 n_neighbors: Optional[int] = None, C: float = 1.0,
                 unknown_label: Any = None) -> None:
        self.dnn_model_path = dnn_model_path
        self.classifier_model_path = classifier_model_path
        self.label_map_path = label_map_path
        self.embedder = embedder
        self.classifier = classifier
        self.unknown_threshold = unknown_threshold
        self.margin = margin
        self.n_neighbors = n_neighbors
        self.C = C
        self.unknown_label = unknown_label
        self._nets_lock = threading.Lock()
        self._embedder: Optional[Embedder] = None
        self._pipeline: Optional[FacePipeline] = None
        if classifier_model_path is not None or label_map_path is not None:
            warnings.warn("FaceRecognizer(classifier_model_path=, label_map_path=) load files "
                          "in the constructor; use FaceRecognizer.from_file(path, key=...) and "
                          "load_label_mapping(path)", DeprecationWarning, stacklevel=2)
        if classifier_model_path is not None:
            self.load(classifier_model_path)
        if label_map_path is not None:
            self.load_label_mapping(label_map_path)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike], key: KeyArg = None, *,
                  require_signature: bool = False, **params: Any) -> "FaceRecognizer":
        """A recognizer loaded from a file written by :meth:`save` (see :meth:`load` for
        what is checked). ``params`` are constructor parameters that are not in the file
        (``dnn_model_path``, ``embedder``). ``clone()`` of the result gives an unfitted
        recognizer with the file's parameters."""
        return cls(**params).load(path, key, require_signature=require_signature)

    # ----------------------------------------------------------------- nets
    def _get_embedder(self) -> Embedder:
        with self._nets_lock:
            if self._embedder is None:
                self._embedder = (self.embedder if self.embedder is not None
                                  else SFaceEmbedder(self.dnn_model_path))
            return self._embedder

    def _embedder_dim(self) -> int:
        """The size of the embeddings of this recognizer's embedder (SFace: 128)."""
        return int(self.embedder.dim) if self.embedder is not None else EMBEDDING_DIM

    def _dim(self) -> int:
        """The embedding size this recognizer takes: its fitted one, else its embedder's."""
        fitted = getattr(self, "n_features_in_", None)
        return int(fitted) if fitted is not None else self._embedder_dim()

    def _get_pipeline(self) -> FacePipeline:
        embedder = self._get_embedder()
        with self._nets_lock:
            if self._pipeline is None:
                self._pipeline = FacePipeline(embedder=embedder)
            return self._pipeline

    def embedder_model(self) -> ModelInfo:
        """Identity of the embedder this recognizer works with (no net is built)."""
        if self._embedder is not None:
            return self._embedder.model
        if self.embedder is not None:
            return self.embedder.model
        if self.dnn_model_path is None:
            return bundled_info("embedder")
        return read_verified("embedder", self.dnn_model_path)[1]

    def embed(self, images: Union[NDArray[np.uint8], Sequence[NDArray[np.uint8]]],
              landmarks: NDArray, *, channels: str = "bgr") -> NDArray[np.float32]:
        """Align and embed faces: one frame and landmark set per face.

        Parameters
        ----------
        images : ndarray uint8 (H, W, 3) or sequence of N of them
            Whole frames (one frame may serve all faces), BGR unless ``channels="rgb"``.
        landmarks : array-like float (N, 5, 2) or (5, 2)

        Returns
        -------
        ndarray, float32 (N, dim), unit rows, batched through the net.

        Raises
        ------
        InvalidImageError, InvalidLandmarksError
            Bad frames, bad landmarks, or a count mismatch.
        """
        return self._get_embedder().embed_chips(
            align_faces(bgr_frames(images, channels), landmarks))

    # -------------------------------------------------------------- training
    def fit(self, X: Any, y: Any) -> "FaceRecognizer":
        """Train on embeddings ``X`` (array-like of shape (n_samples, dim): 128 for SFace, the
        ``embedder``'s otherwise) and labels ``y``
        (names or ids, array-like of shape (n_samples,)). Returns self.

        Raises
        ------
        EmbeddingError
            Wrong dimension, NaN, zero vectors, or no samples.
        ValueError
            Labels and embeddings differ in length, or bad parameters.
        """
        if self.classifier not in CLASSIFIERS:
            raise InvalidParameterError(f"classifier must be one of {CLASSIFIERS}, got "
                                        f"{self.classifier!r}")
        check_gate(self.unknown_threshold, self.margin)
        embeddings = unit_rows(X, self._embedder_dim())
        if embeddings.shape[0] == 0:
            raise EmbeddingError("cannot train on zero embeddings: enrol at least one person")
        codes, classes, label_map = encode_labels(y)
        if codes.shape[0] != embeddings.shape[0]:
            raise InvalidParameterError(f"got {embeddings.shape[0]} embeddings but "
                                        f"{codes.shape[0]} labels")
        order = np.argsort(codes, kind="stable")
        self.enrolled_ = embeddings[order]
        self.enrolled_codes_ = codes[order]
        self.classes_ = classes
        self.label_map_ = label_map
        self.signed_ = False  # trained here: no signature covers these names yet
        self.n_features_in_ = int(embeddings.shape[1])
        self.embedder_model_ = self.embedder_model().id
        self.classifier_ = self._build_classifier(self.enrolled_codes_)
        if self.classifier_ is not None:
            with warnings.catch_warnings():
                # Normal for face enrolment: many people, few photos each.
                warnings.filterwarnings("ignore", message=".*unique classes is greater than 50%")
                warnings.filterwarnings("ignore", message=".*least populated class.*")
                self.classifier_.fit(self.enrolled_, self.enrolled_codes_)
        return self

    def train(self, embeddings: Any, labels: Any,
              classifier: Optional[str] = None) -> "FaceRecognizer":
        """Seed API: ``fit``, with ``classifier`` ("svm" or "knn") set first through
        ``set_params`` when given (``None`` keeps the recognizer's own)."""
        if classifier is not None:
            self.set_params(classifier=classifier)
        return self.fit(embeddings, labels)

    def fit_folder(self, root: Union[str, os.PathLike],
                   progress: Optional[bool] = None,
                   pipeline: Optional[FacePipeline] = None) -> EnrollmentResult:
        """Enrol ``<root>/<person name>/*.jpg`` (one face per photo) and train.

        Photos with no face, several faces or that cannot be read are skipped and
        listed in the returned result (``result.summary()``); a progress bar shows on
        a terminal for long folders. ``pipeline``: detect and embed with this one (its
        embedder must be this recognizer's) instead of loading the models again.
        """
        if pipeline is not None and pipeline.model.sha256 != self.embedder_model().sha256:
            raise InvalidParameterError(
                f"fit_folder(pipeline=) embeds with {pipeline.model.name}, this recognizer "
                f"with {self.embedder_model().name}: give it the same embedder")
        result = enroll_folder(root, pipeline or self._get_pipeline(), progress=progress)
        if not result.labels:
            raise EmbeddingError(f"no photo under {root} had exactly one face: nothing to train "
                                 f"on\n{result.summary()}")
        self.fit(result.embeddings, result.labels)
        return result

    def _build_classifier(self, codes: NDArray[np.int64]) -> Optional[Any]:
        counts = np.bincount(codes)
        if counts.size < 2:
            return None  # one person: the distance gate decides alone
        if self.classifier == "knn":
            k = self.n_neighbors if self.n_neighbors is not None else int(
                max(1, min(5, counts.min())))
            return KNeighborsClassifier(n_neighbors=k, weights="distance", algorithm="brute")
        # LinearSVC (liblinear, one-vs-rest): SVC trains one-vs-one machines, 499,500 of them
        # for 1,000 people: in benchmarks/bench_recognizer.py it used 16.9 GB and had not
        # finished after two minutes.
        svm = LinearSVC(C=self.C, class_weight="balanced", dual=True, max_iter=5000)
        folds = int(min(3, counts.min()))
        if folds >= 2:
            return CalibratedClassifierCV(svm, method="temperature", cv=folds, ensemble=False)
        # expected with one photo a person (a door's usual enrolment): information, not a fault
        logger.info("a person has a single enrolment photo: SVM probabilities are "
                    "calibrated on the training photos and will be overconfident")
        return _CalibratedOnTrainingData(svm)

    # ------------------------------------------------------------- inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "enrolled_"):
            raise NotFittedError("this FaceRecognizer is not trained: call fit/train/fit_folder "
                                 "or load a saved model first")

    def _probabilities(self, queries: NDArray[np.float32],
                       similarity: NDArray[np.float32]) -> NDArray[np.float64]:
        if self.classifier_ is None:
            return np.ones((queries.shape[0], 1))
        if isinstance(self.classifier_, KNeighborsClassifier):
            return _distance_weighted_votes(similarity, self.enrolled_codes_,
                                            self.classifier_.n_neighbors, len(self.label_map_))
        return self.classifier_.predict_proba(queries)

    def _scores(self, embeddings: Any):
        """(picked code, its probability, its best similarity, margin), each (N,)."""
        self._check_fitted()
        queries = unit_rows(embeddings, self._dim())
        if not queries.shape[0]:  # a frame without a face: nothing to ask the classifier
            return (np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.float32),
                    np.zeros(0, np.float32))
        # Chunks keep the (chunk, n_enrolled) similarity matrix near 16 MB.
        step = max(1, (1 << 22) // max(1, self.enrolled_.shape[0]))
        parts = [self._scores_chunk(queries[i:i + step])
                 for i in range(0, queries.shape[0], step)]
        return tuple(np.concatenate(columns) for columns in zip(*parts))

    def _scores_chunk(self, queries: NDArray[np.float32]):
        n_classes = len(self.label_map_)
        similarity = queries @ self.enrolled_.T
        probabilities = self._probabilities(queries, similarity)
        starts = np.searchsorted(self.enrolled_codes_, np.arange(n_classes))
        per_class = np.maximum.reduceat(similarity, starts, axis=1)
        picked = np.argmax(probabilities, axis=1)
        rows = np.arange(queries.shape[0])
        best = per_class[rows, picked]
        if n_classes > 1:
            per_class[rows, picked] = -np.inf
            margin = best - per_class.max(axis=1)
        else:
            margin = np.full(queries.shape[0], np.inf)
        return picked, probabilities[rows, picked], best, margin

    def recognize(self, image: Any, *, pipeline: Any = None,
                  channels: str = "bgr") -> List[NamedFace]:
        """Every face of an image (array, path, bytes or PIL image) with who it is:
        ``NamedFace`` (``.name``, ``.similarity``, ``.box``, ``.to_dict()``), strongest
        first; [] when there is no face. The same call as ``Gallery.recognize``."""
        if pipeline is None and (self.embedder is not None or self.dnn_model_path is not None):
            pipeline = self._get_pipeline()
        return recognize_image(self, image, pipeline, channels)

    def _decide(self, embeddings: Any, threshold: float, unknown_index: int):
        # Checked at every use: a loaded model's gate may have been set since.
        check_gate(self.unknown_threshold, self.margin)
        check_range(threshold, "threshold (classifier probability)", 0.0, 1.0)
        picked, probability, similarity, margin = self._scores(
            query_rows(embeddings, getattr(self, "embedder_model_", None)))
        known = (probability >= threshold) & open_set_gate(similarity, margin,
                                                           self.unknown_threshold, self.margin)
        if isinstance(unknown_index, bool) or not isinstance(unknown_index, (int, np.integer)) \
                or 0 <= unknown_index < len(self.label_map_):
            raise InvalidParameterError(f"unknown_index must be an int that is not a class code "
                                        f"(0..{len(self.label_map_) - 1}), got {unknown_index!r}")
        codes = np.where(known, picked, unknown_index).astype(np.int64)
        return codes, known, probability, similarity, margin

    def infer(self, embeddings: Any, threshold: float = thresholds.UNKNOWN_PROBABILITY,
              unknown_index: int = -1) -> NDArray[np.int64]:
        """Class codes of embeddings, ``unknown_index`` where rejected.

        Parameters
        ----------
        embeddings : array-like float (N, 128) or (128,)
        threshold : float
            Minimum classifier probability.
        unknown_index : int
            Code returned for rejected queries.

        Returns
        -------
        ndarray, int64 (N,)
            Codes into ``label_map_`` (``label_map_.decode(codes)`` gives names).

        Raises
        ------
        NotFittedError, EmbeddingError
        """
        return self._decide(embeddings, threshold, unknown_index)[0]

    def identify(self, embeddings: Any,
                 min_probability: float = thresholds.UNKNOWN_PROBABILITY) -> List[Identity]:
        """Names and scores: one :class:`~face_trigger.Identity` per embedding (the obvious
        call for apps). ``min_probability`` is the least classifier probability accepted;
        ``unknown_threshold`` and ``margin`` apply as well."""
        codes, known, probability, similarity, margin = self._decide(embeddings,
                                                                     min_probability, -1)
        return [Identity(name=self.label_map_.name(c) if k else UNKNOWN, known=bool(k),
                         similarity=float(s), margin=float(m), probability=float(p))
                for c, k, p, s, m in zip(codes, known, probability, similarity, margin)]

    def predict(self, X: Any) -> NDArray:
        """Labels of embeddings, shape (n_samples,): values of ``classes_`` (the labels
        given to ``fit``), ``unknown_label`` where the open-set gate rejected the face."""
        codes = self.infer(X)
        unknown = self.unknown_label
        if unknown is None:
            unknown = -1 if self.classes_.dtype.kind in "iu" else UNKNOWN
        if any(unknown == c for c in self.classes_.tolist()):
            raise InvalidParameterError(f"unknown_label {unknown!r} is one of the classes: a "
                                        "rejected face would be reported as that person")
        known = codes >= 0
        if known.all():
            return self.classes_[codes]
        try:
            dtype = np.result_type(self.classes_, np.asarray(unknown))
        except TypeError:  # e.g. integer classes and a string unknown_label
            dtype = np.dtype(object)
        labels = np.empty(codes.shape[0], dtype=dtype)
        labels[known] = self.classes_[codes[known]]
        labels[~known] = unknown
        return labels

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Classifier probabilities, shape (n_samples, n_classes), columns in label-map order.
        Closed-set: they never say "nobody"; use :meth:`infer` for decisions."""
        self._check_fitted()
        queries = unit_rows(query_rows(X, self.embedder_model_), self._dim())
        if not queries.shape[0]:
            return np.zeros((0, len(self.label_map_)), np.float64)
        return self._probabilities(queries, queries @ self.enrolled_.T)

    # ---------------------------------------------------------- persistence
    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        for private in ("_nets_lock", "_embedder", "_pipeline"):
            state.pop(private, None)  # nets and locks are rebuilt lazily
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        state.setdefault("unknown_label", None)  # files saved by 0.1
        state.setdefault("embedder", None)  # files saved before 0.3
        self.__dict__.update(state)
        self._nets_lock = threading.Lock()
        self._embedder = None
        self._pipeline = None

    def save(self, path: Union[str, os.PathLike], key: KeyArg = None) -> Path:
        """Write the trained recognizer atomically.

        The file holds a JSON header (format and library versions, scikit-learn
        version, embedder identity and dimension, label map, thresholds, creation
        time) and the joblib payload, covered by an HMAC-SHA256 with ``key`` (or
        ``$FACE_TRIGGER_MODEL_KEY``); without a key, by a SHA-256 digest that only
        catches corruption: an unsigned file must be trusted like code.
        """
        self._check_fitted()
        buffer = io.BytesIO()
        saved = FaceRecognizer.__new__(FaceRecognizer)
        saved.__setstate__({**self.__getstate__(), "embedder": None})  # the loader's own
        joblib.dump(saved, buffer, compress=3)
        payload = buffer.getvalue()
        header = {
            "format": FILE_FORMAT, "format_version": FILE_FORMAT_VERSION,
            "library_version": __version__, "sklearn_version": sklearn.__version__,
            "numpy_version": np.__version__, "embedder_model": self.embedder_model_,
            "embedding_dim": self.n_features_in_, "labels": list(self.label_map_.names),
            "classifier": self.classifier, "unknown_threshold": self.unknown_threshold,
            "margin": self.margin, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "payload_size": len(payload),
        }
        return write_signed(path, header, payload, key)

    def load(self, path: Union[str, os.PathLike], key: KeyArg = None, *,
             require_signature: bool = False) -> "FaceRecognizer":
        """Load a file written by :meth:`save` into this recognizer; returns self.

        Everything is checked before a byte is unpickled: the format, the
        signature (HMAC with ``key`` / ``$FACE_TRIGGER_MODEL_KEY``, or the digest),
        and that the file was made for this recognizer's embedder. An unsigned file
        (digest only: it catches corruption, not tampering) is loaded with a warning,
        or refused with ``require_signature=True`` (the door's default).

        Raises
        ------
        ModelFileError
            Not our format (e.g. a plain pickle), truncated, altered, wrong key,
            unsigned while a key is given or a signature is required, another embedder
            or format version.
        """
        header, payload, signed = read_signed(path, key)
        if require_signature and not signed:
            raise ModelFileError(f"{path} is not signed and a signature is required: save it "
                                 "with a key (unpickling an unsigned file runs whatever code "
                                 "it holds)")
        if header.get("format") != FILE_FORMAT or header.get("format_version") != \
                FILE_FORMAT_VERSION:
            raise ModelFileError(f"{path} is a {header.get('format')!r} file version "
                                 f"{header.get('format_version')!r}, not a recognizer file "
                                 f"version {FILE_FORMAT_VERSION}")
        mine = self.embedder_model().id
        dim = self._embedder_dim()
        if header.get("embedder_model") != mine or header.get("embedding_dim") != dim:
            raise ModelFileError(f"{path} was trained on embeddings of "
                                 f"{header.get('embedder_model')!r}, this recognizer uses "
                                 f"{mine!r}; re-enrol with this model")
        if header.get("sklearn_version") != sklearn.__version__:
            warnings.warn(f"{path} was saved with scikit-learn {header.get('sklearn_version')}, "
                          f"this is {sklearn.__version__}: predictions may differ; retrain to "
                          "be sure", UserWarning, stacklevel=2)
        if not signed:
            logger.warning("loading unsigned recognizer %s: its digest is checked, its origin "
                           "is not, and unpickling runs its code", path)
        with warnings.catch_warnings():
            # scikit-learn's own InconsistentVersionWarning repeats the warning above
            warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
            loaded = joblib.load(io.BytesIO(payload))
        if not isinstance(loaded, FaceRecognizer):
            raise ModelFileError(f"{path} does not hold a FaceRecognizer")
        state = loaded.__getstate__()
        state["dnn_model_path"] = self.dnn_model_path
        state["classifier_model_path"] = self.classifier_model_path
        state["label_map_path"] = self.label_map_path
        state["embedder"] = self.embedder
        state["signed_"] = signed  # its names are covered by the signature
        self.__setstate__(state)
        return self

    def load_calibration(self, path: Union[str, os.PathLike]) -> "FaceRecognizer":
        """Take ``unknown_threshold`` from a calibration file written by ``calibrate``.

        A query is compared with every enrolled person, so calibrate for a false
        match rate of (acceptable false accepts) / (number of enrolled people).
        """
        from .calibration import MatchCalibration  # noqa: PLC0415 - optional feature
        calibration = MatchCalibration.load(path)
        mine = self.embedder_model().id
        if calibration.model != mine:
            raise ModelFileError(f"calibration {path} is for {calibration.model!r}, this "
                                 f"recognizer uses {mine!r}")
        self.unknown_threshold = calibration.threshold
        return self

    def load_label_mapping(self, path: Union[str, os.PathLike],
                           allow_pickle: bool = False) -> LabelMap:
        """Replace the names with those of a JSON label map (see :class:`LabelMap`).

        The names inside a signed model win: an unsigned JSON file could otherwise swap
        two people. After loading a signed model the label map must hold the same names
        in the same order, else LabelMapError."""
        label_map = LabelMap.load(path, allow_pickle=allow_pickle)
        if hasattr(self, "label_map_") and len(label_map) != len(self.label_map_):
            raise LabelMapError(f"label map {path} has {len(label_map)} names, the recognizer "
                                f"has {len(self.label_map_)} classes")
        if getattr(self, "signed_", False) and label_map.names != self.label_map_.names:
            changed = [f"{code}: {old!r} -> {new!r}" for code, (old, new) in
                       enumerate(zip(self.label_map_.names, label_map.names)) if old != new]
            raise LabelMapError(f"label map {path} renames classes of a signed model "
                                f"({', '.join(changed[:5])}); the signed names stay. Delete "
                                "or regenerate the label map with save_label_mapping")
        self.label_map_ = label_map
        return label_map

    def save_label_mapping(self, path: Union[str, os.PathLike]) -> Path:
        """Write the label map as JSON (atomically), e.g. into ``label_maps/``."""
        self._check_fitted()
        return self.label_map_.save(path)


class _CalibratedOnTrainingData(BaseEstimator, ClassifierMixin):
    """Temperature-calibrated SVM when some class has a single sample (no CV folds possible)."""

    def __init__(self, svm: LinearSVC) -> None:
        self.svm = svm

    def fit(self, X: NDArray, y: NDArray) -> "_CalibratedOnTrainingData":
        from sklearn.frozen import FrozenEstimator  # noqa: PLC0415
        fitted = self.svm.fit(X, y)
        # One "split" whose test part is all samples: the temperature is fitted on the
        # frozen SVM's scores of its own training data.
        everything = np.arange(len(y))
        self.calibrated_ = CalibratedClassifierCV(FrozenEstimator(fitted), method="temperature",
                                                  cv=[(everything, everything)], ensemble=False)
        self.calibrated_.fit(X, y)
        self.classes_ = self.calibrated_.classes_
        return self

    def predict_proba(self, X: NDArray) -> NDArray:
        return self.calibrated_.predict_proba(X)

    def predict(self, X: NDArray) -> NDArray:
        return self.calibrated_.predict(X)


def _distance_weighted_votes(similarity: NDArray[np.float32], codes: NDArray[np.int64],
                             k: int, n_classes: int) -> NDArray[np.float64]:
    """``KNeighborsClassifier(weights="distance").predict_proba`` for unit vectors, from the
    cosine similarities already computed (Euclidean distance = sqrt(2 - 2 cos)).

    scikit-learn's own call recomputes all distances with OpenMP threads whose spin-wait
    then slows the next BLAS call: about 4 ms per query at 10,000 enrolled photos, against
    well under 1 ms here. ``tests/test_recognizer.py`` checks that both agree.
    """
    k = min(k, similarity.shape[1])
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    distance = np.sqrt(np.maximum(2.0 - 2.0 * np.take_along_axis(
        similarity, nearest, axis=1).astype(np.float64), 0.0))
    with np.errstate(divide="ignore"):
        weights = 1.0 / distance
    exact = np.isinf(weights)
    exact_rows = exact.any(axis=1)
    weights[exact_rows] = exact[exact_rows]  # a query equal to a photo: that photo decides
    votes = np.zeros((similarity.shape[0], n_classes))
    rows = np.arange(similarity.shape[0])
    neighbour_codes = codes[nearest]
    for j in range(k):  # k <= a handful; within one column every row appears once
        votes[rows, neighbour_codes[:, j]] += weights[:, j]
    return votes / votes.sum(axis=1, keepdims=True)
