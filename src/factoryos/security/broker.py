"""Mosquitto configuration for a site: password file, ACL file, a mosquitto.conf snippet and
the users' secrets, written to one directory.

Re-running keeps every secret (and its password-file line) unless the user is rotated; users
the site no longer has are dropped from all three files. Nothing is written until everything
is derived and checked, and each file is replaced whole.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from factoryos.model.devices import MqttDevice, SparkplugDevice
from factoryos.model.site import SiteFile
from factoryos.security import credentials, passwd
from factoryos.security.credentials import Credential, Status
from factoryos.security.errors import BrokerConfigError
from factoryos.security.files import PUBLIC, SHARED, read_generated, write_file
from factoryos.security.mosquitto import Listener, acl_text, conf_text
from factoryos.security.users import BrokerUser


@dataclass(frozen=True)
class BrokerFiles:
    """The generated files in ``out``."""

    out: Path

    @property
    def passwd(self) -> Path:
        return self.out / "passwd"

    @property
    def acl(self) -> Path:
        return self.out / "acl"

    @property
    def conf(self) -> Path:
        return self.out / "factoryos.conf"

    @property
    def secrets(self) -> Path:
        return self.out / "secrets.json"


@dataclass(frozen=True)
class BrokerConfig:
    """What a run wrote: the users with their credentials, and the users it dropped."""

    users: list[BrokerUser]
    credentials: list[Credential]
    removed: list[str]
    files: BrokerFiles


def _old_hashes(path: Path) -> dict[str, str]:
    try:
        data = read_generated(path)
    except OSError as exc:
        raise BrokerConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return passwd.parse(data.decode(errors="replace")) if data is not None else {}


def _hashes(creds: Sequence[Credential], old: dict[str, str]) -> dict[str, str]:
    """Each user's hash; a kept secret keeps its line, so a re-run changes no byte of it."""
    return {
        c.user: old[c.user]
        if c.status is Status.KEPT and passwd.verify(c.password, old.get(c.user, ""))
        else passwd.hash_password(c.password)
        for c in creds
    }


def _write(path: Path, text: str, mode: int) -> None:
    try:
        write_file(path, text.encode(), mode, overwrite=True)
    except OSError as exc:
        raise BrokerConfigError(f"cannot write {path}: {exc.strerror}") from exc


def write_config(
    users: Sequence[BrokerUser],
    out: Path,
    listener: Listener,
    *,
    origin: str,
    rotate: Collection[str] = (),
) -> BrokerConfig:
    """Write passwd, acl, factoryos.conf and secrets.json to ``out``; ``origin`` (the site
    file) is named in the ACL's header."""
    files = BrokerFiles(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrokerConfigError(f"cannot create {out}: {exc.strerror}") from exc
    known = credentials.load(files.secrets)
    creds = credentials.reconcile([u.name for u in users], known, rotate)
    conf = conf_text(listener, files.passwd, files.acl)
    acl = acl_text(users, origin)
    hashes = _hashes(creds, _old_hashes(files.passwd))
    credentials.save(files.secrets, creds)  # first: a secret in passwd is never lost
    _write(files.passwd, passwd.render(hashes), SHARED)
    _write(files.acl, acl, SHARED)
    _write(files.conf, conf, PUBLIC)
    removed = sorted(set(known) - {u.name for u in users})
    return BrokerConfig(list(users), creds, removed, files)


def site_notes(site: SiteFile, platform: str, listener: Listener) -> list[str]:
    """Where the site file's broker devices would not log in to this broker as FactoryOS."""
    notes = []
    for i, device in enumerate(site.devices):
        if not isinstance(device, MqttDevice | SparkplugDevice):
            continue
        where = f"devices[{i}] ({device.name})"
        if device.username != platform or device.password_env is None:
            now = f"as {device.username!r}" if device.username else "without a user"
            notes.append(
                f"{where}: FactoryOS logs in {now}; on this broker set "
                f"username: {platform} and password_env"
            )
        if not device.tls or device.port != listener.port:
            notes.append(
                f"{where}: the broker listens with TLS on port {listener.port}; set tls: true, "
                f"port: {listener.port} and ca_file"
            )
    return notes
