"""The URL forms users already have map to the drivers we ship, and passwords never leak."""

from __future__ import annotations

import pytest

from dbmigrate import dburl, errors


@pytest.mark.parametrize(
    ("raw", "driver", "dialect"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg", "postgresql"),
        ("postgres://u:p@h/db", "postgresql+psycopg", "postgresql"),
        ("postgresql+psycopg://u:p@h/db", "postgresql+psycopg", "postgresql"),
        ("mysql://u:p@h:3306/db", "mysql+pymysql", "mysql"),
        ("mariadb://u:p@h/db", "mariadb+pymysql", "mysql"),
        ("mysql+pymysql://u:p@h/db", "mysql+pymysql", "mysql"),
        ("sqlite:///relative.db", "sqlite", "sqlite"),
        ("sqlite:////abs/path.db", "sqlite", "sqlite"),
    ],
)
def test_accepted_forms(raw: str, driver: str, dialect: str) -> None:
    url = dburl.parse(raw)
    assert url.drivername == driver
    assert dburl.dialect_of(url) == dialect


def test_redacted_hides_the_password() -> None:
    shown = dburl.redacted(dburl.parse("postgresql://app:s3cr3t@db:5432/prod"))
    assert "s3cr3t" not in shown and "app:***@db" in shown


@pytest.mark.parametrize(
    "raw",
    [
        "oracle://u:p@h/db",
        "not a url at all",
        "mssql+pyodbc://u:hunter2@h/db",
        "postgresql://u:hunter2@h:99999/db",
        "mysql://u:hunter2@h:0/db",
    ],
)
def test_unsupported_or_malformed_urls_are_usage_errors_without_the_password(raw: str) -> None:
    with pytest.raises(errors.UsageError) as caught:
        dburl.parse(raw)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("raw", ["postgresql://app:hun@ter2@db:5432/prod", "mysql://app:hun@ter2@db/prod"])
def test_an_unencoded_at_sign_is_refused_without_showing_any_part_of_the_password(raw: str) -> None:
    """Parsed as written, the password's tail would be taken for the host, and shown in every connection error."""
    with pytest.raises(errors.UsageError, match="percent-encoded") as caught:
        dburl.parse(raw)
    assert "ter2" not in str(caught.value) and "hun" not in str(caught.value)
    assert dburl.parse(raw.replace("hun@ter2", "hun%40ter2")).password == "hun@ter2"


def test_a_password_given_as_an_option_is_hidden_too() -> None:
    """libpq takes ?password=, PyMySQL ?passwd=: the report, the JSON and the operator's status show the URL."""
    url = dburl.parse("postgresql://app@db/prod?password=hunter2&sslmode=require&sslpassword=k3y")
    shown = dburl.redacted(url)
    assert "hunter2" not in shown and "k3y" not in shown
    assert "password=***" in shown and "sslmode=require" in shown
    assert sorted(dburl.secrets(dburl.parse("mysql://app:pw@db/x?passwd=hunter2"))) == ["hunter2", "pw"]
