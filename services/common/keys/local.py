"""Key provider of the embedded mode: versioned key-encryption keys in a private local file."""

import base64
import binascii
import contextlib
import fcntl
import json
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.common.keys.provider import DataKey, DecryptionFailed, KeyUnavailable, key_version_of

_FORMAT = 1
_NONCE_BYTES = 12


@dataclass(frozen=True)
class _KeyFile:
    keks: dict[int, bytes]
    index_secret: bytes
    signature: tuple[int, int, int]  # inode, size, mtime: reload when the file changes

    @property
    def latest(self) -> int:
        return max(self.keks)


class LocalKeyProvider:
    """Wraps data keys with AES-256-GCM under the newest key of a 0600 key file."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._file: _KeyFile | None = None

    def generate_data_key(self, context: str) -> DataKey:
        """A new 256-bit data key wrapped under the newest key version."""
        keys = self._keys()
        plaintext = AESGCM.generate_key(bit_length=256)
        return DataKey(plaintext, self._wrap(keys, plaintext, context), keys.latest)

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        """The data key inside `wrapped`; DecryptionFailed if it is not `context`'s."""
        version = key_version_of(wrapped)
        keys = self._keys()
        if version not in keys.keks:
            keys = self._keys(reload=True)
        kek = keys.keks.get(version)
        if kek is None:
            raise DecryptionFailed(f"data key of {context}: key version {version} is retired or unknown")
        try:
            raw = base64.urlsafe_b64decode(wrapped.split(b":", 2)[2] + b"==")
            return AESGCM(kek).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise DecryptionFailed(f"data key of {context}: altered, or wrapped for another owner") from None

    def rewrap(self, wrapped: bytes, context: str) -> bytes:
        """The same data key wrapped under the newest key version."""
        plaintext = self.unwrap(wrapped, context)
        keys = self._keys()
        if key_version_of(wrapped) == keys.latest:
            return wrapped
        return self._wrap(keys, plaintext, context)

    def rotate(self) -> None:
        """Append a new key version to the file."""
        with self._writing() as keys:
            keks = {**keys.keks, keys.latest + 1: AESGCM.generate_key(bit_length=256)}
            self._write(keks, keys.index_secret)

    def latest_version(self) -> int:
        """The newest key version in the file (re-read, so another process's rotation counts)."""
        return self._keys(reload=True).latest

    def retire(self, version: int) -> None:
        """Delete key versions up to `version` from the file; their wrapped keys no longer open."""
        with self._writing() as keys:
            if version >= keys.latest:
                raise ValueError(f"cannot retire version {version}: the newest is {keys.latest}")
            self._write({v: k for v, k in keys.keks.items() if v > version}, keys.index_secret)

    def index_key(self, purpose: str) -> bytes:
        """HKDF-SHA256 of the file's index secret with the purpose as info."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_index_info(purpose))
        return hkdf.derive(self._keys().index_secret)

    def health(self) -> bool:
        """Whether the key file is present, private and readable."""
        try:
            self._keys()
        except KeyUnavailable:
            return False
        return True

    def _wrap(self, keys: _KeyFile, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(keys.keks[keys.latest]).encrypt(nonce, plaintext, context.encode())
        return f"local:v{keys.latest}:".encode() + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=")

    def _keys(self, reload: bool = False) -> _KeyFile:
        with self._lock:
            if not self._path.exists():
                with self._writing():
                    pass
            signature = self._signature()
            if reload or self._file is None or self._file.signature != signature:
                self._file = self._read()
            return self._file

    @contextlib.contextmanager
    def _writing(self) -> Iterator[_KeyFile]:
        """Hold the file's write lock; create the file on first use."""
        folder = self._path.parent
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True)
            folder.chmod(0o700)  # mkdir's mode is filtered by the umask
        _check_private(folder, "key folder", 0o700)
        lock_path = folder / (self._path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not self._path.exists():
                self._write({1: AESGCM.generate_key(bit_length=256)}, os.urandom(32))
            yield self._read()
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, keks: dict[int, bytes], index_secret: bytes) -> None:
        """Replace the file atomically: a private temp file, fsync, rename, fsync the folder."""
        document = {
            "format": _FORMAT,
            "keks": {str(v): _b64(k) for v, k in sorted(keks.items())},
            "index_secret": _b64(index_secret),
        }
        temp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps(document, indent=2).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self._path)
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _read(self) -> _KeyFile:
        _check_private(self._path.parent, "key folder", 0o700)
        _check_private(self._path, "key file", 0o600)
        signature = self._signature()
        try:
            document = json.loads(self._path.read_bytes())
            if document.get("format") != _FORMAT:
                raise ValueError(f"unknown format {document.get('format')!r}")
            keks = {int(v): base64.b64decode(k) for v, k in document["keks"].items()}
            index_secret = base64.b64decode(document["index_secret"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyUnavailable(f"key file {self._path} is unreadable: {exc}") from None
        if not keks or any(len(k) != 32 for k in keks.values()) or len(index_secret) != 32:
            raise KeyUnavailable(f"key file {self._path} is damaged: keys must be 256-bit")
        return _KeyFile(keks, index_secret, signature)

    def _signature(self) -> tuple[int, int, int]:
        try:
            st = self._path.stat()
        except OSError as exc:
            raise KeyUnavailable(f"key file {self._path} is unreadable: {exc.strerror}") from None
        return st.st_ino, st.st_size, st.st_mtime_ns


def _check_private(path: Path, what: str, mode: int) -> None:
    """Refuse a key file or folder that others could read or that another user owns."""
    try:
        st = path.stat()
    except OSError as exc:
        raise KeyUnavailable(f"{what} {path} is unreadable: {exc.strerror}") from None
    if stat.S_IMODE(st.st_mode) & 0o077 or st.st_uid != os.getuid():
        raise KeyUnavailable(
            f"{what} {path} must belong to this user with mode {mode:o}, "
            f"found {stat.S_IMODE(st.st_mode):o}; fix it with chmod {mode:o}"
        )


def _index_info(purpose: str) -> bytes:
    return b"crm-blind-index/v1:" + purpose.encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
