"""Corpus downloads: resumable HTTP download, checksum check, archive extraction.

Only `download_*` functions of the corpus modules call these (never the tests or the recipes'
default runs: the toolkit downloads nothing unless asked). Errors raise PrepError naming the file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from data_prep.prep_report import PrepError

log = logging.getLogger("data_prep.common")


def file_checksum(path: str | Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def verify_checksum(path: str | Path, expected: str, algorithm: str = "sha256") -> None:
    """Raise PrepError naming the file when its checksum is not `expected`."""
    got = file_checksum(path, algorithm)
    if got != expected.lower():
        raise PrepError(f"{path}: {algorithm} is {got}, expected {expected}; the file is damaged or not the "
                        "published one: delete it and download again")


def download_file(url: str, dest: str | Path, checksum: str, algorithm: str = "sha256") -> Path:
    """Download url to dest, resuming `dest.part`; skip when dest exists with the right checksum.

    A verified file leaves a `dest.<algorithm>` stamp so a rerun does not hash it again.
    """
    dest = Path(dest)
    stamp = dest.with_name(dest.name + f".{algorithm}")
    if dest.is_file() and stamp.is_file() and stamp.read_text().strip() == checksum:
        log.info("%s: already downloaded and verified", dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.is_file():
        part = dest.with_name(dest.name + ".part")
        offset = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
        with urllib.request.urlopen(request, timeout=60) as response:
            resumed = offset and response.status == 206
            if offset and not resumed:
                log.info("%s: the server does not resume; starting again", url)
            total = int(response.headers.get("Content-Length") or 0) + (offset if resumed else 0)
            with open(part, "ab" if resumed else "wb") as f, tqdm(
                total=total or None, initial=offset if resumed else 0, unit="B", unit_scale=True, desc=dest.name
            ) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    f.write(block)
                    bar.update(len(block))
        os.replace(part, dest)
    verify_checksum(dest, checksum, algorithm)
    stamp.write_text(checksum + "\n")
    return dest


def extract_archive(archive: str | Path, target_dir: str | Path) -> None:
    """Unpack a tar archive into target_dir once (a `.<name>.extracted` marker is written last)."""
    archive, target_dir = Path(archive), Path(target_dir)
    marker = target_dir / f".{archive.name}.extracted"
    if marker.exists():
        log.info("%s: already extracted into %s", archive, target_dir)
        return
    target_dir.mkdir(parents=True, exist_ok=True)
    log.info("extracting %s into %s", archive, target_dir)
    with tarfile.open(archive) as tar:
        tar.extractall(target_dir, filter="data")
    marker.touch()


def download_and_extract(url: str, target_dir: str | Path, checksum: str, algorithm: str, unpacks_to: str) -> None:
    """Download url into target_dir and unpack it there, unless that is done or the corpus is already there.

    `unpacks_to` is the folder the archive creates (relative to target_dir). When it exists and
    neither the archive nor a partial download is in target_dir, the corpus was put there by hand:
    nothing is downloaded. An extraction that was interrupted (no marker) is redone.
    """
    target_dir = Path(target_dir)
    archive = target_dir / Path(url).name
    marker = target_dir / f".{archive.name}.extracted"
    if marker.exists():
        log.info("%s: already downloaded and extracted", archive)
        return
    partial = archive.with_name(archive.name + ".part")
    if (target_dir / unpacks_to).exists() and not archive.exists() and not partial.exists():
        log.info("%s is already there: not downloading %s", target_dir / unpacks_to, url)
        return
    try:
        path = download_file(url, archive, checksum, algorithm)
    except (urllib.error.URLError, OSError) as e:  # no network, refused, timed out, HTTP error
        reason = getattr(e, "reason", None) or e
        raise PrepError(
            f"{target_dir / unpacks_to} is missing and {url} cannot be downloaded ({reason}); "
            f"put the unpacked folder there, or {archive.name} in {target_dir}, and run again"
        ) from None
    extract_archive(path, target_dir)
