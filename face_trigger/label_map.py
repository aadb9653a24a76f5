"""LabelMap: class codes 0..K-1 <-> person names, stored as JSON."""
from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence, Tuple, Union

import numpy as np

from ._fileio import atomic_write_text, parse_json, read_regular_file
from .errors import LabelMapError
from .types import UNKNOWN

FORMAT = "face_trigger-label-map"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LabelMap:
    """Names of the enrolled classes; code ``i`` is ``names[i]``.

    Labels given to training may be names or ids: they are stored as strings,
    in sorted order of the original labels (the order of ``classes_``).
    """

    names: Tuple[str, ...]

    def __post_init__(self) -> None:
        names = tuple(self.names)
        if len(set(names)) != len(names):
            raise LabelMapError(f"label map has duplicate names: {sorted(names)}")
        if any(not isinstance(n, str) or not n for n in names):
            raise LabelMapError("label map names must be non-empty strings")
        object.__setattr__(self, "names", names)

    @classmethod
    def from_labels(cls, classes: Iterable[Any]) -> "LabelMap":
        """Map for the sorted unique labels (as returned by ``np.unique``)."""
        return cls(tuple(str(c) for c in classes))

    def __len__(self) -> int:
        return len(self.names)

    def name(self, code: int) -> str:
        """Name of ``code``; raises LabelMapError for an unknown code."""
        if not 0 <= int(code) < len(self.names):
            raise LabelMapError(f"class code {code} is not in the label map (0..{len(self) - 1})")
        return self.names[int(code)]

    def code(self, name: str) -> int:
        """Code of ``name``; raises LabelMapError for an unknown name."""
        try:
            return self.names.index(name)
        except ValueError:
            raise LabelMapError(f"{name!r} is not in the label map") from None

    def decode(self, codes: Sequence[int], unknown_index: int = -1,
               unknown_name: str = UNKNOWN) -> List[str]:
        """Names for codes; ``unknown_index`` becomes ``unknown_name``."""
        return [unknown_name if int(c) == unknown_index else self.name(c) for c in codes]

    def to_dict(self) -> Dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION,
                "labels": {str(i): n for i, n in enumerate(self.names)}}

    @classmethod
    def from_dict(cls, data: Any) -> "LabelMap":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise LabelMapError(f"not a face_trigger label map (expected format {FORMAT!r})")
        if data.get("version") != FORMAT_VERSION:
            raise LabelMapError(f"unsupported label map version {data.get('version')!r}")
        labels = data.get("labels")
        if not isinstance(labels, dict) or sorted(labels, key=int) != [
                str(i) for i in range(len(labels))]:
            raise LabelMapError("label map 'labels' must map the codes 0..K-1 to names")
        return cls(tuple(labels[str(i)] for i in range(len(labels))))

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Write the map as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
                                 + "\n")

    @classmethod
    def load(cls, path: Union[str, os.PathLike], allow_pickle: bool = False) -> "LabelMap":
        """Read a JSON label map.

        A legacy pickled map (a dict code -> name) is read only with
        ``allow_pickle=True``: unpickling runs code, so only for files you trust.

        Raises
        ------
        LabelMapError
            Missing, malformed, or pickled without ``allow_pickle``.
        """
        path = Path(path)
        try:
            data = read_regular_file(path, 64 * 1024 * 1024)
        except OSError as exc:
            raise LabelMapError(f"cannot read label map {path}: {exc}") from exc
        if data[:1] == b"\x80":  # pickle protocol 2+ header
            if not allow_pickle:
                raise LabelMapError(f"{path} is a pickled label map; unpickling runs code, so "
                                    "it is refused unless allow_pickle=True")
            legacy = pickle.loads(data)  # noqa: S301 - the caller allowed it explicitly
            if not isinstance(legacy, dict):
                raise LabelMapError(f"legacy label map {path} is not a dict")
            return cls(tuple(str(legacy[k]) for k in sorted(legacy, key=int)))
        return cls.from_dict(parse_json(data, f"label map {path}", LabelMapError))


def encode_labels(labels: Any) -> Tuple[np.ndarray, np.ndarray, LabelMap]:
    """Codes (int64, (n,)) for labels, the sorted unique labels (integers stay integers,
    anything else becomes str; ``classes[codes]`` gives the labels back) and their
    LabelMap."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise LabelMapError(f"labels must be one-dimensional, got shape {array.shape}")
    classes, codes = np.unique(array.astype(str) if array.dtype.kind not in "iu" else array,
                               return_inverse=True)
    if classes.dtype.kind not in "iu" and UNKNOWN in set(classes.tolist()):
        raise LabelMapError(f"{UNKNOWN!r} is the answer for a stranger and cannot be a label")
    return codes.astype(np.int64), classes, LabelMap.from_labels(classes)
