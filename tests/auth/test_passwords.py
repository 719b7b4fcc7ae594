"""The password policy and hashing."""

import pytest

from services.auth import passwords
from services.auth.settings import AuthSettings
from services.common.errors import InvalidArgument


def messages(password: str, employee_id: str = "S1001") -> list[str]:
    with pytest.raises(InvalidArgument) as caught:
        passwords.check_policy(password, employee_id=employee_id)
    assert {v.field for v in caught.value.violations} == {"new_password"}
    return [v.message for v in caught.value.violations]


def test_short_passwords_are_refused() -> None:
    assert messages("Ab1!xyz") == ["the password must be at least 12 characters long"]


def test_three_character_classes_are_needed() -> None:
    assert messages("lowercaseonly12") == [
        "the password must mix at least 3 of: lower-case letters, upper-case letters, digits, symbols "
        "(missing upper-case letters, symbols)"
    ]


def test_the_employee_id_must_not_appear() -> None:
    assert messages("Xs1001-Harbour!", employee_id="S1001") == [
        "the password must not contain the employee ID"
    ]


def test_common_passwords_are_refused_whatever_the_case() -> None:
    assert messages("PASSWORD@1234") == ["the password is a commonly used password"]


def test_every_broken_rule_is_reported() -> None:
    assert len(messages("s1001")) == 3


def test_good_and_generated_passwords_pass() -> None:
    passwords.check_policy("Harbour-Lantern-42", employee_id="S1001")
    for _ in range(20):
        assert not passwords.policy_violations(passwords.generate(employee_id="a1"), employee_id="a1")


def test_hashes_are_argon2id_and_flag_parameter_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_AUTH_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("CRM_AUTH_ARGON2_TIME_COST", "1")
    cheap = AuthSettings()
    stored = passwords.hash_secret("Harbour-Lantern-42", settings=cheap)
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "Harbour-Lantern-42", settings=cheap)
    assert not passwords.verify(stored, "harbour-lantern-42", settings=cheap)
    assert not passwords.verify(None, "Harbour-Lantern-42", settings=cheap)
    assert not passwords.needs_rehash(stored, settings=cheap)
    monkeypatch.setenv("CRM_AUTH_ARGON2_TIME_COST", "2")
    assert passwords.needs_rehash(stored, settings=AuthSettings())
