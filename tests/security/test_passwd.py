"""Mosquitto's ``$7$`` password hashes: ours match mosquitto_passwd's (the broker's own
acceptance is tested in test_broker_access)."""

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from factoryos.security import passwd

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")


def test_a_hash_verifies_its_password_only() -> None:
    hashed = passwd.hash_password("s3cret")
    assert hashed.startswith("$7$101$")
    assert passwd.verify("s3cret", hashed)
    assert not passwd.verify("s3cret!", hashed)


@pytest.mark.skipif(MOSQUITTO_PASSWD is None, reason="mosquitto_passwd is not installed")
def test_we_verify_what_mosquitto_passwd_writes_and_hash_it_the_same(tmp_path: Path) -> None:
    file = tmp_path / "passwd"
    subprocess.run(
        [str(MOSQUITTO_PASSWD), "-c", "-b", str(file), "dev", "pa:ss word"],
        check=True,
        timeout=10,
        capture_output=True,
    )
    theirs = passwd.parse(file.read_text())["dev"]
    assert passwd.verify("pa:ss word", theirs)
    _, _, iterations, salt, _ = theirs.split("$")
    ours = passwd.hash_password(
        "pa:ss word", salt=base64.b64decode(salt), iterations=int(iterations)
    )
    assert ours == theirs


@pytest.mark.parametrize(
    "hashed",
    ["", "$6$abc$def", "$7$101$!!!$abc", f"$7${10**9}$c2FsdA==$aGFzaA=="],
)
def test_other_formats_and_huge_iteration_counts_do_not_verify(hashed: str) -> None:
    assert not passwd.verify("x", hashed)


def test_a_password_file_round_trips() -> None:
    hashes = {"a": passwd.hash_password("1"), "b": passwd.hash_password("2")}
    text = "# comment\n\n" + passwd.render(hashes)
    assert passwd.parse(text) == hashes
