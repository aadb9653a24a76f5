"""The one place secrets are masked before anything is printed, logged or audited: the
password of a URL (``scheme://user:PASSWORD@host``) and ``password=...`` parameters in a URL
query, a libpq connection string (``password='a b'``, quotes and escapes included) or an
error message quoting one."""
from __future__ import annotations

import re

#: Connection parameters that hold secrets (libpq names).
SECRET_KEYS = ("password", "sslpassword", "sslkey_password", "pass", "pwd", "token",
               "secret", "api_key", "apikey")
_SECRET_PARAM = re.compile(r"(?i)\b(" + "|".join(SECRET_KEYS) + r")(\s*=\s*)"
                           r"('(?:[^'\\]|\\.)*'?|[^&\s;,]*)")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/@:]*:)([^\s@/]*)@")
#: A libpq ``key=value`` connection string (``host=db user=door password=...``).
_CONNINFO = re.compile(r"^\s*[a-z_]+\s*=\s*\S", re.I)


def redact(text: str) -> str:
    """``text`` with every URL password and ``password=``-style value replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}***@", str(text))
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def looks_like_conninfo(text: str) -> bool:
    """Whether ``text`` is a libpq ``key=value`` connection string rather than a path."""
    return bool(_CONNINFO.match(text)) and "=" in text
