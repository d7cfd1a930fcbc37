"""Verified, atomic file downloads with a progress bar and errors a person can read.

    download("https://host/models/proggan_bedroom-d8a89ff1.pth", dst, sha256_prefix="d8a89ff1")
    download_first(["https://mirror-a/…", "http://mirror-b/…"], dst, sha256_prefix=…)   # first that works

The transfer itself is torch.hub.download_url_to_file: it writes to a temporary file in the
destination folder, checks the sha256 prefix, and only then renames it into place, so `dst` is
either absent or complete. Every failure (offline, HTTP error, hash mismatch, disk full) becomes a
DownloadError whose message says what happened; the temporary file is always gone afterwards.
"""
from __future__ import annotations

import errno
import os
import re
import socket
import urllib.error
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import torch.hub

__all__ = ["DownloadError", "download", "download_first", "hash_prefix_from_name"]

# torch.hub's naming: `name-<first hex digits of sha256>.ext`. Fewer than 8 digits would turn names
# like `model-a.pth` into a bogus hash check, so only 8 or more count.
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.[^.]+$")


class DownloadError(RuntimeError):
    """A download that did not produce a verified file; str() is the message for the user."""


def hash_prefix_from_name(name: str) -> str | None:
    """The sha256 prefix a torch-hub-style file name carries (`proggan_x-7e701dd5.pth` → `7e701dd5`)."""
    m = _HASH_IN_NAME.search(name)
    return m.group(1) if m else None


def _reason(exc: BaseException) -> str:
    """One short phrase for why a transfer failed."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else OSError(str(exc.reason))
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host name not found (offline?)"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable (offline?)"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "no space left on device"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    # torch.hub opens its connection without a timeout: a silently dropped route would hang forever.
    # The default applies only to sockets created meanwhile, and is restored afterwards.
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def download(url: str, dst: str | os.PathLike, *, sha256_prefix: str | None = None,
             progress: bool = True, timeout: float = 60.0) -> Path:
    """Fetch `url` to `dst` atomically; verify the sha256 prefix when given. Returns `dst`."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _socket_timeout(timeout):
            torch.hub.download_url_to_file(url, str(dst), hash_prefix=sha256_prefix, progress=progress)
    except RuntimeError as e:
        if "invalid hash value" not in str(e):
            raise DownloadError(f"{url}: {_reason(e)}") from None
        got = re.search(r'got "([0-9a-f]+)"', str(e))
        raise DownloadError(
            f"{url}: sha256 {got.group(1)[:16] if got else '?'}… does not start with {sha256_prefix}: "
            "the file is corrupt or the download was cut short, so it was deleted"
        ) from None
    except (OSError, ValueError, urllib.error.URLError) as e:  # ValueError: a malformed URL
        raise DownloadError(f"{url}: {_reason(e)}") from None
    return dst


def download_first(urls: Sequence[str], dst: str | os.PathLike, *, sha256_prefix: str | None = None,
                   progress: bool = True, timeout: float = 60.0) -> str:
    """Try each URL in order until one yields a verified file; return the URL that worked."""
    if not urls:
        raise DownloadError("no download URL is known for this file")
    failures = []
    for url in urls:
        try:
            download(url, dst, sha256_prefix=sha256_prefix, progress=progress, timeout=timeout)
            return url
        except DownloadError as e:
            failures.append(str(e))
    if len(failures) == 1:
        raise DownloadError(failures[0])
    raise DownloadError("every source failed:\n  " + "\n  ".join(failures))
